"""What keeps a second candidate fast: the precompiled prelude (a CPU candidate's compile reads MNN's backend header
precompiled; a prelude GCC cannot use changes nothing but the time) and one fast linker for both libraries of a timing."""

from __future__ import annotations

from pathlib import Path

import pytest

from mkb_tui.engine.prelude import PRELUDE_NAME, compile_flags
from tests.adversarial.kernels import CORRECT
from tests.mnn_fixtures import evaluate


@pytest.fixture
def pipeline(workspace_pipeline):
    """About the workspace path (tests/engine/test_plugin_path.py holds the plug-in path to the same)."""
    return workspace_pipeline

SLOT_CPP = "source/backend/cpu/MKBCandidate.cpp"


def test_compile_flags_keep_what_a_precompiled_header_must_share():
    command = ("/cache/launchers/compile_launcher-0123.sh /usr/bin/c++ -DMNN_USE_SSE -I/ws/src/include -O3 -fPIC -std=gnu++11 "
               "-MD -MT CMakeFiles/MNNCPU.dir/x/MKBCandidate.cpp.o -MF CMakeFiles/MNNCPU.dir/x/MKBCandidate.cpp.o.d "
               "-o CMakeFiles/MNNCPU.dir/x/MKBCandidate.cpp.o -c /ws/src/source/backend/cpu/MKBCandidate.cpp")
    assert compile_flags(command) == ["/usr/bin/c++", "-DMNN_USE_SSE", "-I/ws/src/include", "-O3", "-fPIC", "-std=gnu++11"]
    assert compile_flags("ccache /usr/bin/g++ -O2 -c a.cpp -o a.o") == ["/usr/bin/g++", "-O2"]
    assert compile_flags("c++ 'unbalanced") is None


def _workspace_files(pipeline, pattern: str) -> list[Path]:
    from mkb_tui.paths import scratch_dir

    return sorted((scratch_dir("workspaces") / pipeline.mnn.ref / "host").glob(pattern))


def test_a_candidate_compiles_against_the_precompiled_prelude(pipeline):
    verdict = evaluate(pipeline, "abs", {SLOT_CPP: CORRECT.replace("std::fabs(src[i])", "std::fabs(src[i]) + 0.0f * 1")})
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])
    precompiled = _workspace_files(pipeline, f"*/prelude/build-host/*/{PRELUDE_NAME}.gch")
    assert precompiled and precompiled[0].stat().st_size > 1 << 20
    units = _workspace_files(pipeline, "*/build-host/CMakeFiles/MNNCPU.dir/source/backend/cpu/MKBCandidate.cpp.ii")
    assert units and "#pragma GCC pch_preprocess" in units[0].read_text(errors="replace")  # GCC took the precompiled form


def test_a_prelude_gcc_cannot_use_is_read_as_text_and_judged_the_same(pipeline):
    evaluate(pipeline, "abs", {SLOT_CPP: CORRECT})  # the prelude exists
    for gch in _workspace_files(pipeline, f"*/prelude/build-host/*/{PRELUDE_NAME}.gch"):
        gch.write_bytes(b"not a precompiled header")
    try:
        verdict = evaluate(pipeline, "abs", {SLOT_CPP: CORRECT.replace("std::fabs(src[i])", "std::fabs(src[i]) + 0.0f * 2")})
        assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])
        units = _workspace_files(pipeline, "*/build-host/CMakeFiles/MNNCPU.dir/source/backend/cpu/MKBCandidate.cpp.ii")
        assert PRELUDE_NAME in units[0].read_text(errors="replace")  # read as text: the judge allowed it
    finally:
        for gch in _workspace_files(pipeline, f"*/prelude/build-host/*/{PRELUDE_NAME}.gch"):
            gch.unlink()  # the next build precompiles it again


def _linked_by_gold(lib: Path) -> bool:
    import subprocess

    sections = subprocess.run(["readelf", "-S", "-W", str(lib)], capture_output=True, text=True, check=True).stdout
    return ".note.gnu.gold-version" in sections


def test_both_sides_of_a_timing_are_linked_by_the_same_linker(pipeline):
    import asyncio
    import shutil

    from mkb_tui.engine.toolchain import fast_linker_flags, host_target

    verdict = evaluate(pipeline, "abs", {SLOT_CPP: CORRECT.replace("std::fabs(src[i])", "std::fabs(src[i]) + 0.0f * 3")})
    assert verdict.kind.value == "correct", verdict.message
    base = asyncio.run(pipeline.baseline())
    workspace_libs = _workspace_files(pipeline, "*/build-host/libMNN.so")
    assert workspace_libs
    gold = bool(shutil.which("ld.gold"))
    assert bool(fast_linker_flags()) == gold and ("CMAKE_SHARED_LINKER_FLAGS" in host_target().cmake_flags) == gold
    assert _linked_by_gold(base.build_dir / "libMNN.so") == gold
    assert all(_linked_by_gold(lib) == gold for lib in workspace_libs)
