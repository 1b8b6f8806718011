"""The client address of a request, believing forwarding headers only from trusted proxies.

`X-Forwarded-For` is a list anyone can write to: a client sends `X-Forwarded-For: 1.2.3.4` and
every proxy on the way appends the address it saw. Only the entries added by proxies we run
can be trusted, so the list is read from the right: starting at the socket peer, while the
current hop is one of `server.trusted_proxies`, step one entry left. The first untrusted hop
is the client. Without trusted proxies the socket peer is the client and the header is ignored.
The gateway's per-client rate limit and the login limiter both key on this address.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from aiohttp import web

from services.common.appkeys import SETTINGS

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=32)
def networks(proxies: tuple[str, ...]) -> tuple[Network, ...]:
    """The configured proxies as networks (the config check already refused bad entries)."""
    return tuple(ipaddress.ip_network(p.strip(), strict=False) for p in proxies)


def _ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    # No address, even IPv6 with a zone and a port, is this long; not cached, so a forwarded
    # list of long junk cannot fill the cache.
    return None if len(value) > 100 else _parsed_ip(value)


# Peers and forwarded hops repeat request after request: parsing them is cached (bounded, so a
# client inventing addresses only evicts).
@lru_cache(maxsize=4096)
def _parsed_ip(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[2001:db8::1]:443" (RFC 7239 style)
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # "1.2.3.4:5678"
        value = value.split(":")[0]
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None, trusted: Sequence[Network]) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in trusted)


def _hops(request: web.Request) -> list[str]:
    hops: list[str] = []
    for header in request.headers.getall("X-Forwarded-For", []):
        hops.extend(h.strip() for h in header.split(",") if h.strip())
    return hops


def _trusted_proxies(request: web.Request) -> tuple[Network, ...]:
    settings = request.app.get(SETTINGS)
    return networks(tuple(settings.server.trusted_proxies)) if settings is not None else ()


def from_trusted_proxy(request: web.Request) -> bool:
    """True when the socket peer is one of the configured trusted proxies."""
    return _trusted(_ip(request.remote or ""), _trusted_proxies(request))


@lru_cache(maxsize=4096)
def _as_text(value: str) -> str:
    """An address in its normal form (an IPv4-mapped IPv6 one as IPv4); anything else as given."""
    ip = _ip(value)
    return str(ip) if ip is not None else value


def client_address(request: web.Request) -> str:
    """The address of the client behind any trusted proxies (the socket peer without them)."""
    peer = request.remote or "unknown"
    trusted = _trusted_proxies(request)
    if not trusted or not _trusted(_ip(peer), trusted):
        return _as_text(peer)
    current = _ip(peer)
    for hop in reversed(_hops(request)):
        ip = _ip(hop)
        if ip is None:
            break  # garbage in the chain: the last address we could read is the client
        current = ip
        if not _trusted(ip, trusted):
            break
    return str(current)


def is_https(request: web.Request) -> bool:
    """True when the browser reached us over TLS: directly, by the configured public URL, or as
    a trusted proxy says in X-Forwarded-Proto."""
    if request.secure:
        return True
    settings = request.app.get(SETTINGS)
    if settings is not None and settings.server.public_url.lower().startswith("https://"):
        return True
    if from_trusted_proxy(request):
        proto = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
        return proto == "https"
    return False
