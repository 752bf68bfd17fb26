"""What a verdict can be flagged with: one closed set of names, each with the one line a person reads beside it.

A flag is a fact about how a verdict or its figure was reached (a doubt, a re-check, a weaker containment), never
data: the figures that once rode in flags (`timed_speedup=2.13`, `node=HOST/ID`, `attempts=2`) are Verdict fields.
`Flag` is a `StrEnum`, so a flag is its name wherever text is wanted (JSON, the store, `"reverified" in flags`).
Stored and remote verdicts are read through `read_flags`, which knows every older spelling and drops what it does not
know: a worker's payload cannot put words of its own into the flags a screen shows.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any


class Flag(StrEnum):
    # doubts: a speedup with one of these earns nothing until a fully checked re-timing confirms it (REVERIFIED)
    SUSPICIOUS_SPEEDUP = "suspicious_speedup"
    UNSTABLE_TIMING = "unstable_timing"
    HIGH_DISPERSION = "high_dispersion"
    TIMING_MISMATCH = "timing_mismatch"
    TIMING_UNVERIFIED = "timing_unverified"
    TIMING_IMPOSSIBLE = "timing_impossible"  # never credited, re-verified or not
    # how the figure was reached
    REVERIFIED = "reverified"
    RETIMED = "retimed"
    RECHECK_DISTURBED = "recheck_disturbed"
    NEAR_ROOFLINE = "near_roofline"
    EMULATED = "emulated"
    # about the task or the harness, not the kernel
    NATIVE_INCORRECT = "native_incorrect"
    WORKSPACE_RESTORED = "workspace_restored"
    DEVICE_INPUTS_RESTORED = "device_inputs_restored"
    # containment weaker than designed on this machine
    UNCONTAINED = "uncontained"
    CPU_PIN_AFFINITY = "cpu_pin_affinity"
    SANDBOX_USERNS = "sandbox_userns"
    SECCOMP_OFF = "seccomp_off"

    @property
    def meaning(self) -> str:
        """One line: what the flag says (for a doubt, why the speedup does not count)."""
        return MEANINGS[self]

    @property
    def doubt(self) -> bool:
        return self in DOUBTS


DOUBTS = frozenset({Flag.SUSPICIOUS_SPEEDUP, Flag.UNSTABLE_TIMING, Flag.HIGH_DISPERSION, Flag.TIMING_MISMATCH,
                    Flag.TIMING_UNVERIFIED, Flag.TIMING_IMPOSSIBLE})  # fmt: skip

MEANINGS: dict[Flag, str] = {
    Flag.SUSPICIOUS_SPEEDUP: "above what this task's kernels can plausibly gain; counts once a fully checked re-timing confirms it",
    Flag.UNSTABLE_TIMING: "the two halves of its timing runs disagree; counts once re-verified",
    Flag.HIGH_DISPERSION: "its run-to-run spread is too wide to trust the figure; counts once re-verified",
    Flag.TIMING_MISMATCH: "the runner's clock was contradicted by a witness it cannot touch",
    Flag.TIMING_UNVERIFIED: "a large speedup no witness could confirm; counts once re-verified",
    Flag.TIMING_IMPOSSIBLE: "faster than the device's memory and compute floor allow: never counts",
    Flag.REVERIFIED: "a second, fully checked timing confirmed the figure",
    Flag.RETIMED: "timed again after a noisy first timing; the clean figure stands",
    Flag.RECHECK_DISTURBED: "the re-check was disturbed by other load; the first, lower figure stands",
    Flag.NEAR_ROOFLINE: "at half the device's roofline or more: said, not doubted",
    Flag.EMULATED: "timed under emulation: correct, but never a speedup",
    Flag.NATIVE_INCORRECT: "MNN's own kernel fails this task's reference",
    Flag.WORKSPACE_RESTORED: "the candidate's processes changed the harness's files; they were put back",
    Flag.DEVICE_INPUTS_RESTORED: "the device's input files were changed and put back",
    Flag.UNCONTAINED: "ran without the sandbox (bubblewrap is not usable here): the judge's containment did not apply",
    Flag.CPU_PIN_AFFINITY: "pinned to a core by affinity only (no cpuset cgroup)",
    Flag.SANDBOX_USERNS: "contained by a user namespace only",
    Flag.SECCOMP_OFF: "ran without its system-call filter",
}

# older spellings, as stored by earlier versions
_LEGACY = {"cpu_pin=affinity": Flag.CPU_PIN_AFFINITY, "sandbox=userns": Flag.SANDBOX_USERNS, "seccomp=off": Flag.SECCOMP_OFF}
# figures that rode in flags as "name=value", now Verdict fields
_FIELDS = {"timed_speedup": float, "node": str, "attempts": int}


def read_flags(raw: Iterable[Any]) -> tuple[list[Flag], dict[str, Any]]:
    """Flags from stored or remote text, and the fields older flags carried (timed_speedup, node, attempts). Unknown
    words are dropped; each flag is kept once, in order."""
    flags: list[Flag] = []
    fields: dict[str, Any] = {}
    for item in raw if isinstance(raw, (list, tuple)) else ():
        if not isinstance(item, str):
            continue
        flag = _LEGACY.get(item)
        if flag is None and item in Flag._value2member_map_:
            flag = Flag(item)
        if flag is not None:
            if flag not in flags:
                flags.append(flag)
            continue
        name, sep, value = item.partition("=")
        if sep and name in _FIELDS:
            try:
                fields[name] = _FIELDS[name](value)
            except ValueError:
                pass
    return flags, fields
