"""A fake MNN tree in a test cache: just enough layout for slot lookup, with text written here (no MNN source)."""

from __future__ import annotations

import json
from pathlib import Path

FAKE_NATIVE_MARK = "fake native kernel written by the mkb-tui tests"


def make_fake_mnn(cache: Path, ref: str = "3.6.1") -> Path:
    home = cache / "mnn" / ref
    src = home / "src"
    cpu = src / "source" / "backend" / "cpu"
    cpu.mkdir(parents=True, exist_ok=True)
    (src / "CMakeLists.txt").write_text("# fake tree for tests\n")
    (cpu / "CPUUnary.cpp").write_text(
        f"// {FAKE_NATIVE_MARK}\n"
        "namespace MNN {\nclass FakeUnary {};\n}\n"
        "REGISTER_CPU_OP_CREATOR(FakeUnaryCreator, OpType_UnaryOp);\n"
    )
    (home / "mnn.json").write_text(json.dumps({"ref": ref, "version": ref, "origin": "tests"}))
    return src
