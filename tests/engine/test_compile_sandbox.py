"""A workspace's compiles run contained: the compiler sees its tree and build dir only, no secrets, and a compile-time
bomb ends at the limits with a clear diagnostic. Real compiles through the generated wrappers and the launcher."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mkb_tui.device import sandbox
from mkb_tui.engine import build as builder

DECOY = "sk-ant-decoy-compile-0123456789"

pytestmark = [pytest.mark.sandbox, pytest.mark.skipif(not sandbox.status().usable or shutil.which("c++") is None, reason="bwrap and a C++ compiler are needed")]


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", DECOY)
    (tmp_path / "secret.txt").write_text(f"key {DECOY}\n")  # beside the workspace, as the cache's other files are
    (tmp_path / "other" / "src").mkdir(parents=True)
    (tmp_path / "other" / "src" / "kernel.hpp").write_text("int other_session_kernel;\n")
    src, build = tmp_path / "ws" / "src", tmp_path / "ws" / "build"
    (src / "source").mkdir(parents=True)
    build.mkdir()
    return tmp_path, src, build


def compile_candidate(src: Path, build: Path, text: str, name: str = "MKBCandidate.cpp") -> subprocess.CompletedProcess:
    """The launcher as ninja calls it, for a candidate slot file (or another, through ccache), with the environment a
    workspace build has."""
    cpp = src / "source" / name
    cpp.write_text(text)
    env = sandbox.minimal_env({**builder.build_env(src.parent), **builder.compile_sandbox(src, build, [])})
    argv = [str(builder.LAUNCHER), "c++", "-std=c++14", "-c", str(cpp), "-o", str(build / f"{name}.o")]
    return subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("name", ["MKBCandidate.cpp", "CPUUnary.cpp"])  # a slot file; a file through ccache's prefix
@pytest.mark.parametrize("include", ["../../secret.txt", "{root}/other/src/kernel.hpp", "{home}/.bashrc", "/etc/shadow"])
def test_a_candidate_cannot_include_files_outside_its_tree(tree, include, name):
    root, src, build = tree
    path = include.format(root=root, home=Path.home())
    result = compile_candidate(src, build, f'#include "{path}"\nint x;\n', name)
    assert result.returncode != 0
    assert "No such file or directory" in result.stderr, result.stderr
    assert DECOY not in result.stderr + result.stdout


def test_the_compiler_environment_holds_no_key(tree):
    """What the wrappers hand a compiler: env(1) in the compiler's place, started as ccache would start it."""
    root, src, build = tree
    wrappers = builder.compile_sandbox(src, build, [])
    for name in ("MKB_CANDIDATE_SANDBOX", "MKB_COMPILE_SANDBOX"):
        out = subprocess.run([wrappers[name], "/usr/bin/env"], env=os.environ, capture_output=True, text=True, timeout=60).stdout
        assert "PATH=" in out and DECOY not in out and "HOME=" not in out and "ANTHROPIC" not in out, out


def test_a_clean_candidate_compiles(tree):
    root, src, build = tree
    result = compile_candidate(src, build, "int add(int a, int b) { return a + b; }\n")
    assert result.returncode == 0, result.stderr
    assert (build / "MKBCandidate.cpp.o").exists()


def test_a_compile_time_bomb_ends_at_the_limit_with_a_clear_message(tree, monkeypatch):
    monkeypatch.setattr(builder, "CANDIDATE_COMPILE_LIMITS", sandbox.Rlimits(cpu_seconds=3, address_space_bytes=2 << 30, file_size_bytes=64 << 20))
    root, src, build = tree
    # many evaluations, each under gcc's own constexpr operation limit (a single huge one meets that limit first on a
    # fast machine, an ordinary error), distinct so none is cached: about 0.7 s each here, 40 of them
    bomb = ("constexpr long burn(long k) { long s = k; for (long i = 0; i < 1000; ++i) for (long j = 0; j < 1000; ++j) s += i ^ j; return s; }\n"
            + "".join(f"constexpr long x{n} = burn({n});\n" for n in range(40)))  # fmt: skip
    result = compile_candidate(src, build, bomb)
    assert result.returncode != 0
    log = f"FAILED: CMakeFiles/MNNCPU.dir/source/MKBCandidate.cpp.o\n{result.stderr}"
    diags = builder.limit_diagnostics(log)
    assert diags and diags[0].file == "source/MKBCandidate.cpp", result.stderr
    assert "compile-time bomb" in diags[0].message and "limit" in diags[0].message


def test_a_candidate_file_is_never_compiled_uncontained(tree):
    root, src, build = tree
    cpp = src / "source" / "MKBCandidate.cpp"
    cpp.write_text("int x;\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MKB_")}
    result = subprocess.run([str(builder.LAUNCHER), "c++", "-c", str(cpp), "-o", str(build / "x.o")], env=env, capture_output=True, text=True)
    assert result.returncode != 0 and "refused" in result.stderr
