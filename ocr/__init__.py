"""Image side of qqscan: bytes -> frames -> OCR lines. Knows nothing about contacts.

The engines and their names are the settings table's (QQSCAN_ENGINE); ocr/engine.py builds them."""
