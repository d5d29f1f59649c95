"""Fetch settings (network guard, limits, deadline, rate per host, TLS), read through the settings table
(ground/settings.py: names, defaults, help); defaults work on one box.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ground.settings import setting

# (host, port) -> IP strings. The default is the system resolver; tests can hand in a table to stand in
# for DNS answers they cannot otherwise produce on loopback (a name that resolves to one address only).
Resolver = Callable[[str, int], list[str]]


def system_resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    seen: list[str] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = str(sockaddr[0]).split("%", 1)[0]  # drop an IPv6 zone id (fe80::1%eth0)
        if ip not in seen:
            seen.append(ip)
    return seen


@dataclass(frozen=True)
class FetchSettings:
    """Built by from_env (defaults live in the settings table), so every field but the resolver is given."""

    allow_private_networks: bool
    allow_hosts: frozenset[str]
    max_bytes: int  # the same variable as ocr.decode.DecodeLimits
    connect_timeout: float
    read_timeout: float
    deadline: float
    max_redirects: int
    rate_per_host: float
    burst_per_host: int
    ca_bundle: str | None
    user_agent: str
    resolver: Resolver = system_resolve

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> FetchSettings:
        env = os.environ if env is None else env
        values: dict[str, object] = {
            "allow_private_networks": setting("QQSCAN_ALLOW_PRIVATE_NETWORKS", env),
            "allow_hosts": frozenset(h.lower() for h in setting("QQSCAN_ALLOW_HOSTS", env)),
            "max_bytes": setting("QQSCAN_MAX_BYTES", env),
            "connect_timeout": setting("QQSCAN_FETCH_CONNECT_TIMEOUT", env),
            "read_timeout": setting("QQSCAN_FETCH_READ_TIMEOUT", env),
            "deadline": setting("QQSCAN_FETCH_DEADLINE", env),
            "max_redirects": setting("QQSCAN_FETCH_MAX_REDIRECTS", env),
            "rate_per_host": setting("QQSCAN_FETCH_RATE", env),
            "burst_per_host": setting("QQSCAN_FETCH_BURST", env),
            "ca_bundle": setting("QQSCAN_FETCH_CA_BUNDLE", env),
            "user_agent": setting("QQSCAN_FETCH_USER_AGENT", env),
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
