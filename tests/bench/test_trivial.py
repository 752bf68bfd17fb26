"""The trivial-output audit (mkb_tui.bench.trivial): zeros, a constant or a copy of the input never pass a task."""

import numpy as np

from mkb_tui.bench.trivial import audit_cases, best_constants, trivial_outputs
from mkb_tui.engine.suite_lock import geometry_lowering


def _cases(fn, seeds=5, shape=(4, 8)):
    out = []
    for seed in range(seeds):
        x = np.random.default_rng(seed).uniform(-3, 3, shape).astype(np.float32)
        out.append(([x], [fn(x)]))
    return out


def test_a_real_computation_refuses_every_trivial_output():
    finding = audit_cases("erf", _cases(lambda x: np.tanh(x).astype(np.float32)), 1e-3)
    assert finding.ok and finding.seeds == 5


def test_an_output_the_input_barely_changes_is_found():
    # LRN on small inputs: its factor is 0.9998, so the input itself was within the tolerance (tasks/README.md)
    finding = audit_cases("lrn", _cases(lambda x: (x * 0.9998).astype(np.float32)), 1e-3)
    assert finding.passing == ["copy of input 0"]


def test_zeros_and_the_best_constant_are_tried():
    assert audit_cases("relu_neg", _cases(lambda x: np.zeros_like(x)), 1e-4).passing[0] == "constant 0"
    near_one = audit_cases("cos_tiny", _cases(lambda x: (1 + 1e-6 * x).astype(np.float32)), 1e-4)
    assert "constant 1" in near_one.passing
    assert 1.0 in best_constants([np.ones(3)]) and -1.0 in best_constants([np.ones(3)])


def test_one_seed_that_refuses_it_is_enough():
    cases = _cases(lambda x: np.zeros_like(x), seeds=4) + _cases(lambda x: x + 1, seeds=1)
    assert "zeros" not in audit_cases("t", cases, 1e-4).passing


def test_a_view_copies_and_a_cast_is_no_copy():
    view = audit_cases("reshape", _cases(lambda x: x.reshape(8, 4)), 1e-4, view=True)
    assert view.ok and view.view
    ints = trivial_outputs([np.arange(4, dtype=np.float32)], [np.arange(4, dtype=np.int32)], [])
    assert not any(name.startswith("copy") for name in ints)  # float -> int is the Cast op's work, not a copy


def test_a_broadcast_binary_is_lowered_to_the_geometry_slot():
    assert geometry_lowering("BinaryOp", [{"shape": [4, 3, 64, 64]}, {"shape": [1, 3, 1, 1]}], [{"shape": [4, 3, 64, 64]}])
    assert geometry_lowering("BinaryOp", [{"shape": [8, 64]}, {"shape": [8, 64]}], [{"shape": [8, 64]}]) is None  # same shape
    assert geometry_lowering("BinaryOp", [{"shape": [8, 64]}, {"shape": [1]}], [{"shape": [8, 64]}]) is None  # a scalar
    assert geometry_lowering("BinaryOp", [{"shape": [4, 1]}, {"shape": [1, 5]}], [{"shape": [4, 5]}]) is None  # both broadcast
    assert geometry_lowering("MatMul", [{"shape": [4, 3]}, {"shape": [3]}], [{"shape": [4]}]) is None
    assert geometry_lowering("MatMul", [{"shape": [8, 16, 32]}, {"shape": [8, 32, 64]}], [{"shape": [8, 16, 64]}])  # batched
