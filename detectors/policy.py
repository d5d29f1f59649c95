"""Policy: which findings flag an image. A `solicitation` (asking to be contacted off-platform, no number)
flags it unless the operator turns that off with QQSCAN_SOLICITATION_FLAGS=0 (default: on); the caller
passes that setting's value."""

from __future__ import annotations

from detectors.base import Finding


def flags(finding: Finding, solicitation_flags: bool = True) -> bool:
    """Does this finding flag its image (before the allow-list)?"""
    return finding.type != "solicitation" or solicitation_flags
