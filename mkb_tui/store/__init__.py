"""SQLite session store (aiosqlite, WAL, versioned schema)."""

from mkb_tui.store.store import SessionSummary, Store, TaskState

__all__ = ["SessionSummary", "Store", "TaskState"]
