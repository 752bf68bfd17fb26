"""Getting MNN: a pinned release into the user cache, from the network or a local checkout / bare git dir.

The pristine tree is never built in and never modified: builds live beside it, candidates in workspaces.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.errors import MnnNotFound
from mkb_tui.paths import cache_dir

DEFAULT_REF = "3.6.1"
UPSTREAM = "https://github.com/alibaba/MNN.git"
# Parts of the tree the CPU pipeline never needs; skipping them keeps the copy small and tolerates
# stores that lack a few large non-CPU files.
EXCLUDED_DIRS = ("apps", "project/ios", "docs", "doc", "resource", "backupcode", "benchmark/models", "transformers/llm/export")


@dataclass(frozen=True)
class MnnInfo:
    root: Path  # pristine source tree
    version: str
    ref: str
    origin: str

    @property
    def home(self) -> Path:
        return self.root.parent


def mnn_home(ref: str = DEFAULT_REF) -> Path:
    return cache_dir() / "mnn" / ref


def _read_version(root: Path) -> str:
    text = (root / "include" / "MNN" / "MNNDefine.h").read_text(errors="replace")
    parts = [re.search(rf"#define MNN_VERSION_{k}\s+(\d+)", text) for k in ("MAJOR", "MINOR", "PATCH")]
    if not all(parts):
        raise MnnNotFound(f"{root} does not look like an MNN tree (no version in include/MNN/MNNDefine.h)")
    return ".".join(m.group(1) for m in parts if m)


def _git(args: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], capture_output=True, text=True, **kw)


def _is_git_dir(path: Path) -> bool:
    return _git(["--git-dir", str(path), "rev-parse", "--git-dir"]).returncode == 0 and (path / "objects").is_dir()


def _archive_from_git(git_dir: Path, ref: str, dest: Path) -> None:
    """Export `ref` of a (bare) git dir, skipping excluded dirs and blobs the store lacks."""
    commit = _git(["--git-dir", str(git_dir), "rev-parse", "--verify", f"{ref}^{{commit}}"])
    if commit.returncode != 0:
        raise MnnNotFound(f"{git_dir} has no ref {ref!r}: {commit.stderr.strip()}")
    listing = _git(["--git-dir", str(git_dir), "ls-tree", "-r", "--format=%(objectname) %(path)", ref]).stdout.splitlines()
    check = subprocess.run(
        ["git", "--git-dir", str(git_dir), "cat-file", "--batch-check"],
        input="\n".join(line.split(" ", 1)[0] for line in listing) + "\n",
        capture_output=True,
        text=True,
    ).stdout.splitlines()
    missing = [line.split(" ", 1)[1] for line, state in zip(listing, check) if state.endswith("missing")]
    excludes = [f":(exclude){d}" for d in EXCLUDED_DIRS] + [f":(exclude,literal){p}" for p in missing]
    with tempfile.TemporaryFile() as tar_file:
        proc = subprocess.run(
            ["git", "--git-dir", str(git_dir), "archive", "--format=tar", ref, "--", ".", *excludes],
            stdout=tar_file,
            stderr=subprocess.PIPE,
            text=False,
        )
        if proc.returncode != 0:
            raise MnnNotFound(f"git archive of {ref} failed: {proc.stderr.decode(errors='replace').strip()}")
        tar_file.seek(0)
        with tarfile.open(fileobj=tar_file) as tar:
            tar.extractall(dest, filter="tar")


def _copy_checkout(src: Path, dest: Path) -> None:
    ignore = shutil.ignore_patterns(".git", "build*", *[d.split("/")[-1] for d in EXCLUDED_DIRS if "/" not in d])
    shutil.copytree(src, dest, ignore=ignore, symlinks=True)


def setup_mnn(from_path: str | Path | None = None, ref: str = DEFAULT_REF, *, force: bool = False) -> MnnInfo:
    """Put a pristine MNN `ref` into the cache. `from_path`: a checkout or a (bare) git dir; else clone upstream."""
    home = mnn_home(ref)
    root = home / "src"
    if root.exists() and not force:
        info = find_mnn(ref)
        if info is not None:
            return info
    staging = home / "src.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    if from_path is not None:
        src = Path(from_path).expanduser().resolve()
        if not src.exists():
            raise MnnNotFound(f"--from {src}: no such file or directory")
        if _is_git_dir(src):
            _archive_from_git(src, ref, staging)
            origin = f"git:{src}@{ref}"
        elif _is_git_dir(src / ".git"):
            _archive_from_git(src / ".git", ref, staging)
            origin = f"git:{src}@{ref}"
        elif (src / "include" / "MNN" / "MNNDefine.h").exists():
            shutil.rmtree(staging)
            _copy_checkout(src, staging)
            origin = f"checkout:{src}"
        else:
            raise MnnNotFound(f"--from {src}: neither an MNN checkout nor a git directory")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            clone = _git(["clone", "--quiet", "--bare", "--depth", "1", "--branch", ref, UPSTREAM, f"{tmp}/mnn.git"])
            if clone.returncode != 0:
                shutil.rmtree(staging, ignore_errors=True)
                raise MnnNotFound(
                    f"could not clone MNN {ref} ({clone.stderr.strip().splitlines()[-1] if clone.stderr.strip() else 'git failed'}); "
                    "use `mkb-tui setup mnn --from PATH` with a local checkout"
                )
            _archive_from_git(Path(tmp) / "mnn.git", ref, staging)
        origin = f"{UPSTREAM}@{ref}"
    version = _read_version(staging)
    shutil.rmtree(root, ignore_errors=True)
    staging.rename(root)
    (home / "mnn.json").write_text(json.dumps({"ref": ref, "version": version, "origin": origin}, indent=2))
    return MnnInfo(root=root, version=version, ref=ref, origin=origin)


def find_mnn(ref: str = DEFAULT_REF) -> MnnInfo | None:
    home = mnn_home(ref)
    meta = home / "mnn.json"
    if not meta.exists() or not (home / "src" / "CMakeLists.txt").exists():
        return None
    data = json.loads(meta.read_text())
    return MnnInfo(root=home / "src", version=data["version"], ref=data["ref"], origin=data.get("origin", "?"))


def require_mnn(ref: str = DEFAULT_REF) -> MnnInfo:
    info = find_mnn(ref)
    if info is None:
        raise MnnNotFound("MNN is not set up: run `mkb-tui setup mnn` (or `mkb-tui setup mnn --from PATH`)")
    return info
