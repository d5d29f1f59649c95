"""Which findings count, written once: a finding is live unless the allow-list excused it (it keeps
`allowed_by`, the entry's id), and an image is flagged when a live finding flags it under the operator's
policy (detectors.policy: a solicitation alone may be set not to). Findings come as `Finding` objects
(a scan in memory) or as their stored dicts (`Finding.to_dict()`); both are read the same way."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from detectors import policy
from detectors.base import Finding

F = TypeVar("F", Finding, Mapping[str, Any])


def allowed_by(finding: Finding | Mapping[str, Any]) -> int | None:
    """The allow-list entry that excused this finding, or None."""
    extra = finding.extra if isinstance(finding, Finding) else finding
    return extra.get("allowed_by") or None


def is_live(finding: Finding | Mapping[str, Any]) -> bool:
    return allowed_by(finding) is None


def live_findings(findings: Iterable[F] | None) -> list[F]:
    """The findings the allow-list did not excuse, in their order."""
    return [f for f in findings or () if is_live(f)]


def flags(finding: Finding | Mapping[str, Any], solicitation_flags: bool = True) -> bool:
    """Does this finding flag its image (live, and flagging under the policy)?"""
    if not is_live(finding):
        return False
    if not isinstance(finding, Finding):
        kind = str(finding.get("type") or "")
        finding = Finding(type=kind, value=finding.get("value"), text="", confidence=0.0, rule="")
    return policy.flags(finding, solicitation_flags)


def flags_image(
    findings: Iterable[Finding | Mapping[str, Any]] | None, solicitation_flags: bool = True
) -> bool:
    """solicitation_flags: QQSCAN_SOLICITATION_FLAGS's value (detectors.policy)."""
    return any(flags(f, solicitation_flags) for f in findings or ())
