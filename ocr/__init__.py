"""Image side of qqscan: bytes -> frames -> OCR lines. Knows nothing about contacts."""
