"""Every task has a slot derived from the user's MNN tree; the oracle candidate goes through answer parsing."""

import pytest

from mkb_tui.bench.tasks import load_tasks
from mkb_tui.engine.answer import parse_answer
from mkb_tui.engine.slots import CANDIDATE_CPP, candidate_registration_rewrite, dispatch_source, native_candidate, slot_for

ALL = load_tasks()


def test_every_task_has_a_slot(mnn):
    by_mechanism = {}
    for task in ALL:
        slot = slot_for(task, mnn.root)
        by_mechanism.setdefault(slot.mechanism, []).append(task.id)
        assert slot.supported, (task.id, slot.reason)
        for path in slot.native_files:
            assert (mnn.root / path).exists(), (task.id, path)
        candidate = native_candidate(task, mnn.root)
        answer = "".join(f"```cpp\n// {path}\n{text.rstrip()}\n```\n" for path, text in candidate.files.items())
        assert parse_answer(answer, slot).files.keys() == candidate.files.keys()
    assert len(by_mechanism["cpu"]) > 100 and len(by_mechanism["geometry"]) > 20 and len(by_mechanism["combiner"]) == 10


def test_routing_is_per_subtype(mnn):
    from mkb_tui.bench.tasks import get_task

    slot = slot_for(get_task("abs"), mnn.root)
    assert (slot.op_type, slot.subtype, slot.native_creator) == ("UnaryOp", "ABS", "CPUUnaryCreator")
    code = dispatch_source(slot)
    assert "UnaryOpOperation_ABS" in code and "mkb_candidate_executions" in code
    assert slot_for(get_task("layernorm_bert"), mnn.root).subtype is None


def test_candidate_registration_is_rewritten_on_the_same_line():
    src = "namespace MNN {\nclass C;\nREGISTER_CPU_OP_CREATOR(MyCreator, OpType_UnaryOp);\n}\n"
    new, ok = candidate_registration_rewrite(src, "UnaryOp")
    assert ok and new.count("\n") == src.count("\n")
    assert "mkb_candidate_creator() { static MyCreator" in new
    assert candidate_registration_rewrite(src, "Softmax") == (src, False)
