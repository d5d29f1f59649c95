"""Hostile servers on loopback (issues 11 and 23): compression bombs against the byte cap and against the
encodings a request offers, servers that stall before the body against the whole-fetch deadline, and broken
HTTP that must not be retried. Bounded in time: every server here gives up within a few seconds, and the
deadlines under test are about one second."""

from __future__ import annotations

import io
import socket
import threading
import tracemalloc
import zlib
from collections.abc import Callable

import pytest
from PIL import Image

from fetch.client import PermanentFetchError, TransientFetchError, fetch_image
from fetch.page import fetch_page
from fetch.settings import FetchSettings
from ground.settings import Settings
from tests.helpers_http import http_server, raw_server, read_request_head  # noqa: F401  (fixtures)

MiB = 1024 * 1024


def png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (9, 9, 9)).save(buf, format="PNG")
    return buf.getvalue()


def gzip_of(chunks: Callable[[], object], wbits: int = 31) -> bytes:
    """gzip (wbits 31), zlib (15) or raw deflate (-15) of the pieces `chunks()` yields, streamed."""
    z = zlib.compressobj(9, zlib.DEFLATED, wbits)
    out = [z.compress(piece) for piece in chunks()]  # type: ignore[attr-defined]
    return b"".join(out) + z.flush()


def zeros(n: int) -> Callable[[], object]:
    return lambda: (bytes(MiB) for _ in range(n // MiB))


def settings(**kw: object) -> FetchSettings:
    """Guard off (loopback), no rate limit, a 1 MiB cap and a short whole-fetch deadline."""
    base: dict[str, object] = {
        "allow_private_networks": True,
        "rate_per_host": 0,
        "max_bytes": MiB,
        "deadline": 1.0,
        "connect_timeout": 8.0,
        "read_timeout": 8.0,
    }
    return FetchSettings.from_settings(Settings(), **{**base, **kw})


def peak_alloc(fn: Callable[[], object]) -> tuple[BaseException | None, int]:
    """Run fn; return what it raised and the peak Python allocation while it ran (bytes)."""
    tracemalloc.start()
    raised: BaseException | None = None
    try:
        fn()
    except BaseException as exc:  # noqa: B036  (handed back to the test)
        raised = exc
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return raised, peak


# --- compression bombs ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stacked_bomb() -> bytes:
    """64 MiB of zeros, gzipped twice: about 1 KB on the wire."""
    return gzip_of(lambda: [gzip_of(zeros(64 * MiB))])


@pytest.mark.parametrize("fetch", [fetch_image, fetch_page], ids=["image", "page"])
def test_stacked_gzip_is_refused_without_inflating(http_server, stacked_bomb, fetch):  # noqa: F811
    assert len(stacked_bomb) < 4096
    http_server.route(
        "/bomb", body=stacked_bomb, content_type="image/png", headers={"Content-Encoding": "gzip, gzip"}
    )
    raised, peak = peak_alloc(lambda: fetch(http_server.url("/bomb"), settings=settings()))
    assert isinstance(raised, PermanentFetchError), raised
    assert "Content-Encoding 'gzip, gzip'" in str(raised)
    assert http_server.url("/bomb") in str(raised)
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB while refusing a {len(stacked_bomb)} byte bomb"


def test_one_gzip_layer_is_capped_while_it_inflates(http_server):  # noqa: F811
    bomb = gzip_of(zeros(64 * MiB))  # ~64 KB: one read inflates to all 64 MiB unless the decoder is capped
    http_server.route("/bomb", body=bomb, content_type="text/html", headers={"Content-Encoding": "gzip"})
    raised, peak = peak_alloc(lambda: fetch_page(http_server.url("/bomb"), settings=settings()))
    assert isinstance(raised, PermanentFetchError), raised
    assert "too large" in str(raised)
    assert MiB < raised.bytes_read <= MiB + 1
    assert peak < 8 * MiB, f"peak {peak / MiB:.0f} MiB for a {MiB:,} byte cap"


@pytest.mark.parametrize("encoding", ["gzip", "x-gzip", "deflate"])
def test_an_image_sent_compressed_though_asked_for_uncompressed_is_refused(http_server, encoding):  # noqa: F811
    """Issue #23: a 40 MB frame bomb gzipped is 98 KB on the wire; images are asked for with
    Accept-Encoding: identity, and a coding not offered is refused before a byte is inflated."""
    bomb = gzip_of(zeros(64 * MiB), 31 if "gzip" in encoding else 15)
    http_server.route("/a.gif", body=bomb, content_type="image/gif", headers={"Content-Encoding": encoding})
    raised, peak = peak_alloc(lambda: fetch_image(http_server.url("/a.gif"), settings=settings()))
    assert isinstance(raised, PermanentFetchError), raised
    assert f"Content-Encoding '{encoding}' was not asked for (Accept-Encoding: identity)" in str(raised)
    assert http_server.url("/a.gif") in str(raised)
    assert http_server.request_headers["/a.gif"]["accept-encoding"] == "identity"
    assert peak < 4 * MiB


def test_refuses_encodings_it_cannot_decode(http_server):  # noqa: F811
    http_server.route("/x", body=b"\x8b\x00\x80", headers={"Content-Encoding": "br"})
    with pytest.raises(PermanentFetchError, match="unsupported Content-Encoding 'br'"):
        fetch_image(http_server.url("/x"), settings=settings())


@pytest.mark.parametrize(
    ("encoding", "wbits"),
    [("gzip", 31), ("x-gzip", 31), ("deflate", 15), ("deflate", -15), ("identity, gzip", 31)],
)
def test_one_encoded_layer_within_the_cap_is_decoded(http_server, encoding, wbits):  # noqa: F811
    html = "<html><body><img src='/a.jpg'> 联系 QQ</body></html>".encode()
    http_server.route(
        "/page", body=gzip_of(lambda: [html], wbits), content_type="text/html; charset=utf-8",
        headers={"Content-Encoding": encoding},
    )  # fmt: skip
    assert fetch_page(http_server.url("/page"), settings=settings()).text == html.decode()
    assert http_server.request_headers["/page"]["accept-encoding"] == "gzip, deflate"
    http_server.route("/a.png", body=png(), headers={"Content-Encoding": "identity"})
    assert fetch_image(http_server.url("/a.png"), settings=settings()).data == png()


@pytest.mark.parametrize("charset", ["idna", "punycode", "undefined", "base64", "no-such-charset"])
def test_a_page_declaring_a_charset_that_cannot_decode_it_is_read_as_utf8(http_server, charset):  # noqa: F811
    # idna, punycode and undefined raise UnicodeError even with errors="replace": it escaped the scan.
    html = "<html><img data-src='/a.jpg'>\xff 联系</html>".encode()
    http_server.route("/p", body=html, content_type=f"text/html; charset={charset}")
    assert fetch_page(http_server.url("/p"), settings=settings()).text.startswith(
        "<html><img data-src='/a.jpg'>"
    )


def test_truncated_gzip_body_is_refused(http_server):  # noqa: F811
    whole = gzip_of(lambda: [b"<html><img src='/a.jpg'></html>" * 20])
    http_server.route("/cut.html", body=whole[:-12], headers={"Content-Encoding": "gzip"})
    with pytest.raises(PermanentFetchError, match="ends before the end of its gzip stream"):
        fetch_page(http_server.url("/cut.html"), settings=settings())


# --- one deadline over connect, TLS, headers and body -------------------------------------------------


def drip_headers(conn: socket.socket, stopping: threading.Event) -> None:
    """A response whose head arrives one byte every 0.1 s (4 s in all), then a valid PNG."""
    read_request_head(conn)
    body = png()
    head = f"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    for i in range(len(head)):
        conn.sendall(head[i : i + 1])
        if stopping.wait(0.1):
            return
    conn.sendall(body)


def silent(conn: socket.socket, stopping: threading.Event) -> None:
    """Accept and say nothing (a TLS handshake never answered), until the client hangs up or 5 s pass."""
    conn.settimeout(0.1)
    for _ in range(50):
        try:
            if not conn.recv(4096):
                return
        except TimeoutError:
            pass
        if stopping.is_set():
            return


def test_headers_dripped_slower_than_the_deadline_are_cut_off(raw_server):  # noqa: F811
    server = raw_server(drip_headers)
    with pytest.raises(TransientFetchError, match="QQSCAN_FETCH_DEADLINE") as exc:
        fetch_image(server.url("/a.png"), settings=settings())
    assert "before the response headers" in str(exc.value)
    assert server.connections == 1


def test_a_tls_handshake_that_never_answers_is_cut_off_at_the_deadline(raw_server):  # noqa: F811
    server = raw_server(silent)
    with pytest.raises(TransientFetchError, match="QQSCAN_FETCH_DEADLINE"):
        fetch_image(server.url("/a.png", scheme="https"), settings=settings())
    assert server.connections == 1


def test_a_connect_that_hangs_is_cut_off_at_the_deadline(raw_server):  # noqa: F811
    # Listening with a full backlog and never accepting: the kernel drops our SYN, so connect() hangs.
    server = raw_server(silent, backlog=0, accept=False)
    filler = socket.create_connection(("127.0.0.1", server.port), timeout=2)
    try:
        with pytest.raises(TransientFetchError, match="QQSCAN_FETCH_DEADLINE"):
            fetch_image(server.url("/a.png"), settings=settings())
    finally:
        filler.close()


def test_the_deadline_spans_redirect_hops(http_server):  # noqa: F811
    # Three hops that each answer in 0.4 s: every hop is quick, the whole is not.
    for i in range(3):
        http_server.route(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"}, delay=0.4)
    http_server.route("/r3", body=png(), delay=0.4)
    with pytest.raises(TransientFetchError, match="QQSCAN_FETCH_DEADLINE"):
        fetch_image(http_server.url("/r0"), settings=settings(max_redirects=5))


# --- permanent protocol faults are not retried (issue #23 item 9) -------------------------------------


def many_headers(conn: socket.socket, stopping: threading.Event) -> None:
    """A status line, then 100,000 header lines (1.6 MB of head): no HTTP client should buffer that."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n")
    line = b"X-Filler: 0123456\r\n"
    for _ in range(100):
        if stopping.is_set():
            return
        conn.sendall(line * 1000)
    conn.sendall(b"Content-Length: 0\r\n\r\n")


def short_body(conn: socket.socket, stopping: threading.Event) -> None:
    """Content-Length says 100,000 bytes; a small PNG comes, then the server closes."""
    read_request_head(conn)
    body = png()
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n" + body)


def broken_chunks(conn: socket.socket, stopping: threading.Event) -> None:
    """Chunked encoding whose chunk size is not hex."""
    read_request_head(conn)
    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n")


def hang_up(conn: socket.socket, stopping: threading.Event) -> None:
    """Read the request and close without a word: a server restarting, worth another try."""
    read_request_head(conn)


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (many_headers, "broken HTTP response"),
        (short_body, r"received \d+ bytes, expected 100000"),
        (broken_chunks, "broken HTTP response"),
    ],
    ids=["100k headers", "short Content-Length", "bad chunk size"],
)
def test_protocol_faults_are_permanent(raw_server, handler, message):  # noqa: F811
    """Issue #23: these were TransientFetchError, so a scan job was retried 4 times for nothing."""
    server = raw_server(handler)
    url = server.url("/a.png")
    with pytest.raises(PermanentFetchError, match=message) as exc:
        fetch_image(url, settings=settings(deadline=10.0))
    assert url in str(exc.value) and "\n" not in str(exc.value)
    assert "retrying will not help" in str(exc.value)


def test_a_server_that_hangs_up_before_answering_is_still_transient(raw_server):  # noqa: F811
    server = raw_server(hang_up)
    with pytest.raises(TransientFetchError, match="disconnected without sending a response"):
        fetch_image(server.url("/a.png"), settings=settings(deadline=10.0))
