"""Performance Parser: a verdict's timings -> indicators for the Accelerator, with the per-iteration trend."""

from __future__ import annotations

from mkb_tui.vocabulary.verdicts import Verdict


def indicators(verdict: Verdict, history: list[float | None] = ()) -> dict:
    data: dict = {"verdict": verdict.kind.value, "threads": verdict.threads, "device": verdict.device, "flags": verdict.flags}
    if verdict.candidate and verdict.baseline:
        data |= {
            "candidate_median_ms": round(verdict.candidate.median_ms, 5),
            "candidate_iqr_ms": round(verdict.candidate.iqr_ms, 5),
            "candidate_cv": round(verdict.candidate.cv, 3),
            "native_median_ms": round(verdict.baseline.median_ms, 5),
            "speedup": None if verdict.speedup is None else round(verdict.speedup, 3),
            "emulated": verdict.candidate.emulated,
        }
    trend = [round(s, 3) if s is not None else None for s in history]
    if trend:
        data["speedup_by_iteration"] = trend
    return data


def describe(verdict: Verdict, history: list[float | None] = ()) -> str:
    d = indicators(verdict, history)
    if "candidate_median_ms" not in d:
        return f"{d['verdict']} (not timed)"
    text = (f"candidate median {d['candidate_median_ms']} ms (IQR {d['candidate_iqr_ms']}, CV {d['candidate_cv']}), "
            f"MNN native {d['native_median_ms']} ms, speedup {d['speedup']}x")  # fmt: skip
    if d.get("speedup_by_iteration"):
        text += f"; speedup by iteration: {d['speedup_by_iteration']}"
    return text
