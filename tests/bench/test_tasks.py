"""The benchmark: counts per category, the loader, the MKBT layout, references, and both checks for all 190 tasks."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

from mkb_tui.bench.tasks import CATEGORIES, get_task, load_tasks, parse_task
from mkb_tui.bench.tensorfile import read_tensors, write_tensors
from mkb_tui.errors import TaskError

PAPER_TASKS = {"Unary": 11, "Binary": 8, "Trigonometry": 12, "Activation": 12, "Normalization": 12, "Pooling": 15,
               "Convolution": 21, "Matrix": 19, "Reduction": 35, "Tensor": 28, "Logic": 13, "Others": 4}  # fmt: skip
PAPER_OPS = {"Unary": 11, "Binary": 7, "Trigonometry": 12, "Activation": 6, "Normalization": 3, "Pooling": 4,
             "Convolution": 2, "Matrix": 4, "Reduction": 10, "Tensor": 19, "Logic": 11, "Others": 4}  # fmt: skip
ALL = load_tasks()


def test_counts_match_the_paper():
    assert len(ALL) == 190
    assert Counter(t.category for t in ALL) == PAPER_TASKS
    ops = {c: {t.op for t in ALL if t.category == c} for c in CATEGORIES}
    assert len({t.op for t in ALL}) == 95
    for category, expected in PAPER_OPS.items():
        assert abs(len(ops[category]) - expected) <= 2, (category, sorted(ops[category]))


def test_metadata_is_complete_and_consistent():
    for t in ALL:
        assert len(t.seeds) >= 5 and len(set(t.seeds)) == len(t.seeds)
        assert t.mnn_ops, f"{t.id}: MNN_OPS not recorded"
        assert t.description
        if t.tolerance > 1e-4:
            assert t.tolerance_reason, t.id
    flagged = {t.id for t in ALL if t.native_incorrect}
    assert flagged == {"equal_float", "less_float", "round"}


def test_listing_does_not_import_torch():
    code = "import sys; from mkb_tui.bench.tasks import load_tasks; load_tasks(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_patterns_and_unknown_ids():
    assert {t.id for t in load_tasks("unary/*")} == {t.id for t in ALL if t.category == "Unary"}
    assert [t.id for t in load_tasks("softmax*")] == ["softmax_axis1", "softmax_lastdim"]
    assert {t.op for t in load_tasks(op="conv")} == {"Conv"}
    with pytest.raises(TaskError, match="unknown task 'nope'"):
        get_task("nope")


def test_malformed_task_file_is_a_task_error(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text('OP = "Abs"\nCATEGORY = "Nonsense"\n')
    with pytest.raises(TaskError, match="missing metadata"):
        parse_task(bad)


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int64, np.uint8, np.bool_, np.float16, np.int8, np.float64])
def test_tensorfile_round_trip(tmp_path, dtype):
    rng = np.random.default_rng(1)
    tensors = [("a", (rng.random((2, 3, 4)) * 100).astype(dtype)), ("scalar", np.array(7, dtype=dtype)), ("empty", np.zeros((0, 5), dtype))]
    write_tensors(tmp_path / "t.mkbt", tensors)
    back = read_tensors(tmp_path / "t.mkbt")
    assert [n for n, _ in back] == ["a", "scalar", "empty"]
    for (_, want), (_, got) in zip(tensors, back):
        assert got.dtype == want.dtype and got.shape == want.shape
        np.testing.assert_array_equal(got, want)


def test_tensorfile_layout_is_what_the_runner_reads(tmp_path):
    write_tensors(tmp_path / "t.mkbt", [("x", np.array([1.5, -2.0], np.float32))])
    blob = (tmp_path / "t.mkbt").read_bytes()
    # magic, version 1, count 1, name_len 1, "x", dtype 0, ndim 1, dim 2, nbytes 8, data
    assert blob[:4] == b"MKBT"
    assert blob[4:12] == (1).to_bytes(4, "little") + (1).to_bytes(4, "little")
    assert blob[12:17] == (1).to_bytes(4, "little") + b"x"
    assert blob[17:25] == (0).to_bytes(4, "little") + (1).to_bytes(4, "little")
    assert blob[25:33] == (2).to_bytes(8, "little") and blob[33:41] == (8).to_bytes(8, "little")
    assert np.frombuffer(blob[41:], np.float32).tolist() == [1.5, -2.0]


def test_references_are_seeded_and_cached(tmp_path, monkeypatch):
    from mkb_tui.bench.references import reference_case, sample_inputs

    monkeypatch.setenv("MKB_CACHE_DIR", str(tmp_path))
    task = get_task("round")
    first = sample_inputs(task, 3)
    assert np.array_equal(first[0], sample_inputs(task, 3)[0])
    assert not np.array_equal(first[0], sample_inputs(task, 4)[0])
    assert first[0].reshape(-1)[:5].tolist() == [0.5, 1.5, 2.5, -0.5, -2.5]  # edge values placed first
    case = reference_case(task, 3)
    assert case.inputs_path.exists() and str(tmp_path) in str(case.inputs_path)
    np.testing.assert_array_equal(case.outputs()[0], np.round(first[0]))


@pytest.mark.parametrize("task", ALL, ids=[t.id for t in ALL])
def test_task_validates(task):
    """Check 1: the export is exactly one node of the target op; check 2: onnxruntime == PyTorch eager."""
    from mkb_tui.bench.validate import validate_task

    result = validate_task(task)
    assert result.single_node, result.message
    assert result.matches, result.message


@pytest.mark.parametrize("task", ALL, ids=[t.id for t in ALL])
def test_recorded_mnn_ops_match_the_converter(task):
    import importlib.util
    import sys as _sys
    from pathlib import Path

    gen = Path(__file__).resolve().parents[2] / "tasks" / "_gen"
    _sys.path.insert(0, str(gen))
    spec = importlib.util.spec_from_file_location("mkb_task_generate", gen / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ops, subtype = module.mnn_signature(task)
    assert (ops, subtype) == (task.mnn_ops, task.mnn_subtype)


def test_cli_list_json_and_validate():
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "tasks", "list", "--json", "--category", "Others"], capture_output=True, text=True, check=True)
    data = json.loads(out.stdout)
    assert {d["id"] for d in data} == {"rnn_tanh", "lstm", "stft", "roialign"}
    assert all({"id", "op", "category"} <= d.keys() for d in data)
    ok = subprocess.run([sys.executable, "-m", "mkb_tui", "tasks", "validate", "abs", "sign"], capture_output=True, text=True)
    assert ok.returncode == 0 and "2 passed, 0 failed" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "mkb_tui", "tasks", "validate", "no_such_task"], capture_output=True, text=True)
    assert bad.returncode == 1 and bad.stderr.strip() == "mkb-tui: error: unknown task 'no_such_task' (see `mkb-tui tasks list`)"


def test_cli_export_writes_model_and_references(tmp_path):
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "tasks", "export", "softmax_lastdim", str(tmp_path / "e")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    files = sorted(p.name for p in (tmp_path / "e").iterdir())
    assert "model.onnx" in files and "inputs_0.mkbt" in files and "outputs_4.mkbt" in files
    (_, probs), = read_tensors(tmp_path / "e" / "outputs_0.mkbt")
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)


def test_unknown_cli_argument_is_one_line_and_exit_2():
    out = subprocess.run([sys.executable, "-m", "mkb_tui", "--bogus"], capture_output=True, text=True)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "unrecognized arguments: --bogus" in out.stderr
