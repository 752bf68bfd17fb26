"""Task suites: ours (`mkb`, the files under tasks/), the paper's published tasks (`paper`, fetched at run time into
the user cache, never vendored) and any folder of KernelBench-format files.

Task ids are unique across suites: ours keep their plain ids (`abs`), the others are `SUITE/NAME`
(`paper/LayerNorm_3d`). A foreign suite's Python files are never imported by the harness: they are code from
elsewhere, run only in a child process (mkb_tui.bench.foreign), and what the harness knows of them (inputs, ONNX
nodes, MNN ops, state) comes from the suite's lock file (`mkb-tui tasks lock --suite paper`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.errors import TaskError
from mkb_tui.paths import TASKS_DIR, cache_dir

PAPER_REPO = "zeezou-isee/QD-optimized-kernel-agent"
PAPER_URL = f"https://github.com/{PAPER_REPO}.git"
PAPER_COMMIT = "ddc70567dfe6b48e3fa9471fb52df19892090d47"
PAPER_SUBDIR = "dataset/Mobilekernelbench"
PAPER_LICENSE = "Apache-2.0"
PAPER_COUNTS = {
    "Activation": 12, "Binary": 8, "Convolution": 21, "Logic": 13, "Matrix": 19, "Normalization": 12,
    "Others": 4, "Pooling": 15, "Reduction": 35, "Tensor": 28, "Trigonometry": 12, "Unary": 11,
}  # fmt: skip
LOCK_DIR = TASKS_DIR / "_suites"


@dataclass(frozen=True)
class Suite:
    name: str
    kind: str  # "mkb" (our own files), "paper" (fetched, pinned), "folder" (a user's KernelBench-format folder)
    root: Path | None  # where the task files are (None: the paper suite is not set up)
    description: str
    lock: Path | None = None

    @property
    def foreign(self) -> bool:
        return self.kind != "mkb"


ALIASES = {"mobilekernelbench": "paper", "ours": "mkb"}


def paper_dir(commit: str = PAPER_COMMIT) -> Path:
    return cache_dir() / "suites" / "paper" / commit[:12]


def paper_ready(commit: str = PAPER_COMMIT) -> bool:
    return (paper_dir(commit) / "source.json").exists()


def get_suite(name: str | None) -> Suite:
    """`mkb` (default), `paper` (alias `mobilekernelbench`) or a folder path."""
    name = (name or "mkb").strip()
    key = ALIASES.get(name.lower(), name.lower())
    if key == "mkb":
        return Suite("mkb", "mkb", TASKS_DIR, "this project's 190 tasks (single-node forms validated against MNN)")
    if key == "paper":
        root = paper_dir() if paper_ready() else None
        return Suite("paper", "paper", root, f"MobileKernelBench as published ({PAPER_REPO}@{PAPER_COMMIT[:12]}, {PAPER_LICENSE})",
                     LOCK_DIR / "paper.lock.json")  # fmt: skip
    path = Path(name).expanduser()
    if path.is_dir():
        return Suite(path.resolve().name, "folder", path.resolve(), f"KernelBench-format files under {path.resolve()}",
                     path.resolve() / "mkb.lock.json")  # fmt: skip
    raise TaskError(f"unknown suite {name!r}: use mkb, paper (mobilekernelbench) or a folder of KernelBench-format files")


def require_root(suite: Suite) -> Path:
    if suite.root is None:
        raise TaskError(f"the {suite.name} suite is not set up: run `mkb-tui setup suite {suite.name}`"
                        " (or `--from PATH` with a checkout or bare git dir of the repository)")  # fmt: skip
    return suite.root


def suite_of_id(task_id: str) -> tuple[str, str]:
    """(suite name, name within the suite) of a task id: `paper/LayerNorm_3d` -> ("paper", "LayerNorm_3d")."""
    if "/" in task_id:
        head, rest = task_id.split("/", 1)
        if ALIASES.get(head.lower(), head.lower()) == "paper":
            return "paper", rest
    return "mkb", task_id


def slug(task_id: str) -> str:
    """A task id as one path component (ids of foreign suites hold a `/`)."""
    return task_id.replace("/", "--")


# ---------------------------------------------------------------- fetching the paper's suite


def _git(*args: str, cwd: Path | None = None) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TaskError(f"git {' '.join(args[:3])}...: {(proc.stderr or proc.stdout).strip().splitlines()[-1:]}")
    return proc.stdout


def _git_dir(path: Path) -> Path:
    """The git directory of a checkout or a bare repository."""
    if (path / ".git").exists():
        return path / ".git"
    if (path / "objects").is_dir() and (path / "HEAD").exists():
        return path
    raise TaskError(f"{path} is neither a git checkout nor a bare git directory")


def setup_paper(from_path: str | None = None, *, force: bool = False, commit: str = PAPER_COMMIT,
                say=lambda _msg: None) -> Path:  # fmt: skip
    """Put the paper's task files at the pinned commit into the user cache: from a local checkout or bare git dir
    (`from_path`, or MKB_PAPER_FROM), else by cloning the GitHub repository. Returns the suite's folder."""
    dest = paper_dir(commit)
    if paper_ready(commit) and not force:
        say(f"the paper suite is already set up in {dest}")
        return dest
    from_path = from_path or os.environ.get("MKB_PAPER_FROM")
    with tempfile.TemporaryDirectory(prefix="mkb-paper-") as tmp:
        if from_path:
            git_dir = _git_dir(Path(from_path).expanduser().resolve())
            origin = str(Path(from_path).expanduser().resolve())
        else:
            say(f"cloning {PAPER_URL}")
            git_dir = Path(tmp) / "repo.git"
            _git("clone", "--bare", "--filter=blob:none", "--quiet", PAPER_URL, str(git_dir))
            origin = PAPER_URL
        try:
            _git("--git-dir", str(git_dir), "cat-file", "-e", f"{commit}^{{commit}}")
        except TaskError:
            raise TaskError(f"{origin} does not have the pinned commit {commit}") from None
        listing = _git("--git-dir", str(git_dir), "ls-tree", "-r", "--name-only", commit, PAPER_SUBDIR).split()
        files = [f for f in listing if f.endswith(".py")]
        if not files:
            raise TaskError(f"{origin}@{commit[:12]} has no {PAPER_SUBDIR}/*.py")
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=_mkdir(dest.parent)))
        try:
            for name in files:
                blob = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:{name}"], capture_output=True, check=True).stdout
                target = staging / Path(name).relative_to(PAPER_SUBDIR)
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(blob)
            licence = subprocess.run(["git", "--git-dir", str(git_dir), "show", f"{commit}:LICENSE"], capture_output=True).stdout
            if licence:
                (staging / "LICENSE").write_bytes(licence)
            (staging / "source.json").write_text(json.dumps({
                "repository": PAPER_REPO, "commit": commit, "path": PAPER_SUBDIR, "license": PAPER_LICENSE,
                "fetched_from": origin, "files": len(files),
            }, indent=1))  # fmt: skip
            if dest.exists():
                shutil.rmtree(dest)
            staging.replace(dest)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    say(f"the paper suite: {len(files)} files from {origin}@{commit[:12]} in {dest}")
    return dest


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path
