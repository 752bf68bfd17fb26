"""Killing a subprocess at a chosen point of a session: once a query on its database finds something (kill -9)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path


def kill_when_stored(proc: subprocess.Popen, db: Path, query: str, *, timeout: float = 300, poll: float = 0.02) -> None:
    """SIGKILL `proc` as soon as `query` (a SELECT count) returns a non-zero count, or at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        if db.exists():
            try:
                with sqlite3.connect(db) as con:
                    if con.execute(query).fetchone()[0]:
                        break
            except sqlite3.OperationalError:  # the database is being created
                pass
        time.sleep(poll)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
