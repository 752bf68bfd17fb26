"""Issue 17, classes 19 and 20, through the real pipeline: a kernel that prints its inputs (fixed seeds and secret
sets) to its error text and fails leaks no input value into the verdict (message, log, diagnostics, anything stored);
kernels that make the runner's record or report malformed end as `runtime_error`, never as an exception."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.adversarial.readback_kernels import READBACK_ATTACKS
from tests.mnn_fixtures import evaluate

CPP = "source/backend/cpu/MKBCandidate.cpp"


def _inputs(task_id: str) -> list[np.ndarray]:
    """Every input array of the task's fixed seeds and secret pool, as the host keeps them."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.bench.tensorfile import read_tensors
    from mkb_tui.paths import cache_dir

    task = get_task(task_id)
    folder = cache_dir() / "refs" / f"{task.id}-{task.content_hash}"
    return [a for p in sorted(folder.glob("inputs_*.mkbt")) for _, a in read_tensors(p)]


def _c_hex(value: float) -> str:
    """printf's %a of a double (Python's float.hex keeps trailing zeros)."""
    if value == 0:
        return "0x0p+0"
    sign, rest = ("-", value.hex()[1:]) if value < 0 else ("", value.hex())
    mantissa, exp = rest.split("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{sign}{mantissa}p{exp}"


def _spellings(arrays: list[np.ndarray]) -> set[str]:
    out = set()
    for a in arrays:
        for v in a.reshape(-1):
            f = float(v)
            out |= {f"{f:.9g}", _c_hex(f), f"{np.float32(v).view(np.uint32):08x}", f"{f:g}"}
    return {s for s in out if len(s.lstrip("-")) >= 6}  # "0", "-1", "2.5": too short to tell from other text


def _everything(verdict) -> str:
    """Every text of the verdict (what flows on to prompts, logs and the store); its numbers (times, phases) aside."""
    return "\n".join([verdict.message, verdict.first_mismatch or "", verdict.log or "", *verdict.flags,
                      json.dumps(verdict.timing_check), *(f"{d.file}:{d.line}: {d.message}" for d in verdict.diagnostics)])  # fmt: skip


@pytest.mark.parametrize("name", ["prints_inputs_then_fails", "prints_inputs_in_a_forged_error"])
def test_a_kernel_printing_its_inputs_leaks_no_value(strict_pipeline, name):
    verdict = evaluate(strict_pipeline, "abs", {CPP: READBACK_ATTACKS[name]})
    assert verdict.kind.value == "runtime_error", (verdict.kind.value, verdict.message)
    text = _everything(verdict)
    spellings = _spellings(_inputs("abs"))
    assert len(spellings) > 1000  # the fixed seeds and the secret pool, each in four spellings
    leaked = sorted(s for s in spellings if s in text)
    assert not leaked, [(s, text[max(0, text.index(s) - 80) : text.index(s) + 40]) for s in leaked[:3]]
    assert len(verdict.message) < 400 and len(verdict.log) < 20000


@pytest.mark.parametrize("name", ["record_element_type_rewritten", "forged_report_of_wrong_types"])
def test_a_malformed_record_or_report_is_a_runtime_error(strict_pipeline, name):
    verdict = evaluate(strict_pipeline, "abs", {CPP: READBACK_ATTACKS[name]})  # it returns: no exception
    assert verdict.kind.value == "runtime_error", (verdict.kind.value, verdict.message)
    assert verdict.speedup is None and len(verdict.message) < 300
    assert "Traceback" not in verdict.log
    if name == "record_element_type_rewritten":
        # plan 1: the record file it wrote; plan 2 (the channel): the output layout it announced to the supervisor
        assert "record of kept outputs is malformed" in verdict.message or "output layout" in verdict.message, verdict.message
    else:  # the forged line is the last (the abort keeps the runner's own from coming): the judge read it unharmed
        assert "report is malformed" in verdict.message or "killed by signal" in verdict.message, verdict.message


def test_a_correct_verdict_carries_no_compiler_warnings_in_its_message(strict_pipeline):
    """Hundreds of warnings (KB of text): the message of a correct verdict stays its one line; the log keeps them,
    bounded."""
    from tests.adversarial.kernels import CORRECT

    noisy = CORRECT.replace("namespace MNN {", "".join(f'#warning "mkb noisy warning {i} ' + "x" * 60 + '"\n' for i in range(300))
                            + "namespace MNN {", 1)  # fmt: skip
    verdict = evaluate(strict_pipeline, "abs", {CPP: noisy})
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])
    assert "warning" not in verdict.message and len(verdict.message) < 200, verdict.message
    assert "mkb noisy warning" in verdict.log and len(verdict.log) <= 20000
