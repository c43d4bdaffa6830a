"""Server-side request forgery guard for outgoing webhooks. Pure: the caller resolves names and passes the
addresses in, so the same rule checks the configured URL, every address its name resolves to, and every
redirect target."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

#: Cloud metadata endpoints, refused even though some are not in a private range.
METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data", "169.254.169.254", "fd00:ec2::254",
                  "100.100.100.200"}


class UnsafeURL(ValueError):
    """The URL may not be called (scheme, host or address not allowed)."""


def parse_target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL; raises UnsafeURL for anything else."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"scheme {parts.scheme!r} not allowed")
    if not parts.hostname:
        raise UnsafeURL("no host")
    if parts.username or parts.password:
        raise UnsafeURL("credentials in URL not allowed")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, parts.hostname.lower().rstrip("."), port


def _allowed(value: str, allowed: list[str]) -> bool:
    for entry in allowed:
        if value == entry.lower():
            return True
        try:
            if ipaddress.ip_address(value) in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def is_public(addr: str) -> bool:
    """True for a globally routable unicast address."""
    ip = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global excludes private, loopback, link-local, reserved, unspecified and shared (CGNAT) ranges
    return ip.is_global and not ip.is_multicast and str(ip) not in METADATA_HOSTS


def check(host: str, addresses: list[str], allowed: list[str]) -> None:
    """Raise UnsafeURL unless the host is explicitly allowed or every address it resolves to is public."""
    if _allowed(host, allowed):
        return
    if host in METADATA_HOSTS:
        raise UnsafeURL(f"metadata host {host!r} not allowed")
    if not addresses:
        raise UnsafeURL(f"{host!r} does not resolve")
    for addr in addresses:
        if _allowed(addr, allowed):
            continue
        if not is_public(addr):
            raise UnsafeURL(f"{host!r} resolves to non-public address {addr}")
