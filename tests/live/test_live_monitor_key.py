"""The monitor's key, over real HTTP on 127.0.0.1: served on the set's network, anyone on the studio's
Wi-Fi could open the page and stop the take; with a key, only who holds it can, by the printed address
(kept by the browser in a cookie), a bearer header or ``?key=``."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from guangying.base.errors import SettingsError
from guangying.live import LiveSession, LiveSettings, LiveSource
from guangying.live.monitor import MonitorFeed, MonitorServer
from guangying.live.monitor_access import KEY_FILE_NAME, monitor_key
from guangying.live.session import SessionOutputs

KEY = "set-key-4711"


@pytest.fixture
def keyed(plate_clip, tmp_path):
    source = LiveSource(str(plate_clip), loop=True)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    feed = MonitorFeed(320)
    session = LiveSession(source, settings, SessionOutputs(settings_path=tmp_path / "look.yaml"), feed)
    server = MonitorServer(feed, session, "127.0.0.1", 0, key=KEY)
    server.start()
    thread = threading.Thread(target=session.run, daemon=True)
    thread.start()
    try:
        yield session, server
    finally:
        session.request_stop()
        thread.join(timeout=20)
        server.close()
        feed.close()


def _ask(server: MonitorServer, method: str, target: str, headers: dict[str, str] | None = None,
         body: bytes = b"") -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request: status, headers (lower-case names), body."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{server.port}", "Connection: close",
             f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
        conn.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        answer = conn.makefile("rb").read()
    head, _, content = answer.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    found = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), found, content


def _frames_out(session: LiveSession) -> int:
    return int(session.stats()["frames_out"])


def _wait_frames(session: LiveSession, n: int) -> None:
    deadline = time.monotonic() + 30
    while _frames_out(session) < n:
        assert time.monotonic() < deadline, session.stats()
        time.sleep(0.05)


def test_without_the_key_nothing_is_shown_or_done(keyed):
    session, server = keyed
    _wait_frames(session, 3)
    for target in ("/stats.json", "/settings.json", "/frame.jpg?view=plate", "/stream.mjpg", "/app.js",
                   "/stats.json?key=wrong-key-00"):
        status, _, body = _ask(server, "GET", target)
        assert status == 401 and b"asks for its key" in body and b"\xff\xd8" not in body, target
    status, headers, page = _ask(server, "GET", "/")
    assert status == 401 and headers["content-type"].startswith("text/html") and b'name="key"' in page
    assert b"not the key" in _ask(server, "GET", "/?key=wrong-key-00")[2]
    for bad in ({}, {"Authorization": "Bearer wrong-key-00"},
                {"Cookie": f"guangying-monitor-{server.port}=x"},
                {"Cookie": f"guangying-monitor-1={KEY}"}):  # another monitor's cookie name
        status, _, _ = _ask(server, "POST", "/stop", bad, b"{}")
        assert status == 401, bad
    before = _frames_out(session)
    _wait_frames(session, before + 5)  # the take goes on
    assert session.stats()["state"] == "live"


def test_the_printed_address_keeps_the_key_in_the_browser(keyed):
    session, server = keyed
    _wait_frames(session, 3)
    assert server.opening_urls() == [f"http://127.0.0.1:{server.port}/?key={KEY}"]
    status, headers, _ = _ask(server, "GET", f"/?key={KEY}")
    assert status == 303 and headers["location"] == "/"  # the key leaves the address bar
    cookie = headers["set-cookie"]
    assert cookie.startswith(f"guangying-monitor-{server.port}={KEY};")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    jar = {"Cookie": cookie.split(";")[0]}
    status, _, page = _ask(server, "GET", "/", jar)
    assert status == 200 and b"<title>Guangying live</title>" in page
    status, _, stats = _ask(server, "GET", "/stats.json", jar)
    assert status == 200 and json.loads(stats)["state"] in ("starting", "live")
    # a script: the bearer header; a studio's DNS name for the laptop is answered with the key
    status, _, answer = _ask(server, "POST", "/settings", {"Authorization": f"Bearer {KEY}",
                                                          "Content-Type": "application/json"},
                             b'{"screen_gain": 1.2}')
    assert status == 200 and json.loads(answer)["version"] == 2
    renamed = f"GET /stats.json HTTP/1.1\r\nHost: monitor.studio.lan:{server.port}\r\n"
    for extra in ("", f"Authorization: Bearer {KEY}\r\n"):
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
            conn.sendall((renamed + extra + "Connection: close\r\n\r\n").encode())
            line = conn.makefile("rb").readline().decode()
        assert (" 200 " in line) == bool(extra), (extra, line)
    # the key does not let another site's page act
    status, _, _ = _ask(server, "POST", "/stop", {**jar, "Origin": "http://attacker.example"}, b"{}")
    assert status == 403 and session.stats()["state"] == "live"
    status, _, _ = _ask(server, "POST", "/stop", jar, b"{}")
    assert status == 200


def test_the_key_is_made_once_and_kept_for_the_user_only(tmp_path):
    assert monitor_key(None, "127.0.0.1", tmp_path) is None  # the laptop alone: no key
    assert monitor_key(None, "localhost", tmp_path) is None
    assert not (tmp_path / KEY_FILE_NAME).exists()
    first = monitor_key(None, "0.0.0.0", tmp_path)
    assert first is not None and len(first) >= 12 and first.isalnum()
    kept = tmp_path / KEY_FILE_NAME
    assert kept.read_text().strip() == first and (os.stat(kept).st_mode & 0o077) == 0
    assert monitor_key(None, "192.168.1.20", tmp_path) == first  # the tablet's bookmark still opens it
    assert monitor_key(KEY, "127.0.0.1", tmp_path) == KEY  # given: asked for even on the laptop
    assert monitor_key("OFF", "0.0.0.0", tmp_path) is None
    for bad in ("short", "has space in it", "semi;colon-key", "x" * 129):
        with pytest.raises(SettingsError, match="--monitor-key"):
            monitor_key(bad, "0.0.0.0", tmp_path)
    kept.write_text("not a key; edited by hand\n")
    with pytest.raises(SettingsError, match="delete it"):
        monitor_key(None, "0.0.0.0", tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == [KEY_FILE_NAME]  # no temp file left


def test_served_on_all_addresses_the_network_address_carries_the_key(plate_clip, tmp_path, monkeypatch):
    from guangying.live import monitor

    monkeypatch.setattr(monitor, "address_on_the_network", lambda: "192.168.1.20")
    source = LiveSource(str(plate_clip), loop=True)
    settings = LiveSettings({"background": "black"}, source.width, source.height)
    feed = MonitorFeed(320)
    session = LiveSession(source, settings, SessionOutputs(), feed)
    server = MonitorServer(feed, session, "0.0.0.0", 0, key=KEY)
    try:
        assert server.opening_urls() == [f"http://127.0.0.1:{server.port}/?key={KEY}",
                                         f"http://192.168.1.20:{server.port}/?key={KEY}"]
    finally:
        server.close()
        feed.close()
        source.stop()
