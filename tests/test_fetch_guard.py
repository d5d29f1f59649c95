"""The private-network switch opens the intranet, never cloud metadata or link-local addresses (issue 11):
refused on the first hop and after redirects, in every IPv6 form that carries one, with the range named.
Only QQSCAN_ALLOW_HOSTS, naming the address itself, makes an exception."""

from __future__ import annotations

import socket

import pytest

from fetch import netguard
from fetch.client import PermanentFetchError, fetch_image
from fetch.settings import FetchSettings
from ground.settings import Settings
from tests.helpers_http import http_server  # noqa: F401  (pytest fixture)

ALWAYS_REFUSED = {
    "http://169.254.169.254/latest/meta-data/": "cloud-metadata address (169.254.169.254",
    "http://[fd00:ec2::254]/latest/meta-data/": "cloud-metadata address (fd00:ec2::254",
    "http://[fd20:ce::254]/computeMetadata/v1/": "cloud-metadata address (fd20:ce::254",
    "http://100.100.100.200/latest/meta-data/": "cloud-metadata address (100.100.100.200",
    "http://168.63.129.16/machine": "cloud-metadata address (168.63.129.16",
    "http://169.254.10.20/": "link-local address (169.254.0.0/16)",
    "http://[fe80::1]/": "link-local address (fe80::/10)",
    "http://[febf:ffff::1]/": "link-local address (fe80::/10)",
    "http://[::ffff:169.254.169.254]/": "as 169.254.169.254 inside ::ffff:a9fe:a9fe (IPv4-mapped)",
    "http://[64:ff9b::a9fe:a9fe]/": "inside 64:ff9b::a9fe:a9fe (NAT64)",
    "http://[64:ff9b:1::a9fe:a9fe]/": "(NAT64)",
    "http://[2002:a9fe:a9fe::1]/": "inside 2002:a9fe:a9fe::1 (6to4)",
    "http://[::169.254.169.254]/": "(IPv4-compatible)",
    "http://[::ffff:100.100.100.200]/": "cloud-metadata address (100.100.100.200",
    "http://[64:ff9b::a9fe:a01]/": "link-local address (169.254.0.0/16)",
}


def private_on(**kw: object) -> FetchSettings:
    settings = Settings(flags={"QQSCAN_ALLOW_PRIVATE_NETWORKS": True})
    return FetchSettings.from_settings(settings, rate_per_host=0, **kw)


@pytest.fixture
def loopback_only(monkeypatch):
    """Safety net, not the thing under test: tests may contact loopback only, so if the guard ever let a
    metadata address through, the connect fails here instead of reaching the machine's real network."""
    real = socket.create_connection

    def connect(address, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not address[0].startswith("127.") and address[0] != "::1":
            raise AssertionError(f"test tried to connect to {address[0]}")
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", connect)


@pytest.mark.parametrize("url", list(ALWAYS_REFUSED))
def test_private_switch_does_not_open_metadata_or_link_local(url, loopback_only):
    with pytest.raises(netguard.BlockedAddress) as exc:
        netguard.pin(url, private_on())
    assert ALWAYS_REFUSED[url] in str(exc.value)
    assert "QQSCAN_ALLOW_PRIVATE_NETWORKS does not open it" in str(exc.value)
    with pytest.raises(PermanentFetchError, match="refused"):
        fetch_image(url, settings=private_on())


def test_switch_from_the_environment_still_refuses_metadata(monkeypatch, loopback_only, http_server):  # noqa: F811
    http_server.route("/ok", body=b"\x89PNG\r\n\x1a\n")
    monkeypatch.setenv("QQSCAN_ALLOW_PRIVATE_NETWORKS", "1")
    monkeypatch.delenv("QQSCAN_ALLOW_HOSTS", raising=False)
    settings = FetchSettings.from_settings(Settings.load())  # as an edge reads them
    assert netguard.pin(http_server.url("/ok"), settings).ips == ("127.0.0.1",)  # intranet: open
    with pytest.raises(netguard.BlockedAddress, match="169.254.169.254"):
        netguard.pin("http://169.254.169.254/", settings)


def test_a_name_resolving_to_metadata_is_refused(loopback_only):
    table = {"metadata.google.internal": ["169.254.169.254"], "mixed.test": ["10.0.0.5", "fe80::2"]}
    settings = private_on(resolver=lambda host, port: table[host])
    with pytest.raises(netguard.BlockedAddress, match="metadata.google.internal resolves to 169.254.169.254"):
        netguard.pin("http://metadata.google.internal/computeMetadata/v1/", settings)
    with pytest.raises(netguard.BlockedAddress, match="resolves to fe80::2, which is a link-local"):
        netguard.pin("http://mixed.test/a.png", settings)


@pytest.mark.parametrize(
    "location",
    ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:a9fe:a9fe]/", "http://metadata.test:80/"],
)
def test_redirect_to_metadata_is_refused_with_the_switch_on(http_server, location, loopback_only):  # noqa: F811
    http_server.route("/jump", status=302, headers={"Location": location})
    table = {"metadata.test": ["169.254.169.254"]}
    settings = private_on(resolver=lambda host, port: table.get(host, [host]))
    with pytest.raises(PermanentFetchError, match="cloud-metadata") as exc:
        fetch_image(http_server.url("/jump"), settings=settings)
    assert f"redirected from {http_server.url('/jump')}" in str(exc.value)
    assert http_server.hits["/jump"] == 1


def test_allow_hosts_naming_the_address_is_the_only_exception(loopback_only):
    table = {"meta.intranet.test": ["169.254.169.254"]}
    by_ip = private_on(allow_hosts=frozenset({"169.254.169.254"}), resolver=lambda h, p: table.get(h, [h]))
    assert netguard.pin("http://169.254.169.254/", by_ip).ips == ("169.254.169.254",)
    assert netguard.pin("http://meta.intranet.test/", by_ip).ips == ("169.254.169.254",)
    by_port = private_on(allow_hosts=frozenset({"[fe80::1]:8080"}))
    assert netguard.pin("http://[fe80::1]:8080/", by_port).ips == ("fe80::1",)
    with pytest.raises(netguard.BlockedAddress):
        netguard.pin("http://[fe80::1]:8081/", by_port)  # another port: not on the list
    # A name on the list does not open the metadata address behind it: DNS can point a name anywhere.
    by_name = private_on(allow_hosts=frozenset({"meta.intranet.test"}), resolver=lambda h, p: table[h])
    with pytest.raises(netguard.BlockedAddress, match="list 169.254.169.254 in QQSCAN_ALLOW_HOSTS"):
        netguard.pin("http://meta.intranet.test/", by_name)


def test_guard_on_names_the_range_too():
    with pytest.raises(netguard.BlockedAddress, match=r"link-local address \(fe80::/10\)"):
        netguard.pin("http://[fe80::9]/", FetchSettings.from_settings(Settings(), rate_per_host=0))
