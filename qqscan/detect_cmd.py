"""`qqscan detect-text`: contacts in stdin text, one output line per input line, in input order."""

from __future__ import annotations

import json
import sys

import click


@click.command("detect-text")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line: {text, findings}.")
@click.option(
    "--explain", is_flag=True, help="Also list rejected candidates and the rule that rejected them."
)
def detect_text(as_json: bool, explain: bool) -> None:
    """Read UTF-8 text on stdin (one item per line) and print the contacts found, in input order."""
    from jobs.scanner import Scanner
    from qqscan.options import cli_settings

    detector = Scanner(cli_settings()).detector  # the shipped rules and QQSCAN_RULES

    out = sys.stdout
    stdin = click.get_text_stream("stdin", encoding="utf-8", errors="replace")
    for raw in stdin:
        line = raw.rstrip("\r\n")
        findings = detector.detect(line)
        rejected = detector.explain(line) if explain else []
        if as_json:
            obj: dict = {"text": line, "findings": [f.to_dict() for f in findings]}
            if explain:
                obj["excluded"] = [
                    {"digits": e.digits, "span": list(e.span), "rule": e.rule} for e in rejected
                ]
            out.write(json.dumps(obj, ensure_ascii=False) + "\n")
        else:
            parts = [f"{f.type}={f.value} [{f.rule} {f.confidence:.2f}] «{f.text}»" for f in findings]
            parts += [f"(excluded {e.digits}: {e.rule})" for e in rejected]
            out.write(("\t".join(parts) if parts else "-") + "\n")
