"""qqscan: finds contact details hidden in e-commerce images."""

__version__ = "0.1.0"
