"""Policy: which findings flag an image. A `solicitation` (asking to be contacted off-platform, no number)
flags it unless the operator turns that off with QQSCAN_SOLICITATION_FLAGS=0 (default: on)."""

from __future__ import annotations

from detectors.base import Finding
from ground.settings import setting

ENV_SOLICITATION_FLAGS = "QQSCAN_SOLICITATION_FLAGS"


def solicitation_flags() -> bool:
    """Does a solicitation alone flag an image? Read from the environment on every call (tests, reloads)."""
    return bool(setting(ENV_SOLICITATION_FLAGS))  # SettingError (a ValueError) on a value not 1/0


def flags(finding: Finding) -> bool:
    """Does this finding flag its image (before the allow-list)?"""
    return finding.type != "solicitation" or solicitation_flags()
