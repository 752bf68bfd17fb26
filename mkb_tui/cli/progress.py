"""Progress of long commands (MNN builds, oracle, tasks validate, --batch) with elapsed and remaining time.

On a terminal: rich progress bars. Through a pipe (or in CI logs): plain lines, one when a step starts, then at most
one per `every` fraction of it and one when it ends, each with elapsed and estimated remaining time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def clock(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}" if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def remaining(elapsed: float, done: float, total: float | None) -> float | None:
    """Time left at the rate so far (None until something is done or without a total)."""
    if not total or done <= 0:
        return None
    return max(0.0, elapsed / done * (total - done))


@dataclass
class _Plain:
    description: str
    total: float | None
    started: float = field(default_factory=lambda: time.monotonic())  # looked up at each call (tests set the clock)
    done: float = 0.0
    printed_fraction: float = 0.0
    finished: bool = False


def bar_columns() -> tuple:
    return (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
            TextColumn("left"), TimeRemainingColumn())  # fmt: skip


def count_line(done: int, total: int, started: float) -> str:
    """'[3/10] elapsed 1:02, about 2:25 left' for a plain log line."""
    elapsed = time.monotonic() - started
    return f"[{done}/{total}] elapsed {clock(elapsed)}, about {clock(remaining(elapsed, done, total))} left"


class StepProgress:
    """One bar (or line) per step: `add` a step, `update` it, `finish` it. Use as a context manager."""

    def __init__(self, console: Console | None = None, *, every: float = 0.1, transient: bool = False) -> None:
        self.console = console or Console(stderr=True)
        self.every = every
        self.terminal = self.console.is_terminal
        self._rich = Progress(*bar_columns(), console=self.console, transient=transient) if self.terminal else None
        self._plain: dict[int, _Plain] = {}

    def __enter__(self) -> StepProgress:
        if self._rich is not None:
            self._rich.start()
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.stop()

    def add(self, description: str, total: float | None = None) -> int:
        if self._rich is not None:
            return int(self._rich.add_task(description, total=total))
        key = len(self._plain)
        self._plain[key] = _Plain(description, total)
        self.console.print(f"{description}: started" + (f" (0/{total:g})" if total else ""), highlight=False, soft_wrap=True)
        return key

    def update(self, step: int, done: float | None = None, *, total: float | None = None, advance: float = 0.0, description: str | None = None) -> None:
        if self._rich is not None:
            kw = {"description": description} if description else {}
            if total is not None:
                kw["total"] = total
            if done is not None:
                kw["completed"] = done
            self._rich.update(TaskID(step), advance=advance or None, **kw)
            return
        p = self._plain[step]
        if total is not None:
            p.total = total
        if description:
            p.description = description
        p.done = done if done is not None else p.done + advance
        if p.total and p.done > 0:
            fraction = p.done / p.total
            if fraction - p.printed_fraction >= self.every and fraction < 1:
                p.printed_fraction = fraction
                self._line(p)

    def finish(self, step: int, message: str = "") -> None:
        if self._rich is not None:
            task = self._rich.tasks[step]
            self._rich.update(TaskID(step), completed=task.total if task.total is not None else task.completed,
                              description=f"{task.description} {message}".rstrip())  # fmt: skip
            return
        p = self._plain[step]
        if p.finished:
            return
        p.finished = True
        if p.total:
            p.done = max(p.done, p.total) if not message.startswith("failed") else p.done
        self.console.print(f"{p.description}: {message or 'done'} in {clock(time.monotonic() - p.started)}", highlight=False, soft_wrap=True)

    def _line(self, p: _Plain) -> None:
        elapsed = time.monotonic() - p.started
        left = remaining(elapsed, p.done, p.total)
        self.console.print(f"{p.description}: {p.done:g}/{p.total:g} ({p.done / p.total:.0%}), elapsed {clock(elapsed)}, about {clock(left)} left",
                           highlight=False, soft_wrap=True)  # fmt: skip
