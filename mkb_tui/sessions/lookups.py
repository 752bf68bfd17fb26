"""What the screens ask of the engine and the cluster, which they never import: MNN's own kernel for a task (read
from the user's pristine MNN tree at run time) and a cluster's status line."""

from __future__ import annotations


def native_kernel_files(task_id: str) -> dict[str, str] | None:
    """MNN's own kernel for a task, {path in the MNN tree: text}; None when MNN, the task or its slot is missing."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.mnn import find_mnn
    from mkb_tui.engine.slots import slot_for
    from mkb_tui.errors import MkbError

    info = find_mnn()
    if info is None:
        return None
    try:
        slot = slot_for(get_task(task_id), info.root)
    except (MkbError, OSError, RuntimeError):
        return None
    files = {rel: (info.root / rel).read_text(errors="replace") for rel in slot.native_files if (info.root / rel).is_file()}
    return files or None


def native_kernel_source(task_id: str) -> str | None:
    """The first file of MNN's own kernel for a task, or None."""
    files = native_kernel_files(task_id)
    return next(iter(files.values())) if files else None


def cluster_summary(address: str) -> str:
    """A cluster's status in one line (blocking)."""
    from mkb_tui.cluster.status import cluster_summary as summary

    return summary(address)
