"""`qqscan scan`: images in, findings out, in-process (no Redis, no database unless --store).

Sources are checked before the OCR engine is built, so a mistake is answered at once; results come out in
input order, one line (or JSON object) per image; a summary goes to stderr; the exit status says whether
anything was flagged or failed (EXIT_* below, documented in README).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any

import click
from tqdm import tqdm

from ground.errors import ExitCode, QqscanError, exit_code_for
from qqscan.engine_option import engine_option
from qqscan.options import cli_settings, database_url_option, setting_option
from qqscan.scan_workers import InlineScanner, InterruptWatch, PoolScanner, ScanOptions
from qqscan.sources import PageImages, Problem, Source, SourceError, expand, prefetched

if TYPE_CHECKING:
    from jobs.pipeline import ScanResult
    from jobs.scanner import Scanner
    from qqscan.scan_store import ScanStore

EXIT_CLEAN = ExitCode.OK  # every image scanned, none flagged
EXIT_FLAGGED = ExitCode.FOUND  # some image flagged (0 with --exit-zero)
EXIT_FAILED = ExitCode.USAGE  # some input failed (or could not be stored), nothing to scan, a usage error
EXIT_STORE_UNAVAILABLE = ExitCode.UNAVAILABLE  # --store and the results store cannot be reached
EXIT_INTERRUPTED = ExitCode.INTERRUPTED  # Ctrl-C


class Fatal(QqscanError):
    """Ends the run with one line on stderr and an exit status."""

    def __init__(self, message: str, status: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = ExitCode(status)


@dataclass
class Tally:
    """What the summary line reports."""

    started: float = field(default_factory=time.monotonic)
    scanned: int = 0  # images read and put through the pipeline in this run
    known: int = 0  # already in the store (--store), not scanned again
    flagged: int = 0
    clean: int = 0
    errors: int = 0
    types: Counter[str] = field(default_factory=Counter)  # flagged images per contact type

    def count(self, *, scanned: bool, error: bool, flagged: bool, types: Iterable[str]) -> None:
        self.scanned += scanned
        if error:
            self.errors += 1
        elif flagged:
            self.flagged += 1
            self.types.update(set(types))
        else:
            self.clean += 1

    def summary(self, engine_seconds: float | None, stored_in: str | None = None) -> str:
        took = time.monotonic() - self.started
        rate = self.scanned / took if took > 0 else 0.0
        kinds = ", ".join(f"{t} {n}" for t, n in sorted(self.types.items(), key=lambda kv: (-kv[1], kv[0])))
        outcomes = [f"{self.flagged} flagged" + (f" ({kinds})" if kinds else ""), f"{self.clean} clean"]
        outcomes.append(f"{self.errors} error" + ("s" if self.errors != 1 else ""))
        if self.known:
            outcomes.append(f"{self.known} known from the store")
        load = f", OCR engine load {engine_seconds:.1f} s" if engine_seconds is not None else ""
        where = f"; results in {stored_in}" if stored_in else ""
        line = (
            f"qqscan: {', '.join(outcomes)}; {self.scanned} image{'s' if self.scanned != 1 else ''} "
            f"scanned in {took:.1f} s ({rate:.2f} images/s{load}){where}"
        )
        if self.errors and self.flagged:  # exit 2 says "input failed": the flagged images must not drown
            line += f"\nqqscan: exit 2: {self.errors} input(s) failed; {self.flagged} image(s) were flagged"
        return line

    def status(self, exit_zero: bool) -> int:
        if self.errors:
            return EXIT_FAILED
        return EXIT_FLAGGED if self.flagged and not exit_zero else EXIT_CLEAN


@dataclass
class Entry:
    """One image on its way to the output: scanned (in flight or done), known to the store, or failed."""

    src: Source
    future: Future[ScanResult] | None = None
    result: ScanResult | None = None  # set when there was nothing to scan
    known: dict[str, Any] | None = None
    store_error: str | None = None

    def ready(self) -> bool:
        return self.future is None or self.future.done()


def describe(result: ScanResult, page: str | None = None) -> str:
    src = result.source + (f" (page {page})" if page else "")
    if result.error:
        return f"ERROR    {src}: {result.error}"
    allowed = len(result.findings) - len(result.live_findings)
    excused = f", {allowed} allow-listed" if allowed else ""
    if not result.flagged:
        return f"clean    {src} ({result.ms} ms{excused})"
    parts = []
    for f in result.live_findings:
        where = ""
        if f.box:
            where = f" at ({int(f.box[0][0])},{int(f.box[0][1])})"
        frame = f" frame {f.frame}" if f.frame else ""
        value = f" {f.value}" if f.value is not None else ""  # a solicitation has no value
        parts.append(f"{f.type}{value} [{f.rule}{frame}{where}] {f.text!r}")
    return f"FLAGGED  {src}: " + "; ".join(parts) + (f" ({allowed} allow-listed)" if allowed else "")


def describe_known(source: str, stored: dict[str, Any], page: str | None = None) -> str:
    # a clean image has nothing to review: its review status says nothing
    state = f"flagged, review {stored.get('review_status')}" if stored.get("flagged") else "clean"
    src = source + (f" (page {page})" if page else "")
    return f"known    {src}: already in the store ({state})"


class Run:
    """One `qqscan scan` invocation: output, store, scanner and tally together."""

    def __init__(
        self, out: IO[str], *, as_json: bool, with_lines: bool, quiet: bool, note: Callable[[str], None]
    ) -> None:
        self.out = out
        self.as_json, self.with_lines, self.quiet = as_json, with_lines, quiet
        self.note = note  # a line for the operator on stderr
        self.sink: ScanStore | None = None
        self.scanner: InlineScanner | PoolScanner | None = None
        self.tally = Tally()
        self.bar: tqdm | None = None
        self.watch = InterruptWatch()

    def write(self, line: str, *, quiet_ok: bool = False) -> None:
        """One result line; with -q the clean ones are left out of the line format."""
        if not (self.quiet and quiet_ok and not self.as_json):
            tqdm.write(line, file=self.out)  # clears and redraws the progress bar around the line
        if self.bar is not None:
            self.bar.update(1)

    def problem(self, problem: Problem) -> None:
        """A source refused before reading: reported at once (and remembered by the store, as a failed
        read would be). Built without the pipeline's imports (~1 s), which an early answer must not pay."""
        store_error = None
        if self.sink and problem.remember:
            from store.database import StoreError

            try:
                self.sink.failed(problem.name, problem.error)
            except StoreError as exc:  # the line still comes out, with the reason
                store_error = str(exc)
        self.tally.count(scanned=False, error=True, flagged=False, types=())
        if self.as_json:
            doc: dict[str, Any] = {"source": problem.name, "sha256": "", "flagged": False, "findings": []}
            doc.update(ms=0, error=problem.error)
            self.write_json(doc, False, store_error)
        else:
            stored = f" [not stored: {store_error}]" if store_error else ""
            self.write(f"ERROR    {problem.name}: {problem.error}{stored}")

    def close(self, *, interrupted: bool) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.scanner is not None:
            self.scanner.close(interrupted=interrupted)

    def prepare(self, src: Source, data: bytes | SourceError, scanner: InlineScanner | PoolScanner) -> Entry:
        """Look the bytes up in the store (--store), or send them to the scanner."""
        entry = Entry(src)
        if self.sink and not isinstance(data, SourceError):
            from store.database import StoreError

            try:
                entry.known = self.sink.known(src.name, data, src.page)
            except StoreError as exc:
                entry.store_error = str(exc)
            if entry.known is not None:
                return entry
        if isinstance(data, SourceError):
            from jobs.pipeline import failed  # after the engine's status line, if any: it takes ~1 s

            entry.result = failed(src.name, str(data))  # nothing was scanned: no time to report
        else:
            entry.future = scanner.submit(data, src.name)
        return entry

    def finish(self, entry: Entry) -> None:
        """Store (with --store) and print one entry, waiting for its scan if it is still running."""
        src, store_error = entry.src, entry.store_error
        if entry.known is not None:
            known = dict(entry.known)
            if not self.with_lines:
                known.pop("lines", None)
            from store.findings import live_findings

            live = live_findings(known.get("findings"))
            self.tally.known += 1
            self.tally.count(
                scanned=False,
                error=False,
                flagged=bool(known.get("flagged")),
                types=[f["type"] for f in live],
            )
            if self.as_json:
                doc = {**known, "source": src.name, "stored": False, "known": True}
                self.write(json.dumps({**doc, "page": src.page} if src.page else doc, default=str))
            else:
                self.write(describe_known(src.name, known, src.page), quiet_ok=not known.get("flagged"))
            return
        result = entry.result if entry.future is None else _result(entry.future)
        assert result is not None
        stored = False
        if self.sink and store_error is None:
            from store.database import StoreError

            try:
                if entry.future is None:  # no bytes: only the source is remembered, with the reason
                    self.sink.failed(src.name, result.error or "", src.page)
                else:
                    stored = self.sink.save(result, src.page)
            except StoreError as exc:
                store_error = str(exc)
        bad = result.error is not None or store_error is not None
        self.tally.count(
            scanned=entry.future is not None,
            error=bad,
            flagged=result.flagged,
            types=[f.type for f in result.live_findings],
        )
        if self.as_json:
            doc = result.to_json(with_lines=self.with_lines)
            if src.page:
                doc["page"] = src.page
            self.write_json(doc, stored, store_error)
        else:
            line = describe(result, src.page) + (f" [not stored: {store_error}]" if store_error else "")
            self.write(line, quiet_ok=not bad and not result.flagged)

    def write_json(self, doc: dict[str, Any], stored: bool, store_error: str | None) -> None:
        """One `--json` object; with --store it says whether the result was stored, and if not, why."""
        if self.sink:
            doc["stored"] = stored
            if store_error:
                doc["store_error"] = store_error
        self.write(json.dumps(doc, ensure_ascii=False))

    def on_page(self, page: PageImages) -> None:
        self.note(f"qqscan: {page.summary}")
        if self.bar is not None and self.bar.total is not None:
            self.bar.total += len(page.urls) - 1
            self.bar.refresh()


def _result(future: Future[ScanResult]) -> ScanResult:
    from concurrent.futures.process import BrokenProcessPool

    try:
        return future.result()
    except BrokenProcessPool as exc:
        raise Fatal("a worker process ended unexpectedly (out of memory? see above); stopping") from exc


def _open_store(target: StoreTarget, scanner: Scanner) -> ScanStore:
    from qqscan.scan_store import ScanStore
    from store.database import StoreError
    from store.results import Store

    try:
        store = Store(scanner.database_url)
        return ScanStore(store, scanner, shop_id=target.shop, listing_id=target.listing, rescan=target.rescan)
    except StoreError as exc:  # before any OCR: nothing would be kept
        raise Fatal(str(exc), exit_code_for(exc, EXIT_STORE_UNAVAILABLE)) from exc


@click.command("scan")
@database_url_option
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per image per line.")
@click.option("--lines", "with_lines", is_flag=True, help="With --json: include every OCR line.")
@click.option(
    "-o",
    "--output",
    type=click.File("w", encoding="utf-8", lazy=False),
    default="-",
    help="Write the results (lines or JSON) to FILE instead of stdout.",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="No progress, status or summary on stderr; no 'clean' lines."
)
@click.option("-v", "--verbose", is_flag=True, help="Tracebacks for failures, and INFO logging.")
@click.option(
    "--exit-zero",
    is_flag=True,
    help="Exit 0 when images were flagged (failed inputs still exit 2).",
)
@click.option(
    "-j",
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Worker processes, each with its own OCR engine (its memory and start-up) and 1/N of the cores.",
)
@engine_option
@setting_option(
    "--enhance",
    setting="QQSCAN_ENHANCE",
    default=None,  # the raw comma list; ocr.enhance parses it (and the variable, when unset here)
    show_default=False,
    metavar="STEPS",
    help="Extra OCR passes over enhanced copies, comma-separated: tophat (light text over busy photos), "
    "clahe (near-white text). Each costs one more pass. Default: none.",
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
    output: IO[str],
    quiet: bool,
    verbose: bool,
    exit_zero: bool,
    jobs: int,
    enhance: str | None,
    to_store: bool,
    rescan: bool,
    shop: str | None,
    listing: str | None,
) -> None:
    """Scan image files, folders (recursive), http(s) URLs of images or of listing pages (their images
    are scanned), or '-' (a list on stdin).

    Exit status: 0 all clean, 1 some image flagged (0 with --exit-zero), 2 some input failed (or could
    not be stored; its result is still printed) or nothing to scan, 3 the store is unreachable (--store),
    130 interrupted.
    """
    if (shop or listing or rescan) and not to_store:
        raise click.UsageError(
            "--shop, --listing and --rescan are about stored results: use them with --store"
        )
    if verbose:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    chatty = not quiet and sys.stderr.isatty()

    def note(message: str) -> None:
        if not quiet:
            tqdm.write(message, file=sys.stderr)

    run = Run(output, as_json=as_json, with_lines=with_lines, quiet=quiet, note=note)
    try:
        with run.watch:
            target = StoreTarget(shop, listing, rescan) if to_store else None
            _scan(run, sources, verbose, jobs, enhance, target)
        status = run.tally.status(exit_zero)
    except KeyboardInterrupt:
        run.close(interrupted=True)
        done = f" after {run.tally.scanned} image(s)" if run.tally.scanned else ""
        click.echo(("\n" if chatty else "") + f"qqscan: interrupted{done}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except QqscanError as exc:  # Fatal, EngineFailed, a bad setting: one line, the error's own exit code
        run.close(interrupted=True)
        if verbose and not isinstance(exc, Fatal):  # Fatal says all; a library's error may want its trace
            traceback.print_exc()
        click.echo(f"qqscan: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:  # `qqscan scan … | head`: the reader has what it wanted
        run.close(interrupted=True)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        sys.exit(EXIT_FAILED)
    except click.ClickException:
        raise
    except Exception as exc:
        run.close(interrupted=True)
        if verbose:
            traceback.print_exc()
        hint = "" if verbose else " (--verbose shows the traceback)"
        click.echo(f"qqscan: {type(exc).__name__}: {exc}{hint}", err=True)
        sys.exit(EXIT_FAILED)  # not 1, which means "flagged"
    run.close(interrupted=False)
    if not quiet:
        stored_in = run.sink.store.db.safe_url if run.sink else None
        engine_seconds = run.scanner.engine_seconds if run.scanner else None
        click.echo(run.tally.summary(engine_seconds, stored_in), err=True)
    sys.exit(status)


@dataclass(frozen=True)
class StoreTarget:
    """`--store` and what goes with it: the shop/listing recorded with each source, and --rescan."""

    shop: str | None
    listing: str | None
    rescan: bool


def _scan(
    run: Run,
    sources: tuple[str, ...],
    verbose: bool,
    jobs: int,
    enhance: str | None,
    store: StoreTarget | None,
) -> None:
    """Check, read, scan, print; what happened is in run.tally."""
    # Imported here, and only what checking needs, so a mistake is answered well under a second.
    from ground.settings import SETTINGS
    from jobs.scanner import Scanner

    settings = cli_settings()
    try:
        if enhance is not None:
            settings = settings.with_flags(QQSCAN_ENHANCE=SETTINGS["QQSCAN_ENHANCE"].parse(enhance))
        _ = Scanner(settings).enhance
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--enhance") from exc
    scanner = Scanner(settings)
    try:
        _ = scanner.limits
    except ValueError as exc:
        raise Fatal(str(exc)) from exc
    checked = list(expand(sources, sys.stdin))
    todo = [s for s in checked if isinstance(s, Source)]
    run.sink = _open_store(store, scanner) if store else None
    for problem in checked:  # answered now, before the engine is built
        if isinstance(problem, Problem):
            run.problem(problem)
    if not todo:
        raise Fatal("nothing to scan" + (" (every source above failed)" if checked else ""))

    chatty = not run.quiet and sys.stderr.isatty()

    def loading(message: str) -> None:
        if chatty:
            tqdm.write(f"qqscan: {message}", file=sys.stderr)

    opts = ScanOptions(
        settings=settings,
        allow=run.sink.allow if run.sink else (),
        shop_id=run.sink.meta["shop_id"] if run.sink else None,
        keep_evidence=run.sink is not None,
        verbose=verbose,
    )
    ocr = run.scanner = (
        PoolScanner(jobs, opts, loading) if jobs > 1 else InlineScanner(scanner, opts, loading, run.watch)
    )
    run.bar = tqdm(
        total=len(todo), unit="img", file=sys.stderr, leave=False, disable=not chatty or len(todo) < 3
    )
    pending: deque[Entry] = deque()
    for src, data in prefetched(todo, scanner, on_page=run.on_page):
        pending.append(run.prepare(src, data, ocr))
        run.watch.check()
        while pending and (len(pending) > ocr.window or pending[0].ready()):
            run.finish(pending.popleft())
    while pending:
        run.finish(pending.popleft())
