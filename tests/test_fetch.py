"""The guarded fetch against a real HTTP server on 127.0.0.1 (no mocks, no internet).

A process audit hook records every socket connect and DNS lookup while these tests run, so a
test can assert that a refused URL was refused before any connection, and it refuses (raises
on) any connect to a non-loopback address, so a bug here can never send traffic elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import json
import shlex
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mmkit.errors import BlockedURLError, ConfigError, FetchError
from mmkit.media.fetch import (
    Fetched,
    FetchPolicy,
    _address_refusal,
    _parse_url,
    afetch,
    fetch,
    redact_url,
)

MIB = 1024 * 1024
BIG = 2 * MIB
CAP = MIB
SECRET = "SECRET123"
LOCAL = FetchPolicy(allow_private=("127.0.0.1",))
ANY_PRIVATE = FetchPolicy(allow_private=True)


# ------------------------------------------------------------------------ the audit net


@dataclass
class _Net:
    armed: bool = False
    connects: list[Any] = field(default_factory=list)
    lookups: list[Any] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


_NET = _Net()


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _NET.armed or event not in ("socket.connect", "socket.getaddrinfo"):
        return
    with _NET.lock:
        if event == "socket.getaddrinfo":
            _NET.lookups.append(args[0])
            return
        address = args[1]
        _NET.connects.append(address)
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and not ipaddress.ip_address(host.split("%")[0]).is_loopback:
        raise ConnectionRefusedError(f"test safety net: refused a connect to {address!r}")


sys.addaudithook(_audit)


@pytest.fixture(autouse=True)
def net() -> Iterator[_Net]:
    with _NET.lock:
        _NET.connects.clear()
        _NET.lookups.clear()
    _NET.armed = True
    try:
        yield _NET
    finally:
        _NET.armed = False


def _is_ip(text: Any) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


# ------------------------------------------------------------------------- the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, _Handler)
        self.hits: list[str] = []
        self.stop = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        # clients here hang up on purpose (cap, timeout): not worth a traceback on stderr
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self.server.hits.append(self.path)
        path = self.path.split("?", 1)[0]
        # the client hangs up on purpose (cap, timeout)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._route(path)

    def _route(self, path: str) -> None:
        port = self.server.port
        if path == "/ok":
            self._send(200, b"hello mmkit", content_type="Image/PNG; charset=binary")
        elif path == "/echo":
            self._send(200, json.dumps(dict(self.headers.items())).encode(), "application/json")
        elif path == "/redirect":
            self._redirect("./ok")
        elif path.startswith("/chain/"):
            left = int(path.rsplit("/", 1)[1])
            if left:
                self._redirect(f"/chain/{left - 1}")
            else:
                self._send(200, b"end of chain")
        elif path == "/to-127-0-0-2":
            self._redirect(f"http://127.0.0.2:{port}/ok")
        elif path == "/to-10":
            self._redirect("http://10.0.0.1/x")
        elif path == "/to-metadata":
            self._redirect("http://169.254.169.254/latest/meta-data")
        elif path == "/to-secret":
            self._redirect(f"http://10.0.0.1/x?sig={SECRET}")
        elif path == "/big-cl":
            self._headers(200, {"Content-Length": str(BIG)})
            self._write_body(BIG)
        elif path == "/big-chunked":
            self._headers(200, {"Transfer-Encoding": "chunked"})
            for _ in range(BIG // (64 * 1024)):
                chunk = b"x" * (64 * 1024)
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        elif path == "/big-nolength":
            self.close_connection = True
            self._headers(200, {"Connection": "close"})
            self._write_body(BIG)
        elif path == "/lying-small-cl":
            self._headers(200, {"Content-Length": "100"})
            self._write_body(BIG)
        elif path == "/lying-large-cl":
            self._headers(200, {"Content-Length": str(50 * MIB)})
            self._write_body(10)
        elif path == "/short-body":
            self.close_connection = True
            self._headers(200, {"Content-Length": "1000"})
            self._write_body(10)
        elif path == "/hang":
            self._sleep(5.0)
        elif path == "/drip":
            self._headers(200, {"Transfer-Encoding": "chunked"})
            deadline = time.monotonic() + 5.0
            while time.monotonic() < deadline and not self.server.stop.is_set():
                self.wfile.write(b"1\r\nx\r\n")
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self._send(404, b"not here")

    def _headers(self, status: int, headers: dict[str, str]) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self._headers(status, {"Content-Type": content_type, "Content-Length": str(len(body))})
        self.wfile.write(body)

    def _redirect(self, location: str) -> None:
        self._headers(302, {"Location": location, "Content-Length": "0"})

    def _write_body(self, size: int) -> None:
        for start in range(0, size, 64 * 1024):
            self.wfile.write(b"x" * min(64 * 1024, size - start))

    def _sleep(self, seconds: float) -> None:
        # short naps so the thread notices shutdown instead of pinning the process
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self.server.stop.is_set():
            time.sleep(0.05)
        self.close_connection = True


def _serve(host: str, port: int) -> _Server:
    server = _Server((host, port))
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


@dataclass
class _Servers:
    main: _Server
    canary: _Server | None  # on 127.0.0.2, same port: proves a refused redirect never arrived

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.main.port}{path}"


@pytest.fixture(scope="module")
def servers() -> Iterator[_Servers]:
    main = _serve("127.0.0.1", 0)
    try:
        canary: _Server | None = _serve("127.0.0.2", main.port)
    except OSError:
        canary = None  # the audit net still proves no connect was made
    try:
        yield _Servers(main, canary)
    finally:
        for server in (main, canary):
            if server is not None:
                server.stop.set()
                server.shutdown()
                server.server_close()


@pytest.fixture
def srv(servers: _Servers) -> _Servers:
    servers.main.hits.clear()
    if servers.canary is not None:
        servers.canary.hits.clear()
    return servers


# ------------------------------------------------------------------ loopback and pinning


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "[::ffff:127.0.0.1]", "localhost"], ids=str)
def test_loopback_is_refused_by_default_before_any_connection(
    srv: _Servers, net: _Net, host: str
) -> None:
    url = f"http://{host}:{srv.main.port}/ok?sig={SECRET}"
    with pytest.raises(BlockedURLError) as info:
        fetch(url)
    message = str(info.value)
    assert f"http://{host}:{srv.main.port}/ok" in message
    assert "loopback" in message
    assert "allow_private=True" in message
    assert SECRET not in message
    assert net.connects == []
    assert srv.main.hits == []


def test_loopback_is_allowed_with_allow_private_true(srv: _Servers) -> None:
    got = fetch(srv.url("/ok"), ANY_PRIVATE)
    assert got == Fetched(b"hello mmkit", "image/png", srv.url("/ok"))


def test_loopback_is_allowed_when_listed_in_allow_private(srv: _Servers) -> None:
    assert fetch(srv.url("/ok"), LOCAL).data == b"hello mmkit"


def test_connection_goes_to_the_checked_ip_with_the_real_host_header(
    srv: _Servers, net: _Net
) -> None:
    got = fetch(f"http://localhost:{srv.main.port}/echo", ANY_PRIVATE)
    headers = {k.lower(): v for k, v in json.loads(got.data).items()}
    assert headers["host"] == f"localhost:{srv.main.port}"
    assert headers["user-agent"] == "mmkit/0.1"
    assert headers["accept-encoding"] == "identity"
    assert "authorization" not in headers and "cookie" not in headers
    # the name was resolved once; every later lookup is the pinned IP literal itself
    assert [h for h in net.lookups if not _is_ip(h)] == ["localhost"]
    assert all(ipaddress.ip_address(a[0]).is_loopback for a in net.connects)


# ------------------------------------------------------- names that resolve to several addresses


def _resolver(monkeypatch: pytest.MonkeyPatch, name: str, addresses: list[str]) -> list[str]:
    """`name` resolves to `addresses` in that order (what a DNS answer with several records
    gives getaddrinfo); other names resolve as usual. Returns the names looked up."""
    real = socket.getaddrinfo
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host != name:
            return real(host, port, *args, **kwargs)
        asked.append(host)
        family = {4: socket.AF_INET, 6: socket.AF_INET6}
        return [
            (family[ipaddress.ip_address(a).version], socket.SOCK_STREAM, 6, "", (a, port))
            for a in addresses
        ]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.mark.parametrize(
    ("addresses", "refused"),
    [
        (["93.184.215.14", "10.0.0.1"], "10.0.0.1"),
        (["10.0.0.1", "93.184.215.14"], "10.0.0.1"),
        (["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "fd12::1"], "fd12::1"),
        (["93.184.215.14", "169.254.169.254"], "169.254.169.254"),
    ],
)
def test_a_name_with_one_private_address_among_public_ones_is_refused(
    monkeypatch: pytest.MonkeyPatch, net: _Net, addresses: list[str], refused: str
) -> None:
    asked = _resolver(monkeypatch, "multi.example", addresses)
    with pytest.raises(BlockedURLError, match=f"multi.example resolves to {refused},"):
        fetch("http://multi.example/photo.jpg")
    assert asked == ["multi.example"] and net.connects == []


def test_a_name_with_one_private_address_is_refused_by_afetch_too(
    monkeypatch: pytest.MonkeyPatch, net: _Net
) -> None:
    _resolver(monkeypatch, "multi.example", ["93.184.215.14", "192.168.0.7"])
    with pytest.raises(BlockedURLError, match=r"multi\.example resolves to 192\.168\.0\.7"):
        asyncio.run(afetch("http://multi.example/photo.jpg"))
    assert net.connects == []


def test_the_next_address_is_tried_when_the_first_refuses_connections(
    srv: _Servers, monkeypatch: pytest.MonkeyPatch, net: _Net
) -> None:
    # 127.0.0.3 has no server on this port (it refuses); 127.0.0.1 has one
    _resolver(monkeypatch, "multi.test", ["127.0.0.3", "127.0.0.1"])
    policy = FetchPolicy(allow_private=("127.0.0.0/8",))
    url = f"http://multi.test:{srv.main.port}/ok"
    assert fetch(url, policy).data == b"hello mmkit"
    assert [a[0] for a in net.connects] == ["127.0.0.3", "127.0.0.1"]
    net.connects.clear()
    assert asyncio.run(afetch(url, policy)).data == b"hello mmkit"
    assert [a[0] for a in net.connects] == ["127.0.0.3", "127.0.0.1"]


def test_when_every_address_refuses_the_last_failure_is_reported(
    srv: _Servers, monkeypatch: pytest.MonkeyPatch, net: _Net
) -> None:
    _resolver(monkeypatch, "multi.test", ["127.0.0.3", "127.0.0.4"])
    policy = FetchPolicy(allow_private=("127.0.0.0/8",))
    with pytest.raises(FetchError, match=r"could not connect to .* at 127\.0\.0\.4"):
        fetch(f"http://multi.test:{srv.main.port}/ok", policy)
    assert [a[0] for a in net.connects] == ["127.0.0.3", "127.0.0.4"]


# ----------------------------------------------------------------------------- redirects


def test_redirect_on_the_same_host_is_followed(srv: _Servers) -> None:
    got = fetch(srv.url("/redirect"), LOCAL)
    assert got.data == b"hello mmkit"
    assert got.url == srv.url("/ok")


def test_five_redirects_are_followed(srv: _Servers) -> None:
    assert fetch(srv.url("/chain/5"), LOCAL).data == b"end of chain"


def test_six_redirects_are_too_many(srv: _Servers) -> None:
    with pytest.raises(FetchError) as info:
        fetch(srv.url("/chain/6"), LOCAL)
    assert not isinstance(info.value, BlockedURLError)
    assert "more than 5 redirects" in str(info.value)
    assert "max_redirects" in str(info.value)
    assert len(srv.main.hits) == 6


@pytest.mark.parametrize(
    ("route", "target", "kind"),
    [
        ("/to-127-0-0-2", "http://127.0.0.2:{port}/ok", "not in FetchPolicy.allow_private"),
        ("/to-10", "http://10.0.0.1/x", "not in FetchPolicy.allow_private"),
        ("/to-metadata", "http://169.254.169.254/latest/meta-data", "cloud metadata"),
    ],
)
def test_redirect_to_a_refused_address_is_blocked_before_connecting(
    srv: _Servers, net: _Net, route: str, target: str, kind: str
) -> None:
    with pytest.raises(BlockedURLError) as info:
        fetch(srv.url(route), LOCAL)
    message = str(info.value)
    assert target.format(port=srv.main.port) in message
    assert f"redirected from {srv.url(route)}" in message
    assert kind in message
    # the only connection ever made was the allowed first hop
    assert net.connects == [("127.0.0.1", srv.main.port)]
    if srv.canary is not None:
        assert srv.canary.hits == []


def test_cloud_metadata_is_refused_even_with_allow_private_true(srv: _Servers, net: _Net) -> None:
    with pytest.raises(BlockedURLError, match="cloud metadata"):
        fetch(srv.url("/to-metadata"), ANY_PRIVATE)
    with pytest.raises(BlockedURLError, match="cloud metadata"):
        fetch("http://169.254.169.254/latest/meta-data", ANY_PRIVATE)
    with pytest.raises(BlockedURLError, match="cloud metadata"):
        fetch("http://[::ffff:169.254.169.254]/latest/meta-data", ANY_PRIVATE)
    assert net.connects == [("127.0.0.1", srv.main.port)]


# ------------------------------------------------------------------------------- the cap


def test_honest_content_length_over_the_cap_is_refused_before_reading(srv: _Servers) -> None:
    with pytest.raises(FetchError) as info:
        fetch(srv.url("/big-cl"), FetchPolicy(max_bytes=CAP, allow_private=True))
    message = str(info.value)
    assert f"over the {CAP}-byte cap" in message
    assert f"Content-Length says {BIG} bytes" in message
    assert "raise FetchPolicy.max_bytes" in message


@pytest.mark.parametrize("route", ["/big-chunked", "/big-nolength"])
def test_body_without_a_length_is_cut_off_at_the_cap(srv: _Servers, route: str) -> None:
    with pytest.raises(FetchError) as info:
        fetch(srv.url(route), FetchPolicy(max_bytes=CAP, allow_private=True))
    assert f"over the {CAP}-byte cap" in str(info.value)
    assert "Content-Length" not in str(info.value)


def test_lying_large_content_length_is_refused_before_reading(srv: _Servers) -> None:
    with pytest.raises(FetchError, match=f"over the {CAP}-byte cap"):
        fetch(srv.url("/lying-large-cl"), FetchPolicy(max_bytes=CAP, allow_private=True))


def test_lying_small_content_length_never_yields_more_than_it_declared(srv: _Servers) -> None:
    got = fetch(srv.url("/lying-small-cl"), FetchPolicy(max_bytes=CAP, allow_private=True))
    assert got.data == b"x" * 100


def test_body_shorter_than_its_content_length_is_an_error(srv: _Servers) -> None:
    with pytest.raises(FetchError, match="broke off"):
        fetch(srv.url("/short-body"), ANY_PRIVATE)


def test_cap_allows_a_body_of_exactly_max_bytes(srv: _Servers) -> None:
    assert len(fetch(srv.url("/ok"), FetchPolicy(max_bytes=11, allow_private=True)).data) == 11
    with pytest.raises(FetchError, match="over the 10-byte cap"):
        fetch(srv.url("/ok"), FetchPolicy(max_bytes=10, allow_private=True))


# ---------------------------------------------------------------- timeouts and failures


def test_server_that_never_answers_times_out_after_read_timeout(srv: _Servers) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(srv.url("/hang"), FetchPolicy(read_timeout=0.5, allow_private=True))
    assert time.monotonic() - started < 30  # ended by the timeout, not by waiting forever
    assert "timed out after 0.5 s" in str(info.value)
    assert "read_timeout" in str(info.value)


def test_total_timeout_stops_a_server_that_drips_bytes(srv: _Servers) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError) as info:
        fetch(srv.url("/drip"), FetchPolicy(total_timeout=0.6, allow_private=True))
    assert time.monotonic() - started < 30  # ended by the timeout, not by waiting forever
    assert "timed out after 0.6 s" in str(info.value)
    assert "total_timeout" in str(info.value)


def test_http_404_names_the_status(srv: _Servers) -> None:
    with pytest.raises(FetchError) as info:
        fetch(srv.url(f"/missing?sig={SECRET}"), ANY_PRIVATE)
    message = str(info.value)
    assert "HTTP 404" in message
    assert srv.url("/missing") in message
    assert SECRET not in message
    assert not isinstance(info.value, BlockedURLError)


def _self_signed_cert(tmp_path: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    args = shlex.split(
        "req -x509 -nodes -days 1 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
        "-subj /CN=localhost -addext subjectAltName=DNS:localhost"
    )
    subprocess.run(
        [openssl, *args, "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True
    )
    return cert, key


def test_https_sends_the_real_host_name_as_sni_and_verifies_the_certificate(
    tmp_path: Path, net: _Net
) -> None:
    cert, key = _self_signed_cert(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: names.append(name)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(5)

    def serve_one() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn, context.wrap_socket(conn, server_side=True):
                pass  # the client refuses the self-signed certificate first

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    try:
        with pytest.raises(FetchError) as info:
            fetch(f"https://localhost:{port}/ok", ANY_PRIVATE)
    finally:
        thread.join(5)
        listener.close()
    assert not isinstance(info.value, BlockedURLError)
    assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)
    assert names == ["localhost"]  # the name, although the socket went to the IP
    assert net.connects == [("127.0.0.1", port)]


def test_connection_refused_is_a_fetch_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(FetchError, match="could not connect"):
        fetch(f"http://127.0.0.1:{port}/ok", ANY_PRIVATE)


# ------------------------------------------------------------ refused before any request


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "ftp://127.0.0.1:{port}/ok",
        "gopher://127.0.0.1:{port}/_GET%20/ok",
        "data:text/plain,hello",
        "127.0.0.1:{port}/ok",
        "//127.0.0.1:{port}/ok",
        "http://user:hunter2@127.0.0.1:{port}/ok",
        "http://user@127.0.0.1:{port}/ok",
        "http://:{port}/ok",
        "http://127.0.0.1:{port}/ok\nHost: evil",
    ],
)
def test_refused_urls_make_no_request(srv: _Servers, net: _Net, url: str) -> None:
    with pytest.raises(BlockedURLError) as info:
        fetch(url.format(port=srv.main.port), ANY_PRIVATE)
    assert "check the URL" in str(info.value) or "remove them" in str(info.value)
    assert "hunter2" not in str(info.value)
    assert net.lookups == []
    assert net.connects == []
    assert srv.main.hits == []


# ------------------------------------------------------------------------------ redaction


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://example.com/a/b.png?sig=SECRET123#frag", "https://example.com/a/b.png"),
        ("https://user:SECRET123@example.com:8443/x", "https://example.com:8443/x"),
        ("http://example.com", "http://example.com"),
        ("http://[::1]:8080/p?x=1", "http://[::1]:8080/p"),
        ("http://[::1/x?SECRET123", "http://[::1/x"),
        ("data:text/plain,hi", "data:text/plain,hi"),
        ("not a url#SECRET123", "not a url"),
        ("http://a.example/\nforged", "http://a.example/\\nforged"),
    ],
)
def test_redact_url_drops_query_fragment_and_credentials(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_redact_url_shortens_huge_urls() -> None:
    assert len(redact_url("data:image/png;base64," + "A" * 100_000)) < 300


@pytest.mark.parametrize(
    ("url", "policy"),
    [
        (f"http://127.0.0.1:{{port}}/ok?sig={SECRET}", FetchPolicy()),
        (f"http://127.0.0.1:{{port}}/missing?sig={SECRET}", ANY_PRIVATE),
        (f"http://127.0.0.1:{{port}}/to-secret?sig={SECRET}", LOCAL),
        (f"http://u:{SECRET}@127.0.0.1:{{port}}/ok", ANY_PRIVATE),
        (f"ftp://127.0.0.1/x?{SECRET}", ANY_PRIVATE),
        (f"http://127.0.0.1:{{port}}/hang#{SECRET}", FetchPolicy(read_timeout=0.2)),
    ],
)
def test_errors_never_show_the_query_fragment_or_credentials(
    srv: _Servers, url: str, policy: FetchPolicy
) -> None:
    with pytest.raises(FetchError) as info:
        fetch(url.format(port=srv.main.port), policy)
    assert SECRET not in str(info.value)


def test_fetched_repr_hides_the_query_and_the_body(srv: _Servers) -> None:
    got = fetch(srv.url(f"/ok?sig={SECRET}"), ANY_PRIVATE)
    assert got.url == srv.url(f"/ok?sig={SECRET}")
    assert SECRET not in repr(got)
    assert "hello" not in repr(got)


# ---------------------------------------------------------------- address classification


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
        ("240.0.0.1", False),
        ("255.255.255.255", False),
        ("::", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("::127.0.0.1", False),
        ("2002:7f00:0001::1", False),
        ("64:ff9b::a00:1", False),
        ("fd00:ec2::254", False),
        ("100.100.100.200", False),
        # public to Python 3.11's is_global, not to IANA's special-purpose registries
        ("fec0::1", False),
        ("3fff::1", False),
        ("3fff:fff:ffff::1", False),
        ("192.0.0.8", False),
        ("5f00::1", False),
        ("2001:2::1", False),
        ("2001:db8::1", False),
        ("198.18.0.1", False),
        ("100::1", False),
        ("4000::1", False),
        ("192.0.0.9", True),  # the registry's globally reachable exceptions stay public
        ("3fff:1000::1", True),
        ("8.8.8.8", True),
        ("1.1.1.1", True),
        ("2606:4700:4700::1111", True),
        ("::ffff:8.8.8.8", True),
        ("64:ff9b::808:808", True),
        ("2002:808:808::1", True),
    ],
)
def test_only_public_addresses_are_allowed_by_default(address: str, allowed: bool) -> None:
    reason = _address_refusal(ipaddress.ip_address(address), FetchPolicy())
    assert (reason is None) is allowed


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("127.0.0.1", True),
        ("10.9.8.7", True),
        ("::ffff:10.0.0.1", True),
        ("8.8.8.8", True),
        ("127.0.0.2", False),
        ("192.168.1.1", False),
        ("::1", False),
        ("169.254.169.254", False),
    ],
)
def test_allow_private_tuple_allows_only_those_networks(address: str, allowed: bool) -> None:
    policy = FetchPolicy(allow_private=("127.0.0.1", "10.0.0.0/8", "169.254.0.0/16"))
    reason = _address_refusal(ipaddress.ip_address(address), policy)
    assert (reason is None) is allowed


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "fe80::1", "fc00::1", "0.0.0.0"])
def test_allow_private_true_allows_any_non_public_address(address: str) -> None:
    assert _address_refusal(ipaddress.ip_address(address), ANY_PRIVATE) is None


@pytest.mark.parametrize(
    "address", ["169.254.169.254", "fd00:ec2::254", "100.100.100.200", "::ffff:169.254.169.254"]
)
def test_allow_private_true_never_allows_cloud_metadata(address: str) -> None:
    reason = _address_refusal(ipaddress.ip_address(address), ANY_PRIVATE)
    assert reason is not None and "cloud metadata" in reason


def test_a_policy_with_a_bad_network_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="allow_private"):
        FetchPolicy(allow_private=("not-a-network",))
    with pytest.raises(ConfigError, match=r"allow_private=\('127.0.0.1',\)"):
        FetchPolicy(allow_private="127.0.0.1")  # type: ignore[arg-type]


# -------------------------------------------------------------------------- properties

_URLISH = st.from_regex(
    r"\A(https?|HTTP|ftp|file|data|gopher|javascript)?:?/{0,3}"
    r"([a-z0-9:%@._\[\]-]{0,12}@)?[a-zA-Z0-9.\[\]:%_\-ü]{0,24}(:[0-9a-z]{0,6})?"
    r"(/[^?#\s]{0,12})?(\?[^#]{0,8})?(#.{0,8})?\Z"
)


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.text(max_size=60), _URLISH))
def test_validation_only_refuses_or_accepts(text: str) -> None:
    try:
        target = _parse_url(text)
    except BlockedURLError as exc:
        assert str(exc).startswith("refused ")
        return
    assert target.scheme in ("http", "https")
    assert target.host and "@" not in target.host_header
    assert 0 < target.port < 65536
    assert target.target.startswith("/") and "#" not in target.target


_MARK = "Zq9xSecret"


@settings(max_examples=200, deadline=None)
@given(_URLISH.filter(lambda t: "?" not in t and "#" not in t), st.sampled_from(["?", "#"]))
def test_a_refusal_never_shows_the_query_or_fragment(text: str, mark: str) -> None:
    url = f"{text}{mark}sig={_MARK}"
    try:
        _parse_url(url)
    except BlockedURLError as exc:
        assert _MARK not in str(exc)
    assert _MARK not in redact_url(url)


# -------------------------------------------------------------------------------- afetch


def test_afetch_fetches_from_an_allowed_address(srv: _Servers) -> None:
    got = asyncio.run(afetch(srv.url("/redirect"), LOCAL))
    assert got == Fetched(b"hello mmkit", "image/png", srv.url("/ok"))


def test_afetch_refuses_loopback_by_default_before_connecting(srv: _Servers, net: _Net) -> None:
    with pytest.raises(BlockedURLError, match="allow_private=True"):
        asyncio.run(afetch(srv.url(f"/ok?sig={SECRET}")))
    assert net.connects == []
    assert srv.main.hits == []


@pytest.mark.parametrize("route", ["/big-cl", "/big-chunked"])
def test_afetch_enforces_the_cap(srv: _Servers, route: str) -> None:
    policy = FetchPolicy(max_bytes=CAP, allow_private=True)
    with pytest.raises(FetchError, match=f"over the {CAP}-byte cap"):
        asyncio.run(afetch(srv.url(route), policy))


def test_afetch_times_out(srv: _Servers) -> None:
    started = time.monotonic()
    with pytest.raises(FetchError, match=r"timed out after 0\.5 s"):
        asyncio.run(afetch(srv.url("/hang"), FetchPolicy(read_timeout=0.5, allow_private=True)))
    assert time.monotonic() - started < 30  # ended by the timeout, not by waiting forever
