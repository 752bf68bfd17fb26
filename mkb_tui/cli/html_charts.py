"""The HTML report's two charts as inline SVG (pure functions: data in, markup out).

Drawn here rather than by a plotting library so that the page stays a few tens of KB (plotly.js inlined made a
two-task report 4.8 MB) and needs nothing fetched to open. Speedups are drawn on a log2 axis around 1.0x (MNN's
own kernel): a 2x and a 0.5x kernel are the same distance from the line. Every mark has a <title>, so hovering
names the task. All text goes through the caller's escape function (stored text is untrusted).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from mkb_tui.bench.charts import IterationPoint

WIDTH, HEIGHT = 900, 320
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 16, 40
MIN_BAR, MAX_BAR = 3.0, 48.0
UP, DOWN, BEST, LINE = "#3a7", "#d84", "#37a", "#c80"


def _axis(values: list[float]) -> tuple[float, float]:
    """log2 range covering the values and the 0.5x..2x band, so a single 1.0x kernel still reads as a level."""
    logs = [math.log2(v) for v in values if v > 0] or [0.0]
    return min(-1.0, math.floor(min(logs))), max(1.0, math.ceil(max(logs)))


class _Plot:
    def __init__(self, values: list[float], marks: int = 0) -> None:
        self.lo, self.hi = _axis(values)
        # wider than the page when the marks would not fit at their minimum width (the page scrolls, bars stay bars)
        self.width = max(WIDTH, round(LEFT + RIGHT + marks * MIN_BAR / 0.8))
        self.inner_w, self.inner_h = self.width - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def y(self, speedup: float) -> float:
        t = (math.log2(max(speedup, 2.0**self.lo)) - self.lo) / (self.hi - self.lo)
        return TOP + (1 - t) * self.inner_h

    def grid(self, x_label: str, esc: Callable[[object], str]) -> list[str]:
        out = [f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + self.inner_h}" stroke="#999"/>']
        for e in range(int(self.lo), int(self.hi) + 1):
            y = self.y(2.0**e)
            label = f"{2.0 ** e:g}x"
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{self.width - RIGHT}" y2="{y:.1f}" stroke="#eee"/>')
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">{label}</text>')
        for level, dash in ((1.0, ""), (1.5, ' stroke-dasharray="5,4"')):
            y = self.y(level)
            out.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{self.width - RIGHT}" y2="{y:.1f}" stroke="{LINE}"{dash}><title>{level}x</title></line>')
        out.append(f'<text x="{LEFT + self.inner_w / 2:.0f}" y="{HEIGHT - 8}" text-anchor="middle" font-size="12">{esc(x_label)}</text>')
        return out


def _svg(plot: _Plot, parts: list[str], title: str, esc: Callable[[object], str]) -> str:
    size = f'width="100%" style="max-width:{WIDTH}px"' if plot.width == WIDTH else f'width="{plot.width}"'
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {plot.width} {HEIGHT}" {size} role="img" aria-label="{esc(title)}">'
            + "".join(parts) + "</svg>")  # fmt: skip


def speedup_bars(best: dict[str, float], esc: Callable[[object], str]) -> str:
    """One bar per task with a counted speedup, sorted, from the 1.0x line up (faster than MNN) or down."""
    if not best:
        return '<p class=note>no task has a correct kernel timed on real hardware: nothing to draw</p>'
    plot = _Plot(list(best.values()), len(best))
    items = sorted(best.items(), key=lambda kv: kv[1])
    slot = plot.inner_w / len(items)
    bar = max(MIN_BAR, min(MAX_BAR, slot * 0.8))  # never a hairline, never one block for a single task
    base = plot.y(1.0)
    parts = plot.grid(f"{len(items)} tasks with a correct, timed kernel, slowest to fastest", esc)
    for i, (task, speed) in enumerate(items):
        x = LEFT + i * slot + (slot - bar) / 2
        top, height = min(base, plot.y(speed)), abs(plot.y(speed) - base)
        parts.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar:.1f}" height="{max(height, 1.5):.1f}" '
                     f'fill="{UP if speed >= 1 else DOWN}"><title>{esc(task)}: {speed:.2f}x</title></rect>')  # fmt: skip
    return _svg(plot, parts, "best speedup per task", esc)


def sawtooth(points: list[IterationPoint], esc: Callable[[object], str]) -> str:
    """Every iteration in order: its speedup (a dot) and its task's best so far (a step line that restarts per task)."""
    timed = [p for p in points if p.speedup is not None]
    if not timed:
        return '<p class=note>no iteration has a counted speedup: nothing to draw</p>'
    plot = _Plot([p.speedup for p in timed], len(points))
    step = plot.inner_w / max(1, len(points))

    def x(p: IterationPoint) -> float:
        return LEFT + (p.x + 0.5) * step

    parts = plot.grid("iteration (all tasks in order; a grey line starts each task)", esc)
    path: list[str] = []  # the best-so-far steps: M starts a task's line, V then H climbs to a new best
    previous: IterationPoint | None = None
    for p in points:
        new_task = previous is None or p.task_id != previous.task_id
        if new_task and previous is not None:
            edge = LEFT + p.x * step
            parts.append(f'<line x1="{edge:.1f}" y1="{TOP}" x2="{edge:.1f}" y2="{TOP + plot.inner_h}" stroke="#ddd"/>')
        if p.best_so_far is not None:
            y, start, end = plot.y(p.best_so_far), x(p) - step / 2, x(p) + step / 2
            continues = not new_task and previous is not None and previous.best_so_far is not None
            path.append(f"V{y:.1f} H{end:.1f}" if continues else f"M{start:.1f},{y:.1f} H{end:.1f}")
        previous = p
    if path:
        parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{BEST}" stroke-width="2"/>')
    for p in timed:
        parts.append(f'<circle cx="{x(p):.1f}" cy="{plot.y(p.speedup):.1f}" r="3.5" fill="{UP if p.speedup >= 1 else DOWN}">'
                     f"<title>{esc(p.task_id)} iteration {p.iteration}: {p.speedup:.2f}x</title></circle>")  # fmt: skip
    return _svg(plot, parts, "speedup per iteration", esc)
