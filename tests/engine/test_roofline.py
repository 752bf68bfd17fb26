"""Plausibility from physics (mkb_tui.engine.roofline): the work counted from real tasks, the judgment of a measured
time against a device's roofline, the caps measured on this host, and the Judge refusing a time below the floor."""

import asyncio
import json
import math
import random

import pytest

from mkb_tui.bench.export import onnx_path
from mkb_tui.bench.tasks import get_task
from mkb_tui.engine import roofline as rl
from mkb_tui.engine.roofline import Caps, RooflineBound, Tensor, Work, count_work, judge_time, work_from_onnx
from mkb_tui.vocabulary.verdicts import IMPOSSIBLE, NEAR_ROOFLINE, REVERIFIED, Roofline, TimingStats, Verdict, VerdictKind, doubts
from tests.engine.test_judge import FakeDevice, _judge, _sets

F32 = 4


def work(task_id: str) -> Work:
    return work_from_onnx(onnx_path(get_task(task_id)))


# ---- work counted from real tasks ------------------------------------------------------------------------------------


def test_elementwise_tasks_move_their_inputs_and_outputs_once():
    n = 1 * 128 * 768
    abs_ = work("abs")
    assert (abs_.bytes, abs_.ops, abs_.rule) == (2 * n * F32, n, "elementwise")
    add = work("add")
    assert add.bytes == 3 * n * F32 and add.ops == n
    erf = work("erf")
    assert erf.bytes == 2 * n * F32 and erf.ops == rl.TRANSCENDENTAL_OPS * n and erf.rule == "transcendental"
    # bool outputs are one byte; Where needs the condition and one of its two sources per lane
    assert work("greater").bytes == 2 * n * F32 + n
    assert work("where_select").bytes == n + n * F32 + n * F32


def test_matmul_and_gemm_count_two_flops_per_multiply_add():
    m = work("matmul_2d")  # [256, 512] x [512, 256]
    assert m.ops == 2 * 256 * 256 * 512 and m.bytes == (256 * 512 * 2 + 256 * 256) * F32
    assert work("gemm_transa").ops == 2 * 128 * 64 * 256  # a is [256, 128] transposed: K = 256
    assert work("einsum_attention").ops == 2 * 8 * 64 * 64 * 32  # bhqd,bhkd->bhqk contracts d = 32
    assert work("einsum_outer_batched").ops == 16 * 64 * 64  # nothing contracted: one product per output
    assert work("matmul_vec").ops == 2 * 768 * 768


def test_convolutions_count_one_multiply_add_per_input_channel_and_output_never_the_taps():
    c = work("conv3x3_p1")  # 32 -> 64 channels, 56x56, 3x3: Winograd may save most of the 9 taps, so they do not count
    assert c.ops == 2 * 64 * 32 * 56 * 56
    assert c.bytes == (32 * 56 * 56 + 64 * 32 * 9 + 64 + 64 * 56 * 56) * F32  # the weights are read once too
    assert work("conv_depthwise3x3").ops == 2 * 32 * 56 * 56
    assert work("convtranspose_k2s2").ops == 2 * 32 * 16 * 28 * 28
    # a stride above the kernel leaves inputs unread: only what the outputs use counts
    x, w = Tensor((1, 8, 16, 16), F32), Tensor((8, 8, 1, 1), F32)
    strided = count_work("Conv", [x], [Tensor((1, 8, 8, 8), F32)], {"kernel_shape": [1, 1], "strides": [2, 2]}, [w])
    assert strided.bytes == (8 * 8 * 8 + 8 * 8 * 8 + 64) * F32


def test_reductions_read_every_input_and_subsets_only_what_they_use():
    r = work("reducesum_lastdim")
    assert r.bytes == (128 * 768 + 128) * F32 and r.ops == 128 * 768
    g = work("gather_embedding")  # a [4096, 256] table, 2x64 ids: only the gathered rows are read
    assert g.bytes == (2 * 64 * 256) * F32 + 2 * 64 * 8 + (2 * 64 * 256) * F32
    assert work("slice_step2").bytes == 2 * 128 * 384 * F32
    assert work("split_qkv").bytes == 2 * 128 * 2304 * F32


def test_views_have_no_floor_and_recurrent_ops_count_their_gemms():
    view = work("reshape_heads")
    assert not view.bounded and view.bytes == 0
    lstm = work("lstm")  # seq 32, batch 4, input 64, hidden 128, 4 gates
    assert lstm.ops == 2 * 32 * 4 * 4 * 128 * (64 + 128)
    assert work("stft").ops == 2 * 31 * 256 * 8  # an FFT of 256 points per frame, 31 frames, 2 signals


def test_task_work_is_cached_per_task_version(tmp_path, monkeypatch):
    task = get_task("abs")
    export = onnx_path(task)  # from the real cache: the export is not what this test is about
    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr("mkb_tui.bench.export.onnx_path", lambda t: export)
    first = rl.task_work(task)
    record = tmp_path / "roofline" / f"work-abs-{task.content_hash}-v{rl.WORK_VERSION}.json"
    assert json.loads(record.read_text())["bytes"] == first.bytes
    record.write_text(json.dumps({**first.as_dict(), "bytes": 12345}))  # read back, not counted again
    assert rl.task_work(task).bytes == 12345


# ---- the judgment -------------------------------------------------------------------------------------------------

CAPS = Caps("test", ((16 << 10, 200.0), (1 << 20, 100.0), (64 << 20, 20.0)), peak_gflops=100.0)


def test_the_bandwidth_at_a_footprint_is_the_best_of_the_sizes_not_above_it():
    assert CAPS.bandwidth_gbs(4 << 10) == 200.0  # below every size: the best of all
    assert CAPS.bandwidth_gbs(2 << 20) == 200.0  # 16 KiB and 1 MiB are below it: the best of them
    noisy = Caps("n", ((16 << 10, 150.0), (64 << 10, 180.0), (64 << 20, 20.0)), 100.0)
    assert noisy.bandwidth_gbs(32 << 10) == 150.0 and noisy.bandwidth_gbs(1 << 30) == 180.0


def test_a_time_is_memory_or_compute_bound_whichever_is_slower():
    mem = Work("Abs", bytes=100 << 20, ops=1000, rule="elementwise")  # 100 MiB at 200 GB/s
    assert rl.roofline_ns(mem, CAPS) == pytest.approx((100 << 20) / 200.0)
    comp = Work("MatMul", bytes=1 << 10, ops=10**9, rule="matmul")  # 1 GFLOP at 100 GFLOP/s: 10 ms
    assert rl.roofline_ns(comp, CAPS) == pytest.approx(1e7)
    assert judge_time(comp, CAPS, 20.0).bound == "compute" and judge_time(mem, CAPS, 20.0).bound == "memory"
    assert rl.roofline_ns(comp, CAPS, threads=4) == pytest.approx(2.5e6)  # more cores lower the floor
    assert rl.floor_ns(comp, CAPS) == pytest.approx(rl.SAFETY * 1e7)


def test_judgment_thresholds_impossible_near_and_ordinary():
    w = Work("MatMul", bytes=1 << 10, ops=10**9, rule="matmul")  # roofline 10 ms, floor 5 ms
    ordinary = judge_time(w, CAPS, 40.0)
    assert ordinary.fraction == pytest.approx(0.25) and not ordinary.near and not ordinary.impossible
    near = judge_time(w, CAPS, 12.0)
    assert near.near and not near.impossible and near.fraction == pytest.approx(10 / 12, rel=1e-3)
    beyond = judge_time(w, CAPS, 6.0)  # faster than the roofline, not below the floor: near, still possible
    assert beyond.near and not beyond.impossible and beyond.fraction > 1
    below = judge_time(w, CAPS, 4.9)
    assert below.impossible and not below.near and below.floor_ns == pytest.approx(5e6)


def test_no_floor_applies_on_an_emulated_device_or_to_a_view():
    w = Work("MatMul", bytes=1 << 10, ops=10**9, rule="matmul")
    emulated = Caps("qemu", CAPS.bandwidth, CAPS.peak_gflops, emulated=True)
    assert not judge_time(w, emulated, 0.001).impossible and not judge_time(w, emulated, 0.001).applies
    view = Work("Reshape", 0, 0, "view", bounded=False)
    judged = judge_time(view, CAPS, 1e-6)
    assert not judged.impossible and judged.floor_ns == 0 and judged.bound == "none"


def test_impossible_is_never_forgiven_by_a_reverification():
    assert doubts([IMPOSSIBLE, REVERIFIED]) == (IMPOSSIBLE,)
    assert doubts(["suspicious_speedup", REVERIFIED]) == ()
    assert NEAR_ROOFLINE not in doubts([NEAR_ROOFLINE])


def test_the_roofline_travels_in_the_verdict_json_and_old_rows_still_load():
    v = Verdict("abs", VerdictKind.CORRECT, speedup=2.0)
    v.roofline = judge_time(work("abs"), CAPS, 0.01)
    data = json.loads(json.dumps(v.to_dict()))
    assert data["roofline"]["floor_ns"] == v.roofline.floor_ns and data["roofline"]["bytes"] == 2 * 128 * 768 * F32
    again = Verdict.from_dict(data)
    assert isinstance(again.roofline, Roofline) and again.roofline == v.roofline
    del data["roofline"]
    assert Verdict.from_dict(data).roofline is None


# ---- caps measured on this host -----------------------------------------------------------------------------------


def test_a_malformed_caps_report_is_refused():
    with pytest.raises(ValueError):
        rl.parse_caps("nothing here", "d", emulated=False)
    with pytest.raises(ValueError):
        rl.parse_caps('{"ok": true, "bandwidth": [{"bytes": 1024, "read": -1}], "peak_gflops": 3}', "d", emulated=False)
    good = rl.parse_caps('noise\n{"ok": true, "vector_bytes": 32, "bandwidth": [{"bytes": 1024, "read": 3, "copy": 5}], '
                         '"peak_gflops": 7.5}', "d", emulated=True)  # fmt: skip
    assert good.bandwidth == ((1024, 5.0),) and good.peak_gflops == 7.5 and good.emulated


class CountingDevice:
    """The local device, counting its runs."""

    def __init__(self, inner) -> None:
        self.inner, self.runs = inner, 0
        self.name, self.target, self.emulated = inner.name, inner.target, inner.emulated

    async def info(self):
        return await self.inner.info()

    async def push(self, files):
        await self.inner.push(files)

    async def run(self, argv, **kw):
        self.runs += 1
        return await self.inner.run(argv, **kw)


def test_caps_measured_on_this_host_are_sane_and_cached(tmp_path, monkeypatch):
    from mkb_tui.device.local import LocalDevice

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    device = CountingDevice(LocalDevice(tmp_path / "work"))

    async def go():
        try:
            first = await rl.measure_caps(device)
            second = await rl.measure_caps(device)
        finally:
            await device.inner.close()
        return first, second

    first, second = asyncio.run(go())
    assert device.runs == 1 and second == first  # the second came from the cache
    assert len(list((tmp_path / "cache" / "roofline").glob("caps-local-*.json"))) == 1
    for size, gbs in first.bandwidth:
        assert 0.5 < gbs < 2000, (size, gbs)
    assert 0.5 < first.dram_bandwidth_gbs < 500
    assert first.dram_bandwidth_gbs <= first.peak_bandwidth_gbs
    assert 1 < first.peak_gflops < 5000 and not first.emulated and first.vector_bytes in (16, 32, 64)


# ---- the Judge: a time below the floor ----------------------------------------------------------------------------


def _evaluate_with(tmp, bound, **kw) -> Verdict:
    sets = _sets(tmp)
    judge = _judge(tmp, FakeDevice(tmp, sets, **kw), sets)
    judge.roofline = bound
    verdict = Verdict("t", VerdictKind.RUNTIME_ERROR)

    async def go():
        if await judge.verify(verdict, require_proof=True, timeout=10):
            await judge.time(verdict, 10)

    asyncio.run(go())
    return verdict


def test_a_time_below_the_floor_is_impossible_and_never_credited(tmp_path):
    # the candidate claims 0.5 ms a run (a 2x speedup, far below any plausible bound), but the task moves 0.3 GB and
    # the device streams at most 200 GB/s: 1.5 ms at the roofline, 0.75 ms the floor (MNN's 1 ms is above it)
    bound = RooflineBound(Work("Abs", bytes=3 * 10**8, ops=0, rule="elementwise"), CAPS)
    verdict = _evaluate_with(tmp_path, bound)
    assert verdict.kind is VerdictKind.CORRECT and IMPOSSIBLE in verdict.flags
    assert verdict.speedup is None and 2.0 <= verdict.timed_speedup < 3.0
    assert verdict.roofline.impossible and verdict.roofline.fraction == pytest.approx(3, rel=0.05)
    assert verdict.roofline.native_fraction == pytest.approx(1.5, rel=0.05)
    assert REVERIFIED not in verdict.flags and "reverify_speedup" not in verdict.timing_check  # no second timing spent


def test_a_time_above_the_floor_is_credited_with_its_fraction(tmp_path):
    bound = RooflineBound(Work("Abs", bytes=10**7, ops=0, rule="elementwise"), CAPS)  # roofline 0.05 ms
    verdict = _evaluate_with(tmp_path, bound)
    assert verdict.kind is VerdictKind.CORRECT and IMPOSSIBLE not in verdict.flags and NEAR_ROOFLINE not in verdict.flags
    assert abs(verdict.speedup - 2.0) < 0.05
    assert verdict.roofline.fraction == pytest.approx(0.1, rel=0.05) and not verdict.roofline.impossible
    assert math.isclose(verdict.roofline.bandwidth_gbs, 200.0)


def test_a_large_speedup_the_device_allows_is_not_impossible(tmp_path):
    # 20x over the baseline (above the old fixed bound of 10), and the roofline allows it
    bound = RooflineBound(Work("Abs", bytes=10**6, ops=0, rule="elementwise"), CAPS)
    verdict = _evaluate_with(tmp_path, bound, claimed=0.05, true=0.05)
    assert IMPOSSIBLE not in verdict.flags and verdict.speedup > 15 and REVERIFIED in verdict.flags
    assert bound.max_speedup(verdict.baseline.median_ms) > 100


def test_eval_shows_the_roofline_in_one_line():
    from mkb_tui.cli.engine_cmd import roofline_line

    w = Work("MatMul", bytes=1 << 10, ops=10**9, rule="matmul")
    judged = judge_time(w, CAPS, 4.0)
    judged.native_fraction = 0.2
    line = roofline_line(judged)
    assert line.startswith("250% of the roofline, MNN's kernel 20% (below the floor: impossible)")
    assert "compute-bound" in line and "floor 5000.00 us" in line
    assert roofline_line(judge_time(Work("Reshape", 0, 0, "view", bounded=False), CAPS, 1.0)).startswith("no floor")


def test_caps_below_mnns_own_time_judge_nothing(tmp_path):
    # the caps say 5 ms at least, but MNN's own kernel (the baseline) ran in 1 ms: the caps are wrong, not MNN
    bound = RooflineBound(Work("Abs", bytes=2 * 10**9, ops=0, rule="elementwise"), CAPS)
    verdict = _evaluate_with(tmp_path, bound)
    assert IMPOSSIBLE not in verdict.flags and abs(verdict.speedup - 2.0) < 0.05
    assert not verdict.roofline.applies and not verdict.roofline.impossible and verdict.roofline.native_fraction > 1


def test_measuring_again_only_raises_the_figures():
    low = Caps("d", ((1024, 50.0), (1 << 20, 30.0)), 40.0, measured="a")
    high = Caps("d", ((1024, 80.0), (1 << 20, 20.0), (1 << 26, 5.0)), 30.0, measured="b")
    merged = rl.merge_caps(low, high)
    assert merged.bandwidth == ((1024, 80.0), (1 << 20, 30.0), (1 << 26, 5.0)) and merged.peak_gflops == 40.0


def test_eval_json_reports_a_credited_kernels_fraction_of_the_roofline(mnn, tmp_path):
    import os
    import subprocess
    import sys

    from tests.adversarial.kernels import CORRECT

    (tmp_path / "MKBCandidate.cpp").write_text(CORRECT)
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "eval", "--task", "abs", "--kernel", str(tmp_path / "MKBCandidate.cpp"), "--json"],
                         capture_output=True, text=True, timeout=600, env={**os.environ})  # fmt: skip
    data = json.loads(out.stdout)
    assert data["verdict"] == "correct" and data["speedup"] is not None, data["message"]
    roof = data["roofline"]
    assert roof["bytes"] == 2 * 128 * 768 * F32 and roof["bound"] == "memory" and roof["applies"]
    assert 0 < roof["fraction"] < 1 / rl.SAFETY and 0 < roof["native_fraction"] < 1 / rl.SAFETY
    assert roof["floor_ns"] == pytest.approx(rl.SAFETY * roof["roofline_ns"], rel=1e-3)
    assert 0.5 < roof["bandwidth_gbs"] < 5000 and roof["peak_gflops"] > 1 and IMPOSSIBLE not in data["flags"]


@pytest.mark.aarch64
def test_caps_under_qemu_are_recorded_as_emulated_and_judge_nothing(tmp_path, monkeypatch):
    from mkb_tui.engine.toolchain import aarch64_target

    if aarch64_target().missing_tools():
        pytest.skip("aarch64 cross compiler or qemu missing: apt-get install g++-aarch64-linux-gnu qemu-user")
    from mkb_tui.device.qemu import QemuDevice

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path / "cache"))
    device = QemuDevice(tmp_path / "work")

    async def go():
        try:
            return await rl.measure_caps(device)
        finally:
            await device.close()

    caps = asyncio.run(go())
    assert caps.emulated and caps.device == "qemu" and caps.vector_bytes == 16 and caps.peak_gflops > 0
    assert list((tmp_path / "cache" / "roofline").glob("caps-qemu-*.json"))
    judged = judge_time(work("abs"), caps, 1e-9)  # a nanosecond: impossible anywhere real, not judged here
    assert not judged.applies and not judged.impossible


def test_every_task_has_a_counting_rule():
    from mkb_tui.bench.tasks import load_tasks

    rules = {}
    for task in load_tasks():
        w = work(task.id)
        rules[task.id] = w.rule
        assert w.rule != "unknown", task.id
        assert w.bounded == (w.rule != "view") and (w.bytes > 0) == w.bounded, task.id
    assert sorted(t for t, r in rules.items() if r == "view") == ["flatten_features", "reshape_flatten_tokens", "reshape_heads", "squeeze_axis1"]


# ---- the rest of the model: MNN's own ops around the slot, timed op by op in the trusted baseline's process ----------

TINY = Work("Abs", bytes=1 << 10, ops=0, rule="elementwise")  # a floor of nanoseconds: only the rest can decide


def _with_rest(op_ns: dict[str, float]) -> RooflineBound:
    bound = RooflineBound(TINY, CAPS)
    bound.set_profile(op_ns, "UnaryOp")
    return bound


def test_a_candidate_that_makes_the_models_other_ops_cost_nothing_is_impossible(tmp_path):
    # MNN's 1 ms: 0.2 ms its UnaryOp, 0.8 ms the conversions around it. The candidate's 0.3 ms total is less than half
    # of what MNN's own conversions take, whatever its kernel did: they did not run (a swapped pointer, data only)
    verdict = _evaluate_with(tmp_path, _with_rest({"UnaryOp": 2e5, "ConvertTensor": 8e5}), claimed=0.3, true=0.3)
    assert IMPOSSIBLE in verdict.flags and verdict.speedup is None
    assert verdict.roofline.rest_ns == pytest.approx(4e5) and verdict.roofline.op_share == pytest.approx(0.2)


def test_an_honest_kernel_far_faster_than_mnns_is_credited_over_the_same_rest(tmp_path):
    # the op 10x faster (0.02 ms), the conversions as MNN's (0.8 ms): 0.82 ms, credited about 1.22x
    verdict = _evaluate_with(tmp_path, _with_rest({"UnaryOp": 2e5, "ConvertTensor": 8e5}), claimed=0.82, true=0.82)
    assert IMPOSSIBLE not in verdict.flags and verdict.speedup == pytest.approx(1 / 0.82, rel=0.03)
    assert verdict.roofline.applies and not verdict.roofline.impossible


def test_the_rest_never_weighs_more_than_the_baseline_itself_and_needs_the_slots_op(tmp_path):
    # callbacks around many tiny ops made the profile 4x the model's real 1 ms: the rest is scaled to the baseline
    inflated = _with_rest({"UnaryOp": 1e6, "Raster": 3e6})
    verdict = _evaluate_with(tmp_path, inflated, claimed=0.5, true=0.5)
    assert IMPOSSIBLE not in verdict.flags and verdict.roofline.rest_ns == pytest.approx(1.5e6 / 4, rel=0.01)
    lowered = _with_rest({"Raster": 8e5, "While": 2e5})  # the slot's op is not among them: no rest is known
    assert lowered.rest_ns == 0 and lowered.op_share is None


def test_an_uncounted_task_still_gets_the_rest_of_its_model_as_a_floor():
    uncounted = Work("Gemm", 0, 0, "uncounted", bounded=False)
    assert not judge_time(uncounted, CAPS, 1e-6).applies  # nothing known: nothing judged
    judged = judge_time(uncounted, CAPS, 0.1, rest_ns=2e5)
    assert judged.applies and judged.impossible and judged.floor_ns == pytest.approx(2e5)
    assert not judge_time(uncounted, Caps("qemu", CAPS.bandwidth, CAPS.peak_gflops, emulated=True), 0.1, rest_ns=2e5).impossible


@pytest.mark.mnn
def test_the_baselines_profile_times_the_slot_and_the_rest_of_a_real_model(pipeline):
    from mkb_tui.engine.slots import native_candidate

    task = get_task("batchnorm_nchw")  # a Scale between two ConvertTensors
    verdict = asyncio.run(pipeline.evaluate(task, native_candidate(task, pipeline.mnn.root), static=False))
    assert verdict.kind is VerdictKind.CORRECT and IMPOSSIBLE not in verdict.flags, verdict.message
    assert verdict.roofline.rest_ns > 0 and 0 < verdict.roofline.op_share < 1


def test_eval_says_what_the_rest_of_the_model_puts_in_the_floor():
    from mkb_tui.cli.engine_cmd import roofline_line

    judged = judge_time(Work("Gemm", 0, 0, "uncounted", bounded=False), CAPS, 1.0, rest_ns=2e5)
    judged.op_share = 0.25
    assert roofline_line(judged) == "floor 200.00 us from the rest of the model; the model's other ops (75% of MNN's time) put 200.00 us in the floor"
