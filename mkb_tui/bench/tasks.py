"""Benchmark tasks: one KernelBench-style Python file each under tasks/<category>/<id>.py.

Listing reads the module-level constants with `ast` (no torch import); `Task.load_module()` imports the file
(and torch) only when a model is needed.
"""

from __future__ import annotations

import ast
import fnmatch
import hashlib
import importlib.util
import json
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import ModuleType
from typing import Any

from mkb_tui.errors import TaskError
from mkb_tui.paths import TASKS_DIR

CATEGORIES = (
    "Unary", "Binary", "Trigonometry", "Activation", "Normalization", "Pooling",
    "Convolution", "Matrix", "Reduction", "Tensor", "Logic", "Others",
)  # fmt: skip
MECHANISMS = ("cpu", "geometry", "combiner")
DTYPES = ("float32", "int32", "int64", "bool", "uint8")
METADATA = {
    "OP", "CATEGORY", "OPSET", "OPSET_REASON", "TOLERANCE", "TOLERANCE_REASON", "NATIVE_INCORRECT",
    "MNN_OPS", "MNN_SUBTYPE", "MECHANISM", "SEEDS", "INPUTS", "EXPORT", "NATIVE_INCORRECT_ON",
}  # fmt: skip
REQUIRED = ("OP", "CATEGORY", "OPSET", "TOLERANCE", "MNN_OPS", "MECHANISM", "SEEDS", "INPUTS")


@dataclass(frozen=True)
class InputSpec:
    name: str
    shape: tuple[int, ...]
    dtype: str
    dist: dict[str, Any] = field(default_factory=dict)  # kind (uniform|normal|randint|bool), low/high/mean/std/p
    edge: tuple[float, ...] = ()  # values placed at the first positions (0, -0, large...) where the op has them


@dataclass(frozen=True)
class Task:
    id: str
    op: str
    category: str
    path: Path
    opset: int
    tolerance: float
    tolerance_reason: str | None
    native_incorrect: str | None
    seeds: tuple[int, ...]
    mnn_ops: tuple[str, ...]
    mnn_subtype: str | None
    mechanism: str
    description: str
    inputs: tuple[InputSpec, ...]
    export_options: dict[str, Any] = field(default_factory=dict, compare=False)
    native_incorrect_on: tuple[str, ...] = ("host", "aarch64")  # build targets where MNN's native kernel is wrong
    # a speedup above this over MNN's kernel is flagged suspicious_speedup and counts only once re-verified;
    # a task whose native kernel is known to be far from the hardware's limit may declare PLAUSIBLE_SPEEDUP higher
    plausible_speedup: float = 10.0
    # suites (mkb_tui.bench.suites): a foreign suite's file is never imported here; its facts come from its lock
    suite: str = "mkb"
    state: str = "supported"  # or "unsupported" (unsupported_reason says why), "unlocked" (no lock entry yet)
    unsupported_reason: str | None = None
    mnn_primary: str | None = None  # the MNN runtime op that is the task's kernel, where the lock names it
    helper_nodes: tuple[str, ...] = ()  # ONNX nodes of the export besides the target op (timed on both sides)
    provenance: dict[str, Any] | None = field(default=None, compare=False)  # repository, commit, file, sha256

    @property
    def foreign(self) -> bool:
        return self.suite != "mkb"

    @property
    def slug(self) -> str:
        """The id as one path component (foreign ids hold a `/`)."""
        return self.id.replace("/", "--")

    def native_incorrect_for(self, target: str) -> str | None:
        return self.native_incorrect if target in self.native_incorrect_on else None

    @property
    def source(self) -> str:
        return self.path.read_text()

    @property
    def content_hash(self) -> str:
        """What the caches of this task's artefacts (references, ONNX, converted model, native record) are keyed by:
        its file, and for a foreign suite's file also the export its lock chose (a re-lock that changes the export
        changes the model MNN runs)."""
        digest = hashlib.sha256(self.path.read_bytes())
        if self.foreign and self.export_options:
            digest.update(json.dumps(self.export_options, sort_keys=True).encode())
        return digest.hexdigest()[:16]

    def load_module(self) -> ModuleType:
        """Import the task file (imports torch). Never for a foreign suite's file: that runs in a child process."""
        if self.foreign:
            raise TaskError(f"task {self.id}: a {self.suite} suite file is not imported by the harness (mkb_tui.bench.foreign)")
        name = f"mkb_task_{self.id}"
        spec = importlib.util.spec_from_file_location(name, self.path)
        if spec is None or spec.loader is None:
            raise TaskError(f"task {self.id}: cannot import {self.path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # a broken task file is a task error, not a crash
            raise TaskError(f"task {self.id}: {type(exc).__name__}: {exc}") from exc
        return module

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "op": self.op,
            "category": self.category,
            "mechanism": self.mechanism,
            "mnn_ops": list(self.mnn_ops),
            "mnn_subtype": self.mnn_subtype,
            "opset": self.opset,
            "tolerance": self.tolerance,
            "native_incorrect": self.native_incorrect,
            "path": str(self.path),
            "suite": self.suite,
            "state": self.state,
            "unsupported_reason": self.unsupported_reason,
            "mnn_primary": self.mnn_primary,
            "helper_nodes": list(self.helper_nodes),
        }


def _constants(tree: ast.Module, path: Path) -> dict[str, Any]:
    """Evaluate simple module-level constant assignments in order (names may refer to earlier constants)."""
    values: dict[str, Any] = {}
    for node in tree.body:
        if not isinstance(node, ast.Assign) or len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        name = node.targets[0].id
        if not name.isupper():
            continue
        try:
            code = compile(ast.Expression(node.value), str(path), "eval")
            values[name] = eval(code, {"__builtins__": {}}, dict(values))  # noqa: S307 - constants of our own task files
        except Exception as exc:
            if name in METADATA:
                raise TaskError(f"{path}: constant {name} is not a plain value ({exc})") from exc
            # other upper-case names (e.g. an onnx_op function) are code, not metadata
    return values


def parse_task(path: Path) -> Task:
    try:
        tree = ast.parse(path.read_text(), str(path))
    except SyntaxError as exc:
        raise TaskError(f"{path}: syntax error: {exc}") from exc
    consts = _constants(tree, path)
    missing = [k for k in REQUIRED if k not in consts]
    if missing:
        raise TaskError(f"{path}: missing metadata {', '.join(missing)}")
    if consts["CATEGORY"] not in CATEGORIES:
        raise TaskError(f"{path}: unknown category {consts['CATEGORY']!r}")
    if consts["MECHANISM"] not in MECHANISMS:
        raise TaskError(f"{path}: unknown mechanism {consts['MECHANISM']!r}")
    inputs = []
    for spec in consts["INPUTS"]:
        if spec.get("dtype") not in DTYPES:
            raise TaskError(f"{path}: input {spec.get('name')!r} has unsupported dtype {spec.get('dtype')!r}")
        dist = {k: v for k, v in spec.items() if k not in ("name", "shape", "dtype", "edge")}
        inputs.append(InputSpec(spec["name"], tuple(spec["shape"]), spec["dtype"], dist, tuple(spec.get("edge", ()))))
    seeds = tuple(consts["SEEDS"])
    if len(seeds) < 5:
        raise TaskError(f"{path}: at least 5 seeds are required")
    if consts["TOLERANCE"] > 1e-4 and not consts.get("TOLERANCE_REASON"):
        raise TaskError(f"{path}: a tolerance looser than 1e-4 needs TOLERANCE_REASON")
    return Task(
        id=path.stem,
        op=consts["OP"],
        category=consts["CATEGORY"],
        path=path,
        opset=int(consts["OPSET"]),
        tolerance=float(consts["TOLERANCE"]),
        tolerance_reason=consts.get("TOLERANCE_REASON"),
        native_incorrect=consts.get("NATIVE_INCORRECT"),
        seeds=seeds,
        mnn_ops=tuple(consts["MNN_OPS"]),
        mnn_subtype=consts.get("MNN_SUBTYPE"),
        mechanism=consts["MECHANISM"],
        description=(ast.get_docstring(tree) or "").strip(),
        inputs=tuple(inputs),
        export_options=dict(consts.get("EXPORT", {})),
        native_incorrect_on=tuple(consts.get("NATIVE_INCORRECT_ON", ("host", "aarch64"))),
        plausible_speedup=float(consts.get("PLAUSIBLE_SPEEDUP", 10.0)),
    )


@lru_cache(maxsize=4)
def _all_tasks(root: Path) -> tuple[Task, ...]:
    tasks = [parse_task(p) for p in sorted(root.glob("*/*.py")) if not (p.name.startswith("_") or p.parent.name.startswith("_"))]
    ids = [t.id for t in tasks]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise TaskError(f"duplicate task ids: {', '.join(sorted(dupes))}")
    return tuple(sorted(tasks, key=lambda t: (CATEGORIES.index(t.category), t.id)))


def suite_tasks(suite: str | None = None) -> tuple[Task, ...]:
    """Every task of a suite (mkb_tui.bench.suites): `mkb` (default), `paper`, or a folder."""
    from mkb_tui.bench.suites import get_suite

    found = get_suite(suite)
    if not found.foreign:
        return _all_tasks(TASKS_DIR)
    from mkb_tui.bench.suites import require_root

    return _foreign_tasks(found.name, str(require_root(found)), str(found.lock), found.kind)


def load_tasks(
    pattern: str | None = None, *, category: str | None = None, op: str | None = None, root: Path = TASKS_DIR,
    suite: str | None = None,
) -> list[Task]:
    """Tasks matching a glob over ids or `category/id` (e.g. 'unary/*', 'softmax*', 'paper/Layer*'), a category
    and an op, in one suite (default: ours; a pattern `paper/...` picks the paper's)."""
    if suite is None and pattern and root == TASKS_DIR:
        from mkb_tui.bench.suites import suite_of_id

        heads = {suite_of_id(p.strip())[0] for p in pattern.split(",") if p.strip()}
        if heads == {"paper"}:
            suite = "paper"
    if suite is not None and root == TASKS_DIR:
        tasks = list(suite_tasks(suite))
        if tasks and tasks[0].foreign and pattern:
            prefix = tasks[0].suite + "/"
            pattern = ",".join(p if p.strip().startswith(prefix) else prefix + p.strip() for p in pattern.split(",") if p.strip())
    else:
        tasks = list(_all_tasks(root))
    if category:
        tasks = [t for t in tasks if t.category.lower() == category.lower()]
    if op:
        tasks = [t for t in tasks if t.op.lower() == op.lower()]
    if pattern:
        pats = [p.strip() for p in pattern.split(",") if p.strip()]
        tasks = [
            t for t in tasks
            if any(fnmatch.fnmatch(t.id, p) or fnmatch.fnmatch(f"{t.category.lower()}/{t.id}", p.lower())
                   or (t.foreign and fnmatch.fnmatch(f"{t.suite}/{t.category}/{t.id.split('/', 1)[1]}".lower(), p.lower()))
                   for p in pats)
        ]  # fmt: skip
    return tasks


def get_task(task_id: str, root: Path = TASKS_DIR) -> Task:
    from mkb_tui.bench.suites import suite_of_id

    suite, _name = suite_of_id(task_id)
    for task in (_all_tasks(root) if suite == "mkb" or root != TASKS_DIR else suite_tasks(suite)):
        if task.id == task_id:
            return task
    from mkb_tui.vocabulary.suggest import did_you_mean

    ids = [t.id for t in (_all_tasks(root) if suite == "mkb" or root != TASKS_DIR else suite_tasks(suite))]
    raise TaskError(f"unknown task {task_id!r}{did_you_mean(task_id, ids, ' (see `mkb-tui tasks list`)')}")


@lru_cache(maxsize=8)
def _foreign_tasks(suite: str, root: str, lock: str, kind: str) -> tuple[Task, ...]:
    """A foreign suite's tasks: their files are read as text (the docstring) and never imported; the facts come from
    the suite's lock file. A file whose hash differs from its lock entry, or has none, is `unlocked`."""
    import json

    base = Path(root)
    try:
        entries = {e["name"]: e for e in json.loads(Path(lock).read_text())["tasks"]}
    except (OSError, ValueError, KeyError):
        entries = {}
    source = {}
    try:
        source = json.loads((base / "source.json").read_text())
    except (OSError, ValueError):
        pass
    tasks = []
    for path in sorted(base.glob("*/*.py")):
        if path.name.startswith("_") or path.parent.name.startswith("_"):
            continue
        name = f"{path.parent.name}/{path.stem}"
        category = next((c for c in CATEGORIES if c.lower() == path.parent.name.lower()), path.parent.name)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entry = entries.get(name)
        if entry is not None and entry.get("sha256") != digest:
            entry = None
        description = _docstring(path)
        entry = entry or {"state": "unlocked", "reason": f"no lock entry for this file version (mkb-tui tasks lock --suite {suite})"}
        export = entry.get("export") or {}
        inputs = tuple(InputSpec(i["name"], tuple(i["shape"]), i["dtype"]) for i in entry.get("inputs", ()))
        tasks.append(Task(
            id=f"{suite}/{path.stem}", op=entry.get("op") or "?", category=category, path=path,
            opset=int(export.get("opset", 18)), tolerance=float(entry.get("tolerance", 1e-4)),
            tolerance_reason=entry.get("tolerance_reason"), native_incorrect=entry.get("native_incorrect"),
            seeds=tuple(entry.get("seeds", (0, 1, 2, 3, 4))), mnn_ops=tuple(entry.get("mnn_ops", ())),
            mnn_subtype=entry.get("mnn_subtype"), mechanism=entry.get("mechanism", "cpu"), description=description,
            inputs=inputs, export_options={"prefer": [export["exporter"], export["opset"]]} if export else {},
            suite=suite, state=entry.get("state", "supported"), unsupported_reason=entry.get("reason"),
            mnn_primary=entry.get("mnn_primary"), helper_nodes=tuple(entry.get("helper_nodes", ())),
            provenance={"repository": source.get("repository"), "commit": source.get("commit"),
                        "file": f"{source.get('path', '')}/{name}.py".lstrip("/"), "sha256": digest, "kind": kind},
        ))  # fmt: skip
    ids = [t.id for t in tasks]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise TaskError(f"duplicate task ids in the {suite} suite: {', '.join(sorted(dupes))}")
    return tuple(sorted(tasks, key=lambda t: (CATEGORIES.index(t.category) if t.category in CATEGORIES else 99, t.id)))


def _docstring(path: Path) -> str:
    """The module's docstring, else its Model class's (read with ast, never run)."""
    try:
        tree = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return ""
    text = ast.get_docstring(tree)
    if not text:
        model = next((n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Model"), None)
        text = ast.get_docstring(model) if model else ""
    return (text or "").strip()
