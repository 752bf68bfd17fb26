"""The supervisor's channel (plan 2) against a runner written here in Python that speaks the protocol, honestly or not:
inputs arrive only when their run starts, the clocks are the supervisor's, outputs are hashed and kept by it."""

import asyncio
import hashlib
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from mkb_tui.bench.tensorfile import write_tensors
from mkb_tui.device.local import LocalDevice
from mkb_tui.engine.channel import ChannelError, channel_plan_text, input_layout, parse_channel
from mkb_tui.engine.schedule import ProcessPlan

# A runner on plan 2: announces one float32 output shaped like its input, then per run waits for 'G', doubles the
# input (spending BUSY_MS of CPU first) and says 'D'. MODE picks a misbehaviour.
RUNNER = textwrap.dedent(
    r"""
    import json, mmap, os, sys, threading, time
    plan = [l.split() for l in sys.stdin.read().splitlines() if l.strip()]
    assert plan[0] == ["mkbplan", "2"]
    tensors = [l for l in plan if l[0] == "tensor"]
    runs = int(next(l for l in plan if l[0] == "runs")[1])
    nbytes = int(tensors[0][-1])
    mode, busy = os.environ.get("MODE", "honest"), float(os.environ.get("BUSY_MS", "0")) / 1000
    inp = mmap.mmap(4, nbytes, prot=mmap.PROT_READ)
    if mode == "garbage_layout":
        os.write(5, b"nonsense\n")
    elif mode == "module":  # ready first, the layout once the first run has computed
        os.write(5, b"S\n")
    else:
        if mode.startswith("direct") or mode in ("bad_address", "input_onto_output"):  # where the supervisor may copy itself
            import ctypes
            in_tensor, out_tensor = ctypes.create_string_buffer(nbytes), ctypes.create_string_buffer(nbytes)
            at = 8 if mode == "bad_address" else ctypes.addressof(out_tensor if mode == "input_onto_output" else in_tensor)
            os.write(5, f"I 0 {at} {nbytes}\nO 0 {ctypes.addressof(out_tensor)} {nbytes}\n".encode())
        n = nbytes if mode != "huge" else 1 << 40
        os.write(5, f"R {n} 1 out 0 1 {nbytes // 4}\n".encode())
    os.ftruncate(6, nbytes)
    out = mmap.mmap(6, nbytes)
    seen = []
    def spin(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass
    words = []
    for r in range(runs):
        word = os.read(3, 1)
        words.append(word.decode())
        if word not in (b"G", b"H"):
            break
        data = bytes(in_tensor.raw) if word == b"H" else bytes(inp[:nbytes])
        if mode == "direct_early_done":  # 'D' first, the answer well after it
            os.write(5, b"D")
            time.sleep(0.03)
        seen.append(data.hex()[:16])
        spin(busy)
        import array
        a = array.array("f"); a.frombytes(data)
        b = array.array("f", [2 * x for x in a])
        if word == b"H":
            out_tensor.raw = b.tobytes()
        else:
            out[:nbytes] = b.tobytes()
        if mode == "module" and r == 0:
            os.write(5, f"R {nbytes} 1 out 0 1 {nbytes // 4}\n".encode())
        if mode != "direct_early_done":
            os.write(5, b"D")
        if mode == "direct_double_done":  # a module's 'D' and the runner's: two per run
            os.write(5, b"D")
        if mode == "peek":  # work on what the input memory holds once a run is done, before the next 'G'
            time.sleep(0.02)
            spin(0.02)
            seen.append("after:" + bytes(inp[:nbytes]).hex()[:16])
        if mode == "gap":  # work done between runs
            spin(0.01)
    os.read(3, 1)  # as the runner does: alive (its tensors too) until the supervisor ends the channel
    print(json.dumps({"ok": True, "times_ms": [0.0] * runs, "raw_ms": [0.0] * runs, "seen": seen, "words": words}))
    """
)


def _sets(root: Path, count: int) -> list[str]:
    names = []
    for i in range(count):
        path = root / "task" / f"inputs_{i}.mkbt"
        path.parent.mkdir(parents=True, exist_ok=True)
        write_tensors(path, [("x", np.full((4, 8), float(i + 1), dtype=np.float32))])
        names.append(f"task/inputs_{i}.mkbt")
    return names


def _run(tmp_path, mode="honest", busy_ms=0.0, runs=6, keep=(0, 3)):
    sealed = tmp_path / "sealed"
    names = _sets(sealed, runs)
    work = tmp_path / "work"
    script = tmp_path / "runner.py"
    script.write_text(RUNNER)
    layout = input_layout(sealed / names[0])
    text = channel_plan_text(ProcessPlan(tuple(range(runs))), layout, model="m", api="session", threads=1, precision="high")
    device = LocalDevice(work, contained=False, sealed=sealed)

    async def go():
        await device.push({"bin/runner.py": script})
        try:
            return await device.run_channel([sys.executable, str(work / "bin" / "runner.py")], timeout=30, stdin=text.text.encode(),
                                            sets=names, keep=list(keep), max_out=1 << 20, env={"MODE": mode, "BUSY_MS": str(busy_ms)})  # fmt: skip
        finally:
            await device.close() if hasattr(device, "close") else None

    return asyncio.run(go()), runs, keep


def test_each_run_gets_its_input_just_in_time_and_the_supervisor_keeps_the_outputs(tmp_path):
    proc, runs, keep = _run(tmp_path, mode="peek")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    during = [s for s in report["seen"] if not s.startswith("after:")]
    after = [s[6:] for s in report["seen"] if s.startswith("after:")]
    expected = [np.full(1, float(i + 1), dtype=np.float32).tobytes().hex() * 2 for i in range(runs)]
    assert during == expected
    # whatever the runner sees between its 'D' and the next 'G', the work it does there is on the clock: the next
    # input arrives only after the supervisor read the runner's CPU clock for the run it goes to
    assert all(a in expected for a in after)
    record = parse_channel(proc.channel, runs=runs, keep=keep)
    for run in keep:
        np.testing.assert_array_equal(record.kept[run][0], np.full(32, 2.0 * (run + 1), dtype=np.float32))
    for run, clock in enumerate(record.runs):
        out = np.full(32, 2.0 * (run + 1), dtype=np.float32).tobytes()
        assert clock.digest == hashlib.sha256(out).hexdigest()
    assert record.total_cpu_ns and record.total_cpu_ns > sum(r.cpu_ns for r in record.runs)


@pytest.mark.parametrize("mode", ["direct", "bad_address"])
def test_the_supervisor_copies_into_and_out_of_the_session_tensors_itself(tmp_path, mode):
    # direct: every input is written into the tensor the runner announced and every output read from its output
    # tensor, so the runner copies nothing ('H'); an address the kernel's copy refuses: the runner copies ('G')
    proc, runs, keep = _run(tmp_path, mode=mode)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["words"] == (["H"] if mode == "direct" else ["G"]) * runs, report["words"]
    assert proc.channel["direct"] is (mode == "direct")
    record = parse_channel(proc.channel, runs=runs, keep=keep)
    assert record.direct is (mode == "direct")
    for run, clock in enumerate(record.runs):
        assert clock.digest == hashlib.sha256(np.full(32, 2.0 * (run + 1), dtype=np.float32).tobytes()).hexdigest()
    for run in keep:
        np.testing.assert_array_equal(record.kept[run][0], np.full(32, 2.0 * (run + 1), dtype=np.float32))


def test_direct_outputs_not_written_by_the_done_word_are_poison(tmp_path):
    # the supervisor poisons the output tensors before each run: an answer written after 'D' is not the one it reads
    # (the first run's reads as poison, each later one as the answer before it, written late), and the CPU spent after
    # a 'D' is charged all the same (the gap to the next input)
    proc, runs, keep = _run(tmp_path, mode="direct_early_done", runs=3, keep=(0, 1))
    record = parse_channel(proc.channel, runs=runs, keep=keep)
    assert record.direct
    assert record.kept[0][0].tobytes() == b"\xad\xde\xc0\x7f" * 32
    np.testing.assert_array_equal(record.kept[1][0], np.full(32, 2.0, dtype=np.float32))
    for run, clock in enumerate(record.runs):
        assert clock.digest != hashlib.sha256(np.full(32, 2.0 * (run + 1), dtype=np.float32).tobytes()).hexdigest()


def test_more_done_words_than_runs_break_the_protocol(tmp_path):
    proc, runs, keep = _run(tmp_path, mode="direct_double_done", runs=4)
    with pytest.raises(ChannelError, match="more often than it was given one"):
        parse_channel(proc.channel, runs=runs, keep=keep)


def test_the_supervisor_clock_sees_the_work_of_each_run(tmp_path):
    proc, runs, _ = _run(tmp_path, busy_ms=20.0, runs=4, keep=())
    record = parse_channel(proc.channel, runs=runs, keep=())
    for clock in record.runs:
        assert 18e6 <= clock.cpu_ns <= 80e6 and clock.wall_ns >= clock.cpu_ns * 0.9


def test_work_between_runs_is_charged_to_them(tmp_path):
    proc, runs, _ = _run(tmp_path, mode="gap", runs=4, keep=())
    record = parse_channel(proc.channel, runs=runs, keep=())
    # the CPU it spent after each 'D' is charged to a run (the next one, as its input is handed over at once, or this
    # one where the supervisor read the clock late): all of it but the last run's, which is the process's untimed
    assert sum(r.cost_ms for r in record.runs) >= 9.0 * (runs - 1)
    assert record.untimed_ms() >= 9.0


def test_peeking_at_the_next_input_before_its_go_is_charged(tmp_path):
    proc, runs, _ = _run(tmp_path, mode="peek", runs=4, keep=())
    record = parse_channel(proc.channel, runs=runs, keep=())
    assert sum(r.cost_ms for r in record.runs) >= 19.0 * (runs - 1)


@pytest.mark.parametrize("mode, words", [("garbage_layout", "layout is malformed"), ("huge", "bytes of outputs")])
def test_a_runner_that_breaks_the_protocol_is_stopped_with_a_short_reason(tmp_path, mode, words):
    proc, runs, keep = _run(tmp_path, mode=mode)
    assert not proc.timed_out
    with pytest.raises(ChannelError, match=words):
        parse_channel(proc.channel, runs=runs, keep=keep)


def test_output_layouts_are_read_defensively():
    good = {"error": None, "runs": [[1, 1, 0, hashlib.sha256(b"\0" * 8).hexdigest()]], "kept": {"0": "AAAAAAAAAAA="},
            "total_cpu_ns": 10, "layout": "R 8 1 out 0 1 2"}  # fmt: skip
    assert parse_channel(good, runs=1, keep=(0,)).kept[0][0].shape == (2,)
    for layout in ["R 8 1 out 99 1 2", "R 8 1 out 0 1 -2", "R 8 2 out 0 1 2", "R 9 1 out 0 1 2", "R x", "", "R 8 1 out 0 17 " + "1 " * 17,
                   "R 8 1 out 0 1 2 extra", "R 8 100000 a"]:  # fmt: skip
        with pytest.raises(ChannelError):
            parse_channel({**good, "layout": layout}, runs=1, keep=(0,))
    with pytest.raises(ChannelError, match="completed 1 of 2"):
        parse_channel(good, runs=2, keep=())
    with pytest.raises(ChannelError, match="not those hashed"):
        parse_channel({**good, "kept": {"0": "AQAAAAAAAAA="}}, runs=1, keep=(0,))


def test_a_module_announces_its_outputs_after_its_first_run(tmp_path):
    proc, runs, keep = _run(tmp_path, mode="module")
    record = parse_channel(proc.channel, runs=runs, keep=keep)
    for run in keep:
        np.testing.assert_array_equal(record.kept[run][0], np.full(32, 2.0 * (run + 1), dtype=np.float32))


def test_untimed_work_in_every_candidate_process_is_charged_and_one_noisy_process_is_not():
    from mkb_tui.engine.channel import setup_charge_ms

    base = [7.0, 7.2, 6.9, 7.1]
    assert setup_charge_ms(base, [7.3, 7.0, 7.4, 31.0], 6) == 0.0  # one process a busy machine slowed
    moved = setup_charge_ms(base, [30.0, 31.0, 29.5, 30.5], 6)  # ~23 ms more in every process: paid by the 6 runs
    assert 2.5 < moved < 3.5
    assert setup_charge_ms(base, [7.5, 8.0], 6) == 0.0  # within start-up noise
    assert setup_charge_ms([], [30.0], 6) == 0.0


def test_an_input_announced_onto_an_output_is_never_copied_there(tmp_path):
    # a kernel writing its own announcement on the control descriptor had the supervisor copy a concat's inputs
    # straight into its output, on the supervisor's clock (credited 2.5x): tensors that share bytes are refused for
    # the direct copy, and the runner copies (its own time)
    proc, runs, _ = _run(tmp_path, mode="input_onto_output", runs=3, keep=(0,))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["words"] == ["G"] * runs and proc.channel["direct"] is False
