"""SRT through the system's ffmpeg: PyAV's bundled ffmpeg is built without libsrt, so an ``srt://``
source or output is bridged to a local UDP MPEG-TS port by an ``ffmpeg -c copy`` process (no
re-encoding; it adds only a packet's worth of delay)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
from collections import deque

from guangying.base.errors import MediaError


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SrtRelay:
    """``ffmpeg`` copying MPEG-TS between ``srt_url`` and a local UDP port (``udp_url``).

    ``direction="in"``: SRT → UDP (a source); ``"out"``: UDP → SRT (an output).
    """

    def __init__(self, srt_url: str, direction: str) -> None:
        ffmpeg = shutil.which("ffmpeg")
        if ffmpeg is None:
            raise MediaError(
                f"{srt_url}: this PyAV build has no SRT, and there is no ffmpeg program to relay it "
                "(install ffmpeg, e.g. apt install ffmpeg, or use udp://)"
            )
        self.udp_url = f"udp://127.0.0.1:{_free_udp_port()}"
        local = self.udp_url + "?pkt_size=1316"
        source, target = (srt_url, local) if direction == "in" else (self.udp_url, srt_url)
        # Probe only a little: the default 5 s of analysis would hold the picture back that long. Not
        # "nobuffer", which drops what the probe read (a keyframe among it: the pictures began one
        # keyframe interval later).
        quick = ["-probesize", "200000", "-analyzeduration", "500000"]
        # -progress: ffmpeg reports only once both ends are open and packets flow, which tells a
        # connected relay from one still trying to reach its peer
        self._command = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
                         *quick, "-i", source, "-map", "0", "-c", "copy", "-f", "mpegts", target]
        self._start()
        if direction == "out":
            time.sleep(0.3)  # let ffmpeg bind its UDP input before the first packets arrive

    def _start(self) -> None:
        self.sending = False  # packets have reached the other end
        # what ffmpeg and libsrt say, for the error when the connection fails (a wrong passphrase
        # looked like a sender that was not there)
        self._said: deque[str] = deque(maxlen=20)
        self._proc = subprocess.Popen(
            self._command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._listener = threading.Thread(target=self._listen, args=(self._proc, self._said), daemon=True)
        self._listener.start()
        threading.Thread(target=self._watch_progress, args=(self._proc,), daemon=True).start()

    @staticmethod
    def _listen(proc: subprocess.Popen[bytes], said: deque[str]) -> None:
        assert proc.stderr is not None
        for raw in proc.stderr:
            said.append(raw.decode("utf-8", "replace").strip())

    def _watch_progress(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            if raw.startswith(b"total_size=") and raw[11:].strip() not in (b"0", b"N/A"):
                self.sending = proc is self._proc

    def restart(self) -> None:
        """Start ffmpeg again on the same local port, once the relay has ended (a receiver that was not
        listening yet, or restarted)."""
        if not self.alive():
            self._start()

    def alive(self) -> bool:
        return self._proc.poll() is None

    def keep_calling(self, until: threading.Event) -> None:
        """Call the sender again whenever a call ends unanswered, until ``until`` is set. ffmpeg's caller
        gives up after libsrt's 3 s connection timeout, so a take started before its encoder (OBS, a
        camera's SRT output) failed unless the encoder listened within 3 s. A refused passphrase is
        final: not called again."""

        def call_again() -> None:
            while not until.wait(0.25):
                if not self.alive():
                    self._listener.join(timeout=1.0)  # its last words read: a refusal among them?
                    if self.refused():
                        return
                    self.restart()

        threading.Thread(target=call_again, daemon=True).start()

    def refused(self) -> bool:
        """The sender refused this relay's passphrase (or its lack of one)."""
        refusals = ("Password required or unexpected", "ERROR:UNSECURE")
        return any(refusal in line for line in self._said for refusal in refusals)

    def failure(self) -> str | None:
        """Why the connection failed, in ffmpeg's and libsrt's words, once the relay has ended; None
        while it runs."""
        if self.alive():
            return None
        said = list(self._said)
        if self.refused():
            return ("the sender refused the connection: its passphrase and this one differ (or one side "
                    "has none); give the sender's as ?passphrase=… in the srt:// address")
        last = next((line for line in reversed(said) if line), None)
        return f"the SRT relay (ffmpeg) ended: {last}" if last else "the SRT relay (ffmpeg) ended"

    def close(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=3)
