"""A real HTTP server on 127.0.0.1 for tests: canned routes, redirects, slow and huge responses, and
counters (connections accepted, requests and bytes sent per path) that prove what a client did.

Use the `http_server` fixture (import it into a test module or a conftest):

    from tests.helpers_http import http_server  # noqa: F401  (pytest fixture)

    def test_x(http_server):
        http_server.route("/a.png", body=png_bytes, content_type="image/png")
        http_server.route("/old", status=302, headers={"Location": "/a.png"})
        url = http_server.url("/a.png")
        ...
        assert http_server.hits["/a.png"] == 1
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0  # seconds before the status line (a server that hangs)
    size: int | None = None  # serve this many bytes: `body` first, then zeros (huge bodies without RAM)
    chunked: bool = False  # no Content-Length: Transfer-Encoding: chunked
    drip: float = 0.0  # seconds between body chunks (a slow body)
    chunk_size: int = 64 * 1024
    send_length: bool = True  # False: omit Content-Length and close to end the body (HTTP/1.0 style)


class LoopbackServer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.scheme = "https" if tls else "http"
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.sent: Counter[str] = Counter()  # body bytes written per path before the client stopped reading
        self.finished: Counter[str] = Counter()  # requests whose handler has returned
        self.request_headers: dict[str, dict[str, str]] = {}  # last request's headers per path
        self.connections = 0  # TCP connections accepted (proves a refused URL never connected)
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.owner = self
        self.port: int = self._httpd.server_address[1]
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="loopback-http", daemon=True
        )

    @property
    def host(self) -> str:
        """`127.0.0.1:PORT`, the form QQSCAN_ALLOW_HOSTS / FetchSettings.allow_hosts take."""
        return f"127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{path}"

    def wait_finished(self, path: str, count: int = 1, timeout: float = 10.0) -> bool:
        """Wait until `count` requests to `path` have been fully handled (the counters are then final)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.finished[path] >= count:
                return True
            time.sleep(0.01)
        return False

    def route(self, path: str, **kwargs: object) -> Route:
        r = Route(**kwargs)  # type: ignore[arg-type]
        self.routes[path] = r
        return r

    def start(self) -> LoopbackServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(5)

    def _count(self, counter: Counter[str], key: str, n: int = 1) -> None:
        with self._lock:
            counter[key] += n


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping for a slow route must not hold up stop()
    owner: LoopbackServer

    def verify_request(self, request, client_address) -> bool:  # type: ignore[no-untyped-def]
        with self.owner._lock:
            self.owner.connections += 1
        return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        owner = self.server.owner
        path = self.path.split("?", 1)[0]
        owner._count(owner.hits, path)
        owner.request_headers[path] = {k.lower(): v for k, v in self.headers.items()}
        try:
            self._respond(owner, path)
        finally:
            owner._count(owner.finished, path)
        self.close_connection = True

    def _respond(self, owner: LoopbackServer, path: str) -> None:
        route = owner.routes.get(path) or Route(status=404, body=b"not found", content_type="text/plain")
        if route.delay and owner.stopping.wait(route.delay):
            return
        size = len(route.body) if route.size is None else route.size
        try:
            self.send_response(route.status)
            if route.content_type:
                self.send_header("Content-Type", route.content_type)
            for k, v in route.headers.items():
                self.send_header(k, v)
            if route.chunked:
                self.send_header("Transfer-Encoding", "chunked")
            elif route.send_length:
                self.send_header("Content-Length", str(size))
            self.send_header("Connection", "close")
            self.end_headers()
            self._send_body(owner, path, route, size)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass  # the client stopped reading: exactly what cap tests provoke

    def _send_body(self, owner: LoopbackServer, path: str, route: Route, size: int) -> None:
        written = 0
        while written < size:
            n = min(route.chunk_size, size - written)
            if written < len(route.body):
                piece = route.body[written : written + n]
            else:
                piece = bytes(n)
            if route.chunked:
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            else:
                self.wfile.write(piece)
            self.wfile.flush()
            written += len(piece)
            owner._count(owner.sent, path, len(piece))
            if route.drip and owner.stopping.wait(route.drip):
                return
        if route.chunked:
            self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def http_server() -> Iterator[LoopbackServer]:
    server = LoopbackServer().start()
    try:
        yield server
    finally:
        server.stop()


class RawServer:
    """A TCP server on 127.0.0.1 that hands each connection to `handler(conn, stopping)`: for responses no
    HTTP library would send (headers dripped a byte at a time, a port that accepts and never answers).
    The handler should return when `stopping` is set or the client hangs up (an OSError on send)."""

    def __init__(self, handler: Callable[[socket.socket, threading.Event], None], backlog: int = 16) -> None:
        self.handler = handler
        self.stopping = threading.Event()
        self.connections = 0
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=backlog)
        self._sock.settimeout(0.05)
        self.port: int = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept_loop, name="raw-accept", daemon=True)

    def url(self, path: str, scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def start(self, accept: bool = True) -> RawServer:
        """`accept=False`: listen but never accept (with backlog=0 a second client's connect then hangs)."""
        if accept:
            self._accepting.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._accepting.is_alive():
            self._accepting.join(5)
        self._sock.close()
        for t in self._threads:
            t.join(5)

    def _accept_loop(self) -> None:
        while not self.stopping.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            t = threading.Thread(target=self._serve, args=(conn,), name="raw-conn", daemon=True)
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.handler(conn, self.stopping)
            except OSError:
                pass  # the client hung up: what deadline tests provoke


def read_request_head(conn: socket.socket, limit: int = 64 * 1024) -> bytes:
    """Read one request's head (up to the blank line); enough for a GET."""
    conn.settimeout(5)
    head = b""
    while b"\r\n\r\n" not in head and len(head) < limit:
        piece = conn.recv(4096)
        if not piece:
            break
        head += piece
    return head


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Factory: `raw_server(handler, backlog=16, accept=True)` starts a RawServer, stopped after the test."""
    started: list[RawServer] = []

    def start(
        handler: Callable[[socket.socket, threading.Event], None], backlog: int = 16, accept: bool = True
    ) -> RawServer:
        server = RawServer(handler, backlog=backlog).start(accept=accept)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()
