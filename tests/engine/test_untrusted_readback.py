"""What the judge reads back from a runner process (its record of kept outputs, its report, its stderr) is written by
a process the candidate's code ran in. Any of it malformed is a `runtime_error` with a short message, never an
exception; and no input or reference value it carries reaches the verdict (issue 17, classes 19 and 20)."""

from __future__ import annotations

import asyncio
import json
import struct
from pathlib import Path

import numpy as np
import pytest

from mkb_tui.bench.tensorfile import read_tensors
from mkb_tui.device.base import ProcResult
from mkb_tui.engine.runner_report import malformed_report, parse_runner_output
from mkb_tui.engine.process_text import last_line, process_text, scrub
from mkb_tui.vocabulary.verdicts import Verdict, VerdictKind
from tests.engine.test_judge import FakeDevice, _judge, _sets


class TamperingDevice(FakeDevice):
    """The fake runner, with the candidate's processes rewriting their record, their report or their stderr."""

    def __init__(self, root: Path, sets, *, record=None, report=None, stderr: str = "", fail: bool = False) -> None:
        super().__init__(root, sets)
        self.record, self.report, self.stderr, self.fail = record, report, stderr, fail

    async def run(self, side: str, plan: str) -> ProcResult:
        proc = await super().run(side, plan)
        if side != "candidate":
            return proc
        if self.record is not None:
            name = next(l.split()[1] for l in plan.splitlines() if l.startswith("record "))
            path = self.root / name.replace("/", "_")
            path.write_bytes(self.record(path.read_bytes()))
        stdout = proc.stdout
        if self.report is not None:
            lines = stdout.rstrip("\n").split("\n")
            lines[-1] = json.dumps(self.report(json.loads(lines[-1])))
            stdout = "\n".join(lines) + "\n"
        return ProcResult(1 if self.fail else proc.returncode, stdout, self.stderr, proc.seconds)


def _verdict(tmp: Path, **kw) -> Verdict:
    sets = _sets(tmp)
    device = TamperingDevice(tmp, sets, **kw)
    judge = _judge(tmp, device, sets)
    verdict = Verdict("t", VerdictKind.RUNTIME_ERROR)

    async def go():
        if await judge.verify(verdict, require_proof=True, timeout=10):
            await judge.time(verdict, 10)

    asyncio.run(go())
    return verdict.make_safe()


def _dtype_at(blob: bytes, code: int) -> bytes:
    """The first tensor's dtype code rewritten (the header is 12 bytes, then its name length and name)."""
    (name_len,) = struct.unpack_from("<I", blob, 12)
    at = 16 + name_len
    return blob[:at] + struct.pack("<I", code) + blob[at + 4 :]


def _ndim_at(blob: bytes, ndim: int) -> bytes:
    (name_len,) = struct.unpack_from("<I", blob, 12)
    at = 20 + name_len
    return blob[:at] + struct.pack("<I", ndim) + blob[at + 4 :]


CORRUPTIONS = {
    "an unknown element type": lambda b: _dtype_at(b, 77),
    "int64 for float32": lambda b: _dtype_at(b, 2),
    "ndim out of bounds": lambda b: _ndim_at(b, 1 << 30),
    "ndim off by one": lambda b: _ndim_at(b, 3),
    "truncated": lambda b: b[: len(b) // 2],
    "a count of 2^32-1": lambda b: b[:8] + b"\xff\xff\xff\xff" + b[12:],
    "a name that is not UTF-8": lambda b: b[:16] + b"\xff" + b[17:],
    "a name without its run": lambda b: b[:16] + b"x" + b[17:],
    "trailing garbage": lambda b: b + b"\0" * 7,
    "empty": lambda b: b"",
    "a flood": lambda b: b + b"\0" * (8 << 20),
}


@pytest.mark.parametrize("case", sorted(CORRUPTIONS))
def test_a_malformed_record_is_a_runtime_error(tmp_path, case):
    verdict = _verdict(tmp_path, record=CORRUPTIONS[case])
    assert verdict.kind is VerdictKind.RUNTIME_ERROR and verdict.speedup is None, verdict.message
    assert "record of kept outputs" in verdict.message and len(verdict.message) < 240, verdict.message


REPORTS = {
    "times as a number": lambda r: {**r, "times_ms": 5},
    "times as strings": lambda r: {**r, "times_ms": ["a"] * len(r["times_ms"])},
    "times with a NaN": lambda r: {**r, "raw_ms": [float("nan")] * len(r["raw_ms"])},
    "hashes as a dict": lambda r: {**r, "hashes": {"0": "x"}},
    "one hash too few": lambda r: {**r, "hashes": r["hashes"][:1]},
    "hashes as numbers": lambda r: {**r, "hashes": [1] * len(r["hashes"])},
    "proof as a list": lambda r: {**r, "candidate_proof": [1, 2]},
    "proof counts as strings": lambda r: {**r, "candidate_proof": {"creations": "1", "executions": "9"}},
    "ok as a string": lambda r: {**r, "ok": "yes"},
    "an error that is an object": lambda r: {"ok": False, "error": {"values": [1.5, 2.5]}},
    "a list, not an object": lambda r: [r],
}


@pytest.mark.parametrize("case", sorted(REPORTS))
def test_a_malformed_report_is_a_runtime_error(tmp_path, case):
    verdict = _verdict(tmp_path, report=REPORTS[case])
    assert verdict.kind is VerdictKind.RUNTIME_ERROR and verdict.speedup is None, (case, verdict.message)
    assert len(verdict.message) < 300


def test_a_well_formed_report_passes_the_type_check():
    report = {"ok": True, "clock": "vdso", "times_ms": [0.5, 1], "raw_ms": [0.5, 1.0], "io_ms": [], "hashes": ["00ff"] * 2,
              "timed_ms": 1.5, "candidate_proof": {"creations": 1, "executions": 2, "nulls": 0}, "api": "session"}  # fmt: skip
    assert malformed_report(report) is None
    streamed = "mkbrun 0 500000 500000\nmkbrun 1 1000000 1000000\n"
    assert parse_runner_output(streamed + json.dumps(report)) == report
    assert parse_runner_output(streamed + json.dumps({**report, "hashes": [7, 8]}))["ok"] is False


def _secret_values(tmp_path: Path) -> list[np.ndarray]:
    return [a for s in _sets(tmp_path) for _, a in read_tensors(s.reference)]


def _spellings(values: np.ndarray) -> set[str]:
    """The ways a kernel might print a float: printf's %g, %f, %.9g, %a, %e, and its raw bytes in hex."""
    out = set()
    for v in values.reshape(-1)[:8]:
        f = float(v)
        out |= {f"{f:g}", f"{f:f}", f"{f:.9g}", f"{f:e}", f.hex(), np.float32(v).tobytes().hex(), repr(f)}
    return {s for s in out if len(s) >= 5}


def test_a_kernel_that_prints_the_inputs_and_fails_leaks_no_value(tmp_path):
    values = _secret_values(tmp_path)
    dump = "\n".join(f"set {i}: " + " ".join(f"{float(v):.9g} {float(v).hex()} {np.float32(v).tobytes().hex()}"
                                             for v in a.reshape(-1)[:8]) for i, a in enumerate(values))  # fmt: skip
    raw = b"".join(a.tobytes() for a in values).decode("latin-1")  # raw float bytes, as text
    error = {"ok": False, "error": "bad input: " + " ".join(f"{float(v):g}" for v in values[-1].reshape(-1)[:16])}
    verdict = _verdict(tmp_path, stderr=dump + raw * 3 + "\n" + dump, report=lambda r: error, fail=True)
    assert verdict.kind is VerdictKind.RUNTIME_ERROR
    seen = "\n".join([verdict.message, verdict.log, verdict.first_mismatch or "", json.dumps(verdict.to_dict())])
    leaked = [s for a in values for s in _spellings(a) if s in seen]
    assert not leaked, leaked[:5]
    assert "bad input" in verdict.message and "#" in verdict.message  # the words stay, the numbers go
    assert len(verdict.log) < 8000  # bounded: head and tail of each stream


def test_a_wrong_output_copying_its_input_leaks_no_value(tmp_path):
    values = _secret_values(tmp_path)

    def echo(blob: bytes) -> bytes:  # outputs replaced by 1000 x the reference: each value shown would be findable
        from mkb_tui.bench.tensorfile import parse_tensors, write_tensors

        path = tmp_path / "echo.mkbt"
        write_tensors(path, [(n, a * np.float32(1000.0) + np.float32(0.125)) for n, a in parse_tensors(blob)])
        return path.read_bytes()

    verdict = _verdict(tmp_path, record=echo)
    assert verdict.kind is VerdictKind.WRONG_OUTPUT, verdict.message
    seen = "\n".join([verdict.message, verdict.log, verdict.first_mismatch or "", repr(verdict.max_abs_error), repr(verdict.max_rel_error)])
    spelled = set()
    for a in values:
        spelled |= _spellings(a) | _spellings(a * np.float32(1000.0) + np.float32(0.125))
    assert not [s for s in spelled if s in seen]
    assert "flat index" in verdict.first_mismatch and "the tolerance" in verdict.first_mismatch


def test_scrub_keeps_words_and_drops_numbers():
    assert scrub("Segmentation fault at 0x7ffd3a2b, value=-1.25e+03 and 42") == "Segmentation fault at #, value=-# and #"
    assert scrub("raw \x00\x01\xff\x80 bytes\n\x7fAB@\nCD@\x01\ndeadbeefcafe") == "[non-text bytes]\n#"
    assert scrub("1.5 2.5 3.5, 4.5") == "#..."
    assert scrub("0x1.8p+3") == "#"


def test_process_text_is_bounded_head_and_tail():
    text = "start\n" + "x" * 10_000_000 + "\nthe last line"
    kept = process_text(text)
    assert kept.startswith("start") and kept.endswith("the last line") and len(kept) < 4000 and "left out" in kept
    assert last_line(text) == "the last line"
    assert last_line(b"\xff\xfe error 3.25\nerror 3.25\n") == "error #"


def test_fuzzed_reports_never_raise():
    """Reports of every shape JSON allows, for every field the judge reads: parsed into a failed run or a report whose
    fields have the types the judge uses, never an exception."""
    import random

    rng = random.Random(99)
    atoms = [None, True, False, 0, -1, 7, 1.5, 1e308, "", "x" * 100, "vdso", [], {}, [1, 2], ["a"], [None], {"a": 1},
             [0.5] * 3, ["00ff"] * 3, [[1]], {"creations": 1, "executions": "2"}]  # fmt: skip
    fields = ["ok", "error", "clock", "api", "precision", "times_ms", "raw_ms", "io_ms", "hashes", "timed_ms", "candidate_proof"]
    ok = 0
    for _ in range(5000):
        report = {k: rng.choice(atoms) for k in fields if rng.random() < 0.7}
        n = rng.randint(0, 3)
        streamed = "".join(f"mkbrun {i} 500000 500000\n" for i in range(n))
        got = parse_runner_output(streamed + json.dumps(report))
        assert got is None or isinstance(got, dict)
        if got and got.get("ok"):
            ok += 1
            assert malformed_report(got) is None
            assert all(isinstance(v, (int, float)) for k in ("times_ms", "raw_ms", "io_ms") for v in got.get(k) or [])
    assert parse_runner_output(json.dumps({"ok": False, "clock": "v" * 1000}))["error"].endswith("(clock)")
