"""SSRF guard: decide whether a URL's host may be fetched, and pin the address that was checked.

Product image URLs come from sellers, so a URL can point at the worker's own network: the cloud
metadata service, Redis, PostgreSQL, an admin page. Every hop (the first URL and each redirect) goes
through `pin()`, which resolves the host once, refuses non-public addresses, and returns the IP the
caller must connect to. Connecting to that IP (not re-resolving the name) closes the DNS-rebinding gap
between check and connect.

`allow_private_networks` lifts the guard (intranet deployments, tests). `allow_hosts` lets single
hosts through while the guard stays on for everything else: entries are a hostname or IP, optionally
with `:port` (`[v6]:port` for IPv6), matched against the URL's host and against each resolved IP.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker.config import Settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
HINT = "set QQSCAN_ALLOW_PRIVATE_NETWORKS=1 to allow"

METADATA = {
    ipaddress.ip_address("169.254.169.254"): "cloud-metadata",  # AWS, GCP, Azure, OpenStack
    ipaddress.ip_address("fd00:ec2::254"): "cloud-metadata",  # AWS IPv6
    ipaddress.ip_address("100.100.100.200"): "cloud-metadata",  # Alibaba Cloud
}
CGNAT = ipaddress.ip_network("100.64.0.0/10")
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class BlockedAddress(Exception):
    """The URL may not be fetched; the message says which address and why."""


class ResolveError(Exception):
    """The host did not resolve. `temporary` is True for a DNS server failure worth retrying."""

    def __init__(self, message: str, *, temporary: bool) -> None:
        super().__init__(message)
        self.temporary = temporary


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # as in the URL, lowercased, without brackets
    port: int
    ips: tuple[str, ...]  # every address the name resolved to, all checked; connect to these only

    @property
    def ip(self) -> str:
        return self.ips[0]


def classify(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address, or None when it is."""
    if ip in METADATA:
        return f"a link-local/{METADATA[ip]} address" if ip.is_link_local else f"a {METADATA[ip]} address"
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address: judge the IPv4 address inside.
        inner = (
            ip.ipv4_mapped
            or ip.sixtofour
            or (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in NAT64 else None)
        )
        if inner is not None:
            why = classify(inner)
            return f"{why} (as {inner} inside an IPv6 address)" if why else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (
            isinstance(ip, ipaddress.IPv4Address) and ip in CGNAT,
            "a carrier-grade NAT (100.64.0.0/10) address",
        ),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private-network address"),
        (not ip.is_global, "not a globally routable address"),
    )
    for hit, why in checks:
        if hit:
            return why
    return None


def _allowed(settings: Settings, host: str, ip: str, port: int) -> bool:
    if not settings.allow_hosts:
        return False
    ip_form = f"[{ip}]" if ":" in ip else ip
    host_form = f"[{host}]" if ":" in host else host
    candidates = {host, ip, f"{host_form}:{port}", f"{ip_form}:{port}"}
    return not candidates.isdisjoint(settings.allow_hosts)


def split_url(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; BlockedAddress for anything else."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedAddress(f"refused: {url!r} is not a valid URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedAddress(f"refused: scheme {scheme or '(none)'!r} is not allowed, only http and https")
    host = (parts.hostname or "").lower()
    if not host:
        raise BlockedAddress(f"refused: {url!r} has no host")
    return scheme, host, port or (443 if scheme == "https" else 80)


def pin(url: str, settings: Settings) -> Target:
    """Check `url` and return the addresses to connect to. Raises BlockedAddress or ResolveError.

    The host is resolved once; the caller connects only to the returned addresses. If ANY of them is
    not public the URL is refused (a name that mixes public and private answers is an attack or a
    misconfiguration, and either way not a seller's CDN).
    """
    scheme, host, port = split_url(url)
    try:
        ips = settings.resolver(host, port)
    except socket.gaierror as exc:
        temporary = exc.errno in (socket.EAI_AGAIN, getattr(socket, "EAI_SYSTEM", None))
        raise ResolveError(
            f"cannot resolve host {host!r}: {exc.strerror or exc}", temporary=temporary
        ) from None
    except UnicodeError as exc:
        raise ResolveError(f"cannot resolve host {host!r}: {exc}", temporary=False) from None
    if not ips:
        raise ResolveError(f"cannot resolve host {host!r}: no addresses", temporary=False)
    if settings.allow_private_networks:
        return Target(scheme, host, port, tuple(ips))
    for raw in ips:
        ip = ipaddress.ip_address(raw)
        if _allowed(settings, host, raw, port):
            continue
        why = classify(ip)
        if why:
            named = raw if raw == host else f"{host} resolves to {raw}, which"
            raise BlockedAddress(f"refused: {named} is {why} ({HINT})")
    return Target(scheme, host, port, tuple(ips))
