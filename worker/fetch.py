"""fetch_image: bytes of one image URL, with limits, the SSRF guard on every hop, and errors a caller
can act on.

Two error classes, so an RQ job can decide with one `except`:
- TransientFetchError: timeouts, connection failures, DNS server failures, 408/425/429 and 5xx.
  Retry later (RQ `Retry`); `retry_after` carries the server's Retry-After in seconds when it sent one.
- PermanentFetchError: 4xx, not an image, too large, refused by the guard, bad scheme, too many redirects.

DNS pinning: each hop's host is resolved and checked once (worker.netguard.pin), then the request goes to
that IP: the URL's host is replaced by the IP, the `Host` header keeps the real name, and for https the
TLS server name (SNI) is set to the real name through httpcore's `sni_hostname` request extension, so the
certificate is still verified against the hostname while the socket connects to the checked address.
httpx never resolves the name itself, so a second DNS answer cannot move the connection elsewhere.
Proxy variables in the environment are ignored (trust_env=False): a proxy would connect on our behalf
to addresses the guard never saw.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpx

from worker import netguard
from worker.config import Settings
from worker.ratelimit import limiter_for

REDIRECT_CODES = {301, 302, 303, 307, 308}
TRANSIENT_CODES = {408, 425, 429}


class FetchError(Exception):
    """Base class: the message names the URL and says what failed and why."""

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class TransientFetchError(FetchError):
    """Worth retrying later."""

    def __init__(
        self, message: str, *, url: str, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message, url=url, status=status)
        self.retry_after = retry_after


class PermanentFetchError(FetchError):
    """Retrying will not help."""

    def __init__(self, message: str, *, url: str, status: int | None = None, bytes_read: int | None = None):
        super().__init__(message, url=url, status=status)
        self.bytes_read = bytes_read


@dataclass(frozen=True)
class Fetched:
    url: str
    final_url: str
    data: bytes = field(repr=False)
    content_type: str  # sniffed from the bytes, e.g. "image/png"
    status: int
    elapsed_ms: int
    redirects: list[str] = field(default_factory=list)  # each Location followed, absolute, in order


def sniff(data: bytes) -> str | None:
    """Image MIME type from magic bytes, None when the bytes are not a supported image."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data[:2] == b"BM" and len(data) >= 26:
        return "image/bmp"
    return None


def _not_an_image(data: bytes, declared: str | None) -> str:
    said = f"server said Content-Type {declared!r}" if declared else "no Content-Type"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not data:
        return f"not an image: empty body ({said})"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<?xml", b"<script")):
        kind = "SVG/XML" if b"<svg" in data[:2048].lower() else "HTML"
        return f"not an image: the server sent {kind} ({said}); an error or login page, not the picture"
    if data[4:8] == b"ftyp":
        brand = data[8:12].decode("ascii", "replace")
        return f"not a supported image: ISO media container brand {brand!r} (AVIF/HEIC?) ({said})"
    return f"not an image: unrecognised bytes {data[:8].hex(' ')} ({said})"


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _classify_transport_error(exc: httpx.TransportError, where: str, url: str) -> FetchError:
    cause = exc.__cause__ or exc.__context__
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        phase = {
            httpx.ConnectTimeout: "connecting",
            httpx.ReadTimeout: "waiting for data",
            httpx.WriteTimeout: "sending the request",
            httpx.PoolTimeout: "waiting for a connection",
        }.get(type(exc), "waiting")
        return TransientFetchError(f"timed out {phase} for {where}", url=url)
    if "CERTIFICATE_VERIFY_FAILED" in text or "SSLCertVerificationError" in repr(cause):
        return PermanentFetchError(f"TLS certificate rejected for {where}: {text}", url=url)
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.LocalProtocolError):
        return PermanentFetchError(f"cannot request {where}: {text}", url=url)
    return TransientFetchError(f"connection failed for {where}: {type(exc).__name__}: {text}", url=url)


def _read_capped(resp: httpx.Response, url: str, settings: Settings, started: float) -> bytes:
    declared = resp.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > settings.max_bytes:
        raise PermanentFetchError(
            f"too large: {url} declares {int(declared):,} bytes, over the {settings.max_bytes:,} byte cap "
            "(QQSCAN_MAX_BYTES)",
            url=url,
            status=resp.status_code,
            bytes_read=0,
        )
    buf = bytearray()
    # iter_bytes yields decoded bytes, so the cap also bounds a compressed body that inflates.
    for chunk in resp.iter_bytes():  # as received: a fixed chunk_size would wait to fill it
        buf += chunk
        if len(buf) > settings.max_bytes:
            raise PermanentFetchError(
                f"too large: {url} sent more than the {settings.max_bytes:,} byte cap (QQSCAN_MAX_BYTES); "
                f"stopped after {len(buf):,} bytes",
                url=url,
                status=resp.status_code,
                bytes_read=len(buf),
            )
        if time.monotonic() - started > settings.deadline:
            raise TransientFetchError(
                f"timed out: {url} took longer than {settings.deadline:g} s (QQSCAN_FETCH_DEADLINE) "
                f"after {len(buf):,} bytes",
                url=url,
            )
    return bytes(buf)


def _pinned_request(client: httpx.Client, url: str, target: netguard.Target, ip: str) -> httpx.Request:
    request_url = httpx.URL(url)
    host_header = request_url.netloc.decode("ascii")  # "name" or "name:port" (IDN as punycode), no userinfo
    # httpcore passes sni_hostname to the TLS handshake as server_hostname: SNI and certificate checks.
    sni = request_url.raw_host.decode("ascii")
    extensions = {"sni_hostname": sni} if target.scheme == "https" else {}
    return client.build_request(
        "GET",
        request_url.copy_with(host=ip),
        headers={"Host": host_header},
        extensions=extensions,
    )


@dataclass(frozen=True)
class Body:
    """What a guarded GET returned: the bytes after redirects, before any check of what they are."""

    url: str
    final_url: str
    data: bytes = field(repr=False)
    status: int
    declared_type: str  # the server's Content-Type header ("" when absent): a hint, never trusted
    elapsed_ms: int
    redirects: list[str] = field(default_factory=list)

    @property
    def where(self) -> str:
        return self.url if self.final_url == self.url else f"{self.final_url} (redirected from {self.url})"


def _request(
    client: httpx.Client, request: httpx.Request, url: str, where: str, settings: Settings, started: float
) -> Body | str:
    """Send one request: the body, or the Location of a redirect (for the caller to check and follow)."""
    resp = client.send(request, stream=True)
    try:
        status = resp.status_code
        if status in REDIRECT_CODES:
            location = resp.headers.get("location")
            if not location:
                raise PermanentFetchError(
                    f"HTTP {status} without Location from {where}", url=url, status=status
                )
            return location
        if status in TRANSIENT_CODES or status >= 500:
            raise TransientFetchError(
                f"HTTP {status} {resp.reason_phrase} from {where}; try again later",
                url=url,
                status=status,
                retry_after=_retry_after(resp.headers.get("retry-after")),
            )
        if status >= 400 or status < 200:
            raise PermanentFetchError(
                f"HTTP {status} {resp.reason_phrase} from {where}", url=url, status=status
            )
        data = _read_capped(resp, url, settings, started)
        return Body(
            url=url,
            final_url=url,
            data=data,
            status=status,
            declared_type=resp.headers.get("content-type", ""),
            elapsed_ms=int((time.monotonic() - started) * 1000),
        )
    finally:
        resp.close()  # a refused or oversized body is not read to the end


def _request_any(
    client: httpx.Client,
    current: str,
    target: netguard.Target,
    url: str,
    where: str,
    settings: Settings,
    started: float,
) -> Body | str:
    """`_request` to the checked addresses in resolver order, moving on only when one refuses the
    connection or is unreachable (say an IPv6 answer on a host without an IPv6 route)."""
    for n, ip in enumerate(target.ips, start=1):
        try:
            return _request(
                client, _pinned_request(client, current, target, ip), url, where, settings, started
            )
        except httpx.ConnectError as exc:
            if n < len(target.ips):
                continue
            raise _classify_transport_error(exc, where, url) from exc
        except httpx.TransportError as exc:
            raise _classify_transport_error(exc, where, url) from exc
        except httpx.InvalidURL as exc:
            raise PermanentFetchError(f"invalid URL {where}: {exc}", url=url) from None
    raise AssertionError("netguard.pin returns at least one address")


def _tls_context(settings: Settings) -> ssl.SSLContext:
    return _ssl_context(settings.ca_bundle or None)


@functools.lru_cache(maxsize=8)
def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    """One context per CA bundle per process: loading the bundle costs ~20 ms, paid per fetch before
    (half the worker's overhead per job). Default: certifi's bundle, as httpx uses."""
    import certifi

    return ssl.create_default_context(cafile=cafile or certifi.where())


def fetch_body(
    url: str, *, settings: Settings | None = None, accept: str = "*/*", accept_encoding: str = "identity"
) -> Body:
    """GET `url` through the SSRF guard: every hop resolved, checked and pinned, redirects followed by us,
    the body capped while streaming. Raises TransientFetchError / PermanentFetchError (module docstring)."""
    settings = settings or Settings.from_env()
    started = time.monotonic()
    limiter = limiter_for(settings.rate_per_host, settings.burst_per_host)
    timeout = httpx.Timeout(
        connect=settings.connect_timeout, read=settings.read_timeout, write=settings.read_timeout, pool=5.0
    )
    redirects: list[str] = []
    current = url
    with httpx.Client(
        timeout=timeout,
        follow_redirects=False,  # every hop must pass the guard, so we follow them ourselves
        trust_env=False,
        verify=_tls_context(settings),
        headers={"User-Agent": settings.user_agent, "Accept": accept, "Accept-Encoding": accept_encoding},
    ) as client:
        while True:
            where = current if current == url else f"{current} (redirected from {url})"
            try:
                target = netguard.pin(current, settings)
            except netguard.BlockedAddress as exc:
                raise PermanentFetchError(f"{exc}; url {where}", url=url) from None
            except netguard.ResolveError as exc:
                cls = TransientFetchError if exc.temporary else PermanentFetchError
                raise cls(f"{exc}; url {where}", url=url) from None
            limiter.acquire(target.host)
            got = _request_any(client, current, target, url, where, settings, started)
            if isinstance(got, Body):
                return replace(got, final_url=current, redirects=redirects)
            if len(redirects) >= settings.max_redirects:
                raise PermanentFetchError(
                    f"too many redirects: {url} redirected more than {settings.max_redirects} times "
                    f"(last to {urljoin(current, got)}; QQSCAN_FETCH_MAX_REDIRECTS)",
                    url=url,
                )
            current = urljoin(current, got)
            redirects.append(current)


def fetch_image(url: str, *, settings: Settings | None = None) -> Fetched:
    """GET `url` and return its bytes if they are an image. See the module docstring for the errors."""
    body = fetch_body(url, settings=settings, accept="image/*")
    content_type = sniff(body.data)
    if content_type is None:
        message = _not_an_image(body.data, body.declared_type or None)
        raise PermanentFetchError(f"{message}: {body.where}", url=url, status=body.status)
    return Fetched(
        url=url,
        final_url=body.final_url,
        data=body.data,
        content_type=content_type,
        status=body.status,
        elapsed_ms=body.elapsed_ms,
        redirects=body.redirects,
    )
