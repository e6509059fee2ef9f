"""Who may watch and drive the monitor.

On the laptop alone (``--host 127.0.0.1``, the default) the monitor answers to this machine's names and
its own page. Served on the set's network (``--host 0.0.0.0``) it also asks for a key, as Jupyter asks
for its token: anyone on a studio's Wi-Fi could otherwise open the page and stop the take. The key
is kept in the user's config folder, so a tablet's bookmark opens the monitor take after take; the
printed address carries it once, and the browser keeps it in a cookie.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import re
import secrets
import socket
import string
from collections.abc import Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from guangying.base.errors import SettingsError

KEY_FILE_NAME = "monitor-key"
_KEY_LENGTH = 12  # 62 bits from a-z0-9: a tablet user can type it, a network cannot guess it
_KEY_PATTERN = re.compile(r"[A-Za-z0-9._~-]{8,128}")  # safe in a URL and a cookie as it is
OFF = "off"


def names_of_this_machine(bound_host: str) -> frozenset[str]:
    """The host names a request to this monitor may carry besides an IP address: ``localhost``, the
    name it was told to listen on, and the machine's own (``laptop``, ``laptop.local``; not its FQDN,
    whose lookup can hang the start on a set network without DNS)."""
    own = socket.gethostname().lower()
    names = {"localhost", own, own + ".local"}
    try:
        ipaddress.ip_address(bound_host)
    except ValueError:
        names.add(bound_host.lower())
    return frozenset(n for n in names if n)


def refusal(host_header: str | None, origin_header: str | None, names: frozenset[str],
            acting: bool) -> str | None:
    """Why a request may not be answered, or None. Any web page a browser on the set shows could
    otherwise reach the monitor: a page on another site posting to ``/stop`` ended the take (browsers
    send such a 'simple' cross-site POST without asking), and one on a name that resolves to this
    machine (DNS rebinding) could read the picture and act as the page does. So the ``Host`` must be
    an IP address or a name of this machine (``names``; empty accepts any, for a request that bears the
    monitor's key), and an action (``acting``) that comes from a page must come from the monitor's
    own. Scripts (curl, Python) send no ``Origin`` and are answered."""
    if host_header and names:
        name = urlsplit("//" + host_header).hostname or ""
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name not in names:
                return (f"this monitor answers to its IP address or this machine's name, not {name!r}: "
                        "open it as http://IP:PORT/ (or give it a key with --monitor-key)")
    if acting and origin_header is not None:
        if origin_header == "null" or urlsplit(origin_header).netloc.lower() != (host_header or "").lower():
            return f"a page from {origin_header} may not control this monitor; use the monitor's own page"
    return None


def is_loopback(host: str) -> bool:
    """Whether ``host`` (as given to ``--host``) serves this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/guangying`` (``~/.config/guangying``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "guangying"


def monitor_key(given: str | None, host: str, folder: Path | None = None) -> str | None:
    """The key the monitor asks for, or None for none. ``given`` (``--monitor-key``): a key of 8–128
    letters, digits or ``.-_~``, or ``off`` for none. Not given: none on a loopback ``host``; else
    this user's kept key (``folder``/monitor-key, made on first use, readable by the user only)."""
    if given is not None:
        if given.lower() == OFF:
            return None
        if not _KEY_PATTERN.fullmatch(given):
            raise SettingsError(
                "--monitor-key: use 8 to 128 letters, digits or . - _ ~ (it travels in the address), "
                f"or '{OFF}' to serve the monitor without one"
            )
        return given
    if is_loopback(host):
        return None
    path = (folder or config_dir()) / KEY_FILE_NAME
    try:
        kept = path.read_text().strip()
    except FileNotFoundError:
        kept = ""
    except OSError as exc:
        raise SettingsError(f"cannot read the monitor's key from {path}: {exc}; "
                            "give one with --monitor-key") from exc
    if kept:
        if not _KEY_PATTERN.fullmatch(kept):
            raise SettingsError(f"{path} does not hold a monitor key; delete it (a new one is made) "
                             "or give one with --monitor-key")
        return kept
    key = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(_KEY_LENGTH))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{KEY_FILE_NAME}.{os.getpid()}.tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key + "\n")
        os.replace(temp, path)  # two takes starting at once: one key wins, and both read it below
        return path.read_text().strip()
    except OSError:
        return key  # a read-only home: this take's key only (printed with the address as always)


class Headers(Protocol):
    """A request's headers: ``http.server``'s message or a dict."""

    def get(self, name: str, /) -> str | None: ...


@dataclass(frozen=True)
class MonitorAccess:
    """The rules one monitor applies to each request (see :func:`refusal`). With a ``key``, every
    request must bear it — ``?key=``, the cookie the page sets, or ``Authorization: Bearer KEY`` — and
    then any host name is answered (a studio's DNS name for the laptop: a rebinding page has no key)."""

    names: frozenset[str]
    key: str | None
    port: int

    @property
    def cookie_name(self) -> str:
        return f"guangying-monitor-{self.port}"  # cookies ignore ports: two monitors keep two keys

    def presented_key(self, headers: Headers, query: Mapping[str, list[str]]) -> str | None:
        if "key" in query:
            return query["key"][0]
        auth = headers.get("Authorization") or ""
        if auth.lower().startswith("bearer "):
            return auth[7:].strip()
        for part in (headers.get("Cookie") or "").split(";"):
            name, _, value = part.strip().partition("=")
            if name == self.cookie_name:
                return value
        return None

    def holds_key(self, headers: Headers, query: Mapping[str, list[str]]) -> bool:
        presented = self.presented_key(headers, query)
        return self.key is not None and presented is not None and hmac.compare_digest(
            presented.encode(), self.key.encode())

    def check(self, headers: Headers, query: Mapping[str, list[str]],
              acting: bool) -> tuple[HTTPStatus, str] | None:
        """(status, why) when the request is refused, else None."""
        if self.key is not None and not self.holds_key(headers, query):
            return HTTPStatus.UNAUTHORIZED, (
                "this monitor asks for its key: open the address guangying live printed (…/?key=…), "
                "or send 'Authorization: Bearer KEY'")
        why = refusal(headers.get("Host"), headers.get("Origin"),
                      frozenset() if self.key is not None else self.names, acting)
        return None if why is None else (HTTPStatus.FORBIDDEN, why)

    def cookie(self) -> str:
        """The ``Set-Cookie`` value that keeps the key in the browser: sent by the monitor's own page
        and top-level visits only (``SameSite=Lax``: not by another site's pictures or posts), and
        never readable by scripts."""
        return f"{self.cookie_name}={self.key}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"


def address_on_the_network() -> str | None:
    """This machine's address on its network (what a tablet opens), or None. A UDP socket's
    ``connect`` only picks the route; nothing is sent."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never routed anywhere real
            address = probe.getsockname()[0]
    except OSError:
        return None
    return None if ipaddress.ip_address(address).is_loopback else address
