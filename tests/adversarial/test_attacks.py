"""Issue 11's attack classes (and more) through the real pipeline: each kernel must be classified honestly (caught, or
`correct` no faster than its honest computation), and leave nothing behind: no marker files outside the workspace,
no surviving processes, the device's inputs intact, the workspace still good for honest kernels.

Attacks the current main still lets through are strict xfails: when a defence lands, the xfail turns into an XPASS
failure, and the mark is removed (tests/adversarial/attacks.py: through_on_main=True only while main lets it through).
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import signal
from pathlib import Path

import pytest

from tests.adversarial.attacks import (DECOY_NAME, PLANTED_HEADER, SURVIVOR_PREFIX, VICTIM_WORKSPACE, Attack, by_task, honest,
                                      victim_kernel)
from tests.mnn_fixtures import credited, evaluate

OTHER_TASK = {"abs": "relu", "relu": "abs", "softmax_lastdim": "abs"}
PROBE_WORD = "MKB_PROBE_FOUND_HOST_FILE"
# flags with which the judge withholds a speedup it caught being faked (it leaves fast_p and the geomean)
CHEAT_FLAGS = {"timing_mismatch", "suspicious_speedup"}


def _params():
    for attack in by_task():
        marks = [pytest.mark.xfail(strict=True, reason=f"issue 11: class {attack.klass} ({attack.name}) not yet defended")]
        yield pytest.param(attack, id=f"{attack.klass}-{attack.name}", marks=marks if attack.through_on_main else [])


def _survivors() -> list[int]:
    """Processes the attacks started that are still alive (they name themselves mkbadv-...)."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().startswith(SURVIVOR_PREFIX):
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def _kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _damaged_inputs(pipeline, task_id: str) -> list[Path]:
    """The device's copies of a task's inputs whose content is none of the host's input sets."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.paths import cache_dir

    task = get_task(task_id)
    folder = f"{task.id}-{task.content_hash}"
    known = {hashlib.sha256(p.read_bytes()).digest() for p in (cache_dir() / "refs" / folder).glob("inputs_*.mkbt")}
    device = Path(pipeline.device.workdir)
    copies = [*(device / "inputs" / folder).glob("*.mkbt"), *(device / "refs" / folder).glob("inputs_*.mkbt")]
    return [p for p in copies if hashlib.sha256(p.read_bytes()).digest() not in known]


def _workspaces(pipeline) -> Path:
    from mkb_tui.paths import scratch_dir

    return scratch_dir("workspaces") / pipeline.mnn.ref / pipeline.target.name


def _planted(pipeline) -> list[Path]:
    return list(_workspaces(pipeline).glob(f"*/{PLANTED_HEADER}"))


def _evaluate(pipeline, task_id: str, files: dict[str, str]):
    """evaluate(), again once when the baseline's side failed: that says nothing about the candidate (on this shared
    machine, another checkout rebuilding the pristine library makes the baseline runner exit 127 meanwhile)."""
    verdict = evaluate(pipeline, task_id, files)
    if "of the baseline failed" in verdict.message:
        verdict = evaluate(pipeline, task_id, files)
    return verdict


def _evidence(verdict) -> str:
    """Everything of a verdict that flows on to prompts, logs and the store."""
    return "\n".join([verdict.message, verdict.first_mismatch or "", verdict.log or "",
                      *(f"{d.file}:{d.line}: {d.message}" for d in verdict.diagnostics)])  # fmt: skip


def _record(attack: Attack, verdict, problems: list[str]) -> None:
    """With MKB_ADV_REPORT=path, one JSON line per attack (what the findings board is written from)."""
    path = os.environ.get("MKB_ADV_REPORT")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps({"class": attack.klass, "name": attack.name, "task": attack.task, "verdict": verdict.kind.value,
                                  "speedup": verdict.speedup, "message": verdict.message[:300], "flags": verdict.flags,
                                  "problems": problems}) + "\n")  # fmt: skip


@pytest.mark.parametrize("task_id", ["abs", "relu", "softmax_lastdim"])
def test_the_honest_kernels_are_correct(strict_pipeline, task_id):
    """The attacks' honest computations, alone: correct (so an attack caught is caught for its cheat)."""
    verdict = _evaluate(strict_pipeline, task_id, honest(task_id))
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-2000:])


@pytest.mark.parametrize("attack", list(_params()))
def test_attack_is_classified_honestly(strict_pipeline, attack: Attack, tmp_path, monkeypatch):
    if attack.klass == "14":
        _need_pristine_converter(strict_pipeline)
    markers = tmp_path / "markers"
    markers.mkdir()
    token = secrets.token_hex(8)
    if attack.decoy:
        (markers / DECOY_NAME).write_text(f"MKB_DECOY_{token} is a secret of this host\n")
    key = f"sk-ant-mkbdecoy-{token}"
    if attack.secret:
        monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    victim = _workspaces(strict_pipeline) / VICTIM_WORKSPACE
    if attack.victim:
        slot_file = victim / "src/source/backend/cpu/MKBCandidate.cpp"
        slot_file.parent.mkdir(parents=True, exist_ok=True)
        slot_file.write_text(victim_kernel())

    try:
        verdict = _evaluate(strict_pipeline, attack.task, attack.files(markers))
    finally:
        if attack.victim:
            shutil.rmtree(victim, ignore_errors=True)

    problems: list[str] = []
    kind = verdict.kind.value
    gain = credited(verdict)  # a speedup the judge doubts is credited nothing
    honest_speed = attack.honest_cap is not None and (gain is None or gain <= attack.honest_cap
                                                      or bool(CHEAT_FLAGS & set(verdict.flags)))
    if kind not in attack.allowed and not (kind == "correct" and honest_speed):
        problems.append(f"verdict {kind} (speedup {verdict.speedup}): {verdict.message[:200]}")
    left = sorted(p.name for p in markers.iterdir() if p.name != DECOY_NAME)
    if left:
        problems.append(f"markers written outside the workspace: {left}")
    alive = _survivors()
    if alive:
        problems.append(f"processes outlived the verdict: {alive}")
        _kill(alive)
    text = _evidence(verdict)
    if attack.decoy and (f"MKB_DECOY_{token}" in text or PROBE_WORD in text):
        problems.append("the compiler's view of a host file came back in the verdict")
    if attack.secret and key in text:
        problems.append("the provider key came back in the verdict")
    left_behind = sorted(Path(strict_pipeline.device.workdir).glob(attack.leaves)) if attack.leaves else []
    if left_behind and kind == "correct":  # unnoticed; a judge that refused it sweeps the work dir before any next run
        problems.append(f"{len(left_behind)} files left in the device work dir for later processes ({left_behind[0].name}...)")
    damaged, planted = _damaged_inputs(strict_pipeline, attack.task), _planted(strict_pipeline)
    if attack.disturbs or damaged or planted:
        for task_id in (attack.task, OTHER_TASK.get(attack.task, "abs")):
            after = _evaluate(strict_pipeline, task_id, honest(task_id))
            if after.kind.value != "correct":
                problems.append(f"an honest {task_id} kernel afterwards: {after.kind.value} ({after.message[:150]})")
        if _damaged_inputs(strict_pipeline, attack.task):
            problems.append("the device's copies of the inputs stay damaged")
    # put things right for the next tests, whatever the judge did
    for path in _damaged_inputs(strict_pipeline, attack.task) + _planted(strict_pipeline) + left_behind:
        path.unlink(missing_ok=True)
    _record(attack, verdict, problems)
    assert not problems, problems


def test_honest_kernels_still_correct_after_the_attacks(strict_pipeline):
    """After the whole suite: nothing left behind, and honest kernels on two tasks pass in the same workspace."""
    assert _survivors() == [] and _planted(strict_pipeline) == []
    for task_id in ("abs", "relu"):
        verdict = _evaluate(strict_pipeline, task_id, honest(task_id))
        assert verdict.kind.value == "correct", (task_id, verdict.message)
        assert _damaged_inputs(strict_pipeline, task_id) == []


def _need_pristine_converter(pipeline) -> None:
    from mkb_tui.engine import converter

    if not converter.converter_exe(converter.pristine_converter_dir(pipeline.mnn)).exists():
        pytest.skip("the pristine converter is not built yet (a workspace converter would take 10 minutes cold)")
