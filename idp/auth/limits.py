"""Rate-limit keys shared by the login and recovery forms.

A limit on what was typed alone lets anyone spend the budget of someone else's
identifier: 13 requests every 15 minutes from one machine and its owner could neither log
in nor ask for a new password. The keys below therefore count what was typed *from one
client network* (IPv4 /24, IPv6 /48, as the lock mail shows it): an attacker's network has
its own budget and the owner, from another network, keeps theirs.

The client address is `request.remote_addr`, like the rest of the app. Behind a reverse
proxy, set IDP_TRUSTED_PROXIES so that Werkzeug's ProxyFix takes it from X-Forwarded-For;
otherwise every client shares the proxy's network.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from flask import request

IPV4_PREFIX = 24
IPV6_PREFIX = 48


def network_of(ip: str | None) -> str | None:
    """The network an address belongs to (/24 or /48), or None if it is not an address."""
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:  # ::ffff:192.0.2.1
        address = address.ipv4_mapped
    prefix = IPV4_PREFIX if address.version == 4 else IPV6_PREFIX
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def client_network() -> str:
    """The network of this request's client (see network_of), "-" if it has no address."""
    return network_of(request.remote_addr) or "-"


def _typed(name: str) -> str:
    return "".join((request.form.get(name) or "").split()).lower()


def typed_key(name: str) -> Callable[[], str]:
    """A rate-limit key on what was typed in `name` (without blanks or case), per network.

    Keyed on the text, not on an account, so unknown identifiers are limited alike and
    the limit says nothing about which accounts exist.
    """

    def key() -> str:
        return f"{name}:{client_network()}:{_typed(name)}"

    return key


def typed_key_anywhere(name: str) -> Callable[[], str]:
    """A rate-limit key on what was typed in `name`, whatever the network (a loose ceiling)."""

    def key() -> str:
        return f"{name}:*:{_typed(name)}"

    return key
