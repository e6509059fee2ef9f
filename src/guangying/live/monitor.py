"""The browser monitor: MJPEG views of the live picture, stats and the keyer operator's controls.

MJPEG (``multipart/x-mixed-replace`` into an ``<img>``) was chosen over a WebSocket-fed canvas: the
browser decodes it natively as each part arrives, a slow viewer simply skips to the newest picture,
and it needs nothing but the standard library to serve (delay measured in ``bench/live.py``).
"""

from __future__ import annotations

import contextlib
import errno
import html
import json
import select
import socket
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np

from guangying.base.errors import DeviceError, GuangyingError
from guangying.base.files import parse_problem
from guangying.live.monitor_access import MonitorAccess, address_on_the_network, names_of_this_machine
from guangying.media.pixels import to_code_values

VIEWS = ("composite", "plate", "matte", "side")
_SNAPSHOT_KEEP_S = 3.0  # keep encoding a view this long after a single-picture request
_WAIT_S = 0.5
# The page's actions send a few settings (a drawn garbage mask is the largest: some kB). A request
# claiming more is refused unread: reading what a Content-Length claims allocates it first, and one
# claiming 100 GB ended in MemoryError (a few GB would take the take down on a laptop).
MAX_ACTION_BYTES = 1 << 20
# Moving pictures served at once: each holds a thread and its JPEGs are encoded for it (a set's monitor,
# a few tablets); unlimited, a page opened hundreds of times took the take's threads and memory
MAX_VIEWERS = 16
# A connection silent this long (no request, a body that never comes, a viewer that stopped reading the
# stream) is closed: each holds a thread, and a client opening many and sending nothing held them all.
IDLE_TIMEOUT_S = 30.0


class MonitorControl(Protocol):
    """What the page can ask of the running session."""

    def stats(self) -> dict[str, Any]: ...
    def settings_json(self) -> dict[str, Any]: ...
    def update_settings(self, changes: dict[str, Any]) -> dict[str, Any]: ...
    def pick_screen_colour(self, x_px: float, y_px: float) -> dict[str, Any]: ...
    def save_settings(self) -> dict[str, Any]: ...
    def settings_yaml(self) -> str: ...
    def request_stop(self) -> None: ...


@dataclass(slots=True)
class _Panels:
    plate: np.ndarray  # float32 sRGB at monitor size
    alpha: np.ndarray
    composite: np.ndarray


class MonitorFeed:
    """Takes the newest frame from the pipeline (without ever waiting) and JPEG-encodes the views that
    someone is watching, in its own thread."""

    def __init__(self, width_px: int = 960, quality: int = 80, pixel_aspect: float = 1.0) -> None:
        self.width_px, self.quality, self.pixel_aspect = width_px, quality, float(pixel_aspect)
        self._cond = threading.Condition()
        self._pending: _Panels | None = None
        self._shown: _Panels | None = None  # the newest frame encoded, shown again to a new viewer
        self._jpeg: dict[str, tuple[int, bytes]] = {}
        self._seq = 0
        self._viewers = dict.fromkeys(VIEWS, 0)
        self._snapshot_until = dict.fromkeys(VIEWS, 0.0)
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="guangying-monitor", daemon=True)
        self._thread.start()

    # -- pipeline side ----------------------------------------------------------------------------
    def wants(self) -> bool:
        now = time.monotonic()
        with self._cond:
            return any(self._viewers.values()) or any(t > now for t in self._snapshot_until.values())

    def offer(self, plate_srgb: np.ndarray, alpha: np.ndarray, composite_srgb: np.ndarray) -> None:
        """Hand over one frame (float32, full size); scaled copies are taken, the caller keeps its
        buffers. An older frame not yet encoded is replaced. An anamorphic camera's frames are shown
        unsqueezed (what you see is what the delivery shows); clicks map back by fractions of the
        picture, so the page needs nothing else."""
        h, w = alpha.shape
        shown_w = w * self.pixel_aspect
        scale = min(1.0, self.width_px / shown_w)
        size = (max(2, round(shown_w * scale)), max(2, round(h * scale)))
        shrinking = size[0] <= w and size[1] <= h

        def fit(a: np.ndarray) -> np.ndarray:
            if size == (w, h):
                return a.copy()
            return cv2.resize(a, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)

        panels = _Panels(fit(plate_srgb), fit(alpha), fit(composite_srgb))
        with self._cond:
            self._pending = panels
            self._cond.notify_all()

    # -- viewer side ------------------------------------------------------------------------------
    def add_viewer(self, view: str, delta: int) -> None:
        with self._cond:
            self._viewers[view] += delta
            if delta > 0:
                self._show_again(view)

    def _show_again(self, view: str) -> None:
        """Encode the newest frame again for a view that has no picture of it. While no frame comes (the
        source lost) a view opened meanwhile got nothing: the page's picture never loaded and the
        browser kept showing it as loading. Called holding the lock."""
        seq = self._jpeg.get(view, (-1, b""))[0]
        if self._shown is not None and self._pending is None and seq < self._seq:
            self._pending = self._shown
            self._cond.notify_all()

    def viewers(self) -> int:
        with self._cond:
            return sum(self._viewers.values())

    def latest(self, view: str, after_seq: int = -1, timeout_s: float = _WAIT_S) -> tuple[int, bytes] | None:
        """The newest JPEG of ``view`` newer than ``after_seq``, waiting up to ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not self._closed:
                item = self._jpeg.get(view)
                if item is not None and item[0] > after_seq:
                    return item
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)
        return None

    def snapshot(self, view: str, timeout_s: float = 2.0) -> bytes | None:
        with self._cond:
            self._snapshot_until[view] = time.monotonic() + _SNAPSHOT_KEEP_S
            seq = self._seq
            self._show_again(view)
        item = self.latest(view, seq, timeout_s)
        return None if item is None else item[1]

    # -- encoder thread ---------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closed:
                    self._cond.wait(_WAIT_S)
                if self._closed:
                    return
                panels, self._pending = self._pending, None
                self._shown = panels
                now = time.monotonic()
                views = [v for v in VIEWS if self._viewers[v] > 0 or self._snapshot_until[v] > now]
            assert panels is not None
            encoded = {view: self._encode(self._picture(view, panels)) for view in views}
            with self._cond:
                self._seq += 1
                for view, data in encoded.items():
                    self._jpeg[view] = (self._seq, data)
                self._cond.notify_all()

    @staticmethod
    def _picture(view: str, p: _Panels) -> np.ndarray:
        matte = np.repeat(p.alpha[..., None], 3, axis=2)
        if view == "plate":
            return p.plate
        if view == "matte":
            return matte
        if view == "side":
            h, w = p.alpha.shape
            half = (max(2, w // 2), max(2, h // 2))
            tiles = [cv2.resize(a, half, interpolation=cv2.INTER_AREA) for a in (p.plate, matte, p.composite)]
            tiles.append(np.zeros_like(tiles[0]))
            return np.vstack([np.hstack(tiles[:2]), np.hstack(tiles[2:])])
        return p.composite

    def _encode(self, rgb_srgb: np.ndarray) -> bytes:
        rgb_u8 = to_code_values(np.ascontiguousarray(rgb_srgb, np.float32), np.uint8)
        bgr = cv2.cvtColor(rgb_u8, cv2.COLOR_RGB2BGR)
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
        return data.tobytes() if ok else b""

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._thread.join(timeout=2.0)


def _asset(name: str) -> bytes:
    return resources.files("guangying.live").joinpath("static", name).read_bytes()


_ASSETS = {"/": ("index.html", "text/html; charset=utf-8"), "/app.js": ("app.js", "text/javascript")}


_WAITING_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><meta http-equiv="refresh" content="1">
<title>Guangying live: waiting</title></head>
<body style="font-family:sans-serif;background:#111;color:#ddd;margin:3em">
<h1>Guangying live</h1><p>Waiting for {what}: its first picture. This page looks again every second.</p>
</body></html>"""

_KEY_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Guangying live: key</title>
<style>body {{ background: #111; color: #ddd; font: 16px system-ui, sans-serif; padding: 2em; }}
input, button {{ font-size: 1.2em; }} .wrong {{ color: #fc3; }}</style></head><body>
<p>This monitor asks for its key. <code>guangying live</code> printed it with the monitor's address
(<code>…/?key=…</code>); on the laptop it is kept in <code>~/.config/guangying/monitor-key</code>.</p>{wrong}
<form method="get" action="/"><input name="key" autofocus autocomplete="off" autocapitalize="off"
spellcheck="false" aria-label="key"> <button>Open</button></form></body></html>"""


class _Server(ThreadingHTTPServer):
    access: MonitorAccess  # set once the port is bound: the key's cookie is named after it

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A reload or a closed tab resets its connections, some before their request line; the
        # stdlib printed a traceback for each into the operator's terminal.
        if isinstance(sys.exc_info()[1], OSError):  # (ConnectionError, TimeoutError, a timed-out socket)
            return
        super().handle_error(request, client_address)


def _handler(feed: MonitorFeed, control: MonitorControl, closing: threading.Event) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "guangying-live"
        timeout = IDLE_TIMEOUT_S

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
            pass  # the console shows the take's status, not every request

        def _send(self, body: bytes, content_type: str, status: int = 200, extra: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for key, value in (extra or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _json(self, data: Any, status: int = 200) -> None:
            self._send(json.dumps(data).encode(), "application/json", status)

        def _view(self, query: dict[str, list[str]]) -> str | None:
            view = query.get("view", ["composite"])[0]
            if view not in VIEWS:
                self._json({"error": f"unknown view '{view}': use {', '.join(VIEWS)}"}, 400)
                return None
            return view

        @property
        def _access(self) -> MonitorAccess:
            return cast(_Server, self.server).access

        def _refused(self, path: str, query: dict[str, list[str]], acting: bool) -> bool:
            denied = self._access.check(self.headers, query, acting)
            if denied is None:
                return False
            status, why = denied
            self.close_connection = True  # an action's body is left unread
            if status == HTTPStatus.UNAUTHORIZED and path == "/" and not acting:
                wrong = '<p class="wrong">That is not the key.</p>' if "key" in query else ""
                self._send(_KEY_PAGE.format(wrong=wrong).encode(), "text/html; charset=utf-8", status)
            else:
                self._json({"error": why}, status)
            return True

        def do_GET(self) -> None:  # noqa: N802 (stdlib name)
            url = urlparse(self.path)
            query = parse_qs(url.query)
            try:
                if self._refused(url.path, query, acting=False):
                    return
                if url.path == "/" and "key" in query:  # the printed address: the browser keeps the key
                    self._send(b"", "text/plain", HTTPStatus.SEE_OTHER,
                               {"Location": "/", "Set-Cookie": self._access.cookie()})
                elif url.path in _ASSETS:
                    name, kind = _ASSETS[url.path]
                    self._send(_asset(name), kind)
                elif url.path == "/stats.json":
                    self._json(control.stats())
                elif url.path == "/settings.json":
                    self._json(control.settings_json())
                elif url.path == "/settings.yaml":
                    disposition = {"Content-Disposition": 'attachment; filename="live-look.yaml"'}
                    self._send(control.settings_yaml().encode(), "application/x-yaml", extra=disposition)
                elif url.path == "/frame.jpg":
                    view = self._view(query)
                    if view is None:
                        return
                    data = feed.snapshot(view)
                    if data is None:
                        self._json({"error": "no picture yet"}, 503)
                    else:
                        self._send(data, "image/jpeg")
                elif url.path == "/stream.mjpg":
                    view = self._view(query)
                    if view is not None:
                        self._stream(view)
                else:
                    self._json({"error": f"no such page {url.path}"}, 404)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass  # the browser went away

        def _stream(self, view: str) -> None:
            if feed.viewers() >= MAX_VIEWERS:
                said = f"{MAX_VIEWERS} viewers watch this take already, the most it serves; close one"
                self._json({"error": said}, HTTPStatus.SERVICE_UNAVAILABLE)
                return
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            feed.add_viewer(view, +1)
            try:
                seq = -1
                while not closing.is_set():
                    item = feed.latest(view, seq)
                    if item is None:
                        if self._client_gone():
                            return
                        continue
                    seq, data = item
                    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(data)}\r\n\r\n"
                    self.wfile.write(head.encode() + data + b"\r\n")
                    self.wfile.flush()
            finally:
                feed.add_viewer(view, -1)

        def _client_gone(self) -> bool:
            """Whether the viewer hung up. While no picture comes (the engine starting, the source lost)
            nothing is written, which is how a closed viewer is otherwise found: a thread and a socket
            were kept for each viewer that left meanwhile (a tablet reloading through an outage)."""
            try:
                readable, _, _ = select.select([self.connection], [], [], 0)
                # a viewer sends nothing after its request: readable is its hang-up (b"" or a reset)
                return bool(readable) and not self.connection.recv(1, socket.MSG_PEEK)
            except OSError:
                return True

        def do_POST(self) -> None:  # noqa: N802 (stdlib name)
            url = urlparse(self.path)
            try:
                if self._refused(url.path, parse_qs(url.query), acting=True):
                    return
                if self.headers.get("Transfer-Encoding"):  # a chunked body was left unread, taken as {}
                    self.close_connection = True
                    self._json({"error": "send the body with a Content-Length, not chunked"},
                               HTTPStatus.LENGTH_REQUIRED)
                    return
                claimed = self.headers.get("Content-Length") or "0"
                try:
                    length = int(claimed)
                except ValueError:  # said as "invalid literal for int() with base 10"
                    self.close_connection = True  # the body is left unread
                    raise ValueError(f"Content-Length {claimed[:20]!r} is not a number of bytes") from None
                if not 0 <= length <= MAX_ACTION_BYTES:
                    self.close_connection = True  # the claimed body is left unread
                    error = f"request body of {length} bytes: actions take at most {MAX_ACTION_BYTES} bytes"
                    self._json({"error": error}, HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
                    return
                data = self.rfile.read(length) if length else b""
                if len(data) < length:  # the client hung up mid-body: what came may parse, and was applied
                    self.close_connection = True
                    self._json({"error": f"the request's body ended after {len(data)} of the {length} bytes "
                                         "its Content-Length claims; nothing was applied"},
                               HTTPStatus.BAD_REQUEST)
                    return
                body = _json_body(data) if length else {}
                if not isinstance(body, dict):
                    raise ValueError("send a JSON object")
                def stop() -> dict[str, bool]:
                    control.request_stop()
                    return {"stopping": True}

                actions: dict[str, Callable[[], Any]] = {
                    "/settings": lambda: control.update_settings(body),
                    "/pick": lambda: control.pick_screen_colour(_pixel(body, "x"), _pixel(body, "y")),
                    "/save": control.save_settings,
                    "/stop": stop,
                }
                action = actions.get(url.path)
                if action is None:
                    self._json({"error": f"no such action {url.path}"}, 404)
                    return
                self._json(action())
            except json.JSONDecodeError as exc:  # said as Python's "Expecting value: line 1 column 1"
                self._json({"error": f"the request's body is not JSON ({exc.msg} at character {exc.pos})"},
                           HTTPStatus.BAD_REQUEST)
            except KeyError as exc:  # said as the bare key: "'x'"
                self._json({"error": f"{url.path} needs {exc.args[0]!r} in its JSON body"},
                           HTTPStatus.BAD_REQUEST)
            except (GuangyingError, ValueError, TypeError, RecursionError) as exc:
                self._json({"error": parse_problem(exc)}, HTTPStatus.BAD_REQUEST)
            except TimeoutError:
                # a body that stalled (a tablet on flaky Wi-Fi): the connection was left open, unanswered,
                # and its next read printed a traceback on the take's terminal
                self.close_connection = True
                with contextlib.suppress(OSError):
                    self._json({"error": "the request's body stopped coming; nothing was applied"},
                               HTTPStatus.REQUEST_TIMEOUT)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            except Exception as exc:  # a bug: the page waited on a dropped connection and said nothing
                traceback.print_exc()
                self._json({"error": f"a bug in Guangying ({type(exc).__name__}: {str(exc)[:200]}); the "
                            "take goes on"}, HTTPStatus.INTERNAL_SERVER_ERROR)

    return Handler


def _json_body(data: bytes) -> Any:  # noqa: ANN401 (what the page sent)
    try:
        return json.loads(data or b"{}")
    except json.JSONDecodeError:
        raise
    except UnicodeDecodeError:  # a ValueError too: it was said to hold "a number too long to read"
        raise ValueError("the request's body is not UTF-8 text (JSON is)") from None
    except ValueError as exc:  # Python's own words: "… use sys.set_int_max_str_digits() …"
        raise ValueError("the request's body holds a number too long to read") from exc


def _pixel(body: dict[str, Any], key: str) -> float:
    """``body[key]`` as a pixel coordinate: a number (a 400-digit one crashed the handler with a traceback
    on the take's terminal; a string was said as "could not convert string to float")."""
    value = body[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key!r} must be a number of pixels, not {type(value).__name__}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{key!r} lies outside any picture") from None


def _bind(host: str, port: int, handler: type, listening: socket.socket | None = None) -> _Server:
    if listening is not None:  # the waiting page's socket, its queued connections with it
        server = _Server((host, port), handler, bind_and_activate=False)
        server.socket.close()
        server.socket = listening
        server.server_address = listening.getsockname()[:2]
        server.server_name, server.server_port = host, server.server_address[1]
        server.daemon_threads = True
        return server
    try:
        server = _Server((host, port), handler)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise DeviceError(
                f"port {port} on {host} is already in use (another guangying live or web server?); "
                "choose another with --port"
            ) from exc
        raise DeviceError(f"cannot serve the monitor on {host}:{port}: {exc}") from exc
    server.daemon_threads = True
    return server


def opening_urls(host: str, port: int, key: str | None) -> list[str]:
    """The addresses to open the monitor at, each with the key when there is one: on this machine, and
    on the set's network when served on all addresses."""
    hosts = ["127.0.0.1" if host in ("0.0.0.0", "") else host]
    if host in ("0.0.0.0", ""):
        network = address_on_the_network()
        hosts += [network] if network else []
    suffix = f"?key={key}" if key else ""
    return [f"http://{name}:{port}/{suffix}" for name in hosts]


class WaitingPage:
    """The monitor's address while the take waits for its source's first picture (a camera or stream
    not yet sending): a page that says so and looks again every second, until the monitor takes its
    place on the same port. Before, the address refused connections until the first picture, and a
    director who opened it early saw the browser's error. It shows nothing of the take."""

    def __init__(self, host: str, port: int, waiting_for: str) -> None:
        body = _WAITING_PAGE.format(what=html.escape(waiting_for)).encode()
        state = json.dumps({"state": "waiting", "message": f"waiting for {waiting_for}"}).encode()

        class Handler(BaseHTTPRequestHandler):
            # HTTP/1.0: each reload on a new connection. One kept open went on being answered by this
            # page after the monitor had taken the port, and the page stayed "waiting"
            timeout = IDLE_TIMEOUT_S

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
                pass

            def do_GET(self) -> None:  # noqa: N802 (stdlib name)
                is_stats = urlparse(self.path).path == "/stats.json"
                data, kind = (state, "application/json") if is_stats else (body, "text/html; charset=utf-8")
                try:
                    self.send_response(HTTPStatus.OK)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(data)))
                    self.send_header("Cache-Control", "no-store")
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError, TimeoutError):
                    pass

        self._server = _bind(host, port, Handler)
        self.port = self._server.server_address[1]
        self._handed = False
        self._thread = threading.Thread(target=self._server.serve_forever, name="guangying-waiting",
                                        daemon=True)
        self._thread.start()

    def hand_over(self) -> socket.socket:
        """Stop answering and give the listening socket to the monitor: closed and bound again, the
        port refused connections in between (a browser's reload then showed its error page)."""
        self._stop_serving()
        self._handed = True
        return self._server.socket

    def _stop_serving(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=2.0)

    def close(self) -> None:
        """Free the port; a second call, or one after :meth:`hand_over`, does nothing."""
        self._stop_serving()
        if not self._handed:
            self._server.server_close()


class MonitorServer:
    """``http://HOST:PORT/``: the page, ``/stream.mjpg?view=…``, ``/frame.jpg``, ``/stats.json``,
    ``/settings.json`` and the POST actions (``/settings``, ``/pick``, ``/save``, ``/stop``)."""

    def __init__(self, feed: MonitorFeed, control: MonitorControl, host: str = "127.0.0.1", port: int = 8080,
                 key: str | None = None, listening: socket.socket | None = None):
        """``listening``: a bound, listening socket to serve on (:meth:`WaitingPage.hand_over`'s)."""
        self.closing = threading.Event()
        self._server = _bind(host, port, _handler(feed, control, self.closing), listening)
        self.host, self.port, self.key = host, self._server.server_address[1], key
        self._server.access = MonitorAccess(names_of_this_machine(host), key, self.port)
        self._thread = threading.Thread(target=self._server.serve_forever, name="guangying-http", daemon=True)

    @property
    def url(self) -> str:
        """The monitor's address on this machine, without its key."""
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}/"

    def opening_urls(self) -> list[str]:
        """The addresses to open the page at (:func:`opening_urls`)."""
        return opening_urls(self.host, self.port, self.key)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self.closing.set()
        if self._thread.is_alive():  # shutdown() waits for a serve loop, forever if none was started
            self._server.shutdown()
            self._thread.join(timeout=2.0)
        self._server.server_close()
