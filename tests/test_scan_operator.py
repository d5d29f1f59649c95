"""`qqscan scan` for an operator: mistakes answered before the OCR engine is built, one-line errors, the
exit status (0 clean, 1 flagged, 2 failed), the summary on stderr, -o/-q/--exit-zero, --jobs, Ctrl-C.

In-process runs (CliRunner) share the session's engine; the subprocess runs are the real console script."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from qqscan.cli import cli

REPO = Path(__file__).resolve().parent.parent
QQSCAN = str(REPO / ".venv" / "bin" / "qqscan")
FLAGGED = "test/main_01.jpg"  # QQ 391287654
CLEAN = "test/clean_01.jpg"

# Runs the CLI in a fresh interpreter, then says whether the OCR engine's module was ever imported.
PROBE = """
import sys
from qqscan.cli import cli
try:
    cli.main(sys.argv[1:], prog_name="qqscan")
except SystemExit as exc:
    code = exc.code
print("engine imported:", "ocr.engine" in sys.modules, file=sys.stderr)
sys.exit(code)
"""


def probe(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def invoke(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["scan", *args], env=env)


def test_missing_files_and_empty_folders_are_answered_without_building_the_engine(tmp_path):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    proc = probe("scan", str(tmp_path / "nope.jpg"), str(tmp_path / "empty"))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stdout.splitlines()
    assert (
        lines[0]
        == f"ERROR    {tmp_path / 'nope.jpg'}: cannot read {tmp_path / 'nope.jpg'}: No such file or directory"
    )
    assert lines[1].startswith(f"ERROR    {tmp_path / 'empty'}: no images in folder")
    assert "qqscan: nothing to scan" in proc.stderr and "Traceback" not in proc.stderr
    assert "engine imported: False" in proc.stderr


def test_refused_sources_come_first_as_json_rows_and_the_rest_is_scanned(tmp_path, fixture_dir, engine):
    (tmp_path / "empty").mkdir()
    res = invoke("--json", str(fixture_dir / CLEAN), str(tmp_path / "empty"), str(tmp_path / "nope.png"))
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert [Path(r["source"]).name for r in rows] == ["empty", "nope.png", "clean_01.jpg"]
    assert "no images in folder" in rows[0]["error"] and "cannot read" in rows[1]["error"]
    assert rows[2]["error"] is None and rows[2]["flagged"] is False
    assert res.exit_code == 2


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--jobs", "0"], {}, "--jobs"),
        (["-o", "/nonexistent-dir/out.txt"], {}, "No such file or directory"),
        (["--enhance", "sharpen"], {}, "unknown enhancement step(s) sharpen"),
        ([], {"QQSCAN_ENGINE": "tesseract"}, "QQSCAN_ENGINE"),
        ([], {"QQSCAN_MAX_BYTES": "lots"}, "QQSCAN_MAX_BYTES='lots' is not a whole number"),
    ],
)
def test_operator_mistakes_are_one_line_errors(args, env, says, fixture_dir):
    res = invoke(*args, str(fixture_dir / FLAGGED), env=env)
    assert res.exit_code == 2, res.output
    assert says in res.output and "Traceback" not in res.output
    assert isinstance(res.exception, SystemExit)  # not an exception that escaped


def test_an_engine_that_cannot_be_built_is_one_line_and_a_traceback_only_with_verbose(fixture_dir):
    env = {**os.environ, "QQSCAN_CPU_THREADS": "lots"}  # a real operator mistake the engine trips on
    image = str(fixture_dir / FLAGGED)
    plain = subprocess.run([QQSCAN, "scan", image], capture_output=True, text=True, timeout=120, env=env)
    assert plain.returncode == 2 and plain.stdout == ""
    (line,) = plain.stderr.strip().splitlines()
    assert line.startswith("qqscan: cannot build the OCR engine: ") and "lots" in line
    loud = subprocess.run([QQSCAN, "scan", "-v", image], capture_output=True, text=True, timeout=120, env=env)
    assert loud.returncode == 2  # not 1, which means "flagged"
    assert "Traceback (most recent call last)" in loud.stderr and "'lots'" in loud.stderr


def test_help_shows_the_environment_variables():
    text = " ".join(CliRunner().invoke(cli, ["scan", "--help"]).output.split())  # unwrapped
    assert "[env var: QQSCAN_ENGINE; default: onnx]" in text and "[env var: QQSCAN_ENHANCE]" in text


def test_exit_status_tells_flagged_from_clean(fixture_dir, engine):
    flagged, clean = str(fixture_dir / FLAGGED), str(fixture_dir / CLEAN)
    assert invoke(clean).exit_code == 0
    res = invoke(flagged, clean)
    assert res.exit_code == 1, res.output
    assert [ln.split()[0] for ln in res.stdout.splitlines()] == ["FLAGGED", "clean"]
    assert invoke("--exit-zero", flagged, clean).exit_code == 0


def test_mixed_batch_summary_and_output_file(tmp_path, fixture_dir, engine):
    out = tmp_path / "results.txt"
    files = [fixture_dir / FLAGGED, fixture_dir / CLEAN, fixture_dir / "bad/empty.jpg", tmp_path / "nope.jpg"]
    res = invoke("-o", str(out), *map(str, files))
    assert res.exit_code == 2
    assert res.stdout == ""
    lines = out.read_text(encoding="utf-8").splitlines()
    assert [ln.split()[0] for ln in lines] == ["ERROR", "FLAGGED", "clean", "ERROR"]  # refused one first
    summary, why = res.stderr.strip().splitlines()[-2:]
    assert re.fullmatch(
        r"qqscan: 1 flagged \(qq 1\), 1 clean, 2 errors; 3 images scanned in [\d.]+ s "
        r"\([\d.]+ images/s(, OCR engine load [\d.]+ s)?\)",
        summary,
    ), summary
    assert why == "qqscan: exit 2: 2 input(s) failed; 1 image(s) were flagged"  # the flag is not lost


def test_quiet_prints_only_what_needs_attention(tmp_path, fixture_dir, engine):
    res = invoke("-q", str(fixture_dir / FLAGGED), str(fixture_dir / CLEAN), str(tmp_path / "nope.jpg"))
    assert res.exit_code == 2
    assert [ln.split()[0] for ln in res.stdout.splitlines()] == ["ERROR", "FLAGGED"]
    assert res.stderr == ""


def test_jobs_2_gives_the_results_of_one_process(fixture_dir, engine):
    files = [str(fixture_dir / f) for f in (FLAGGED, CLEAN, "test/anim.gif", "test/main_02.png")]
    inline = [json.loads(x) for x in invoke("--json", *files).stdout.splitlines()]
    proc = subprocess.run(
        [QQSCAN, "scan", "--jobs", "2", "--json", *files], capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 1, proc.stderr
    pooled = [json.loads(x) for x in proc.stdout.splitlines()]

    def key(rows: list[dict]) -> list[tuple]:
        found = [sorted((f["type"], f["value"], f["frame"]) for f in r["findings"]) for r in rows]
        return [(r["source"], r["flagged"], f) for r, f in zip(rows, found, strict=True)]

    assert key(pooled) == key(inline)  # same images, same order, same findings
    assert "4 images scanned" in proc.stderr


def test_ctrl_c_while_the_engine_loads_is_one_line_and_exit_130(fixture_dir):
    """On a terminal (a real pty) the status line says the engine is loading; SIGINT then ends the run
    with one line, no traceback."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [QQSCAN, "scan", str(fixture_dir / FLAGGED)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        start_new_session=True,  # its own process group, as a shell gives a foreground job
    )
    os.close(slave)
    seen = b""
    try:
        deadline = time.monotonic() + 60
        while b"loading OCR engine" not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                seen += os.read(master, 4096)
        assert b"qqscan: loading OCR engine" in seen
        time.sleep(0.3)  # inside the engine's imports and build (seconds), not yet scanning
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole foreground group
        stdout, _ = proc.communicate(timeout=60)
        while select.select([master], [], [], 0.5)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other end closed
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    text = seen.decode("utf-8", "replace")
    assert proc.returncode == 130, text
    assert "qqscan: interrupted" in text and "Traceback" not in text
    assert len([ln for ln in text.splitlines() if ln.strip()]) == 2, text  # loading…, interrupted
    assert stdout == b""


def test_a_solicitation_line_names_no_value():
    import detectors
    from jobs.pipeline import ScanResult
    from qqscan.scan_cmd import describe

    (ask,) = detectors.detect_text("扫码加我")
    line = describe(ScanResult(source="a.png", sha256="0" * 64, findings=[ask]))
    assert line.startswith("FLAGGED  a.png: solicitation [solicitation.") and "None" not in line, line
