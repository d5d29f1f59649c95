"""Image side of qqscan: bytes -> frames -> OCR lines. Knows nothing about contacts."""

# The OCR engines (ocr/engine.py builds them); here so a CLI can list them without importing numpy.
ENGINES = ("onnx", "paddle")
