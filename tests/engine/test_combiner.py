"""Combiner tasks: the candidate is an ONNX transform compiled into MNN's converter (built from source in the workspace);
the model it produces runs on MNN's pristine kernels and is timed against the model MNN's own transform gives."""

import pytest

from tests.mnn_fixtures import evaluate
from tests.verdict_checks import assert_best_is_timed_and_counted_honestly

COMBINER = "tools/converter/source/optimizer/onnxextra/MKBCombiner.cpp"
COMBINER_TASKS = ["instancenorm", "instancenorm_batch2", "einsum_matmul", "einsum_outer_batched", "reducel2_axis1",
                  "reducel2_lastdim", "reducelogsumexp_axis1", "reducelogsumexp_lastdim", "not", "lstm"]  # fmt: skip

# Our own ReduceL2 rewrite: sqrt(sum(x^2)) with _Square instead of MNN's x*x.
REDUCE_L2 = r"""
#include <vector>
#include "MNN_generated.h"
#include "OnnxExtraManager.hpp"

namespace MNN {
namespace Express {

class MkbReduceL2 : public OnnxExtraManager::Transform {
public:
    EXPRP onExecute(EXPRP expr) const override {
        std::vector<int> axes;
        bool keep = false;
        auto extra = expr->get()->main_as_Extra();
        for (int i = 0; extra->attr() != nullptr && i < (int)extra->attr()->size(); ++i) {
            auto attr = extra->attr()->GetAs<Attribute>(i);
            if (attr->key()->str() == "axes" && attr->list() != nullptr && attr->list()->i() != nullptr) {
                for (int k = 0; k < (int)attr->list()->i()->size(); ++k) axes.push_back(attr->list()->i()->Get(k));
            } else if (attr->key()->str() == "keepdims") {
                keep = attr->i() != 0;
            }
        }
        VARP x = expr->inputs()[0];
        VARP y = BODY;
        y->setName(expr->name());
        return y->expr().first;
    }
};

static auto gMkbRegister = []() {
    OnnxExtraManager::get()->insert("OPNAME", std::shared_ptr<OnnxExtraManager::Transform>(new MkbReduceL2));
    return true;
}();

} // namespace Express
} // namespace MNN
"""


def reduce_l2(body: str = "_Sqrt(_ReduceSum(_Square(x), axes, keep))", op: str = "ReduceL2") -> dict[str, str]:
    return {COMBINER: REDUCE_L2.replace("BODY", body).replace("OPNAME", op)}


def test_every_combiner_task_has_a_slot(mnn):
    from mkb_tui.bench.tasks import load_tasks
    from mkb_tui.engine.slots import native_candidate, native_combiner_rewrite, placement, slot_for

    combiner = [t for t in load_tasks() if t.mechanism == "combiner"]
    assert sorted(t.id for t in combiner) == sorted(COMBINER_TASKS)
    for task in combiner:
        slot = slot_for(task, mnn.root)
        assert slot.supported and slot.files == (COMBINER,), (task.id, slot.reason)
        assert f'insert("{task.op}"' in slot.registration and slot.native_classes
        native_text = (mnn.root / slot.native_files[0]).read_text()
        renamed = native_combiner_rewrite(native_text, task.op)
        assert f'"MKBNative_{task.op}"' in renamed and renamed.count("MKBNative_") == 1
        oracle = native_candidate(task, mnn.root).files[COMBINER]
        # the oracle registers the task's op only: the file's other ops stay with MNN's transform
        assert oracle.count("OnnxExtraManager::get()->insert(") == 1 and f'insert("{task.op}"' in oracle
        files = placement(slot, native_candidate(task, mnn.root), mnn.root)
        assert set(files) == {COMBINER, slot.native_files[0]}


def test_static_check_refuses_routes_to_the_native_transform(mnn):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.slots import slot_for
    from mkb_tui.engine.static_check import check
    from mkb_tui.vocabulary.verdicts import KernelCandidate

    slot = slot_for(get_task("reducel2_axis1"), mnn.root)
    assert check(KernelCandidate(reduce_l2()), slot) == []
    via_name = reduce_l2('OnnxExtraManager::get()->find("MKBNative_ReduceL2")->onExecute(expr)->outputName(0) == "" ? x : x')
    assert any("MNN's own transform" in p for p in check(KernelCandidate(via_name), slot))
    via_class = {COMBINER: reduce_l2()[COMBINER].replace("MkbReduceL2", "OnnxReduceTransform")}
    assert any("native implementation" in p for p in check(KernelCandidate(via_class), slot))
    foreign = {COMBINER: "#include <onnx/onnx_pb.h>\n" + reduce_l2()[COMBINER]}
    assert any("outside MNN" in p for p in check(KernelCandidate(foreign), slot))


def test_oracle_combiner_through_the_source_built_converter(pipeline):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.slots import native_candidate

    task = get_task("reducel2_axis1")
    verdict = evaluate(pipeline, task.id, native_candidate(task, pipeline.mnn.root).files, static=False)
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-3000:])
    assert "the candidate's model runs" in verdict.log
    assert verdict.speedup is not None and 0.5 < verdict.speedup < 2.0
    assert len(verdict.candidate.samples_ms) >= pipeline.timing.rounds * pipeline.timing.runs


def test_own_combiner_is_correct_and_a_wrong_one_is_not(pipeline):
    good = evaluate(pipeline, "reducel2_axis1", reduce_l2())
    assert good.kind.value == "correct", (good.message, good.log[-3000:])
    assert good.max_abs_error is not None and good.max_abs_error < 1e-3
    wrong = evaluate(pipeline, "reducel2_axis1", reduce_l2("_ReduceSum(_Square(x), axes, keep)"))
    assert wrong.kind.value == "wrong_output" and wrong.first_mismatch and wrong.speedup is None


def test_combiner_faults_are_classified(pipeline):
    # registered for another op: the ONNX node stays unconverted, so the candidate never ran
    never = evaluate(pipeline, "reducel2_axis1", reduce_l2(op="ReduceL1"))
    assert never.kind.value == "runtime_error" and "never ran" in never.message
    broken = evaluate(pipeline, "reducel2_axis1", reduce_l2("_ReduceL2Magic(x, axes)"))
    assert broken.kind.value == "compile_error"
    assert any(d.file.endswith("MKBCombiner.cpp") for d in broken.diagnostics), broken.diagnostics
    crash = evaluate(pipeline, "reducel2_axis1", reduce_l2("[&]() { volatile int* p = nullptr; *p = 1; return x; }()"))
    assert crash.kind.value == "runtime_error" and "converting the model" in crash.message
    hang = evaluate(pipeline, "reducel2_axis1", reduce_l2("[&]() { volatile int spin = 1; while (spin) {} return x; }()"))
    assert hang.kind.value == "timeout"


@pytest.mark.parametrize("task_id", ["instancenorm", "not", "lstm"])  # lstm: a While subgraph, run through the Module API
def test_oracle_combiner_sample(pipeline, task_id):
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.slots import native_candidate

    task = get_task(task_id)
    verdict = evaluate(pipeline, task_id, native_candidate(task, pipeline.mnn.root).files, static=False)
    assert verdict.kind.value == "correct", (verdict.message, verdict.log[-3000:])
    assert verdict.speedup is not None and 0.5 < verdict.speedup < 2.0


def test_moka_loop_writes_a_combiner(pipeline, tmp_path):
    """The agents drive a combiner task like any other: the Coder is told where the transform goes and what to
    register, a compile error reaches the Debugger, the repaired transform verifies and is timed."""
    import asyncio
    import json

    from mkb_tui.agents.loop import LoopConfig, MokaLoop
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.llm import open_provider
    from mkb_tui.vocabulary import events as ev

    def answer(files: dict[str, str]) -> str:
        return "The transform:\n\n```cpp\n// MKBCombiner.cpp\n" + files[COMBINER] + "```\n"

    responses = [
        {"role": "coder", "text": answer(reduce_l2("_ReduceL2Magic(x, axes)"))},
        {"role": "debugger", "text": '```json\n{"local_error_suggestion": "there is no _ReduceL2Magic; use _Sqrt(_ReduceSum(_Square(x), axes, keep))", "crossfile_error_suggestion": "none"}\n```'},
        {"role": "coder", "text": answer(reduce_l2())},
    ]
    script = tmp_path / "combiner.jsonl"
    script.write_text("\n".join(json.dumps(r) for r in responses) + "\n")
    seen = []

    async def sink(event):
        seen.append(event)

    loop = MokaLoop(get_task("reducel2_axis1"), open_provider(f"scripted:{script}"), pipeline, config=LoopConfig(iterations=2), sink=sink)
    outcome = asyncio.run(loop.run())
    verdicts = [e.payload["verdict"] for e in seen if e.kind == ev.VERDICT]
    assert verdicts == ["compile_error", "correct"], [e.payload for e in seen if e.kind == ev.VERDICT]
    first_prompt = next(e.payload["text"] for e in seen if e.kind == ev.MESSAGE and e.payload.get("to") == "coder")
    assert COMBINER in first_prompt and 'insert("ReduceL2"' in first_prompt and "OnnxExtraManager.hpp" in first_prompt
    errors = next(e for e in seen if e.kind == ev.ERRORS).payload["errors"]
    assert any("_ReduceL2Magic" in e["error_message"] for e in errors)
    assert_best_is_timed_and_counted_honestly(outcome, seen)
