"""Kernel slots: which MNN files a candidate provides for a task, and how it is routed.

- cpu: the candidate writes one CPU Execution + Creator in `source/backend/cpu/MKBCandidate.cpp` (registered with
  REGISTER_CPU_OP_CREATOR for the task's MNN op type). In the scratch workspace the harness turns the native
  registration of that op type into a dispatcher (generated code, MKBDispatch.cpp) that sends only the task's op and
  sub-type (e.g. UnaryOp ABS) to the candidate and everything else to MNN's native creator, and counts the
  candidate's creations and executions so the runner can prove it ran.
- geometry: the candidate replaces the geometry computer file that registers the op type (source/geometry/...).
- combiner: MNN's converter rewrites the ONNX op into other MNN ops (an ONNX "extra" transform). The candidate writes
  the transform in `tools/converter/source/optimizer/onnxextra/MKBCombiner.cpp`; in the workspace copy the native
  transform's registration of that ONNX op is renamed away, so only the candidate can convert it. The workspace's
  converter is built with it, converts the task's model, and that model runs on MNN's pristine kernels.
The routing is discovered from the user's MNN tree, so it follows the MNN version set up.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from mkb_tui.bench.tasks import Task
from mkb_tui.engine.cpp_templates import render
from mkb_tui.vocabulary.verdicts import KernelCandidate

CANDIDATE_CPP = "source/backend/cpu/MKBCandidate.cpp"
CANDIDATE_HPP = "source/backend/cpu/MKBCandidate.hpp"
DISPATCH_CPP = "source/backend/cpu/MKBDispatch.cpp"
COMBINER_DIR = "tools/converter/source/optimizer/onnxextra"
CANDIDATE_COMBINER = f"{COMBINER_DIR}/MKBCombiner.cpp"
NATIVE_COMBINER_PREFIX = "MKBNative_"  # the workspace copy registers MNN's own transform under this name
_COMBINER_INSERT = r'OnnxExtraManager::get\(\)->insert\(\s*"{op}"'
COMBINER_HEADERS = (f"{COMBINER_DIR}/OnnxExtraManager.hpp", "include/MNN/expr/Expr.hpp", "include/MNN/expr/MathOp.hpp",
                    "include/MNN/expr/NeuralNetWorkOp.hpp")  # fmt: skip
HELPER_OPS = {"ConvertTensor", "Shape", "Rank", "Const"}
# ONNX op -> the MNN runtime op that is the task's kernel, where the converted model has several
PRIMARY = {"Gemm": "MatMul", "RNN": "RNN", "Gather": "GatherV2", "OneHot": "OneHot", "ArgMax": "ArgMax", "ArgMin": "ArgMin",
           "Split": "Slice", "Not": "UnaryOp", "LSTM": "While", "Einsum": "MatMul"}  # fmt: skip
SUBTYPE_CHECK = {
    "UnaryOp": "op->main_type() == OpParameter_UnaryOp && op->main_as_UnaryOp()->opType() == UnaryOpOperation_{s}",
    "BinaryOp": "op->main_type() == OpParameter_BinaryOp && op->main_as_BinaryOp()->opType() == BinaryOpOperation_{s}",
    "Reduction": "op->main_type() == OpParameter_ReductionParam && op->main_as_ReductionParam()->operation() == ReductionType_{s}",
    "Pooling": "op->main_type() == OpParameter_Pool && op->main_as_Pool()->type() == PoolType_{s}",
}


@dataclass(frozen=True)
class Slot:
    task_id: str
    mechanism: str
    op_type: str  # the MNN runtime op type the candidate implements
    subtype: str | None
    files: tuple[str, ...]  # MNN-tree-relative files the candidate must provide
    optional_files: tuple[str, ...] = ()
    native_files: tuple[str, ...] = ()  # MNN's implementation of this op (the oracle; names the static check bans)
    native_creator: str | None = None  # class name of MNN's creator, for cpu slots
    native_classes: tuple[str, ...] = ()  # classes of MNN's transform file, for combiner slots (banned by name)
    supported: bool = True
    reason: str = ""
    registration: str = ""  # what the prompt tells the model
    headers: tuple[str, ...] = field(default=())

    @property
    def all_files(self) -> tuple[str, ...]:
        return self.files + self.optional_files


@lru_cache(maxsize=8)
def _cpu_registrations(mnn_root: str) -> dict[str, tuple[str, str]]:
    """MNN op type -> (file, creator class) from REGISTER_CPU_OP_CREATOR lines of the CPU backend."""
    found: dict[str, tuple[str, str]] = {}
    root = Path(mnn_root)
    for path in sorted((root / "source/backend/cpu").glob("*.cpp")):
        if path.name.startswith("MKB"):
            continue
        for m in re.finditer(r"^REGISTER_CPU_OP_CREATOR\((\w+),\s*OpType_(\w+)\)", path.read_text(errors="replace"), re.M):
            found.setdefault(m.group(2), (str(path.relative_to(root)), m.group(1)))
    return found


def cpu_registrations(mnn_root: Path) -> dict[str, tuple[str, str]]:
    """MNN op type -> (the CPU source file that registers its creator, the creator class), in this MNN tree."""
    return _cpu_registrations(str(mnn_root))


@lru_cache(maxsize=8)
def _geometry_registrations(mnn_root: str) -> dict[str, str]:
    found: dict[str, str] = {}
    root = Path(mnn_root)
    for path in sorted((root / "source/geometry").glob("Geometry*.cpp")):
        for call in re.finditer(r"registerGeometryComputer\([^;]*?\{([^}]*)\}", path.read_text(errors="replace")):
            for op in re.findall(r"OpType_(\w+)", call.group(1)):
                found.setdefault(op, str(path.relative_to(root)))
    return found


@lru_cache(maxsize=8)
def _combiner_registrations(mnn_root: str) -> dict[str, str]:
    """ONNX op type -> the converter file whose transform rewrites it."""
    found: dict[str, str] = {}
    root = Path(mnn_root)
    for path in sorted((root / COMBINER_DIR).glob("*.cpp")):
        if path.name.startswith("MKB"):
            continue
        for m in re.finditer(_COMBINER_INSERT.format(op=r"(\w+)"), path.read_text(errors="replace")):
            found.setdefault(m.group(1), str(path.relative_to(root)))
    return found


def _class_names(cpp: str) -> set[str]:
    """Classes a file defines at the start of a line (what the oracle copy renames and the static check bans)."""
    return set(re.findall(r"^class\s+(\w+)\s*(?::|\{)", cpp, re.M))


def _local_names(cpp: str) -> set[str]:
    """A kernel file's classes and the creators it registers."""
    return _class_names(cpp) | set(re.findall(r"^REGISTER_CPU_OP_CREATOR\((\w+),", cpp, re.M))


def combiner_slot(task: Task, mnn_root: Path) -> Slot:
    native = _combiner_registrations(str(mnn_root)).get(task.op)
    if native is None:
        return Slot(task.id, "combiner", task.op, None, (), supported=False,
                    reason=f"no converter transform registers the ONNX op {task.op} in this MNN tree")
    classes = tuple(sorted(_class_names((mnn_root / native).read_text(errors="replace"))))
    return Slot(
        task.id, "combiner", task.op, None, (CANDIDATE_COMBINER,), native_files=(native,), native_classes=classes,
        registration=(
            f"This op is a combiner: MNN's converter rewrites the ONNX {task.op} node into MNN ops, and MNN's native CPU "
            f"kernels run those. Write the rewrite in {CANDIDATE_COMBINER}: in namespace MNN::Express, a class deriving from "
            f"OnnxExtraManager::Transform (#include \"OnnxExtraManager.hpp\") whose `EXPRP onExecute(EXPRP expr) const` gets "
            f"the ONNX node (expr->inputs(); expr->get()->main_as_Extra()->attr() holds its attributes) and returns the "
            f"replacement expression built with MNN's Express ops (MNN/expr/ExprCreator.hpp: _Multiply, _ReduceSum, _Sqrt, ...), "
            f"keeping expr->name() on the result. Register it in a static initialiser: OnnxExtraManager::get()->insert("
            f"\"{task.op}\", std::shared_ptr<OnnxExtraManager::Transform>(new YourTransform)). The harness builds MNN's "
            f"converter with your file, converts the task's ONNX model with it, and times that model against the one "
            f"MNN's own rewrite gives: speed comes from which MNN ops you choose and how you arrange them."
        ),
        headers=COMBINER_HEADERS,
    )


def primary_op(task: Task) -> str:
    if task.mnn_primary:  # named by the suite's lock (the paper's tasks)
        return task.mnn_primary
    compute = [op for op in task.mnn_ops if op not in HELPER_OPS]
    if len(compute) == 1:
        return compute[0]
    if task.op in PRIMARY and PRIMARY[task.op] in task.mnn_ops:
        return PRIMARY[task.op]
    return compute[-1] if compute else task.mnn_ops[-1]


def slot_for(task: Task, mnn_root: Path) -> Slot:
    op = primary_op(task)
    headers = ("source/backend/cpu/CPUBackend.hpp", "source/core/Execution.hpp", "source/core/Macro.h", "source/core/Concurrency.h",
               "source/backend/cpu/compute/CommonOptFunction.h", "include/MNN/Tensor.hpp")  # fmt: skip
    if task.mechanism == "combiner":
        return combiner_slot(task, mnn_root)
    cpu = _cpu_registrations(str(mnn_root))
    geometry = _geometry_registrations(str(mnn_root))
    if task.mechanism == "cpu" and op in cpu:
        native_file, creator = cpu[op]
        native = (native_file, native_file[:-4] + ".hpp") if (mnn_root / (native_file[:-4] + ".hpp")).exists() else (native_file,)
        what = f"MNN op type OpType_{op}" + (f" with sub-type {task.mnn_subtype}" if task.mnn_subtype else "")
        return Slot(
            task.id, "cpu", op, task.mnn_subtype, (CANDIDATE_CPP,), (CANDIDATE_HPP,), native, creator,
            registration=f"Write a CPU Execution (onResize/onExecute) and a CPUBackend::Creator for {what} in namespace MNN, "
            f"registered with REGISTER_CPU_OP_CREATOR(YourCreator, OpType_{op}); in {CANDIDATE_CPP} "
            f"(an optional header {CANDIDATE_HPP}). Only {what} is routed to it; other ops keep MNN's kernels.",
            headers=headers,
        )
    if op in geometry:
        path = geometry[op]
        return Slot(
            task.id, "geometry", op, task.mnn_subtype, (path,), native_files=(path,),
            registration=f"Replace {path}: a GeometryComputer for OpType_{op} (onCompute producing regions/commands), "
            "registered with GeometryComputer::registerGeometryComputer and REGISTER_GEOMETRY as in the original.",
            headers=("source/geometry/GeometryComputer.hpp", "source/geometry/GeometryComputerUtils.hpp", "source/core/TensorUtils.hpp"),
        )
    if op in cpu:  # geometry-tagged task whose op has a CPU creator only
        return slot_for(Task(**{**task.__dict__, "mechanism": "cpu"}), mnn_root)
    return Slot(task.id, task.mechanism, op, task.mnn_subtype, (), supported=False,
                reason=f"no CPU creator or geometry computer registers OpType_{op} in this MNN tree")


# ---------------------------------------------------------------- placement into a scratch workspace

_REGISTER = r"REGISTER_CPU_OP_CREATOR\((\w+),\s*OpType_{op}\)\s*;?"


def candidate_registration_rewrite(text: str, op: str) -> tuple[str, bool]:
    """Turn the candidate's registration of `op` into the accessor the dispatcher calls (same line)."""
    pattern = re.compile(r"^([ \t]*)" + _REGISTER.format(op=op), re.M)
    new, count = pattern.subn(
        lambda m: f"{m.group(1)}CPUBackend::Creator* mkb_candidate_creator() {{ static {m.group(2)} mkb_creator; return &mkb_creator; }}",
        text,
        count=1,
    )
    return new, count == 1


def native_registration_rewrite(text: str, op: str, creator: str) -> str:
    """In the workspace copy of MNN's file: register a dispatcher wrapping the native creator (same line)."""
    pattern = re.compile(r"^REGISTER_CPU_OP_CREATOR\(" + creator + r",\s*OpType_" + op + r"\)\s*;?", re.M)
    replacement = (
        f"void mkbRegisterDispatch(OpType type, CPUBackend::Creator* native); "
        f"void ___{creator}__OpType_{op}__() {{ static {creator} mkb_native; mkbRegisterDispatch(OpType_{op}, &mkb_native); }}"
    )
    new, count = pattern.subn(replacement, text, count=1)
    if count != 1:
        raise RuntimeError(f"cannot find the native registration of OpType_{op} ({creator})")
    return new


def native_combiner_rewrite(text: str, op: str) -> str:
    """In the workspace copy of MNN's transform file: register the native transform of `op` under another name."""
    new, count = re.subn(_COMBINER_INSERT.format(op=op), f'OnnxExtraManager::get()->insert("{NATIVE_COMBINER_PREFIX}{op}"', text)
    if count != 1:
        raise RuntimeError(f"cannot find the native converter registration of {op}")
    return new


def dispatch_source(slot: Slot | None) -> str:
    """Generated per task: route the slot's op (and sub-type) to the candidate, count its creations/executions
    (cpp_templates/cpu_dispatch.cpp). Without a slot, every creation is MNN's own."""
    if slot is None:
        return render("cpu_dispatch.cpp", candidate_declaration="",
                      on_create="        return mNative->onCreate(inputs, outputs, op, backend);")  # fmt: skip
    matches = "true"
    if slot.subtype and slot.op_type in SUBTYPE_CHECK:
        matches = SUBTYPE_CHECK[slot.op_type].format(s=slot.subtype)
    on_create = "\n".join(f"        {line}" for line in (
        f"if (!({matches})) return mNative->onCreate(inputs, outputs, op, backend);",
        "Execution* exe = mkb_candidate_creator()->onCreate(inputs, outputs, op, backend);",
        "if (nullptr == exe) { gMkbNulls++; return nullptr; }",
        "gMkbCreations++;",
        "return new MKBCountingExecution(backend, exe);",
    ))  # fmt: skip
    return render("cpu_dispatch.cpp", candidate_declaration="CPUBackend::Creator* mkb_candidate_creator();", on_create=on_create)


GEOMETRY_CPP = "source/geometry/GeometryComputer.cpp"
_GEOMETRY_REGISTER = re.compile(r"^(void GeometryComputer::registerGeometryComputer\((std::shared_ptr<GeometryComputer> )?comp,[^)]*\)\s*\{)",
                                re.M)  # fmt: skip


def geometry_registration_rewrite(text: str) -> str:
    """In the workspace copy of MNN's GeometryComputer.cpp: every registration passes through the dispatcher's hook,
    which wraps the slot's op's computer in a counting one (same line, so MNN's line numbers hold)."""
    decl = "std::shared_ptr<GeometryComputer> mkbGeometryHook(std::shared_ptr<GeometryComputer> comp, const std::vector<int>& type); "
    new, count = _GEOMETRY_REGISTER.subn(lambda m: decl + m.group(1) + " comp = mkbGeometryHook(comp, type);", text, count=1)
    if count != 1:
        raise RuntimeError("cannot find GeometryComputer::registerGeometryComputer in this MNN tree")
    return new


def geometry_dispatch_source(slot: Slot) -> str:
    """Generated per geometry task: counts registrations of the slot's op and the computations its computer did,
    through the same counters the runner reads for CPU kernels (creations = registrations, executions = computations;
    cpp_templates/geometry_dispatch.cpp)."""
    return render("geometry_dispatch.cpp", op=f"OpType_{slot.op_type}")


def placement(slot: Slot, candidate: KernelCandidate, mnn_root: Path) -> dict[str, str]:
    """The files to write into a workspace for this candidate (tree-relative path -> text)."""
    files: dict[str, str] = {}
    if slot.mechanism == "cpu":
        text = candidate.files.get(CANDIDATE_CPP, "")
        text, ok = candidate_registration_rewrite(text, slot.op_type)
        if not ok:
            # left as is: the build then fails with a clear message from the missing accessor
            text += f'\n#error "mkb: register the creator with REGISTER_CPU_OP_CREATOR(YourCreator, OpType_{slot.op_type});"\n'
        files[CANDIDATE_CPP] = text
        files[CANDIDATE_HPP] = candidate.files.get(CANDIDATE_HPP, "// (no header from the candidate)\n")
        native_cpp = slot.native_files[0]
        files[native_cpp] = native_registration_rewrite((mnn_root / native_cpp).read_text(errors="replace"), slot.op_type, slot.native_creator or "")
        files[DISPATCH_CPP] = dispatch_source(slot)
    elif slot.mechanism == "combiner":
        files[CANDIDATE_COMBINER] = candidate.files.get(CANDIDATE_COMBINER, "")
        native = slot.native_files[0]
        files[native] = native_combiner_rewrite((mnn_root / native).read_text(errors="replace"), slot.op_type)
    else:
        for path in slot.files:
            files[path] = candidate.files[path]
        files[GEOMETRY_CPP] = geometry_registration_rewrite((mnn_root / GEOMETRY_CPP).read_text(errors="replace"))
        files[DISPATCH_CPP] = geometry_dispatch_source(slot)
    return files


def workspace_seed_files() -> dict[str, str]:
    """Files every workspace has before its first configure (CMake globs the CPU sources then)."""
    return {
        CANDIDATE_CPP: "// mkb-tui: the candidate kernel goes here\n",
        CANDIDATE_HPP: "// mkb-tui: the candidate's optional header\n",
        DISPATCH_CPP: "// mkb-tui: generated per candidate\n",
        CANDIDATE_COMBINER: "// mkb-tui: the candidate combiner (converter transform) goes here\n",
    }


def native_candidate(task: Task, mnn_root: Path) -> KernelCandidate:
    """MNN's own implementation submitted through the slot (the oracle)."""
    slot = slot_for(task, mnn_root)
    if not slot.supported:
        raise RuntimeError(slot.reason)
    if slot.mechanism == "geometry":
        return KernelCandidate({p: (mnn_root / p).read_text(errors="replace") for p in slot.files})
    if slot.mechanism == "combiner":
        return KernelCandidate({CANDIDATE_COMBINER: native_combiner_candidate(slot, mnn_root)})
    cpp = (mnn_root / slot.native_files[0]).read_text(errors="replace")
    hpp_path = slot.native_files[1] if len(slot.native_files) > 1 else None
    # Classes the header declares are used by other MNN files too (e.g. CPUConvolution::ResourceInt8): the copy keeps
    # them, and their member definitions, already in the library, are left out. Classes local to the .cpp (and its
    # creator) are renamed so the copy can live beside the original; the oracle thus runs MNN's very own code.
    shared = _class_names((mnn_root / hpp_path).read_text(errors="replace")) if hpp_path else set()
    local = _local_names(cpp)
    trimmed = _without_members_of(cpp, shared)
    if local - shared <= _local_names(trimmed):
        cpp, names = trimmed, local - shared
    else:  # the parse swallowed more than members (preprocessor inside a body): copy everything, renamed
        names = local | shared
    prefix = "".join(f"#define {n} MKBOracle_{n}\n" for n in sorted(names))
    # other op types registered by the same file stay with the original: blank their lines in the copy
    cpp = re.sub(r"^REGISTER_CPU_OP_CREATOR\(\w+,\s*OpType_(?!" + slot.op_type + r"\))\w+\)\s*;?", "", cpp, flags=re.M)
    return KernelCandidate({CANDIDATE_CPP: "// oracle: MNN's native kernel through the slot\n" + prefix + cpp})


def _without_members_of(cpp: str, classes: set[str]) -> str:
    """The source without its out-of-line definitions of members of `classes` (functions and static data), found
    with tree-sitter so that bodies, comments and macros never confuse it."""
    if not classes:
        return cpp
    import tree_sitter_cpp
    from tree_sitter import Language, Parser

    data = cpp.encode()
    tree = Parser(Language(tree_sitter_cpp.language())).parse(data)

    def scope_of(declarator) -> str | None:
        while declarator is not None and declarator.type not in ("qualified_identifier",):
            declarator = declarator.child_by_field_name("declarator")
        if declarator is None:
            return None
        scope = declarator.child_by_field_name("scope")
        return scope.text.decode(errors="replace").split("<")[0] if scope is not None else None

    cuts: list[tuple[int, int]] = []
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        target = node.children[-1] if node.type == "template_declaration" and node.children else node
        if target.type in ("function_definition", "declaration") and scope_of(target.child_by_field_name("declarator")) in classes:
            cuts.append((node.start_byte, node.end_byte))
            continue
        if node.type in ("translation_unit", "namespace_definition", "declaration_list", "preproc_if", "preproc_ifdef",
                         "preproc_else", "preproc_elif", "linkage_specification"):  # fmt: skip
            stack.extend(node.children)
    for start, end in sorted(cuts, reverse=True):
        data = data[:start] + data[end:]
    return data.decode(errors="replace")


def native_combiner_candidate(slot: Slot, mnn_root: Path) -> str:
    """MNN's transform file as a candidate: its classes renamed (the original stays in the converter) and only the
    task's op registered."""
    cpp = (mnn_root / slot.native_files[0]).read_text(errors="replace")
    prefix = "".join(f"#define {n} MKBOracle_{n}\n" for n in slot.native_classes)
    cpp = re.sub(_COMBINER_INSERT.format(op=r"(?!" + slot.op_type + r'")\w+') + r"[^;]*;", "", cpp)
    return "// oracle: MNN's native converter transform through the slot\n" + prefix + cpp
