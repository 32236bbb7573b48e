"""The one guarded HTTP fetch mmkit uses whenever a media URL has to be downloaded ("inlined").

Before any request: only http(s), no credentials in the URL, and every address the host resolves
to must be public (or allowed by `FetchPolicy.allow_private`; cloud metadata never is). The
connection is then pinned to the checked address, redirects are followed by hand and each hop is
checked again, and time and bytes are capped. Every failure is a `FetchError` (`BlockedURLError`
when refused before any request) naming the URL without its query, fragment or credentials.

`fetch` and `afetch` share every non-I/O step through `_Run`; they differ only in the I/O.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias
from urllib.parse import urljoin, urlsplit

from mmkit.errors import BlockedURLError, ConfigError, FetchError, MmkitError
from mmkit.media.special_addresses import special_kind
from mmkit.net.body import BodyTooLarge, BoundedDecoder, CorruptBody, UnsupportedEncoding
from mmkit.net.resolve import resolve

if TYPE_CHECKING:
    import httpx

_IPAddress: TypeAlias = "ipaddress.IPv4Address | ipaddress.IPv6Address"
_IPNetwork: TypeAlias = "ipaddress.IPv4Network | ipaddress.IPv6Network"

_SCHEMES = {"http": 80, "https": 443}
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# ASCII host names after IDNA encoding; "_" is not in RFC 952 but real DNS names carry it.
_HOSTNAME = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*\.?")
_CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f]")
_MAX_SHOWN = 200

# Credential endpoints of cloud providers: refused even with allow_private=True.
_METADATA_NETWORKS: tuple[_IPNetwork, ...] = tuple(
    ipaddress.ip_network(n)
    for n in (
        "169.254.169.254/32",  # AWS, GCP, Azure, OCI, OpenStack, DigitalOcean, Hetzner...
        "169.254.169.253/32",  # AWS VPC DNS resolver
        "169.254.170.2/32",  # AWS ECS task credentials
        "169.254.170.23/32",  # AWS EKS pod identity agent
        "169.254.0.23/32",  # Tencent Cloud
        "100.100.100.200/32",  # Alibaba Cloud
        "192.0.0.192/32",  # Oracle Cloud (classic)
        "168.63.129.16/32",  # Azure WireServer: a public-range address, so named explicitly
        "fd00:ec2::254/128",  # AWS IMDS over IPv6
        "fd00:ec2::23/128",  # AWS EKS pod identity agent over IPv6
    )
)
_SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
_NAT64_NETWORK = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class FetchPolicy:
    """Limits for one fetch. The defaults suit untrusted URLs on a server.

    `allow_private=True` allows any non-public address except cloud metadata; a tuple of IP
    networks or addresses (`("127.0.0.1", "10.0.0.0/8")`) allows only those non-public ones.
    Public addresses are always allowed, cloud metadata addresses never.
    """

    max_bytes: int = 20 * 1024 * 1024
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    total_timeout: float = 30.0
    max_redirects: int = 5
    allow_private: bool | tuple[str, ...] = False
    user_agent: str = "mmkit/0.1"
    _networks: tuple[_IPNetwork, ...] = field(init=False, repr=False, compare=False, default=())

    def __post_init__(self) -> None:
        if self.max_bytes < 0:
            raise ConfigError(f"FetchPolicy.max_bytes must be >= 0, got {self.max_bytes}")
        for name in ("connect_timeout", "read_timeout", "total_timeout"):
            value = getattr(self, name)
            if not value > 0:
                raise ConfigError(f"FetchPolicy.{name} must be > 0 seconds, got {value!r}")
        if self.max_redirects < 0:
            raise ConfigError(f"FetchPolicy.max_redirects must be >= 0, got {self.max_redirects}")
        if isinstance(self.allow_private, bool):
            return
        if isinstance(self.allow_private, str):
            raise ConfigError(
                f"FetchPolicy.allow_private must be True, False or a tuple of networks; "
                f"write allow_private=({self.allow_private!r},)"
            )
        try:
            networks = tuple(ipaddress.ip_network(n, strict=False) for n in self.allow_private)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"FetchPolicy.allow_private holds something that is not an IP network or "
                f"address ({exc}); use entries like '127.0.0.1' or '10.0.0.0/8'"
            ) from exc
        # frozen dataclass: the parsed networks are cached once, not re-parsed per address
        object.__setattr__(self, "_networks", networks)


@dataclass(frozen=True, repr=False)
class Fetched:
    """A downloaded body, the server's declared media type, and the final URL."""

    data: bytes
    content_type: str | None
    url: str

    def __repr__(self) -> str:
        # the body can be megabytes and the URL's query can be a signed secret
        return (
            f"Fetched(<{len(self.data)} bytes>, content_type={self.content_type!r}, "
            f"url={redact_url(self.url)!r})"
        )


_DEFAULT_POLICY = FetchPolicy()


def redact_url(url: str) -> str:
    """`scheme://host[:port]/path` of a URL, for messages: no credentials, query or fragment.

    Never raises; works on anything (unparseable text is cut the same way).
    """
    text = str(url).strip()
    # The first "?" or "#" always starts the query or fragment, whatever comes before it.
    for mark in "?#":
        text = text.split(mark, 1)[0]
    scheme, sep, rest = text.partition("://")
    if sep:
        end = min((i for i in (rest.find("/"), rest.find("\\")) if i >= 0), default=len(rest))
        authority, path = rest[:end], rest[end:]
        text = f"{scheme}://{authority.rpartition('@')[2]}{path}"
    if len(text) > _MAX_SHOWN:
        text = text[:_MAX_SHOWN] + "…"
    # control characters in a message could forge log lines
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# ---------------------------------------------------------------------------- URL validation


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str  # ASCII, lowercase, no brackets: what getaddrinfo, SNI and Host use
    port: int
    host_header: str
    target: str  # path and query for the request line
    ip_literal: bool


def _parse_url(url: str, where: str | None = None) -> _Target:
    """Check a URL before any DNS or I/O; raise BlockedURLError saying why it is refused.

    `where` is how messages name the URL (default: the redacted URL).
    """
    if not isinstance(url, str):
        raise BlockedURLError(f"refused a {type(url).__name__} as a URL; pass the URL as a str")
    url = url.strip()
    shown = where or redact_url(url)
    if _CONTROL_CHARS.search(url):
        raise BlockedURLError(
            f"refused {shown}: the URL contains control characters (tab, newline...); check the URL"
        )
    try:
        parts = urlsplit(url)
        port = parts.port
        host = parts.hostname
    except ValueError as exc:
        raise BlockedURLError(
            f"refused {shown}: not a valid URL ({_scrub(str(exc), url)}); check the URL"
        ) from exc
    if parts.scheme not in _SCHEMES:
        what = f"{parts.scheme}: URLs" if parts.scheme else "URLs without a scheme"
        raise BlockedURLError(
            f"refused {shown}: {what} are not fetched, only http and https; check the URL "
            "or pass the bytes or a file path instead"
        )
    if "@" in parts.netloc:
        raise BlockedURLError(
            f"refused {shown}: the URL carries credentials (user:password@host), which mmkit "
            "never sends; remove them from the URL (a pre-signed URL works)"
        )
    if not host:
        raise BlockedURLError(f"refused {shown}: the URL has no host; check the URL")
    if "%" in host:
        raise BlockedURLError(
            f"refused {shown}: IPv6 zone IDs (%...) are not supported; check the URL"
        )
    ip = _ip_or_none(host)
    if ip is None:
        if "[" in parts.netloc:
            raise BlockedURLError(
                f"refused {shown}: only IPv6 addresses go in brackets; check the URL"
            )
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError as exc:
            raise BlockedURLError(
                f"refused {shown}: the host name is not valid ({exc}); check the URL"
            ) from exc
        if len(host) > 253 or not _HOSTNAME.fullmatch(host):
            raise BlockedURLError(f"refused {shown}: the host name is not valid; check the URL")
    else:
        host = ip.compressed
    if port == 0:
        raise BlockedURLError(f"refused {shown}: port 0 cannot be connected to; check the URL")
    default_port = _SCHEMES[parts.scheme]
    in_url = f"[{host}]" if isinstance(ip, ipaddress.IPv6Address) else host
    return _Target(
        scheme=parts.scheme,
        host=host,
        port=default_port if port is None else port,
        host_header=in_url if port in (None, default_port) else f"{in_url}:{port}",
        target=(parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
        ip_literal=ip is not None,
    )


def _ip_or_none(text: str) -> _IPAddress | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _scrub(text: str, url: str) -> str:
    """`text` (a lower library's message) with the URL's secrets cut out, and kept short."""
    secrets = [
        url.split("?", 1)[1] if "?" in url else "",
        url.split("#", 1)[1] if "#" in url else "",
    ]
    if "://" in url:
        authority = url.split("://", 1)[1].split("/", 1)[0]
        secrets.append(authority.rpartition("@")[0])
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "…")
    return text if len(text) <= _MAX_SHOWN else text[:_MAX_SHOWN] + "…"


# ------------------------------------------------------------------ address classification


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (and reaches), if it is one of those forms."""
    value = int(ip)
    low = ipaddress.IPv4Address(value & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d
        return ip.ipv4_mapped
    if value >> 32 == 0xFFFF0000:  # ::ffff:0:a.b.c.d, SIIT-translated (RFC 2765)
        return low
    if ip in _NAT64_NETWORK:  # 64:ff9b::a.b.c.d
        return low
    if ip.sixtofour is not None:  # 2002:aabb:ccdd::
        return ip.sixtofour
    if ip.teredo is not None:  # 2001:0::/32, client address de-obfuscated
        return ip.teredo[1]
    if value >> 32 == 0 and value > 1:  # deprecated IPv4-compatible ::a.b.c.d (not :: or ::1)
        return low
    return None


def _non_public_kind(ip: _IPAddress) -> str | None:
    """What kind of non-public address `ip` is ("loopback", "private"...), or None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        inner = _embedded_ipv4(ip)
        if inner is not None:
            kind = _non_public_kind(inner)
            return None if kind is None else f"{kind}, embedded IPv4 {inner}"
    if ip.is_unspecified:
        return "unspecified"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_multicast:
        return "multicast"
    if ip in _SHARED_NETWORK:
        return "shared (carrier-grade NAT)"
    if ip.is_reserved:
        return "reserved"
    if ip.is_private:
        return "private"
    special = special_kind(ip)  # IANA's registries: Python's is_global lags them
    if special is not None:
        return special
    if not ip.is_global:
        return "non-public"
    return None


def _is_metadata(ip: _IPAddress) -> bool:
    inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    return any(a in n for a in (ip, inner) if a is not None for n in _METADATA_NETWORKS)


def _address_refusal(ip: _IPAddress, policy: FetchPolicy) -> str | None:
    """Why `policy` refuses `ip` ("a loopback address; <fix>"), or None if it allows it. Pure."""
    if _is_metadata(ip):
        return (
            "a cloud metadata address, which mmkit never fetches from (not even with "
            "allow_private=True); check the URL"
        )
    kind = _non_public_kind(ip)
    if kind is None or policy.allow_private is True:
        return None
    if policy._networks:
        inner = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
        if any(a in n for a in (ip, inner) if a is not None for n in policy._networks):
            return None
        return (
            f"a non-public address ({kind}) not in FetchPolicy.allow_private; add it "
            "(or its network) to allow_private to fetch from it"
        )
    return (
        f"a non-public address ({kind}); pass FetchPolicy(allow_private=True) to fetch from "
        "a private address"
    )


def _addresses(infos: Sequence[tuple[Any, ...]]) -> list[str]:
    """The distinct addresses of a getaddrinfo answer, in its order."""
    seen: dict[str, None] = {}
    for info in infos:
        seen.setdefault(str(info[4][0]), None)
    return list(seen)


# ------------------------------------------------------------------------- one fetch's state


@dataclass(frozen=True)
class _Pinned:
    ip: str
    url: str
    headers: dict[str, str]
    extensions: dict[str, Any]


def _media_type(value: str | None) -> str | None:
    media = (value or "").split(";", 1)[0].strip().lower()
    return media or None


def _status_advice(status: int) -> str:
    if status in (401, 403):
        return (
            "the server refused access and mmkit sends no credentials; use a public or "
            "pre-signed URL"
        )
    if status == 429:
        return "the server is rate limiting; try again later"
    if status >= 500:
        return "the server failed; try again later or check the URL"
    return "check the URL"


class _Run:
    """The I/O-free state of one fetch: current URL, redirects so far, deadline, timeouts."""

    def __init__(self, url: str, policy: FetchPolicy) -> None:
        self.policy = policy
        self.deadline = time.monotonic() + policy.total_timeout
        self.url = url.strip() if isinstance(url, str) else url
        self.previous: str | None = None
        self.redirects = 0
        self.target: _Target | None = None
        self.ip: str | None = None
        self.connect_timeout = policy.connect_timeout
        self.read_timeout = policy.read_timeout

    def where(self) -> str:
        shown = redact_url(self.url)
        if self.previous is not None:
            shown += f" (redirected from {redact_url(self.previous)})"
        return shown

    def remaining(self) -> float:
        """Seconds left before total_timeout; FetchError if none."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise FetchError(self._total_timeout_message())
        return left

    def _total_timeout_message(self) -> str:
        return (
            f"fetching {self.where()} timed out after {self.policy.total_timeout:g} s "
            "(FetchPolicy.total_timeout, the whole fetch including redirects); raise "
            "total_timeout or check that the server is up"
        )

    def start_hop(self) -> _Target:
        self.remaining()
        self.target = _parse_url(self.url, self.where())
        self.ip = None
        return self.target

    def pin(self, addresses: Sequence[str]) -> list[_Pinned]:
        """Check every resolved address (any refused one refuses the URL), then aim one request
        at each, in resolver order: connecting tries them in turn, like socket.create_connection.
        """
        target = self._current()
        if not addresses:
            raise FetchError(
                f"could not resolve host {target.host} for {self.where()}: no addresses; "
                "check the URL"
            )
        ips = [ipaddress.ip_address(text) for text in addresses]
        for ip in ips:
            subject = f"{ip} is" if target.ip_literal else f"{target.host} resolves to {ip},"
            reason = _address_refusal(ip, self.policy)
            if reason is None and isinstance(ip, ipaddress.IPv6Address) and ip.scope_id:
                reason = "a scoped IPv6 address, which mmkit cannot pin a connection to"
            if reason is not None:
                raise BlockedURLError(f"refused {self.where()}: {subject} {reason}")
        extensions: dict[str, Any] = {}
        if target.scheme == "https" and not target.ip_literal:
            # TLS must name (and verify) the real host, not the IP the request is aimed at
            extensions["sni_hostname"] = target.host.rstrip(".")
        headers = {
            "Host": target.host_header,
            "User-Agent": self.policy.user_agent,
            "Accept": "*/*",
            # media is compressed already; a server that compresses anyway is decoded under the cap
            "Accept-Encoding": "identity",
        }
        pinned = []
        for ip in ips:
            in_url = f"[{ip}]" if isinstance(ip, ipaddress.IPv6Address) else str(ip)
            url = f"{target.scheme}://{in_url}:{target.port}{target.target}"
            pinned.append(_Pinned(str(ip), url, headers, extensions))
        return pinned

    def attempt(self, request: _Pinned) -> tuple[float, float]:
        """Start connecting to one pinned address; (connect, read) seconds, cut to the deadline."""
        left = self.remaining()
        self.ip = request.ip
        self.connect_timeout = min(self.policy.connect_timeout, left)
        self.read_timeout = min(self.policy.read_timeout, left)
        return self.connect_timeout, self.read_timeout

    def accept(self, status: int, reason: str, headers: Mapping[str, str]) -> bool:
        """True if the body is the answer; False if redirected (self.url is then the next hop)."""
        if status in _REDIRECT_STATUSES:
            self._redirect(status, headers.get("location"))
            return False
        if not 200 <= status < 300:
            phrase = f"HTTP {status} {reason}".rstrip()
            raise FetchError(f"fetching {self.where()} failed: {phrase}; {_status_advice(status)}")
        declared = headers.get("content-length")
        if declared is not None and declared.strip().isdigit():
            size = int(declared)
            if size > self.policy.max_bytes:
                raise FetchError(self._too_large(f" (Content-Length says {size} bytes)"))
        return True

    def _redirect(self, status: int, location: str | None) -> None:
        if not location or not location.strip():
            raise FetchError(
                f"fetching {self.where()} failed: HTTP {status} redirect without a Location; "
                "check the URL"
            )
        if self.redirects >= self.policy.max_redirects:
            raise FetchError(
                f"fetching {self.where()} stopped: more than {self.policy.max_redirects} "
                "redirects; raise FetchPolicy.max_redirects or fetch the final URL directly"
            )
        try:
            following = urljoin(self.url, location.strip())
        except ValueError as exc:
            raise BlockedURLError(
                f"refused a redirect from {self.where()}: the Location is not a valid URL; "
                "check the URL"
            ) from exc
        self.previous, self.url = self.url, following
        self.redirects += 1

    def decoder(self, content_encoding: str | None) -> BoundedDecoder:
        """The body's decoder: it caps the bytes as they are decoded, whatever the encoding."""
        try:
            return BoundedDecoder(content_encoding, self.policy.max_bytes)
        except UnsupportedEncoding as exc:
            raise FetchError(f"fetching {self.where()} failed: {exc}; check the URL") from None

    def add(self, body: bytearray, decoder: BoundedDecoder, raw: bytes | None) -> None:
        """Decode a raw chunk (None: the body ended) into `body`, stopping as soon as it passes
        the cap or the deadline."""
        try:
            for piece in decoder.feed(raw) if raw is not None else decoder.end():
                body += piece
        except BodyTooLarge:
            raise FetchError(self._too_large("")) from None
        except CorruptBody as exc:
            raise FetchError(
                f"fetching {self.where()} failed: the body could not be decoded ({exc}); "
                "check the URL"
            ) from None
        self.remaining()

    def _too_large(self, detail: str) -> str:
        return (
            f"fetching {self.where()} stopped: the body is over the {self.policy.max_bytes}-byte "
            f"cap{detail}; raise FetchPolicy.max_bytes or pass a smaller file"
        )

    def done(self, body: bytearray, content_type: str | None) -> Fetched:
        return Fetched(data=bytes(body), content_type=_media_type(content_type), url=self.url)

    def _current(self) -> _Target:
        if self.target is None:  # pragma: no cover - start_hop always runs first
            raise FetchError(f"fetching {self.where()}: no hop started")
        return self.target

    def translate(self, exc: BaseException) -> FetchError:
        """The one boundary where httpx, socket and ssl errors become a FetchError."""
        import httpx

        from mmkit.net.deadline import passed

        where = self.where()
        detail = _scrub(str(exc) or type(exc).__name__, self.url)
        if isinstance(exc, socket.gaierror):
            host = self.target.host if self.target else "?"
            return FetchError(
                f"could not resolve host {host} for {where} ({detail}); check the URL"
            )
        if isinstance(exc, httpx.TimeoutException) and passed(self.deadline):
            return FetchError(self._total_timeout_message())
        if isinstance(exc, httpx.ConnectTimeout):
            if self.connect_timeout < self.policy.connect_timeout:
                return FetchError(self._total_timeout_message())
            return FetchError(
                f"fetching {where} timed out after {self.connect_timeout:g} s while connecting "
                "(FetchPolicy.connect_timeout); raise connect_timeout or check that the server "
                "is up"
            )
        if isinstance(exc, (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout)):
            if self.read_timeout < self.policy.read_timeout:
                return FetchError(self._total_timeout_message())
            return FetchError(
                f"fetching {where} timed out after {self.read_timeout:g} s waiting for the "
                "server (FetchPolicy.read_timeout); raise read_timeout or check that the "
                "server is up"
            )
        if isinstance(exc, TimeoutError):  # asyncio.wait_for around the DNS lookup
            return FetchError(self._total_timeout_message())
        if isinstance(exc, httpx.ConnectError):
            return FetchError(
                f"could not connect to {where} at {self.ip} ({detail}); check the URL and "
                "that the server is up"
            )
        if isinstance(exc, httpx.RemoteProtocolError):
            return FetchError(
                f"fetching {where} failed: the server broke off or broke HTTP ({detail}); "
                "try again or check the URL"
            )
        if isinstance(exc, httpx.DecodingError):
            return FetchError(
                f"fetching {where} failed: the body could not be decoded ({detail}); check the URL"
            )
        if isinstance(exc, (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError)):
            return FetchError(
                f"fetching {where} failed: {type(exc).__name__} ({detail}); check the URL "
                "and try again"
            )
        return FetchError(
            f"fetching {where} failed unexpectedly: {type(exc).__name__} ({detail}); "
            "please report this"
        )


def _client_options(policy: FetchPolicy) -> dict[str, Any]:
    import httpx

    return {
        # no proxy variables, netrc credentials or SSL_CERT_* from the environment
        "trust_env": False,
        "follow_redirects": False,
        # pinned connections are keyed by IP: reusing one could carry another host's TLS session
        "limits": httpx.Limits(max_keepalive_connections=0),
        "timeout": httpx.Timeout(policy.read_timeout, connect=policy.connect_timeout),
    }


# ------------------------------------------------------------------------------- the I/O


def fetch(url: str, policy: FetchPolicy = _DEFAULT_POLICY) -> Fetched:
    """Download `url` under `policy`. Raises BlockedURLError or FetchError, nothing else."""
    import httpx

    from mmkit.net.deadline import deadline, install

    run = _Run(url, policy)
    try:
        with httpx.Client(**_client_options(policy)) as client, deadline(run.deadline):
            install(client)  # every socket read and write ends by the total deadline
            while True:
                target = run.start_hop()
                infos = resolve(target.host, target.port, run.remaining())
                *others, last = run.pin(_addresses(infos))
                for request in others:
                    try:
                        fetched = _hop(client, run, request)
                        break
                    except httpx.ConnectError:
                        continue  # every address was checked; the next one is as safe
                else:
                    fetched = _hop(client, run, last)
                if fetched is not None:
                    return fetched
    except MmkitError:
        raise
    except Exception as exc:
        raise run.translate(exc) from exc


def _hop(client: httpx.Client, run: _Run, request: _Pinned) -> Fetched | None:
    """One request to one pinned address: the answer, or None if it redirected."""
    import httpx

    connect, read = run.attempt(request)
    # cookies are keyed by the pinned IP, so one host's would leak to the next
    client.cookies.clear()
    with client.stream(
        "GET",
        request.url,
        headers=request.headers,
        extensions=request.extensions,
        timeout=httpx.Timeout(read, connect=connect),
    ) as response:
        if not run.accept(response.status_code, response.reason_phrase, response.headers):
            return None
        decoder = run.decoder(response.headers.get("content-encoding"))
        body = bytearray()
        # raw bytes: httpx would inflate a whole chunk before the cap could see it
        for chunk in response.iter_raw():
            run.add(body, decoder, chunk)
        run.add(body, decoder, None)
        return run.done(body, response.headers.get("content-type"))


async def afetch(url: str, policy: FetchPolicy = _DEFAULT_POLICY) -> Fetched:
    """`fetch` for asyncio, with httpx.AsyncClient and the loop's resolver."""
    import asyncio

    from mmkit.net.deadline import deadline

    run = _Run(url, policy)
    loop = asyncio.get_running_loop()
    try:
        with deadline(run.deadline):
            return await _afetch(run, loop)
    except MmkitError:
        raise
    except Exception as exc:
        raise run.translate(exc) from exc


async def _afetch(run: _Run, loop: Any) -> Fetched:
    import asyncio

    import httpx

    from mmkit.net.deadline import install

    async with httpx.AsyncClient(**_client_options(run.policy)) as client:
        install(client)  # every socket read and write ends by the total deadline
        while True:
            target = run.start_hop()
            infos = await asyncio.wait_for(
                loop.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM),
                run.remaining(),
            )
            *others, last = run.pin(_addresses(infos))
            for request in others:
                try:
                    fetched = await _ahop(client, run, request)
                    break
                except httpx.ConnectError:
                    continue  # every address was checked; the next one is as safe
            else:
                fetched = await _ahop(client, run, last)
            if fetched is not None:
                return fetched


async def _ahop(client: httpx.AsyncClient, run: _Run, request: _Pinned) -> Fetched | None:
    """`_hop` for asyncio."""
    import httpx

    connect, read = run.attempt(request)
    client.cookies.clear()
    async with client.stream(
        "GET",
        request.url,
        headers=request.headers,
        extensions=request.extensions,
        timeout=httpx.Timeout(read, connect=connect),
    ) as response:
        if not run.accept(response.status_code, response.reason_phrase, response.headers):
            return None
        decoder = run.decoder(response.headers.get("content-encoding"))
        body = bytearray()
        async for chunk in response.aiter_raw():
            run.add(body, decoder, chunk)
        run.add(body, decoder, None)
        return run.done(body, response.headers.get("content-type"))


__all__ = ["FetchPolicy", "Fetched", "afetch", "fetch", "redact_url"]
