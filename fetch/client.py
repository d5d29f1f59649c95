"""fetch_image: bytes of one image URL, with limits, the SSRF guard on every hop, and errors a caller
can act on.

Two error classes, so an RQ job can decide with one `except`:
- TransientFetchError: timeouts, connection failures (a server that hangs up before answering too), DNS
  server failures, 408/425/429 and 5xx. Retry later (RQ `Retry`); `retry_after` carries the server's
  Retry-After in seconds when it sent one.
- PermanentFetchError: 4xx, not an image, too large, refused by the guard, bad scheme, too many redirects,
  a Content-Encoding we did not offer, and broken HTTP (a head over 16 KiB, bad chunking, a body shorter
  than its Content-Length): the same server sends the same bytes again.

DNS pinning: each hop's host is resolved and checked once (fetch.netguard.pin), then the request goes to
that IP: the URL's host is replaced by the IP, the `Host` header keeps the real name, and for https the
TLS server name (SNI) is set to the real name through httpcore's `sni_hostname` request extension, so the
certificate is still verified against the hostname while the socket connects to the checked address.
The HTTP client never resolves the name itself, so a second DNS answer cannot move the connection elsewhere.

The client is httpcore (the transport under httpx), used directly for two things httpx does not give:
- one deadline (QQSCAN_FETCH_DEADLINE) over connect, TLS, headers and body of every hop, enforced by a
  network backend that bounds each socket operation (fetch.deadline);
- the raw body, decoded by us with a hard cap per decompress call and at most one compression layer
  (fetch.encoding); httpx inflates each read whole, so 1 KB of `gzip, gzip` became 512 MiB.
httpcore reads no proxy variables: a proxy would connect on our behalf to addresses the guard never saw.
"""

from __future__ import annotations

import email.utils
import functools
import ssl
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from urllib.parse import urljoin

import httpcore
import httpx

from fetch import netguard
from fetch.deadline import Deadline, DeadlineBackend
from fetch.encoding import CappedDecoder, CorruptBody, EncodingRefused, OverCap, content_coding
from fetch.ratelimit import limiter_for
from fetch.settings import FetchSettings
from ground.errors import QqscanError
from ocr.decode import describe_unaccepted, sniff_format

REDIRECT_CODES = {301, 302, 303, 307, 308}
TRANSIENT_CODES = {408, 425, 429}
# httpcore's RemoteProtocolError for a server that closed before answering (restarting, overloaded): the
# one protocol error worth retrying.
_HUNG_UP = "Server disconnected without sending a response"


class FetchError(QqscanError):
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


class NotAnImage(PermanentFetchError):
    """A 2xx body that is no image; `body` keeps it, so a caller that also reads pages need not GET it
    again."""

    def __init__(self, message: str, *, url: str, body: Body) -> None:
        super().__init__(message, url=url, status=body.status)
        self.body = body


@dataclass(frozen=True)
class Fetched:
    url: str
    final_url: str
    data: bytes = field(repr=False)
    content_type: str  # sniffed from the bytes, e.g. "image/png"
    status: int
    elapsed_ms: int
    redirects: list[str] = field(default_factory=list)  # each Location followed, absolute, in order


def _not_an_image(data: bytes, declared: str | None) -> str:
    said = f"server said Content-Type {declared!r}" if declared else "no Content-Type"
    head = data[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if not data:
        return f"not an image: empty body ({said})"
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body", b"<!--", b"<?xml", b"<script")):
        kind = "SVG/XML" if b"<svg" in data[:2048].lower() else "HTML"
        return f"not an image: the server sent {kind} ({said}); an error or login page, not the picture"
    return f"{describe_unaccepted(data)} ({said})"


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


def _classify_transport_error(
    exc: Exception, where: str, url: str, deadline: Deadline, body_bytes: int | None = None
) -> FetchError:
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpcore.TimeoutException):
        if deadline.passed():
            during = "before the response headers" if body_bytes is None else f"after {body_bytes:,} bytes"
            return TransientFetchError(
                f"timed out: {where} took longer than {deadline.seconds:g} s (QQSCAN_FETCH_DEADLINE) "
                + during,
                url=url,
            )
        phase = {
            httpcore.ConnectTimeout: "connecting",
            httpcore.ReadTimeout: "waiting for data",
            httpcore.WriteTimeout: "sending the request",
            httpcore.PoolTimeout: "waiting for a connection",
        }.get(type(exc), "waiting")
        return TransientFetchError(f"timed out {phase} for {where}", url=url)
    if "CERTIFICATE_VERIFY_FAILED" in text:
        return PermanentFetchError(f"TLS certificate rejected for {where}: {text}", url=url)
    if isinstance(exc, httpcore.UnsupportedProtocol | httpcore.LocalProtocolError):
        return PermanentFetchError(f"cannot request {where}: {text}", url=url)
    if isinstance(exc, httpcore.RemoteProtocolError) and not text.startswith(_HUNG_UP):
        # Malformed or oversized head, bad chunking, a body shorter than its Content-Length: the server
        # sends the same bytes next time.
        if text == "Receive buffer too long":  # h11's words for a head over its 16 KiB limit
            text = "response headers over 16 KiB (too many or too long)"
        return PermanentFetchError(
            f"broken HTTP response from {where}: {text}; retrying will not help",
            url=url,
            bytes_read=body_bytes,
        )
    return TransientFetchError(f"connection failed for {where}: {type(exc).__name__}: {text}", url=url)


def _read_capped(
    resp: httpcore.Response,
    headers: httpx.Headers,
    url: str,
    where: str,
    settings: FetchSettings,
    deadline: Deadline,
    offered: str,  # the request's Accept-Encoding
) -> bytes:
    status = resp.status
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_bytes:
        raise PermanentFetchError(
            f"too large: {url} declares {int(declared):,} bytes, over the {settings.max_bytes:,} byte cap "
            "(QQSCAN_MAX_BYTES)",
            url=url,
            status=status,
            bytes_read=0,
        )
    try:
        coding = content_coding(headers.get("content-encoding", ""), offered)
        decoder = CappedDecoder(coding, settings.max_bytes)
    except EncodingRefused as exc:
        raise PermanentFetchError(f"refused: {exc}: {url}", url=url, status=status) from None
    buf = bytearray()
    try:
        for chunk in resp.iter_stream():  # raw bytes as received; the decoder caps what they inflate to
            buf += decoder.feed(chunk)
        decoder.finish()
    except OverCap as exc:
        raise PermanentFetchError(
            f"too large: {url} sent more than the {settings.max_bytes:,} byte cap (QQSCAN_MAX_BYTES); "
            f"stopped after {exc.produced:,} bytes",
            url=url,
            status=status,
            bytes_read=exc.produced,
        ) from None
    except CorruptBody as exc:
        raise PermanentFetchError(f"{exc}: {url}", url=url, status=status) from None
    except (httpcore.TimeoutException, httpcore.NetworkError, httpcore.ProtocolError) as exc:
        raise _classify_transport_error(exc, where, url, deadline, len(buf)) from exc
    return bytes(buf)


def _pinned_request(
    url: str, target: netguard.Target, ip: str, settings: FetchSettings, headers: dict[str, str]
) -> httpcore.Request:
    request_url = httpx.URL(url)  # httpx's URL parsing: IDN to punycode, userinfo dropped from netloc
    host_header = request_url.netloc.decode("ascii")  # "name" or "name:port" (IDN as punycode), no userinfo
    extensions: dict[str, object] = {
        "timeout": {
            "connect": settings.connect_timeout,
            "read": settings.read_timeout,
            "write": settings.read_timeout,
            "pool": 5.0,
        }
    }
    if target.scheme == "https":
        # httpcore passes sni_hostname to the TLS handshake as server_hostname: SNI and certificate checks.
        extensions["sni_hostname"] = request_url.raw_host.decode("ascii")
    return httpcore.Request(
        "GET",
        httpcore.URL(scheme=target.scheme, host=ip, port=target.port, target=request_url.raw_path),
        headers={"Host": host_header, **headers},
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
        return _where(self.final_url, self.url)


def _where(current: str, url: str) -> str:
    """How messages name the URL: the one asked for, or the hop reached and where it started."""
    return url if current == url else f"{current} (redirected from {url})"


def _request(
    pool: httpcore.ConnectionPool,
    request: httpcore.Request,
    url: str,
    where: str,
    settings: FetchSettings,
    deadline: Deadline,
) -> Body | str:
    """Send one request: the body, or the Location of a redirect (for the caller to check and follow)."""
    resp = pool.handle_request(request)
    try:
        status = resp.status
        # Case-insensitive; repeated fields joined with ", " (RFC 9110); latin-1 as the bytes came.
        headers = httpx.Headers(resp.headers, encoding="latin-1")
        reason = bytes(resp.extensions.get("reason_phrase", b"")).decode("latin-1")
        if status in REDIRECT_CODES:
            location = headers.get("location")
            if not location:
                raise PermanentFetchError(
                    f"HTTP {status} without Location from {where}", url=url, status=status
                )
            return location
        if status in TRANSIENT_CODES or status >= 500:
            raise TransientFetchError(
                f"HTTP {status} {reason} from {where}; try again later",
                url=url,
                status=status,
                retry_after=_retry_after(headers.get("retry-after")),
            )
        if status >= 400 or status < 200:
            raise PermanentFetchError(f"HTTP {status} {reason} from {where}", url=url, status=status)
        sent = {k.lower(): v for k, v in request.headers}
        offered = sent.get(b"accept-encoding", b"identity").decode("latin-1")
        data = _read_capped(resp, headers, url, where, settings, deadline, offered)
        return Body(
            url=url,
            final_url=url,
            data=data,
            status=status,
            declared_type=headers.get("content-type", ""),
            elapsed_ms=int((settings.deadline - deadline.left()) * 1000),
        )
    finally:
        resp.close()  # a refused or oversized body is not read to the end


def _request_any(
    pool: httpcore.ConnectionPool,
    current: str,
    target: netguard.Target,
    url: str,
    where: str,
    settings: FetchSettings,
    deadline: Deadline,
    headers: dict[str, str],
) -> Body | str:
    """`_request` to the checked addresses in resolver order, moving on only when one refuses the
    connection or is unreachable (say an IPv6 answer on a host without an IPv6 route)."""
    for n, ip in enumerate(target.ips, start=1):
        try:
            request = _pinned_request(current, target, ip, settings, headers)
        except httpx.InvalidURL as exc:
            raise PermanentFetchError(f"invalid URL {where}: {exc}", url=url) from None
        try:
            return _request(pool, request, url, where, settings, deadline)
        except httpcore.ConnectError as exc:
            if n < len(target.ips) and "CERTIFICATE_VERIFY_FAILED" not in str(exc):
                continue
            raise _classify_transport_error(exc, where, url, deadline) from exc
        except (
            httpcore.TimeoutException,
            httpcore.NetworkError,
            httpcore.ProtocolError,
            httpcore.UnsupportedProtocol,
        ) as exc:
            raise _classify_transport_error(exc, where, url, deadline) from exc
    raise AssertionError("netguard.pin returns at least one address")


@functools.lru_cache(maxsize=8)
def _ssl_context(cafile: str | None) -> ssl.SSLContext:
    """One context per CA bundle per process: loading the bundle costs ~20 ms, paid per fetch before
    (half the worker's overhead per job). Default: certifi's bundle, as httpx uses."""
    import certifi

    return ssl.create_default_context(cafile=cafile or certifi.where())


def fetch_body(
    url: str, *, settings: FetchSettings | None = None, accept: str = "*/*", accept_encoding: str = "identity"
) -> Body:
    """GET `url` through the SSRF guard: every hop resolved, checked and pinned, redirects followed by us,
    the body decoded and capped while streaming, all within one deadline. Raises TransientFetchError /
    PermanentFetchError (module docstring)."""
    settings = settings or FetchSettings.from_settings()
    deadline = Deadline(settings.deadline)
    limiter = limiter_for(settings.rate_per_host, settings.burst_per_host)
    headers = {"User-Agent": settings.user_agent, "Accept": accept, "Accept-Encoding": accept_encoding}
    redirects: list[str] = []
    current = url
    with httpcore.ConnectionPool(
        ssl_context=_ssl_context(settings.ca_bundle or None), network_backend=DeadlineBackend(deadline)
    ) as pool:
        while True:
            where = _where(current, url)
            try:
                target = netguard.pin(current, settings)
            except netguard.BlockedAddress as exc:
                raise PermanentFetchError(f"{exc}; url {where}", url=url) from None
            except netguard.ResolveError as exc:
                cls = TransientFetchError if exc.temporary else PermanentFetchError
                raise cls(f"{exc}; url {where}", url=url) from None
            limiter.acquire(target.host)
            got = _request_any(pool, current, target, url, where, settings, deadline, headers)
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


def fetch_image(url: str, *, settings: FetchSettings | None = None) -> Fetched:
    """GET `url` and return its bytes if they are an image. See the module docstring for the errors."""
    body = fetch_body(url, settings=settings, accept="image/*")
    fmt = sniff_format(body.data)  # the decoder's own sniffer: what it accepts from disk, it accepts here
    if fmt is None:
        message = _not_an_image(body.data, body.declared_type or None)
        raise NotAnImage(f"{message}: {body.where}", url=url, body=body)
    return Fetched(
        url=url,
        final_url=body.final_url,
        data=body.data,
        content_type=f"image/{fmt}",
        status=body.status,
        elapsed_ms=body.elapsed_ms,
        redirects=body.redirects,
    )
