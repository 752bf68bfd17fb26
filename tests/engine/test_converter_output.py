"""The converter holds a combiner candidate's code: what it leaves as its output is the candidate's to choose, and the
host must take only a plain file from it (never follow a link it made to a host file)."""

from __future__ import annotations

import asyncio
import shutil
import sys
from pathlib import Path

import pytest

from mkb_tui.device import sandbox
from mkb_tui.engine import converter

pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(not sandbox.status().usable or shutil.which("python3") is None,
                                reason="needs bubblewrap and a system python3")]  # fmt: skip

FAKE = """#!/usr/bin/python3
import os, sys
out = sys.argv[sys.argv.index("--MNNModel") + 1]
MODE
print("Converted Success")
"""


def _convert(tmp_path: Path, mode: str) -> tuple[Path, object]:
    secret = tmp_path / "host_secret.txt"  # a host file outside the converter's view
    secret.write_text("MKB_HOST_SECRET\n")
    exe_dir = tmp_path / "converter"
    exe_dir.mkdir()
    exe = exe_dir / "MNNConvert"
    exe.write_text(FAKE.replace("MODE", mode.replace("@SECRET@", str(secret))))
    exe.chmod(0o755)
    onnx = tmp_path / "model.onnx"
    onnx.write_text("onnx\n")
    out = tmp_path / "models" / "task-candidate.mnn"
    proc = asyncio.run(converter.run_converter(exe, onnx, out, (), timeout=60))
    return out, proc


@pytest.mark.parametrize("mode", [
    "os.symlink('@SECRET@', out)",  # a link to a host file: the host would read (and push) the file it names
    "os.mkdir(out); open(os.path.join(out, 'x'), 'w').write('x')",  # a directory where the model should be
])  # fmt: skip
def test_only_a_plain_file_is_taken_from_the_converter(tmp_path, mode):
    out, proc = _convert(tmp_path, mode)
    assert not out.is_symlink() and not out.exists(), proc.stderr
    assert not converter.converted(proc, out)
    assert "not a plain file" in proc.stderr


def test_a_plain_model_file_is_taken(tmp_path):
    out, proc = _convert(tmp_path, "open(out, 'w').write('model')")
    assert converter.converted(proc, out) and out.read_text() == "model", (proc.stdout, proc.stderr)
