"""Harness integrity through the real pipeline on the host: nothing a candidate's process writes (a header planted in
the workspace, a device input rewritten with its size and mtime kept) is read by a later evaluation, and placing a new
candidate of the same task does not rewrite the files that stay the same (so ninja rebuilds only the candidate)."""

from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import pytest

from tests.adversarial.kernels import CORRECT, HEAD, kernel
from tests.mnn_fixtures import evaluate


@pytest.fixture
def pipeline(workspace_pipeline):
    """About the workspace path (tests/engine/test_plugin_path.py holds the plug-in path to the same)."""
    return workspace_pipeline

CPP = "source/backend/cpu/MKBCandidate.cpp"
LAYERNORM = (Path(__file__).resolve().parents[2] / "bench/kernels/layernorm/MKBCandidate.cpp").read_text()
IO_HEAD = HEAD.replace("#include <cmath>", "#include <cmath>\n#include <cstdio>\n#include <cstdlib>\n#include <cstring>\n"
                       "#include <fcntl.h>\n#include <sys/stat.h>\n#include <unistd.h>\n#include <string>")  # fmt: skip

# Writes, from inside the runner, next to the library it was loaded from (LD_LIBRARY_PATH is the workspace's build dir):
# a header that shadows a system header for every later build, and a planted file in the build dir.
PLANTS_HEADERS = kernel(
    '        static bool done = false;\n'
    '        const char* lib = getenv("LD_LIBRARY_PATH");\n'
    '        if (!done && lib) {\n'
    '            done = true;\n'
    '            for (const char* rel : {"/../src/include/vector", "/../src/include/stdio.h", "/../src/source/core/mkb_planted.h", "/stdio.h"}) {\n'
    '                FILE* f = fopen((std::string(lib) + rel).c_str(), "w");\n'
    '                if (f) { fputs("#error planted by an earlier candidate\\n", f); fclose(f); }\n'
    '            }\n'
    '        }\n'
    "        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n",
    head=IO_HEAD,
)

# Rewrites the device copies of its inputs (every file under the device work dir's inputs/, its cwd) with their size
# and mtime kept.
DAMAGES_INPUTS = kernel(
    "        static bool done = false;\n"
    "        if (!done) {\n"
    "            done = true;\n"
    '            DIR* top = opendir("inputs");\n'
    "            for (struct dirent* task = top ? readdir(top) : nullptr; task; task = readdir(top)) {\n"
    "                if (task->d_name[0] == '.') continue;\n"
    '                std::string folder = std::string("inputs/") + task->d_name;\n'
    "                DIR* dir = opendir(folder.c_str());\n"
    "                for (struct dirent* file = dir ? readdir(dir) : nullptr; file; file = readdir(dir)) {\n"
    "                    if (file->d_name[0] == '.') continue;\n"
    '                    std::string path = folder + "/" + file->d_name;\n'
    "                    struct stat st;\n"
    "                    int in = open(path.c_str(), O_RDWR);\n"
    "                    if (in >= 0 && fstat(in, &st) == 0 && st.st_size > 64) {\n"
    "                        char zeros[64] = {0};\n"
    "                        pwrite(in, zeros, sizeof(zeros), st.st_size - 64);\n"
    "                        struct timespec times[2] = {st.st_atim, st.st_mtim};\n"
    "                        futimens(in, times);\n"
    "                    }\n"
    "                    if (in >= 0) close(in);\n"
    "                }\n"
    "                if (dir) closedir(dir);\n"
    "            }\n"
    "            if (top) closedir(top);\n"
    "        }\n"
    "        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n",
    head=IO_HEAD.replace("#include <fcntl.h>", "#include <dirent.h>\n#include <fcntl.h>"),
)


@pytest.fixture
def past_the_checks(monkeypatch, pipeline):
    """The source and object checks off, as for a candidate that got past them, and its runs uncontained, as on a
    machine without bubblewrap (whose read-only binds would stop these writes first): the integrity checks must hold
    alone."""
    from mkb_tui.engine.pipeline import Pipeline

    monkeypatch.setattr(pipeline.device, "contained", False)

    async def not_rejected(*args, **kwargs) -> bool:
        return False

    monkeypatch.setattr(Pipeline, "_rejected_after_build", not_rejected)


def _workspace(pipeline):
    from mkb_tui.engine.workspace import Workspace

    pool = pipeline.pool  # its first workspace (made on first use), by its place
    return Workspace(pool.base / f"{pool.name}0", pool.mnn, pool.target)


def _variant(k: int) -> str:
    return LAYERNORM.replace("1.0f / std::sqrt", f"(1.0f + 0.0f * {k}) / std::sqrt")  # new text: a real rebuild


def test_a_second_candidate_rebuilds_only_itself(pipeline):
    from mkb_tui.engine.slots import DISPATCH_CPP, slot_for
    from mkb_tui.bench.tasks import get_task

    native = slot_for(get_task("layernorm_bert"), pipeline.mnn.root).native_files[0]
    first = evaluate(pipeline, "layernorm_bert", {CPP: _variant(1)})
    assert first.kind.value == "correct", (first.message, first.log[-2000:])
    ws = _workspace(pipeline)
    kept = {rel: (ws.src / rel).stat().st_mtime_ns for rel in (native, DISPATCH_CPP)}
    second = evaluate(pipeline, "layernorm_bert", {CPP: _variant(2)})
    assert second.kind.value == "correct", second.message
    assert {rel: (ws.src / rel).stat().st_mtime_ns for rel in kept} == kept  # not rewritten: ninja leaves them
    assert "MKBCandidate.cpp" in (ws.build_dir / ".ninja_log").read_text().splitlines()[-2]  # the candidate was rebuilt
    assert {"place", "build", "push", "verify", "time", "restore"} <= second.phases.keys()
    assert all(seconds >= 0 for seconds in second.phases.values())


def test_files_planted_by_a_run_are_removed_and_later_builds_are_clean(pipeline, past_the_checks):
    ws = _workspace(pipeline)
    # the runner loads a copy of the library from the device's work dir, so the workspace is named outright here
    planting = PLANTS_HEADERS.replace('getenv("LD_LIBRARY_PATH")', json.dumps(str(ws.build_dir)))
    planter = evaluate(pipeline, "abs", {CPP: planting}, static=False)
    assert not (ws.src / "include/vector").exists() and not (ws.src / "include/stdio.h").exists()
    assert not (ws.src / "source/core/mkb_planted.h").exists() and not (ws.build_dir / "stdio.h").exists()
    assert planter.kind.value in ("rejected", "runtime_error"), planter.message  # never correct
    if "workspace_restored" in planter.flags:  # it ran and wrote (no sandbox stopped it): rejected for it
        assert planter.kind.value == "rejected" and "include/vector" in planter.message
    # an honest kernel of the same task and one of another task, in the same workspace, are still correct
    honest = evaluate(pipeline, "abs", {CPP: CORRECT})
    assert honest.kind.value == "correct", (honest.message, honest.log[-2000:])
    other = evaluate(pipeline, "layernorm_bert", {CPP: _variant(3)})
    assert other.kind.value == "correct", (other.message, other.log[-2000:])


def test_a_file_written_after_the_evaluation_is_found_before_the_next_build(pipeline):
    """A writer that outlived its evaluation (no sandbox): the check before the next placement undoes its work."""
    evaluate(pipeline, "abs", {CPP: CORRECT})
    ws = _workspace(pipeline)
    (ws.src / "include/vector").write_text("#error planted late\n")
    macro = ws.src / "source/core/Macro.h"
    st = macro.stat()
    original = macro.read_bytes()
    macro.write_bytes(b"#error" + original[6:])  # same size, mtime put back
    os.utime(macro, ns=(st.st_atime_ns, st.st_mtime_ns))
    verdict = evaluate(pipeline, "abs", {CPP: CORRECT.replace("std::fabs(src[i])", "std::fabs(src[i]) + 0.0f")})
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])
    assert macro.read_bytes() == original and not (ws.src / "include/vector").exists()


def test_a_damaged_device_input_is_restored_before_the_next_run(pipeline, past_the_checks):
    from mkb_tui.bench.references import reference_case
    from mkb_tui.bench.tasks import get_task

    task = get_task("abs")
    damager = evaluate(pipeline, "abs", {CPP: DAMAGES_INPUTS}, static=False)
    if pipeline.device.channel:
        # plan 2: the supervisor hands each run its input; no input file lies on the device for a run to damage
        assert not list(pipeline.device.workdir.glob(f"inputs/{task.id}-*/*.mkbt"))
        assert damager.kind.value in ("correct", "rejected"), damager.message
        assert evaluate(pipeline, "abs", {CPP: CORRECT}).kind.value == "correct"
        return
    if "device_inputs_restored" in damager.flags:  # it ran and wrote (no sandbox stopped it): caught at the next run
        assert damager.kind.value == "rejected" and f"inputs/{task.id}-" in damager.message, damager.message
    assert not damager.correct
    honest = evaluate(pipeline, "abs", {CPP: CORRECT})
    assert honest.kind.value == "correct", honest.message
    for seed in task.seeds:  # the device copies hold the inputs again
        case = reference_case(task, seed)
        copy = pipeline.device.workdir / f"inputs/{task.id}-{task.content_hash}/seed{seed}.mkbt"
        assert copy.read_bytes() == case.inputs_path.read_bytes()
