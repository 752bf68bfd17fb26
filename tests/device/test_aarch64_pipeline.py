"""The whole pipeline on the aarch64 build: under qemu, and on the loopback phone through the real adb server."""

from __future__ import annotations

import asyncio

import pytest

from tests.adversarial.kernels import BAD, CORRECT

CPP = "source/backend/cpu/MKBCandidate.cpp"


@pytest.fixture(scope="module")
def aarch64_ready(mnn):
    from mkb_tui.engine.toolchain import aarch64_target

    if aarch64_target().missing_tools():
        pytest.skip("aarch64 cross compiler or qemu missing: apt-get install g++-aarch64-linux-gnu qemu-user")
    if not (mnn.home / "build-aarch64" / "libMNN.a").exists():
        pytest.skip("the aarch64 baseline is not built: run `mkb-tui setup mnn --build aarch64`")
    return mnn


def evaluate(pipeline, task_id, text):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.vocabulary.verdicts import KernelCandidate

    return asyncio.run(pipeline.evaluate(get_task(task_id), KernelCandidate({CPP: text})))


@pytest.fixture(scope="module")
def qemu_pipeline(aarch64_ready):
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline

    return Pipeline(open_device("qemu"), mnn=aarch64_ready, run_timeout=60)


@pytest.mark.parametrize("name, expected", [("correct", "correct"), ("garbage_fast", "wrong_output"), ("segfault", "runtime_error")])
def test_qemu_kernels(qemu_pipeline, name, expected):
    verdict = evaluate(qemu_pipeline, "abs", CORRECT if name == "correct" else BAD[name][0])
    assert verdict.kind.value == expected, (verdict.message, verdict.log[-2000:])
    assert verdict.speedup is None  # emulated: never a speedup
    if expected == "correct":
        assert verdict.candidate.emulated and "emulated" in verdict.flags


@pytest.mark.parametrize("task_id", ["abs", "softmax_lastdim", "layernorm_bert", "maxpool_k2s2", "equal_float"])
def test_qemu_oracle_sample(qemu_pipeline, task_id):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.oracle import judge
    from mkb_tui.engine.slots import native_candidate

    task = get_task(task_id)
    verdict = asyncio.run(qemu_pipeline.evaluate(task, native_candidate(task, qemu_pipeline.mnn.root), static=False))
    passed, message = judge(task, verdict, "aarch64")
    assert passed, message
    assert verdict.kind.value == "correct"  # float Equal is right on NEON: the x86-only bug does not apply


def test_adb_phone_pipeline(aarch64_ready, phone):
    from mkb_tui.device import open_device
    from mkb_tui.engine.pipeline import Pipeline, TimingPlan

    pipeline = Pipeline(open_device(f"adb:{phone.serial}"), mnn=aarch64_ready, run_timeout=20, timing=TimingPlan(rounds=1, warmup=1, runs=2, extra=2, max_rounds=1))
    good = evaluate(pipeline, "abs", CORRECT)
    assert good.kind.value == "correct" and good.device == f"adb:{phone.serial}", good.message
    assert good.speedup is not None  # a phone's timings count (this one happens to be emulated inside the test)
    assert evaluate(pipeline, "abs", BAD["garbage_fast"][0]).kind.value == "wrong_output"
    assert evaluate(pipeline, "abs", BAD["segfault"][0]).kind.value == "runtime_error"
    pipeline.run_timeout = 3
    assert evaluate(pipeline, "abs", BAD["infinite_loop"][0]).kind.value == "timeout"
    phone.adbd.fail_push_after = 1 << 20  # the phone vanishes while the next runner is pushed
    vanished = evaluate(pipeline, "abs", BAD["garbage_fast"][0].replace("dst[0] = 0.0f;", "dst[0] = 1.0f;"))
    assert vanished.kind.value == "device_error" and "adb:" in vanished.message
