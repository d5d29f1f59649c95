"""What `qqscan scan` reads: files, folders (recursive), http(s) URLs, or `-` for a list on stdin."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".jfif"}


class SourceError(Exception):
    """A source that could not be read; the message names it and says why."""


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


def expand(args: Iterable[str], stdin: TextIO) -> Iterator[str]:
    """Sources in order. Folders yield their image files (by suffix) sorted; files named explicitly are
    always taken, whatever their suffix, so a mislabeled file gets a clear decode error, not silence."""
    for arg in args:
        if arg == "-":
            yield from expand((ln.strip() for ln in stdin if ln.strip() and not ln.startswith("#")), stdin)
        elif is_url(arg) or not os.path.isdir(arg):
            yield arg
        else:
            for path in sorted(Path(arg).rglob("*")):
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                    yield str(path)


def load(source: str, max_bytes: int) -> bytes:
    if is_url(source):
        from worker.fetch import PermanentFetchError, TransientFetchError, fetch_image

        try:
            return fetch_image(source).data
        except (PermanentFetchError, TransientFetchError) as exc:
            raise SourceError(str(exc)) from exc
    try:
        with open(source, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SourceError(f"cannot read {source}: {exc.strerror or exc}") from exc
    if len(data) > max_bytes:
        raise SourceError(f"{source} is larger than the {max_bytes} byte cap (QQSCAN_MAX_BYTES)")
    return data
