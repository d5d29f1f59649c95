"""Policy: which findings flag an image. A `solicitation` (asking to be contacted off-platform, no number)
flags it unless the operator turns that off with QQSCAN_SOLICITATION_FLAGS=0 (default: on)."""

from __future__ import annotations

import os

from detectors.base import Finding

ENV_SOLICITATION_FLAGS = "QQSCAN_SOLICITATION_FLAGS"
_OFF = {"0", "false", "no", "off"}


def solicitation_flags() -> bool:
    """Does a solicitation alone flag an image? Read from the environment on every call (tests, reloads)."""
    raw = os.environ.get(ENV_SOLICITATION_FLAGS, "1").strip().lower()
    if raw not in _OFF | {"1", "true", "yes", "on", ""}:
        raise ValueError(f"${ENV_SOLICITATION_FLAGS} must be 1/0 (true/false, yes/no, on/off), not {raw!r}")
    return raw not in _OFF


def flags(finding: Finding) -> bool:
    """Does this finding flag its image (before the allow-list)?"""
    return finding.type != "solicitation" or solicitation_flags()
