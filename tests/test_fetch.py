"""fetch_image against a real HTTP(S) server on loopback: limits, errors, and the SSRF guard."""

from __future__ import annotations

import io
import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from fetch import netguard
from fetch.client import PermanentFetchError, TransientFetchError, fetch_image
from fetch.ratelimit import HostRateLimiter
from fetch.settings import FetchSettings
from ground.settings import Settings
from tests.helpers_http import LoopbackServer, http_server  # noqa: F401  (pytest fixture)


def image_bytes(fmt: str = "PNG", size: tuple[int, int] = (40, 20)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(buf, format=fmt)
    return buf.getvalue()


def open_settings(**kw: object) -> FetchSettings:
    """Guard off (as with QQSCAN_ALLOW_PRIVATE_NETWORKS=1), no rate limit, short timeouts."""
    base: dict[str, object] = {"allow_private_networks": True, "rate_per_host": 0, "connect_timeout": 2.0}
    return FetchSettings.from_settings(Settings(), **{**base, **kw})


def guarded(server: LoopbackServer, **kw: object) -> FetchSettings:
    """Guard ON, with only this server's 127.0.0.1:port treated as public."""
    base: dict[str, object] = {
        "allow_hosts": frozenset({server.host}),
        "rate_per_host": 0,
        "connect_timeout": 2.0,
    }
    return FetchSettings.from_settings(Settings(), **{**base, **kw})


# --- happy path and sniffing -------------------------------------------------------------------------


def test_fetches_png_from_loopback_with_private_networks_allowed(http_server, monkeypatch):  # noqa: F811
    png = image_bytes("PNG")
    http_server.route("/a.png", body=png, content_type="application/octet-stream")  # header is not trusted
    monkeypatch.setenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", "1")
    got = fetch_image(http_server.url("/a.png"), settings=FetchSettings.from_settings(Settings.load()))
    assert got.data == png
    assert got.content_type == "image/png"
    assert got.status == 200
    assert got.url == got.final_url == http_server.url("/a.png")
    assert got.redirects == []
    assert got.elapsed_ms >= 0
    headers = http_server.request_headers["/a.png"]
    assert headers["host"] == http_server.host
    assert headers["accept-encoding"] == "identity"


@pytest.mark.parametrize(
    ("fmt", "mime"),
    [("JPEG", "image/jpeg"), ("GIF", "image/gif"), ("WEBP", "image/webp"), ("BMP", "image/bmp")],
)
def test_sniffs_content_type_from_bytes(http_server, fmt, mime):  # noqa: F811
    http_server.route("/img", body=image_bytes(fmt), content_type="text/html")
    assert fetch_image(http_server.url("/img"), settings=open_settings()).content_type == mime


def test_html_is_not_an_image(http_server):  # noqa: F811
    http_server.route(
        "/page", body=b"<!DOCTYPE html><html><body>login</body></html>", content_type="image/jpeg"
    )
    with pytest.raises(PermanentFetchError, match="not an image: the server sent HTML") as exc:
        fetch_image(http_server.url("/page"), settings=open_settings())
    assert http_server.url("/page") in str(exc.value)


def test_avif_is_fetched_as_the_decoder_accepts_it_from_disk(http_server):  # noqa: F811
    # One sniffer (ocr.decode.sniff_format) for files and URLs: AVIF used to decode from disk only.
    from ocr.decode import decode_image

    avif = image_bytes("AVIF")
    http_server.route("/a.avif", body=avif, content_type="image/avif")
    got = fetch_image(http_server.url("/a.avif"), settings=open_settings())
    assert got.content_type == "image/avif"
    assert decode_image(got.data)[0].pixels.shape[:2] == (20, 40)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"%PDF-1.7 ....", "this is a PDF document"),
        (b"\x00\x00\x00\x1cftypheic" + bytes(20), "brand 'heic'"),
        (b"II*\x00" + bytes(20), "TIFF images are not scanned"),
    ],
)
def test_unaccepted_formats_are_refused_with_the_decoders_reason(http_server, body, why):  # noqa: F811
    http_server.route("/x", body=body, content_type="image/png")
    with pytest.raises(PermanentFetchError, match=why) as exc:
        fetch_image(http_server.url("/x"), settings=open_settings())
    assert "server said Content-Type 'image/png'" in str(exc.value)


# --- size cap -----------------------------------------------------------------------------------------


def test_byte_cap_aborts_while_streaming(http_server):  # noqa: F811
    size = 64 * 1024 * 1024
    # Chunked, so there is no Content-Length to pre-check: only the streaming cap can stop it.
    http_server.route("/huge", body=image_bytes("PNG"), size=size, chunked=True, content_type="image/png")
    cap = 1024 * 1024
    with pytest.raises(PermanentFetchError, match="too large") as exc:
        fetch_image(http_server.url("/huge"), settings=open_settings(max_bytes=cap))
    assert cap < exc.value.bytes_read <= cap + 64 * 1024
    assert http_server.wait_finished("/huge")
    assert http_server.sent["/huge"] < size // 4  # the client hung up; the server never got to send it all


def test_content_length_over_cap_is_refused_before_reading(http_server):  # noqa: F811
    http_server.route("/big", body=image_bytes("PNG"), size=8 * 1024 * 1024, content_type="image/png")
    with pytest.raises(PermanentFetchError, match="declares 8,388,608 bytes") as exc:
        fetch_image(http_server.url("/big"), settings=open_settings(max_bytes=1024 * 1024))
    assert exc.value.bytes_read == 0


# --- timeouts and status codes ------------------------------------------------------------------------


def test_read_timeout_is_transient(http_server):  # noqa: F811
    http_server.route("/slow", body=image_bytes("PNG"), delay=5)
    with pytest.raises(TransientFetchError, match="timed out waiting for data"):
        fetch_image(http_server.url("/slow"), settings=open_settings(read_timeout=0.3))


def test_slow_drip_hits_the_deadline(http_server):  # noqa: F811
    http_server.route("/drip", body=image_bytes("PNG"), size=1024 * 1024, chunk_size=1024, drip=0.05)
    with pytest.raises(TransientFetchError, match="QQSCAN_FETCH_DEADLINE"):
        fetch_image(http_server.url("/drip"), settings=open_settings(deadline=0.3))


def test_connection_refused_is_transient(http_server):  # noqa: F811
    port = http_server.port
    http_server.stop()
    with pytest.raises(TransientFetchError, match="connection failed"):
        fetch_image(f"http://127.0.0.1:{port}/gone.png", settings=open_settings())


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408])
def test_server_errors_and_throttling_are_transient(http_server, status):  # noqa: F811
    http_server.route("/x", status=status, body=b"busy", headers={"Retry-After": "7"})
    with pytest.raises(TransientFetchError, match=f"HTTP {status}") as exc:
        fetch_image(http_server.url("/x"), settings=open_settings())
    assert exc.value.status == status
    assert exc.value.retry_after == 7


@pytest.mark.parametrize("status", [404, 410, 403, 400])
def test_client_errors_are_permanent(http_server, status):  # noqa: F811
    http_server.route("/x", status=status, body=b"no")
    with pytest.raises(PermanentFetchError, match=f"HTTP {status}.*{http_server.url('/x')}") as exc:
        fetch_image(http_server.url("/x"), settings=open_settings())
    assert exc.value.status == status


# --- redirects ----------------------------------------------------------------------------------------


def _chain(server: LoopbackServer, hops: int) -> None:
    for i in range(hops):
        server.route(f"/r{i}", status=302, headers={"Location": f"/r{i + 1}"})
    server.route(f"/r{hops}", body=image_bytes("PNG"))


def test_follows_up_to_three_redirects(http_server):  # noqa: F811
    _chain(http_server, 3)
    got = fetch_image(http_server.url("/r0"), settings=open_settings())
    assert got.final_url == http_server.url("/r3")
    assert got.redirects == [http_server.url(f"/r{i}") for i in (1, 2, 3)]


def test_too_many_redirects_is_permanent(http_server):  # noqa: F811
    _chain(http_server, 4)
    with pytest.raises(PermanentFetchError, match="too many redirects"):
        fetch_image(http_server.url("/r0"), settings=open_settings())
    assert http_server.hits["/r4"] == 0  # the fourth redirect was not followed


# --- SSRF guard ---------------------------------------------------------------------------------------


def test_guard_refuses_internal_targets_without_connecting(http_server):  # noqa: F811
    http_server.route("/a.png", body=image_bytes("PNG"))
    p = http_server.port
    # the guard on, nothing allowed
    settings = FetchSettings.from_settings(Settings(), rate_per_host=0, connect_timeout=2.0)
    cases = {
        f"http://127.0.0.1:{p}/a.png": "127.0.0.1 is a loopback address",
        f"http://localhost:{p}/a.png": "localhost resolves to 127.0.0.1, which is a loopback address",
        f"http://[::1]:{p}/a.png": "::1 is a loopback address",
        f"http://[::ffff:127.0.0.1]:{p}/a.png": "inside an IPv6 address",
        f"http://2130706433:{p}/a.png": "loopback",  # 127.0.0.1 written as one number
        f"http://0.0.0.0:{p}/a.png": "unspecified",
        "http://169.254.169.254/latest/meta-data/": "169.254.169.254 is a cloud-metadata address",
        "http://[fd00:ec2::254]/latest/meta-data/": "cloud-metadata",
        "http://100.100.100.200/latest/meta-data/": "cloud-metadata",
        "http://10.0.0.1/x.png": "10.0.0.1 is a private-network address",
        "http://192.168.1.1/x.png": "private-network",
        "http://100.64.0.1/x.png": "carrier-grade NAT",
        "http://224.0.0.1/x.png": "multicast",
    }
    for url, why in cases.items():
        with pytest.raises(PermanentFetchError, match="refused") as exc:
            fetch_image(url, settings=settings)
        assert why in str(exc.value), url
        # Metadata stays refused with the switch on, so only other addresses suggest it.
        hint = "does not open it" if "metadata" in why else "set QQSCAN_ALLOW_PRIVATE_NETWORKS=1 to allow"
        assert hint in str(exc.value), url
    assert http_server.connections == 0
    assert http_server.hits["/a.png"] == 0


def test_allowed_host_works_but_its_neighbours_do_not(http_server):  # noqa: F811
    other = LoopbackServer().start()
    try:
        png = image_bytes("PNG")
        http_server.route("/a.png", body=png)
        other.route("/a.png", body=png)
        settings = guarded(http_server)
        assert fetch_image(http_server.url("/a.png"), settings=settings).data == png
        with pytest.raises(PermanentFetchError, match="refused: 127.0.0.1 is a loopback"):
            fetch_image(other.url("/a.png"), settings=settings)
        assert other.connections == 0
    finally:
        other.stop()


@pytest.mark.parametrize("target", ["loopback-other-port", "metadata"])
def test_redirect_from_allowed_host_to_internal_target_is_refused(http_server, target):  # noqa: F811
    other = LoopbackServer().start()
    try:
        other.route("/secret", body=image_bytes("PNG"))
        location = (
            other.url("/secret") if target == "loopback-other-port" else "http://169.254.169.254/latest/"
        )
        http_server.route("/jump", status=302, headers={"Location": location})
        with pytest.raises(PermanentFetchError, match="refused") as exc:
            fetch_image(http_server.url("/jump"), settings=guarded(http_server))
        assert f"redirected from {http_server.url('/jump')}" in str(exc.value)
        assert http_server.hits["/jump"] == 1
        assert other.connections == 0
    finally:
        other.stop()


@pytest.mark.parametrize(
    "url",
    ["file:///etc/passwd", "ftp://example.com/a.png", "gopher://127.0.0.1:70/", "data:image/png;base64,AA"],
)
def test_non_http_schemes_are_refused(url):
    with pytest.raises(PermanentFetchError, match="scheme .* is not allowed"):
        fetch_image(url, settings=open_settings())


def test_redirect_to_non_http_scheme_is_refused(http_server):  # noqa: F811
    http_server.route("/jump", status=301, headers={"Location": "file:///etc/passwd"})
    with pytest.raises(PermanentFetchError, match="scheme 'file' is not allowed"):
        fetch_image(http_server.url("/jump"), settings=open_settings())


def _table_resolver(table: dict[str, list[str]]):
    # Stands in for DNS: loopback tests cannot make a real name resolve to chosen addresses.
    def resolve(host: str, port: int) -> list[str]:
        return table[host]

    return resolve


def test_connects_to_the_checked_ip_and_sends_the_real_host_header(http_server):  # noqa: F811
    png = image_bytes("PNG")
    http_server.route("/a.png", body=png)
    # `.test` never resolves through real DNS, so success proves httpx used the pinned IP, not the name.
    settings = guarded(http_server, resolver=_table_resolver({"img.cdn.test": ["127.0.0.1"]}))
    got = fetch_image(f"http://img.cdn.test:{http_server.port}/a.png", settings=settings)
    assert got.data == png
    assert http_server.request_headers["/a.png"]["host"] == f"img.cdn.test:{http_server.port}"


def test_tries_the_next_checked_address_when_one_refuses_the_connection(http_server):  # noqa: F811
    png = image_bytes("PNG")
    http_server.route("/a.png", body=png)
    # 127.0.0.2 is loopback too (Linux answers for all of 127/8) but nothing listens there on this port.
    resolver = _table_resolver({"two.cdn.test": ["127.0.0.2", "127.0.0.1"]})
    allow = frozenset({f"127.0.0.2:{http_server.port}", http_server.host})
    settings = FetchSettings.from_settings(
        Settings(), allow_hosts=allow, resolver=resolver, rate_per_host=0, connect_timeout=2.0
    )
    assert fetch_image(f"http://two.cdn.test:{http_server.port}/a.png", settings=settings).data == png


def test_name_with_any_private_answer_is_refused(http_server):  # noqa: F811
    http_server.route("/a.png", body=image_bytes("PNG"))
    settings = guarded(http_server, resolver=_table_resolver({"mixed.test": ["127.0.0.1", "10.1.2.3"]}))
    with pytest.raises(PermanentFetchError, match="mixed.test resolves to 10.1.2.3"):
        fetch_image(f"http://mixed.test:{http_server.port}/a.png", settings=settings)
    assert http_server.connections == 0


def test_unknown_host_is_permanent():
    with pytest.raises(PermanentFetchError, match="cannot resolve host 'no-such-host.invalid'"):
        settings = FetchSettings.from_settings(Settings(), rate_per_host=0)
        fetch_image("http://no-such-host.invalid/a.png", settings=settings)


@pytest.mark.parametrize(
    ("ip", "why"),
    [
        ("8.8.8.8", None),
        ("2606:4700:4700::1111", None),
        ("127.0.0.2", "loopback"),
        ("169.254.1.1", "link-local"),
        ("172.16.5.4", "private"),
        ("fe80::1", "link-local"),
        ("fc00::1", "private"),
        ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "cloud-metadata"),
        ("2002:a9fe:a9fe::1", "cloud-metadata"),  # 6to4 carrying 169.254.169.254
        ("64:ff9b::7f00:1", "loopback"),  # NAT64 carrying 127.0.0.1
        ("240.0.0.1", "reserved"),
        ("::", "unspecified"),
    ],
)
def test_classify(ip, why):
    import ipaddress

    got = netguard.classify(ipaddress.ip_address(ip))
    assert (got is None) if why is None else (why in (got or "")), got


# --- https: SNI and certificate checked against the name while connecting to the pinned IP ----------


def _self_signed(tmp: Path, name: str) -> tuple[Path, Path]:
    key, cert = tmp / "key.pem", tmp / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", f"/CN={name}",
         "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return key, cert


@pytest.fixture
def https_server(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl CLI not found: cannot make a test certificate")
    key, cert = _self_signed(tmp_path, "img.cdn.test")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server = LoopbackServer(tls=ctx).start()
    server.cert = cert  # type: ignore[attr-defined]
    yield server
    server.stop()


def test_https_verifies_the_certificate_against_the_hostname(https_server):
    png = image_bytes("PNG")
    https_server.route("/a.png", body=png)
    resolver = _table_resolver({"img.cdn.test": ["127.0.0.1"], "other.cdn.test": ["127.0.0.1"]})
    settings = guarded(https_server, resolver=resolver, ca_bundle=str(https_server.cert))
    got = fetch_image(f"https://img.cdn.test:{https_server.port}/a.png", settings=settings)
    assert got.data == png
    # Same IP, a name the certificate does not cover: SNI/verification uses the name, so it must fail.
    with pytest.raises(PermanentFetchError, match="TLS certificate rejected"):
        fetch_image(f"https://other.cdn.test:{https_server.port}/a.png", settings=settings)


# --- rate limit ---------------------------------------------------------------------------------------


def test_rate_limiter_queues_requests_per_host():
    limiter = HostRateLimiter(rate=2.0, burst=2)
    waits = [limiter.reserve("a.example") for _ in range(4)]
    assert waits[:2] == [0.0, 0.0]  # the burst
    assert waits[2] == pytest.approx(0.5, abs=0.05)  # then one token every 1/rate s, queued in order
    assert waits[3] == pytest.approx(1.0, abs=0.05)
    assert limiter.reserve("b.example") == 0.0  # other hosts have their own bucket
    assert HostRateLimiter(rate=0, burst=1).reserve("a.example") == 0.0


# --- request building ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "ip", "want_url", "want_host", "want_sni"),
    [
        ("https://[2001:db8::1]:8443/a.png?x=1", "2001:db8::1",
         (b"https", b"2001:db8::1", 8443, b"/a.png?x=1"), "[2001:db8::1]:8443", "2001:db8::1"),
        ("https://例子.测试/a.png", "203.0.113.7", (b"https", b"203.0.113.7", 443, b"/a.png"),
         "xn--fsqu00a.xn--0zwm56d", "xn--fsqu00a.xn--0zwm56d"),
        ("http://img.cdn.test:8080/a.png", "203.0.113.7", (b"http", b"203.0.113.7", 8080, b"/a.png"),
         "img.cdn.test:8080", None),
    ],
)  # fmt: skip
def test_pinned_request_targets_the_ip_and_keeps_the_name(url, ip, want_url, want_host, want_sni):
    from fetch.client import _pinned_request

    scheme, host, port = netguard.split_url(url)
    target = netguard.Target(scheme, host, port, (ip,))
    req = _pinned_request(url, target, ip, open_settings(), {"Accept": "image/*"})  # built, not sent
    assert (req.url.scheme, req.url.host, req.url.port, req.url.target) == want_url
    assert dict(req.headers)[b"Host"] == want_host.encode()
    assert req.extensions.get("sni_hostname") == want_sni


def test_allow_hosts_from_the_environment(http_server, monkeypatch):  # noqa: F811
    png = image_bytes("PNG")
    http_server.route("/a.png", body=png)
    monkeypatch.delenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", raising=False)
    monkeypatch.setenv("QQSCAN_ALLOW_HOSTS", f"cdn.example.com, {http_server.host}")
    monkeypatch.setenv("QQSCAN_FETCH_RATE", "0")
    settings = FetchSettings.from_settings(Settings.load())  # as an edge reads them
    assert fetch_image(http_server.url("/a.png"), settings=settings).data == png
    with pytest.raises(PermanentFetchError, match="refused"):
        fetch_image("http://127.0.0.1:1/a.png", settings=settings)  # same IP, another port: not on the list
