"""Guarded HTTP for images and listing pages: network guard (SSRF), one deadline per fetch, byte and
decoding caps, per-host rate. No store, no RQ. See docs/architecture.md."""
