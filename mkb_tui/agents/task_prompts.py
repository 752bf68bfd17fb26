"""The prompts a task starts from, as pure functions of the task, its slot and the MNN tree: what the Coder sees
first, and what a trainer gives its model for the same task (the reward service's task endpoint)."""

from __future__ import annotations

from pathlib import Path

from mkb_tui.agents.prompts import Template
from mkb_tui.bench.tasks import Task

SIMD_NOTES = {
    "host": "x86: CPU backend files are compiled without AVX flags: use SSE, or __attribute__((target(\"avx2,fma\"))) on "
            "functions with AVX2 intrinsics.",
    "aarch64": "aarch64: NEON intrinsics (arm_neon.h) are available.",
}  # fmt: skip


def system_prompt(templates: dict[str, Template], role: str, *, mnn_version: str, target: str) -> str:
    simd = SIMD_NOTES["host"] if target == "host" else SIMD_NOTES["aarch64"]
    return templates["system"].render(role=role, mnn_version=mnn_version, target=target, simd_note=simd)


def slot_files_text(slot) -> str:
    optional = f" (optional: {', '.join(slot.optional_files)})" if slot.optional_files else ""
    return ", ".join(slot.files) + optional


def coder_prompt(templates: dict[str, Template], task: Task, slot, mnn_root: Path, onnx_node: str) -> str:
    """The Coder's first prompt: the task, its ONNX node, where the code goes, MNN's headers and a real kernel."""
    headers = []
    for rel in slot.headers:
        path = mnn_root / rel
        if path.exists():
            headers.append(f"### {rel}\n```cpp\n{path.read_text(errors='replace')[:6000]}\n```")
    example_path = slot.native_files[0] if slot.native_files else ""
    example = (mnn_root / example_path).read_text(errors="replace")[:8000] if example_path and (mnn_root / example_path).exists() else ""
    return templates["coder_initial"].render(
        task_id=task.id, op=task.op, category=task.category, description=task.description, tolerance=task.tolerance,
        task_source=task.source, onnx_node=onnx_node, mechanism=slot.mechanism, registration=slot.registration,
        slot_files=slot_files_text(slot), headers="\n\n".join(headers), example_path=example_path, example=example,
    )  # fmt: skip
