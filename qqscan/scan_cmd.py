"""`qqscan scan`: images in, findings out, in-process (no Redis, no database)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import click
from tqdm import tqdm

from qqscan.sources import SourceError, expand, load

if TYPE_CHECKING:
    from jobs.pipeline import ScanResult
    from ocr.decode import DecodeLimits
    from qqscan.scan_store import ScanStore

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


def _open_store(shop: str | None, listing: str | None, rescan: bool) -> ScanStore:
    from qqscan.scan_store import ScanStore
    from worker.store import Store, StoreError

    try:
        return ScanStore(Store(), shop_id=shop, listing_id=listing, rescan=rescan)
    except StoreError as exc:  # before any OCR: nothing would be kept
        raise click.ClickException(str(exc)) from exc


def _one(
    src: str,
    data: bytes | SourceError,
    sink: ScanStore | None,
    engine: Any,
    limits: DecodeLimits,
    steps: Any,
    as_json: bool,
    with_lines: bool,
) -> tuple[str, bool]:
    """Scan (or look up) one source; its output line and whether it failed. With a store, a database
    failure does not lose the result: it is printed with the reason it was not stored."""
    from jobs.pipeline import failed, scan_bytes
    from worker.store import StoreError

    store_error: str | None = None
    if sink and not isinstance(data, SourceError):
        try:
            known = sink.known(src, data)
        except StoreError as exc:
            known, store_error = None, str(exc)
        if known is not None:
            if not with_lines:
                known.pop("lines", None)
            if as_json:
                return json.dumps(
                    {**known, "source": src, "stored": False, "known": True}, default=str
                ), False
            return describe_known(src, known), False
    if isinstance(data, SourceError):
        result = failed(src, str(data))  # nothing was scanned: no time to report
    else:
        try:
            result = scan_bytes(
                data,
                src,
                engine=engine,
                limits=limits,
                enhance=steps,
                allow=sink.allow if sink else (),
                shop_id=sink.meta["shop_id"] if sink else None,
                keep_evidence=sink is not None,
            )
        except Exception as exc:  # one image must not stop the batch; say what broke
            result = failed(src, f"scan failed: {type(exc).__name__}: {exc}")
    stored = False
    if sink and store_error is None:
        try:
            if isinstance(data, SourceError):
                sink.failed(src, str(data))
            else:
                stored = sink.save(result)
        except StoreError as exc:
            store_error = str(exc)
    doc = result.to_json(with_lines=with_lines)
    if sink:
        doc["stored"] = stored
        if store_error:
            doc["store_error"] = store_error
    if as_json:
        line = json.dumps(doc, ensure_ascii=False)
    else:
        line = describe(result) + (f" [not stored: {store_error}]" if store_error else "")
    return line, result.error is not None or store_error is not None


def describe(result: ScanResult) -> str:
    if result.error:
        return f"ERROR    {result.source}: {result.error}"
    allowed = len(result.findings) - len(result.live_findings)
    excused = f", {allowed} allow-listed" if allowed else ""
    if not result.flagged:
        return f"clean    {result.source} ({result.ms} ms{excused})"
    parts = []
    for f in result.live_findings:
        where = ""
        if f.box:
            where = f" at ({int(f.box[0][0])},{int(f.box[0][1])})"
        frame = f" frame {f.frame}" if f.frame else ""
        parts.append(f"{f.type} {f.value} [{f.rule}{frame}{where}] {f.text!r}")
    return (
        f"FLAGGED  {result.source}: " + "; ".join(parts) + (f" ({allowed} allow-listed)" if allowed else "")
    )


def describe_known(source: str, stored: dict[str, Any]) -> str:
    state = "flagged" if stored.get("flagged") else "clean"
    return f"known    {source}: already in the store ({state}, review {stored.get('review_status')})"


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
@click.option(
    "--store",
    "to_store",
    is_flag=True,
    help="Also write results (and review evidence) into the results store ($QQSCAN_DATABASE_URL, SQLite by "
    "default), as a worker would; bytes already stored under the current rules are not scanned again.",
)
@click.option(
    "--rescan",
    is_flag=True,
    help="With --store: scan bytes already stored again and replace their result (same review status), "
    "e.g. so a new allow-list entry reaches them.",
)
@click.option("--shop", default=None, help="With --store: the shop id these images belong to.")
@click.option("--listing", default=None, help="With --store: the listing id these images belong to.")
def scan(
    sources: tuple[str, ...],
    as_json: bool,
    with_lines: bool,
    enhance: str | None,
    to_store: bool,
    rescan: bool,
    shop: str | None,
    listing: str | None,
) -> None:
    """Scan image files, folders (recursive), http(s) URLs, or '-' (a list on stdin).

    Exit status: 0 when every input was scanned (flagged or not), 2 when any input failed (or, with
    --store, could not be stored; its result is still printed).
    """
    # Imported here so `qqscan --help` and the other subcommands stay light.
    from ocr.decode import DecodeLimits
    from ocr.engine import get_engine
    from ocr.enhance import steps_from_env

    try:
        steps = steps_from_env(enhance)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--enhance") from exc
    if (shop or listing or rescan) and not to_store:
        raise click.UsageError(
            "--shop, --listing and --rescan are about stored results: use them with --store"
        )
    limits = DecodeLimits.from_env()
    items = list(expand(sources, sys.stdin))
    sink = _open_store(shop, listing, rescan) if to_store else None
    engine = get_engine()
    any_failed = False
    bar = tqdm(
        total=len(items), unit="img", file=sys.stderr, disable=not sys.stderr.isatty() or len(items) < 3
    )
    for src, data in _loaded(items, limits):
        line, bad = _one(src, data, sink, engine, limits, steps, as_json, with_lines)
        any_failed |= bad
        tqdm.write(line, file=sys.stdout)  # clears and redraws the bar around the line
        bar.update(1)
    bar.close()
    sys.exit(2 if any_failed else 0)
