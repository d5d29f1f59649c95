"""Worker settings, read from `QQSCAN_*` environment variables; defaults work on one box.

QQSCAN_DATABASE_URL            results store; default sqlite:///$XDG_DATA_HOME/qqscan/qqscan.sqlite3
                               (~/.local/share when XDG_DATA_HOME is unset); postgresql://... for PostgreSQL
QQSCAN_ALLOW_PRIVATE_NETWORKS  1 = fetch from private addresses (intranet, tests), never metadata/link-local
QQSCAN_ALLOW_HOSTS             comma list of host, ip, ip:port or [v6]:port treated as public
QQSCAN_MAX_BYTES               largest image body fetched; default 40 MiB, as ocr.decode's cap
QQSCAN_FETCH_CONNECT_TIMEOUT   seconds to connect; default 5
QQSCAN_FETCH_READ_TIMEOUT      seconds to wait for the next bytes; default 15
QQSCAN_FETCH_DEADLINE          seconds for a whole fetch, against slow-drip servers; default 60
QQSCAN_FETCH_MAX_REDIRECTS     redirects followed; default 3
QQSCAN_FETCH_RATE, _BURST      requests per second per host and burst; default 5 and 10; rate 0 = no limit
QQSCAN_FETCH_CA_BUNDLE         CA file for https (intranet CAs); default certifi's bundle
QQSCAN_FETCH_USER_AGENT        User-Agent header
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# (host, port) -> IP strings. The default is the system resolver; tests can hand in a table to stand in
# for DNS answers they cannot otherwise produce on loopback (a name that resolves to one address only).
Resolver = Callable[[str, int], list[str]]

MiB = 1024 * 1024


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id (fe80::1%eth0)
        if ip not in seen:
            seen.append(ip)
    return seen


def default_database_url(env: Mapping[str, str] | None = None) -> str:
    """A file under the user's data dir, not the working directory, so the CLI and workers started
    from different folders on one box share one store."""
    env = os.environ if env is None else env
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return "sqlite:///" + str(Path(base) / "qqscan" / "qqscan.sqlite3")


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _num(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number") from None


@dataclass(frozen=True)
class Settings:
    database_url: str = field(default_factory=default_database_url)
    allow_private_networks: bool = False
    allow_hosts: frozenset[str] = frozenset()
    max_bytes: int = 40 * MiB  # the same variable and default as ocr.decode.DecodeLimits
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 60.0
    max_redirects: int = 3
    rate_per_host: float = 5.0
    burst_per_host: int = 10
    ca_bundle: str | None = None
    user_agent: str = "qqscan/0.1 (self-hosted image scanner)"
    resolver: Resolver = system_resolve

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        hosts = frozenset(
            h.strip().lower() for h in env.get("QQSCAN_ALLOW_HOSTS", "").split(",") if h.strip()
        )
        values: dict[str, object] = {
            "database_url": env.get("QQSCAN_DATABASE_URL") or default_database_url(env),
            "allow_private_networks": _flag(env.get("QQSCAN_ALLOW_PRIVATE_NETWORKS")),
            "allow_hosts": hosts,
            "max_bytes": int(_num(env, "QQSCAN_MAX_BYTES", 40 * MiB)),
            "connect_timeout": _num(env, "QQSCAN_FETCH_CONNECT_TIMEOUT", 5.0),
            "read_timeout": _num(env, "QQSCAN_FETCH_READ_TIMEOUT", 15.0),
            "deadline": _num(env, "QQSCAN_FETCH_DEADLINE", 60.0),
            "max_redirects": int(_num(env, "QQSCAN_FETCH_MAX_REDIRECTS", 3)),
            "rate_per_host": _num(env, "QQSCAN_FETCH_RATE", 5.0),
            "burst_per_host": int(_num(env, "QQSCAN_FETCH_BURST", 10)),
            "ca_bundle": env.get("QQSCAN_FETCH_CA_BUNDLE") or None,
        }
        if env.get("QQSCAN_FETCH_USER_AGENT"):
            values["user_agent"] = env["QQSCAN_FETCH_USER_AGENT"]
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
