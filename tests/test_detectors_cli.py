"""`qqscan detect-text` through the real console script: one output line per input line, in order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import detectors

QQSCAN = Path(sys.executable).with_name("qqscan")


def run(stdin: str, *args: str, env: dict[str, str] | None = None) -> list[str]:
    proc = subprocess.run(
        [str(QQSCAN), "detect-text", *args],
        input=stdin.encode("utf-8"),
        capture_output=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode("utf-8").splitlines()


INPUT = ["QQ：③⑨①②⑧⑦⑥⑤④", "", "今天天气不错", "订单号：1411592970", "电话 138 1234 5678 微信 shop2024", "  "]


def test_json_one_object_per_line_in_order() -> None:
    out = run("\n".join(INPUT) + "\n", "--json")
    assert len(out) == len(INPUT)
    objs = [json.loads(o) for o in out]
    assert [o["text"] for o in objs] == INPUT
    assert [[f["value"] for f in o["findings"]] for o in objs] == [
        ["391287654"],
        [],
        [],
        [],
        ["13812345678", "shop2024"],
        [],
    ]
    first = objs[0]["findings"][0]
    assert first["type"] == "qq" and first["text"] == "QQ：③⑨①②⑧⑦⑥⑤④" and first["span"] == [0, 12]
    assert first["rules_version"] == detectors.RULES_VERSION
    assert "③" in out[0]  # ensure_ascii=False: the evidence stays readable


def test_last_line_without_newline_and_crlf() -> None:
    out = run("QQ 391287654\r\n13812345678", "--json")
    assert [json.loads(o)["findings"][0]["value"] for o in out] == ["391287654", "13812345678"]


def test_plain_output_is_one_line_per_input() -> None:
    out = run("QQ 391287654\n\n订单号：1411592970\n", "--explain")
    assert len(out) == 3
    assert "qq=391287654" in out[0] and out[1] == "-" and "exclude.context" in out[2]


def test_operator_rules_override(tmp_path: Path) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text('version = "site-1"\n[keywords]\nqq = ["鹅鹅"]\n', encoding="utf-8")
    (o,) = [json.loads(x) for x in run("鹅鹅 39128765\n", "--json", env={"QQSCAN_RULES": str(rules)})]
    (f,) = o["findings"]
    assert f["value"] == "39128765" and f["rules_version"].startswith("site-1+")
    assert f["rules_version"] != detectors.RULES_VERSION


def test_solicitation_and_product_text() -> None:
    """A solicitation with no number is flagged as such; a product word next to a labelled number is not."""
    out = run("加我微信看福利\nQQ音乐会员月卡\n货号518264-907\nQQ音乐会员月卡 货号518264-907\n", "--json")
    objs = [json.loads(o) for o in out]
    (f,) = objs[0]["findings"]
    assert f["type"] == "solicitation" and f["value"] is None and f["rule"].startswith("solicitation.")
    assert [o["findings"] for o in objs[1:]] == [[], [], []]
