"""Rules as data: the TOML, the operator override, the rules version, and the pypinyin-derived tables."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pypinyin import Style, pinyin

import detectors
from detectors.engine import TextDetector
from detectors.normalize import build_tables, homophone_table, views
from detectors.rules import RulesError, load_rules, rules_version


def test_shipped_rules_version_is_declared_version_plus_hash() -> None:
    rules = load_rules(override="")
    declared = rules["version"]
    assert detectors.RULES_VERSION.startswith(declared + "+")
    assert rules_version(rules) == rules_version(load_rules(override=""))  # stable


def test_any_edit_changes_the_version() -> None:
    rules = load_rules(override="")
    edited = {**rules, "keywords": {**rules["keywords"], "qq": [*rules["keywords"]["qq"], "鹅鹅"]}}
    assert rules_version(edited) != rules_version(rules)


def test_override_extends_lists_and_replaces_scalars(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text('version = "site-7"\n[keywords]\nqq = ["鹅鹅"]\n[qq]\nmin_disguise_digits = 6\n', "utf-8")
    rules = load_rules(path)
    assert rules["version"] == "site-7"
    assert "鹅鹅" in rules["keywords"]["qq"] and "扣扣" in rules["keywords"]["qq"]
    assert rules["qq"]["min_disguise_digits"] == 6 and rules["qq"]["max_digits"] == 11
    det = TextDetector(rules)
    assert [(f.value, f.rule) for f in det.detect("鹅鹅 39128765")] == [("39128765", "qq.keyword")]
    assert [(f.value, f.rule) for f in det.detect("叁玖壹贰捌柒")] == [("391287", "qq.disguise")]
    assert detectors.detect_text("叁玖壹贰捌柒") == []  # the shipped rules need 7 digits
    assert det.version.startswith("site-7+") and det.version != detectors.RULES_VERSION


def test_override_replace(tmp_path: Path) -> None:
    shipped = (Path(detectors.__file__).with_name("vocab.toml")).read_text("utf-8")
    path = tmp_path / "replace.toml"
    # Without 企鹅 and its pinyin (qi e), the operator's file no longer reads 企鹅 as a QQ keyword.
    edited = shipped.replace('"企鹅", ', "").replace(', ["qi", "e"]', "")
    assert edited != shipped
    path.write_text("replace = true\n" + edited, "utf-8")
    det = TextDetector(load_rules(path))
    assert "企鹅" not in det.rules["keywords"]["qq"]
    assert detectors.detect_text("企鹅 39128765") != []
    assert det.detect("企鹅 39128765") == []


def test_override_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "env.toml"
    path.write_text('[keywords]\nwechat = ["绿信"]\n', "utf-8")
    monkeypatch.setenv("QQSCAN_RULES", str(path))
    from ground.settings import Settings
    from jobs.scanner import Scanner

    scanner = Scanner(Settings.load())  # the edge reads the variable; the detector is built from it
    assert "绿信" in scanner.detector.rules["keywords"]["wechat"]
    assert "绿信" not in load_rules()["keywords"]["wechat"]  # given no file, the shipped rules alone


def test_bad_override_says_which_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("keywords = [", "utf-8")
    with pytest.raises(RulesError, match="bad.toml"):
        load_rules(path)
    with pytest.raises(RulesError, match="QQSCAN_RULES"):
        load_rules(tmp_path / "missing.toml")


def test_homophones_come_from_pypinyin() -> None:
    table = homophone_table(load_rules(override=""))
    assert len(table) > 1000
    for ch, digit in [
        ("伞", "3"),
        ("酒", "9"),
        ("依", "1"),
        ("耳", "2"),
        ("吧", "8"),
        ("溜", "6"),
        ("雾", "5"),
    ]:
        assert table[ch] == digit
    assert table["山"] == "3" and table["诗"] == "4"  # fuzzy s/sh
    readings = {
        "0": {"ling", "lin"},
        "1": {"yi", "yao"},
        "2": {"er", "e"},
        "3": {"san", "shan", "sang", "shang"},
    }
    readings |= {"4": {"si", "shi"}, "5": {"wu"}, "6": {"liu"}, "7": {"qi"}, "8": {"ba"}, "9": {"jiu"}}
    # Every entry really reads like its digit according to pypinyin itself (first reading, no tone).
    for ch, digit in list(table.items())[::50]:
        main = pinyin(ch, style=Style.NORMAL, heteronym=True)[0]
        assert readings[digit] & set(main), (ch, digit, main)


def test_views_keep_length_and_offsets() -> None:
    tables = build_tables(load_rules(override=""))
    text = "ＱＱ：③⑨①贰捌柒陸伍肆 3️⃣ 薇信"
    v = views(text, tables)
    assert len(v.canon) == len(v.cls) == len(v.value) == len(text)
    assert v.canon.startswith("qq:") and v.value[3:12] == "391287654"
    assert v.cls[3:6] == "CCC" and v.cls[6:12] == "NNNNNN"


def test_edge_word_thresholds_reach_wechat_ids(tmp_path: Path) -> None:
    """The edge-word rule of digit runs also trims disguised WeChat ids, with the same (overridable) data."""
    text = "微信：shop贰零贰肆就是"
    assert [f.value for f in detectors.detect_text(text)] == ["shop2024"]  # 就是 is a word: 就 is no 9
    path = tmp_path / "site.toml"
    path.write_text("[qq]\nedge_word_min_freq = 1000000000\n", "utf-8")
    det = TextDetector(load_rules(path))
    assert [f.value for f in det.detect(text)] == ["shop20249"]


# --- a bad override is one line naming the key (types derived from the shipped vocab.toml) ----------------


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        # the silent one: a negative separator run stopped QQ detection without a word
        ("[digits]\nmax_separator_run = -1\n", "[digits] max_separator_run = -1: must be an integer >= 0"),
        ('[digits]\nmax_separator_run = "x"\n', '[digits] max_separator_run = "x": must be an integer >= 0'),
        ("[qq]\nmin_digits = 5.5\n", "[qq] min_digits = 5.5: must be an integer >= 1"),
        ("[qq]\nmax_digits = true\n", "[qq] max_digits = true: must be an integer >= 1"),
        ('[confidence]\n"qq.keyword" = 1.5\n',
         '[confidence] "qq.keyword" = 1.5: must be a number from 0 to 1'),
        ('[keywords]\nqq = "x"\n', '[keywords] qq = "x": must be a list of strings'),
        ('[keywords]\nqq = ["鹅鹅", 7]\n', '[keywords] qq = ["鹅鹅", 7]: must be a list of strings'),
        ('[digits]\nfuzzy_initials = [["s", 1]]\n', "must be a list of lists of strings"),
        ('[normalize]\ntraditional = { "張" = 1 }\n',
         '[normalize] traditional = {"張": 1}: must be a table of strings'),
        ('[keywords]\nocr_confusions = { "q" = "g" }\n', "must be a table of lists of strings"),
        ("version = 3\n", "version = 3: must be a string"),
        ('replace = "yes"\n', 'replace = "yes": must be true or false'),
        ("digits = 3\n", "digits = 3: must be a table (a [digits] section)"),
        # typos: an unknown key or section is an error, with the nearest known name
        ("[digits]\nmax_separater_run = 2\n",
         "[digits] max_separater_run: unknown key (did you mean max_separator_run?)"),
        ("[digitz]\nmax_separator_run = 2\n", "[digitz]: unknown section (did you mean [digits]?)"),
        ('[qq]\nmin_digits = 12\n', "[qq] min_digits = 12: must be at most [qq] max_digits = 11"),
    ],
)  # fmt: skip
def test_a_bad_override_is_refused_naming_the_file_and_the_key(tmp_path: Path, toml: str, said: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(toml, "utf-8")
    with pytest.raises(RulesError) as err:
        load_rules(path)
    message = str(err.value)
    assert message.startswith(f"rules file {path}: ") and said in message
    assert "\n" not in message


def test_good_overrides_still_load(tmp_path: Path) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        '[normalize]\ntraditional = { "張" = "张" }\n'  # a table of data: new keys are entries, not typos
        '[confidence]\n"qq.keyword" = 1\n'  # a whole number where a number goes
        "[digits]\nmax_separator_run = 0\n",
        "utf-8",
    )
    rules = load_rules(path)
    assert rules["normalize"]["traditional"]["張"] == "张" and rules["normalize"]["traditional"]["聯"] == "联"
    assert rules["confidence"]["qq.keyword"] == 1 and rules["digits"]["max_separator_run"] == 0


def test_a_replace_file_must_set_every_key(tmp_path: Path) -> None:
    shipped = (Path(detectors.__file__).with_name("vocab.toml")).read_text("utf-8")
    path = tmp_path / "replace.toml"
    path.write_text("replace = true\n" + shipped.replace("max_separator_run = 3\n", ""), "utf-8")
    with pytest.raises(
        RulesError, match=r"\[digits\] max_separator_run is missing \(a file with replace = true"
    ):
        load_rules(path)


def test_key_types_come_from_the_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key added to vocab.toml is checked without editing the validator: it has its shipped value's type."""
    shipped = tmp_path / "vocab.toml"
    text = (Path(detectors.__file__).with_name("vocab.toml")).read_text("utf-8")
    shipped.write_text(text.replace("[qq]\n", '[qq]\nnew_knob = 3\nnew_words = ["a"]\n', 1), "utf-8")
    monkeypatch.setattr("detectors.rules.SHIPPED", shipped)
    path = tmp_path / "site.toml"
    path.write_text('[qq]\nnew_knob = 4\nnew_words = ["b"]\n', "utf-8")
    assert load_rules(path)["qq"]["new_knob"] == 4
    path.write_text('[qq]\nnew_knob = "4"\n', "utf-8")
    with pytest.raises(RulesError, match=r'\[qq\] new_knob = "4": must be an integer >= 0'):
        load_rules(path)
    path.write_text("[qq]\nnew_words = [1]\n", "utf-8")
    with pytest.raises(RulesError, match=r"\[qq\] new_words = \[1\]: must be a list of strings"):
        load_rules(path)


QQSCAN = Path(sys.executable).with_name("qqscan")


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        ("[digits]\nmax_separator_run = -1\n", "[digits] max_separator_run = -1: must be an integer >= 0"),
        ('[digits]\nmax_separator_run = "x"\n', '[digits] max_separator_run = "x": must be an integer >= 0'),
        ("keywords = [\n", "is not valid TOML"),
    ],
)
def test_detect_text_with_a_bad_rules_file_says_so_in_one_line(tmp_path: Path, toml: str, said: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml, "utf-8")
    proc = subprocess.run(
        [str(QQSCAN), "detect-text"],
        input=b"QQ 391287654\n",
        capture_output=True,
        timeout=120,
        env={**os.environ, "QQSCAN_RULES": str(path)},
        check=False,
    )
    err = proc.stderr.decode("utf-8")
    assert proc.returncode == 2, err
    assert len(err.splitlines()) == 1 and err.startswith(f"qqscan: rules file {path}"), err
    assert said in err and "Traceback" not in err and proc.stdout == b""


def test_an_unreadable_image_carries_the_rules_version_of_the_detector_that_was_asked(tmp_path: Path) -> None:
    from detectors.engine import TextDetector
    from jobs.pipeline import scan_bytes

    path = tmp_path / "extra.toml"
    path.write_text('[keywords]\nwechat = ["绿信"]\n', "utf-8")
    det = TextDetector(load_rules(path))
    doc = scan_bytes(b"not an image", "x.png", using=det).to_json()
    assert doc["error"] and doc["rules_version"] == det.version != TextDetector(load_rules()).version
