"""A real redis-server for tests, on a free loopback port, with persistence off. Never the machine's 6379.

    pytest_plugins = ("tests.redis_server",)  # in a test module

`redis_server` (session) starts one server; `redis_url` (per test) hands out an empty database on it
(FLUSHALL on our own server only, before each test). `redis_factory` starts servers of a test's own, with
AOF persistence (`appendonly yes`, `appendfsync everysec`, as docs/batch.md ships) or without, that the
test may kill and restart on the same port (fault tests), and with more server arguments (a password,
ACL users) and the credentials its `url` carries.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class RedisServer:
    port: int
    proc: subprocess.Popen
    aof_dir: Path | None = None  # AOF persistence in this directory; None: no persistence at all
    args: tuple[str, ...] = ()  # more redis-server arguments (--requirepass, --user ...)
    userinfo: str = ""  # `user:password` (or `:password`) the url carries

    @property
    def url(self) -> str:
        auth = f"{self.userinfo}@" if self.userinfo else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def stop(self, kill: bool = False) -> None:
        """SIGKILL (a crash: AOF keeps what was fsynced, up to a second behind) or SIGTERM (clean)."""
        if kill:
            self.proc.kill()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def restart(self, down_for: float = 1.0, kill: bool = True) -> None:
        """Crash (or stop) the server, stay down for `down_for` seconds, start it again on the same port."""
        self.stop(kill=kill)
        time.sleep(down_for)
        self.proc = start_redis(self.port, self.aof_dir, self.args, self.userinfo).proc


def _args(port: int, aof_dir: Path | None) -> list[str]:
    args = ["--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    if aof_dir is None:
        return [*args, "--appendonly", "no"]
    aof_dir.mkdir(parents=True, exist_ok=True)
    return [*args, "--dir", str(aof_dir), "--appendonly", "yes", "--appendfsync", "everysec"]


def start_redis(
    port: int | None = None, aof_dir: Path | None = None, args: tuple[str, ...] = (), userinfo: str = ""
) -> RedisServer:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not on PATH (apt-get install redis-server; .ci/run installs it)")
    port = port or free_port()
    proc = subprocess.Popen(
        [binary, *_args(port, aof_dir), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return RedisServer(port, proc, aof_dir, args, userinfo)
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
                pytest.fail(f"redis-server exited at start: {err}")
            time.sleep(0.05)
    proc.kill()
    pytest.fail(f"redis-server did not listen on 127.0.0.1:{port} within 10 s")


@pytest.fixture
def redis_factory(tmp_path: Path) -> Iterator[Callable[..., RedisServer]]:
    """`redis_factory(persistent=True)`: a server of the test's own (AOF under tmp_path), stopped after;
    `args` and `userinfo` as start_redis takes them."""
    servers: list[RedisServer] = []

    def start(persistent: bool = False, args: tuple[str, ...] = (), userinfo: str = "") -> RedisServer:
        aof_dir = tmp_path / f"redis-{len(servers)}" if persistent else None
        server = start_redis(aof_dir=aof_dir, args=args, userinfo=userinfo)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    server = start_redis()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch) -> str:
    from redis import Redis

    Redis.from_url(redis_server.url).flushall()
    monkeypatch.setenv("QQSCAN_REDIS_URL", redis_server.url)
    return redis_server.url
