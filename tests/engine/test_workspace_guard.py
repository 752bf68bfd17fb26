"""The workspace's source tree is held to its manifest and its build dirs to their sealed state (no MNN needed: a
small tree stands for MNN's)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from mkb_tui.engine import tree_guard as guard
from mkb_tui.engine.slots import workspace_seed_files
from mkb_tui.engine.workspace import Workspace

NATIVE = "source/backend/cpu/CPUThing.cpp"


@pytest.fixture
def ws(tmp_path) -> Workspace:
    pristine = tmp_path / "pristine"
    for rel, text in {NATIVE: "// native\nint thing();\n", "include/MNN/Tensor.hpp": "// tensor\n", "source/core/Macro.h": "#define M 1\n"}.items():
        (pristine / rel).parent.mkdir(parents=True, exist_ok=True)
        (pristine / rel).write_text(text)
    os.symlink("Tensor.hpp", pristine / "include/MNN/TensorLink.hpp")
    workspace = Workspace(tmp_path / "ws", SimpleNamespace(root=pristine), SimpleNamespace(name="host"))
    shutil.copytree(pristine, workspace.src, symlinks=True)
    for rel, text in workspace_seed_files().items():
        (workspace.src / rel).parent.mkdir(parents=True, exist_ok=True)
        (workspace.src / rel).write_text(text)
    workspace._write_state([])
    workspace._record_all()
    (workspace.root / "build-host").mkdir()
    (workspace.root / "build-host" / "thing.o").write_bytes(b"object")
    return workspace


def _mtime(path: Path) -> int:
    return path.stat().st_mtime_ns


def test_placement_writes_only_what_changes(ws):
    cand = "source/backend/cpu/MKBCandidate.cpp"
    ws.place({cand: "// one\n", NATIVE: "// dispatching native\n"})
    native_mtime, cand_mtime = _mtime(ws.src / NATIVE), _mtime(ws.src / cand)
    ws.place({cand: "// two\n", NATIVE: "// dispatching native\n"})  # the same task, a new candidate
    assert _mtime(ws.src / NATIVE) == native_mtime  # unchanged: kept, so ninja does not rebuild it
    assert (ws.src / cand).read_text() == "// two\n" and _mtime(ws.src / cand) != cand_mtime
    ws.place({cand: "// three\n"})  # another task: the native file goes back to pristine
    assert (ws.src / NATIVE).read_text() == "// native\nint thing();\n"
    assert not ws.check().damaged  # the harness's own writes are recorded


def test_planted_and_changed_files_are_undone(ws):
    ws.place({"source/backend/cpu/MKBCandidate.cpp": "// candidate\n"})
    (ws.src / "include/vector").write_text("#error planted\n")  # shadows a system header for later builds
    (ws.src / "include/sys").mkdir()
    (ws.src / "include/sys/stat.h").write_text("#error planted\n")
    macro = ws.src / "source/core/Macro.h"
    st = macro.stat()
    macro.write_text("#define M 2\n")  # the same size...
    os.utime(macro, ns=(st.st_atime_ns, st.st_mtime_ns))  # ...and the same mtime: only ctime tells
    (ws.src / "include/MNN/Tensor.hpp").unlink()
    (ws.src / "include/MNN/TensorLink.hpp").unlink()
    os.symlink("/etc/passwd", ws.src / "include/MNN/TensorLink.hpp")
    report = ws.check()
    assert sorted(report.removed) == ["include/sys", "include/vector"]
    assert sorted(report.restored) == ["include/MNN/Tensor.hpp", "include/MNN/TensorLink.hpp", "source/core/Macro.h"]
    assert not (ws.src / "include/vector").exists() and not (ws.src / "include/sys").exists()
    assert macro.read_text() == "#define M 1\n" and macro.stat().st_mtime_ns == st.st_mtime_ns  # pristine mtime: no rebuild
    assert os.readlink(ws.src / "include/MNN/TensorLink.hpp") == "Tensor.hpp"
    assert (ws.src / "include/MNN/Tensor.hpp").read_text() == "// tensor\n"
    assert not ws.check().damaged  # and it stays put right


def test_a_touched_file_is_not_damage(ws):
    path = ws.src / "source/core/Macro.h"
    os.utime(path, ns=(1, 1))
    report = ws.check()
    assert not report.damaged and report.touched == ["source/core/Macro.h"]


def test_a_changed_placed_file_goes_back_and_is_placed_again(ws):
    cand = "source/backend/cpu/MKBCandidate.cpp"
    ws.place({cand: "// honest\n"})
    (ws.src / cand).write_text("// rewritten by the candidate's process\n")
    assert ws.check().restored == [cand]
    ws.place({cand: "// honest\n"})
    assert (ws.src / cand).read_text() == "// honest\n"


def test_sealed_build_dir_changes_are_dropped(ws):
    build = ws.root / "build-host"
    ws.seal(build)
    (build / "thing.o").write_bytes(b"evil!!")
    (build / "stdio.h").write_text("#error planted\n")
    report = Workspace(ws.root, ws.mnn, ws.target).check()  # a new process finds what the sealed state was
    assert "build-host/stdio.h" in report.removed and "build-host/thing.o" in report.restored
    assert not (build / "thing.o").exists() and not (build / "stdio.h").exists()  # ninja makes the object again
    assert not list(ws.root.glob("sealed-*.json"))


def test_a_workspace_without_manifest_is_audited_against_pristine(ws):
    ws.manifest_file.unlink()
    (ws.src / "source/core/Macro.h").write_text("#define M 2\n")
    (ws.src / "include/stdio.h").write_text("#error planted\n")
    fresh = Workspace(ws.root, ws.mnn, ws.target)
    fresh.check()
    assert (ws.src / "source/core/Macro.h").read_text() == "#define M 1\n"
    assert not (ws.src / "include/stdio.h").exists()
    assert guard.load_manifest(ws.manifest_file) is not None


def test_placing_outside_the_tree_is_refused(ws):
    with pytest.raises(ValueError, match="outside the MNN tree"):
        ws.place({"../../escape.cpp": "x"})


def test_permissions_are_held_too(ws):
    header = ws.src / "source/core/Macro.h"
    folder = ws.src / "include/MNN"
    os.chmod(header, 0o000)
    os.chmod(folder, 0o700)
    report = ws.check()
    assert sorted(report.restored) == ["include/MNN", "source/core/Macro.h"]
    assert header.stat().st_mode & 0o777 == (ws.mnn.root / "source/core/Macro.h").stat().st_mode & 0o777
    assert folder.stat().st_mode & 0o777 == (ws.mnn.root / "include/MNN").stat().st_mode & 0o777


def test_an_unwritable_planted_directory_still_goes(ws):
    planted = ws.src / "include/shadow"
    planted.mkdir()
    (planted / "cmath").write_text("#error planted\n")
    os.chmod(planted, 0o500)
    assert ws.check().removed == ["include/shadow"] and not planted.exists()


def test_another_holder_s_placement_is_not_taken_for_damage(ws):
    """Two processes share a workspace in turn (the app and a batch run): each reads the other's record on locking."""
    import asyncio

    other = Workspace(ws.root, ws.mnn, ws.target)
    asyncio.run(ws.lock())
    ws.place({"source/backend/cpu/MKBCandidate.cpp": "// first holder\n", NATIVE: "// dispatching\n"})
    ws.unlock()
    asyncio.run(other.lock())
    other.place({"source/backend/cpu/MKBCandidate.cpp": "// second holder\n"})
    other.unlock()
    asyncio.run(ws.lock())
    assert not ws.check().damaged
    ws.unlock()
