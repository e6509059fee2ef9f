"""Debian's chromium, driven by Playwright, on the live monitor: the picture moves, a slider changes
the matte, the look is saved, reloading does not disturb the take, and a lost source is announced."""

from __future__ import annotations

import contextlib
import shutil
import socket
import time

import cv2
import numpy as np
import pytest
from live_helpers import LiveProcess, UdpSender, free_port, wait_until_live

from guangying.cli.main import load_config

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright not installed (make test installs the 'live' extra)"
)
pytestmark = pytest.mark.skipif(
    not shutil.which("chromium") and not __import__("os").path.exists(CHROMIUM),
    reason="Debian chromium not installed (make test installs it with apt where apt is available)",
)


@contextlib.contextmanager
def _chromium(tmp_path):  # type: ignore[no-untyped-def]
    """Debian's chromium with a profile of its own, closed afterwards."""
    with sync_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "profile"), executable_path=CHROMIUM, headless=True, args=_ARGS
        )
        try:
            yield context
        finally:
            context.close()


@contextlib.contextmanager
def _monitor_page(live: LiveProcess, tmp_path):  # type: ignore[no-untyped-def]
    """(browser context, page, address) of ``live``'s monitor once its take runs; afterwards, that the
    page asked for nothing the monitor does not serve (its favicon was a 404 in the console)."""
    url = live.wait_url()
    wait_until_live(url)
    missing: list[str] = []
    with _chromium(tmp_path) as context:
        context.on("response", lambda response: response.status == 404 and missing.append(response.url))
        page = context.new_page()
        page.goto(url)
        yield context, page, url
    assert not missing, missing


def _mean(png: bytes) -> float:
    return float(cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_GRAYSCALE).mean())


def test_monitor_page_in_chromium(plate_frames, tmp_path):
    port = free_port(socket.SOCK_DGRAM)
    live = LiveProcess(
        f"udp://127.0.0.1:{port}", "--port", 0, "--source-timeout", 30, "--lost-timeout", 1, "-b", "black",
        "--settings-out", tmp_path / "look.yaml", cwd=tmp_path,
    )
    sender = UdpSender(plate_frames, port, seconds=300)  # stopped below; long enough for a cold start
    sender.start()
    try:
        with _monitor_page(live, tmp_path) as (context, page, url):
            picture = page.locator("#live")
            page.wait_for_function("document.getElementById('live').naturalWidth > 0", timeout=20000)
            shots = [picture.screenshot()]
            time.sleep(0.4)
            shots.append(picture.screenshot())
            assert shots[0] != shots[1]  # the picture is live, not a still
            page.wait_for_function("document.getElementById('status').textContent.includes('fps')")
            # a second operator's tablet, open meanwhile: it kept showing the old look
            tablet = context.new_page()
            tablet.goto(url)
            tablet.wait_for_function("document.getElementById('grow_px') !== null")

            page.click("button[data-view=matte]")
            time.sleep(1.5)
            before = np.mean([_mean(picture.screenshot()) for _ in range(3)])
            box = page.locator("#grow_px").bounding_box()  # drag the slider to its left end:
            page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
            page.mouse.down()
            page.mouse.move(box["x"] - 20, box["y"] + box["height"] / 2, steps=5)
            page.mouse.up()  # grow_px −5: the matte is eroded by 5 px
            applied = "fetch('/stats.json').then(r => r.json()).then(s => s.settings_version >= 2)"
            page.wait_for_function(applied, timeout=10000)
            time.sleep(1.0)
            after = np.mean([_mean(picture.screenshot()) for _ in range(3)])
            assert after < 0.9 * before, (before, after)
            tablet.wait_for_function("document.getElementById('grow_px').value === '-5'", timeout=5000)
            assert tablet.locator("#grow_px + output").text_content() == "-5"
            tablet.close()

            page.click("#save")
            page.wait_for_function("document.getElementById('saved').textContent.includes('saved')")
            look = load_config(tmp_path / "look.yaml")
            assert look["grow_px"] == -5.0 and look["background"] == "black"

            for _ in range(3):  # a tablet reloading the page
                page.reload()
                page.wait_for_function("document.getElementById('live').naturalWidth > 0", timeout=20000)

            sender.stop_now.set()  # the camera cable is pulled
            page.wait_for_function(
                "document.getElementById('banner').textContent.includes('SOURCE LOST')", timeout=15000
            )
        code = live.wait(timeout_s=30)
    finally:
        sender.stop_now.set()
        live.kill()
    assert code != 0 and "source lost" in live.output


def test_a_page_of_another_site_cannot_stop_the_take(plate_clip, tmp_path):
    """A web page open in the same browser as the monitor (a second tab, an ad) posts to the monitor's
    /stop, as a cross-site form or a no-cors fetch: the browser sends such requests without asking.
    Before, the take ended. The attacker's page is served on another port of 127.0.0.1 (another
    origin), and real chromium sends its requests."""
    import json
    import threading
    import urllib.request
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    live = LiveProcess(plate_clip, "--loop", "--port", 0, "-b", "black", cwd=tmp_path)
    try:
        url = live.wait_url()
        wait_until_live(url)
        attack = f"""<html><body><iframe name=sink></iframe>
<form id=f method=post action="{url}stop" target=sink enctype="text/plain"><input name=a value=b></form>
<script>
fetch("{url}stop", {{method: "POST", mode: "no-cors", body: "{{}}"}})
  .then(() => fetch("{url}settings", {{method: "POST", mode: "no-cors", body: '{{"screen_gain": 3}}'}}))
  .then(() => {{ document.getElementById("f").submit(); window.sent = true; }});
</script></body></html>""".encode()

        class Attacker(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(attack)))
                self.end_headers()
                self.wfile.write(attack)

            def log_message(self, *args: object) -> None:
                pass

        site = ThreadingHTTPServer(("127.0.0.1", 0), Attacker)
        threading.Thread(target=site.serve_forever, daemon=True).start()
        try:
            with _chromium(tmp_path) as context:
                page = context.new_page()
                page.goto(f"http://127.0.0.1:{site.server_address[1]}/")
                page.wait_for_function("window.sent === true", timeout=15000)
                time.sleep(2.0)  # the form's post lands
        finally:
            site.shutdown()
            site.server_close()
        with urllib.request.urlopen(url + "stats.json", timeout=5) as response:
            stats = json.load(response)
        with urllib.request.urlopen(url + "settings.json", timeout=5) as response:
            values = json.load(response)["values"]
        assert stats["state"] == "live" and live.proc.poll() is None, live.output
        assert values.get("screen_gain") != 3
    finally:
        live.kill()


def _until_routed(page, routes: list) -> None:
    """Wait (10 s at most) until a held request reaches its route: Playwright hands routes over only as
    it reads the page's events, which can come after the page itself has moved on."""
    for _ in range(200):
        if routes:
            return
        page.wait_for_timeout(50)


def test_a_monitor_with_a_key_opens_by_its_address_or_its_key(plate_clip, tmp_path):
    """Served on the set's network the monitor asks for a key. A tablet opens the printed address and
    the browser keeps the key (a reload, a new tab of the same browser: no key asked again); a browser
    without it gets a page asking for it, and typing it in opens the monitor. Its stop button works as
    soon as the page's script has run, before the page's settings have arrived, and shows as disabled
    until then."""
    key = "tablet-key-2026"
    live = LiveProcess(plate_clip, "--loop", "--port", 0, "-b", "black", "--monitor-key", key, cwd=tmp_path)
    try:
        url = live.wait_url()
        assert f"monitor: {url}?key={key}" in live.output
        wait_until_live(url, key=key)
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=_ARGS)
            try:
                tablet = browser.new_context()
                page = tablet.new_page()
                page.goto(f"{url}?key={key}")
                assert page.url == url  # the key left the address bar
                page.wait_for_function("document.getElementById('live').naturalWidth > 0", timeout=20000)
                page.wait_for_function("document.getElementById('status').textContent.includes('fps')")
                again = tablet.new_page()
                again.goto(url)  # a bookmark without the key, in the same browser
                again.wait_for_function("document.getElementById('live').naturalWidth > 0", timeout=20000)

                stranger_browser = browser.new_context()
                # the stranger's script and settings arrive late: the page shows its picture first
                held: list = []
                script: list = []
                stranger_browser.route("**/settings.json", lambda route: held.append(route))
                stranger_browser.route("**/app.js", lambda route: script.append(route))
                stranger = stranger_browser.new_page()
                answer = stranger.goto(url)
                assert answer is not None and answer.status == 401
                assert stranger.locator("#live").count() == 0
                stranger.fill("input[name=key]", "guessed-key-1")
                stranger.click("button")
                assert "not the key" in stranger.content()
                stranger.fill("input[name=key]", key)
                stranger.click("button")
                stranger.wait_for_function("document.getElementById('live').naturalWidth > 0", timeout=20000)
                # a stop button with no script behind it looked ready and did nothing when pressed
                _until_routed(stranger, script)
                assert script and stranger.locator("#stop").is_disabled()
                script.pop().continue_()
                stranger.wait_for_function("!document.getElementById('stop').disabled")
                _until_routed(stranger, held)
                assert held  # the settings were asked for and are still held back
                stranger.click("#stop")  # the page's own controls work with the key, before the settings came
                assert live.wait(timeout_s=60) == 0, live.output
            finally:
                browser.close()
    finally:
        live.kill()


def test_sliders_show_a_look_started_outside_their_usual_range(plate_clip, tmp_path):
    """`live --screen-gain 3 --grow-px -10`: the page's sliders showed 2 and -5 (their ends), another look
    than the one on screen, and touching one jumped the real value into its range."""
    live = LiveProcess(plate_clip, "--loop", "--port", 0, "-b", "black", "--screen-gain", 3, "--grow-px", -10,
                       cwd=tmp_path)
    try:
        with _monitor_page(live, tmp_path) as (_, page, _):
            page.wait_for_function("document.getElementById('grow_px') !== null")
            shown = {name: (page.locator(f"#{name}").input_value(),
                            page.locator(f"#{name} + output").text_content())
                     for name in ("screen_gain", "grow_px")}
            assert shown == {"screen_gain": ("3", "3"), "grow_px": ("-10", "-10")}, shown
    finally:
        live.kill()
