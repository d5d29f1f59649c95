"""`qqscan scan`: images in, findings out, in-process (no Redis, no database)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

import click
from tqdm import tqdm

from qqscan.sources import SourceError, expand, load

if TYPE_CHECKING:
    from jobs.pipeline import ScanResult
    from ocr.decode import DecodeLimits

PREFETCH = 4  # sources read ahead (files or URLs) while the engine is busy


def _loaded(sources: list[str], limits: DecodeLimits) -> Iterator[tuple[str, bytes | SourceError]]:
    """Read sources in a background thread so fetching overlaps OCR; yields in input order."""

    def get(src: str) -> bytes | SourceError:
        try:
            return load(src, limits.max_bytes)
        except SourceError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=2) as pool:
        pending: list[tuple[str, Future]] = []
        it = iter(sources)
        for src in it:
            pending.append((src, pool.submit(get, src)))
            if len(pending) >= PREFETCH:
                break
        while pending:
            src, fut = pending.pop(0)
            nxt = next(it, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(get, nxt)))
            yield src, fut.result()


def describe(result: ScanResult) -> str:
    if result.error:
        return f"ERROR    {result.source}: {result.error}"
    if not result.flagged:
        return f"clean    {result.source} ({result.ms} ms)"
    parts = []
    for f in result.findings:
        where = ""
        if f.box:
            where = f" at ({int(f.box[0][0])},{int(f.box[0][1])})"
        frame = f" frame {f.frame}" if f.frame else ""
        parts.append(f"{f.type} {f.value} [{f.rule}{frame}{where}] {f.text!r}")
    return f"FLAGGED  {result.source}: " + "; ".join(parts)


@click.command("scan")
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
@click.option("--lines", "with_lines", is_flag=True, help="With --json: include every OCR line.")
@click.option(
    "--enhance",
    default=None,
    metavar="STEPS",
    help="Extra OCR passes over enhanced copies, comma-separated: tophat (light text over busy photos), "
    "clahe (near-white text). Each costs one more pass. Default: $QQSCAN_ENHANCE or none.",
)
def scan(sources: tuple[str, ...], as_json: bool, with_lines: bool, enhance: str | None) -> None:
    """Scan image files, folders (recursive), http(s) URLs, or '-' (a list on stdin).

    Exit status: 0 when every input was scanned (flagged or not), 2 when any input failed.
    """
    # Imported here so `qqscan --help` and the other subcommands stay light.
    from jobs.pipeline import failed, scan_bytes
    from ocr.decode import DecodeLimits
    from ocr.engine import get_engine
    from ocr.enhance import steps_from_env

    try:
        steps = steps_from_env(enhance)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--enhance") from exc
    limits = DecodeLimits.from_env()
    items = list(expand(sources, sys.stdin))
    engine = get_engine()
    any_failed = False
    bar = tqdm(
        total=len(items), unit="img", file=sys.stderr, disable=not sys.stderr.isatty() or len(items) < 3
    )
    for src, data in _loaded(items, limits):
        if isinstance(data, SourceError):
            result = failed(src, str(data))  # nothing was scanned: no time to report
        else:
            try:
                result = scan_bytes(data, src, engine=engine, limits=limits, enhance=steps)
            except Exception as exc:  # one image must not stop the batch; say what broke
                result = failed(src, f"scan failed: {type(exc).__name__}: {exc}")
        any_failed |= result.error is not None
        line = (
            json.dumps(result.to_json(with_lines=with_lines), ensure_ascii=False)
            if as_json
            else describe(result)
        )
        tqdm.write(line, file=sys.stdout)  # clears and redraws the bar around the line
        bar.update(1)
    bar.close()
    sys.exit(2 if any_failed else 0)
