"""`mkb-tui serve` in a subprocess on a free loopback port: the real command, as a user starts it (tests, figures)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def spawn_service(args: list[str], env: dict[str, str] | None = None, timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """Start `mkb-tui serve --port 0 ARGS`; (the process, its URL) once uvicorn says where it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "mkb_tui.cli.main", "serve", "--port", "0", "--log-level", "info", *args],
                            env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})}, cwd=REPO, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        lines.append(line)
        found = re.search(r"running on http://127\.0\.0\.1:(\d+)", line)
        if found:  # keep reading its log, or a full pipe would block the service
            threading.Thread(target=lambda: [None for _ in proc.stderr], daemon=True).start()
            return proc, f"http://127.0.0.1:{found.group(1)}"
        if not line and proc.poll() is not None:
            break
    proc.kill()
    raise RuntimeError("the service did not start:\n" + "".join(lines[-30:]))
