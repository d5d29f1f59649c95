"""Content-Encoding decoding with a hard cap on the decoded bytes, applied inside each decompress call.

A compressed body is a promise about its decoded size that the server does not have to keep: 1 KB of
`gzip, gzip` inflates to 512 MiB. So at most one compression layer is accepted (a stacked encoding is how
such bombs are built, and no CDN sends one), and zlib is asked for no more output per call than the cap
still allows (`max_length`), so memory never holds more than the cap plus one read, whatever the ratio.
"""

from __future__ import annotations

import zlib

from ground.errors import QqscanError

# zlib window bits: 16 + 15 = gzip wrapper, 15 = zlib wrapper, -15 = raw deflate.
_WBITS = {"gzip": 31, "x-gzip": 31, "deflate": 15}


class EncodingRefused(QqscanError):
    """The server's Content-Encoding is one we will not decode; the message says why."""


class OverCap(QqscanError):
    """The decoded body passed the cap; `produced` decoded bytes were made before decoding stopped."""

    def __init__(self, produced: int) -> None:
        super().__init__(f"more than the cap after {produced:,} decoded bytes")
        self.produced = produced


class CorruptBody(QqscanError):
    """The compressed stream is damaged or cut short; the message says which."""


def content_coding(header: str, offered: str) -> str | None:
    """The one compression layer named by a Content-Encoding header, None for identity. EncodingRefused
    for stacked layers, a coding we cannot decode, or one the request's Accept-Encoding (`offered`) did not
    offer: images are asked for uncompressed, so a gzip body there is 98 KB on the wire for 40 MB of frames
    and nothing a real image server needs."""
    layers = [t.strip().lower() for t in header.split(",") if t.strip()]
    layers = [t for t in layers if t != "identity"]
    if len(layers) > 1:
        raise EncodingRefused(
            f"Content-Encoding {header.strip()!r} stacks {len(layers)} compression layers; one is accepted "
            "(stacked layers are how compression bombs are built)"
        )
    if not layers:
        return None
    coding = layers[0]
    if coding not in _WBITS:
        raise EncodingRefused(f"unsupported Content-Encoding {coding!r}; gzip and deflate are accepted")
    asked = {t.split(";", 1)[0].strip().lower() for t in offered.split(",")}
    if coding not in asked and not (coding == "x-gzip" and "gzip" in asked):
        raise EncodingRefused(f"Content-Encoding {coding!r} was not asked for (Accept-Encoding: {offered})")
    return coding


class CappedDecoder:
    """Decode one body's bytes as they arrive; `feed` returns the decoded bytes and raises OverCap as soon
    as the total would pass `cap`, having decoded at most cap + 1 bytes."""

    def __init__(self, coding: str | None, cap: int) -> None:
        self.coding = coding
        self.cap = cap
        self.produced = 0
        self._z = zlib.decompressobj(_WBITS[coding]) if coding else None
        self._started = False

    def feed(self, data: bytes) -> bytes:
        if self._z is None:
            return self._count(data)
        out = bytearray()
        while data:
            try:
                piece = self._z.decompress(data, self.cap - self.produced + 1)
            except zlib.error as exc:
                if self.coding == "deflate" and not self._started:
                    # "deflate" is meant to be zlib-wrapped; some servers send raw deflate instead.
                    self._z = zlib.decompressobj(-15)
                    self._started = True
                    continue
                raise CorruptBody(f"damaged {self.coding} stream: {exc}") from None
            self._started = True
            out += self._count(piece)
            data = self._z.unconsumed_tail
            if self._z.eof:
                data = self._next_member(self._z.unused_data)
        return bytes(out)

    def finish(self) -> None:
        """Call after the last byte: CorruptBody when the compressed stream was cut short."""
        if self._z is not None and self._started and not self._z.eof:
            raise CorruptBody(f"the body ends before the end of its {self.coding} stream")

    def _next_member(self, rest: bytes) -> bytes:
        # gzip allows members back to back; anything else after the end of the stream is ignored.
        if self.coding != "deflate" and rest[:2] == b"\x1f\x8b":
            self._z = zlib.decompressobj(_WBITS["gzip"])
            return rest
        return b""

    def _count(self, piece: bytes) -> bytes:
        self.produced += len(piece)
        if self.produced > self.cap:
            raise OverCap(self.produced)
        return piece
