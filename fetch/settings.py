"""Fetch settings (network guard, limits, deadline, rate per host, TLS), read through the settings table
(ground/settings.py: names, defaults, help); defaults work on one box.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass

from ground.settings import DEFAULTS, Settings

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
    """Built by from_settings (defaults are the settings table's): every field but the resolver is given."""

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
    def from_settings(cls, settings: Settings = DEFAULTS, **overrides: object) -> FetchSettings:
        values: dict[str, object] = {
            "allow_private_networks": settings["QQSCAN_ALLOW_PRIVATE_NETWORKS"],
            "allow_hosts": frozenset(h.lower() for h in settings["QQSCAN_ALLOW_HOSTS"]),
            "max_bytes": settings["QQSCAN_MAX_BYTES"],
            "connect_timeout": settings["QQSCAN_FETCH_CONNECT_TIMEOUT"],
            "read_timeout": settings["QQSCAN_FETCH_READ_TIMEOUT"],
            "deadline": settings["QQSCAN_FETCH_DEADLINE"],
            "max_redirects": settings["QQSCAN_FETCH_MAX_REDIRECTS"],
            "rate_per_host": settings["QQSCAN_FETCH_RATE"],
            "burst_per_host": settings["QQSCAN_FETCH_BURST"],
            "ca_bundle": settings["QQSCAN_FETCH_CA_BUNDLE"],
            "user_agent": settings["QQSCAN_FETCH_USER_AGENT"],
        }
        values.update(overrides)
        return cls(**values)  # type: ignore[arg-type]
