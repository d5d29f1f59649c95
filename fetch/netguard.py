"""SSRF guard: decide whether a URL's host may be fetched, and pin the address that was checked.

Product image URLs come from sellers, so a URL can point at the worker's own network: the cloud
metadata service, Redis, PostgreSQL, an admin page. Every hop (the first URL and each redirect) goes
through `pin()`, which resolves the host once, refuses non-public addresses, and returns the IP the
caller must connect to. Connecting to that IP (not re-resolving the name) closes the DNS-rebinding gap
between check and connect.

`allow_private_networks` lifts the guard for private, loopback and other non-public addresses (intranet
deployments, tests), but never for cloud-metadata and link-local addresses (ALWAYS_REFUSED): operators set
that switch to reach an internal image CDN, not the service that hands out the machine's cloud credentials.
`allow_hosts` lets single hosts through: entries are a hostname or IP, optionally with `:port` (`[v6]:port`
for IPv6), matched against the URL's host and against each resolved IP. For an always-refused address
only an entry naming the IP itself counts, since whoever controls DNS can point a listed name anywhere.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from fetch.settings import FetchSettings
from ground.errors import QqscanError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

ALLOWED_SCHEMES = ("http", "https")
HINT = "set QQSCAN_ALLOW_PRIVATE_NETWORKS=1 to allow"

ALWAYS_HINT = "QQSCAN_ALLOW_PRIVATE_NETWORKS does not open it"
ALLOW_HINT = "list {} in QQSCAN_ALLOW_HOSTS for an exception"

METADATA = {
    ipaddress.ip_address("169.254.169.254"): "AWS, GCP, Azure, OpenStack",
    ipaddress.ip_address("fd00:ec2::254"): "AWS IPv6",
    ipaddress.ip_address("fd20:ce::254"): "GCP IPv6",
    ipaddress.ip_address("100.100.100.200"): "Alibaba Cloud",
    ipaddress.ip_address("168.63.129.16"): "Azure WireServer",
    ipaddress.ip_address("192.0.0.192"): "Oracle Cloud",
}
LINK_LOCAL = (ipaddress.ip_network("169.254.0.0/16"), ipaddress.ip_network("fe80::/10"))
CGNAT = ipaddress.ip_network("100.64.0.0/10")
# IPv6 prefixes whose last 32 bits are an IPv4 address a gateway may forward to (RFC 6052, RFC 8215).
NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
V4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated ::a.b.c.d; :: and ::1 are judged as themselves


class BlockedAddress(QqscanError):
    """The URL may not be fetched; the message says which address and why."""


class ResolveError(QqscanError):
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


def embedded_ipv4(ip: IPAddress) -> tuple[ipaddress.IPv4Address, str] | None:
    """The IPv4 address an IPv6 address carries, and the form's name; None for anything else."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped, "IPv4-mapped"
    if ip.sixtofour is not None:
        return ip.sixtofour, "6to4"
    if ip.teredo is not None:
        return ip.teredo[1], "Teredo"
    low32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if any(ip in net for net in NAT64):
        return low32, "NAT64"
    if ip in V4_COMPATIBLE and int(ip) > 1:
        return low32, "IPv4-compatible"
    return None


def always_refused(ip: IPAddress) -> str | None:
    """Why `ip` is refused even with the private-network switch on (metadata, link-local), or None.
    The text names the address range."""
    link_local = next((net for net in LINK_LOCAL if ip in net), None)
    if ip in METADATA:
        inside = f", in link-local {link_local}" if link_local else ""
        return f"a cloud-metadata address ({ip}: {METADATA[ip]}{inside})"
    if link_local:
        return f"a link-local address ({link_local})"
    inner = embedded_ipv4(ip)
    if inner is not None:
        why = always_refused(inner[0])
        return f"{why}, as {inner[0]} inside {ip} ({inner[1]})" if why else None
    return None


def classify(ip: IPAddress) -> str | None:
    """Why `ip` is not a public address, or None when it is."""
    why = always_refused(ip)
    if why:
        return why
    inner = embedded_ipv4(ip)
    if inner is not None:  # judge the IPv4 address inside
        why = classify(inner[0])
        return f"{why} (as {inner[0]} inside an IPv6 address)" if why else None
    checks = (
        (ip.is_unspecified, "an unspecified address"),
        (ip.is_loopback, "a loopback address"),
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


def _allowed(settings: FetchSettings, host: str, ip: str, port: int, *, by_ip_only: bool = False) -> bool:
    if not settings.allow_hosts:
        return False
    ip_form = f"[{ip}]" if ":" in ip else ip
    host_form = f"[{host}]" if ":" in host else host
    candidates = {ip, f"{ip_form}:{port}"}
    if not by_ip_only:
        candidates |= {host, f"{host_form}:{port}"}
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


def pin(url: str, settings: FetchSettings) -> Target:
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
    for raw in ips:
        ip = ipaddress.ip_address(raw)
        named = raw if raw == host else f"{host} resolves to {raw}, which"
        always = always_refused(ip)
        if always:
            if _allowed(settings, host, raw, port, by_ip_only=True):
                continue
            raise BlockedAddress(f"refused: {named} is {always}; {ALWAYS_HINT} ({ALLOW_HINT.format(raw)})")
        if settings.allow_private_networks or _allowed(settings, host, raw, port):
            continue
        why = classify(ip)
        if why:
            raise BlockedAddress(f"refused: {named} is {why} ({HINT})")
    return Target(scheme, host, port, tuple(ips))
