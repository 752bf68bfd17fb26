"""Issue 18, finding 2, end to end: `replay` of a stored session whose answers, kernels and messages hold OSC 52
(a clipboard write), OSC 8 (a hyperlink) and other escapes, run in a real pseudo-terminal. None of the stored
sequences reaches the terminal: the bytes the app writes hold no clipboard write and no link to the stored URLs."""

from __future__ import annotations

import asyncio
import os
import re
import select
import signal
import subprocess
import sys
import time

import pytest

from .test_hostile_text import store_hostile

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a Linux pseudo-terminal")


def run_in_a_pty(args: list[str], env: dict[str, str], keys: list[bytes], seconds: float = 90.0) -> bytes:
    """Everything the process writes to its terminal while `keys` are typed (one every second once it has drawn)."""
    import fcntl
    import struct
    import termios

    leader, follower = os.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 150, 0, 0))
    proc = subprocess.Popen(args, stdin=follower, stdout=follower, stderr=follower, env=env, start_new_session=True, close_fds=True)
    os.close(follower)
    out = bytearray()
    deadline = time.monotonic() + seconds
    drawn_at = None
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the process ended and closed the terminal
                    break
                if not chunk:
                    break
                out += chunk
                if drawn_at is None and len(out) > 2000:
                    drawn_at = time.monotonic()
            if drawn_at is not None and keys and time.monotonic() - drawn_at > 1.0:
                os.write(leader, keys.pop(0))
                drawn_at = time.monotonic()
            if proc.poll() is not None and not ready:
                break
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        os.close(leader)
    return bytes(out)


def test_replay_writes_no_stored_escape_to_the_terminal(tmp_path):
    db = tmp_path / "h.sqlite"
    sid = asyncio.run(store_hostile(db))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "150", "LINES": "45", "MKB_CACHE_DIR": str(tmp_path / "cache"),
           "PYTHONPATH": os.getcwd(), "TEXTUAL": ""}  # fmt: skip
    # the panes the stored text lands in: conversation (1), kernel (2), errors (3), timing (4), then quit
    keys = [b"1", b"2", b"3", b"4", b"q"]
    out = run_in_a_pty([sys.executable, "-m", "mkb_tui", "replay", sid, "--db", str(db)], env, keys)
    assert len(out) > 5000, out[-500:]  # the app drew its screens
    assert b"\x1b]52" not in out  # no clipboard write
    assert not re.search(rb"\x1b]8;[^\x07\x1b]*;[^\x07\x1b]*e(vil)?\.example", out)  # no link to a stored URL
    assert b"aGVsbG8=" not in out or b"\xe2\x90\x9b]52" in out  # the clipboard payload, if shown, shown behind a visible ␛
