"""Contact detectors: text (+ line geometry) -> findings. Knows nothing about images except boxes."""
