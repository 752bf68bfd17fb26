"""`mkb-tui doctor` says what is set up and what to fix, without printing keys."""

import os
import subprocess
import sys


def test_doctor_reports_and_never_prints_keys(mnn):
    env = {**os.environ, "OPENAI_API_KEY": "sk-doctor-secret-123", "COLUMNS": "200"}
    env.pop("ANTHROPIC_API_KEY", None)
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "doctor", "--no-oracle"], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 1  # ANTHROPIC_API_KEY is missing: something to fix
    text = out.stdout
    assert "MNN source" in text and mnn.version in text
    assert "ANTHROPIC_API_KEY" in text and "export ANTHROPIC_API_KEY" in text
    assert "sk-doctor-secret-123" not in text + out.stderr
    assert "sandbox (bubblewrap)" in text and "sandbox: seccomp" in text and "sandbox: one core" in text
