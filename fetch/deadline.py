"""One wall-clock deadline over a whole fetch, enforced where the time is spent: at the socket.

Per-operation timeouts cannot bound a fetch: a server that sends one header byte every 5 s satisfies a
15 s read timeout forever. `DeadlineBackend` is an httpcore network backend that gives every socket
operation (connect, TLS handshake, each read and write) the smaller of its own timeout and the time left
before the deadline, and refuses to start one once the deadline has passed. CPython applies a socket
timeout to a TLS handshake as a whole, and a read returns as soon as any byte arrives, so the fetch ends
by the deadline plus one scheduling slice, whatever the server does: no thread and no read loop needed.
"""

from __future__ import annotations

import ssl
import time
import typing

import httpcore


class Deadline:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.at = time.monotonic() + seconds

    def left(self) -> float:
        return self.at - time.monotonic()

    def passed(self) -> bool:
        return self.left() <= 0

    def bound(self, timeout: float | None, exc: type[Exception]) -> float:
        """`timeout` cut to the time left; `exc` (an httpcore timeout) when none is left."""
        left = self.left()
        if left <= 0:
            raise exc(f"deadline of {self.seconds:g} s passed")
        return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream, deadline: Deadline) -> None:
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, self._deadline.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, self._deadline.bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        timeout = self._deadline.bound(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout), self._deadline)

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's SyncBackend with every operation bounded by `deadline` (module docstring)."""

    def __init__(self, deadline: Deadline, inner: httpcore.NetworkBackend | None = None) -> None:
        self.deadline = deadline
        self._inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self.deadline.bound(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return DeadlineStream(stream, self.deadline)

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        timeout = self.deadline.bound(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.connect_unix_socket(path, timeout, socket_options), self.deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(min(seconds, max(0.0, self.deadline.left())))
