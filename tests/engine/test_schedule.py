"""Runner plans: every process looks alike, counted runs never repeat a content, checks are a random sample."""

import random
from pathlib import Path

import pytest

from mkb_tui.engine.schedule import InputSet, Shape, kept_outputs, plan_text, timing_plans, verification_plan


def _sets(fixed: int = 5, pool: int = 11) -> list[InputSet]:
    sets = [InputSet(f"seed {i}", f"inputs/t/seed{i}.mkbt", Path(f"/refs/o{i}"), True) for i in range(fixed)]
    return sets + [InputSet(f"secret input {i + 1}", f"inputs/t/p{i}.mkbt", Path(f"/refs/p{i}"), False) for i in range(pool)]


def test_verification_holds_every_fixed_seed_and_keeps_every_distinct_run():
    sets, shape = _sets(), Shape()
    plan = verification_plan(sets, shape, random.Random(3))
    assert plan.runs == shape.long
    assert {i for i in range(5)} <= set(plan.sets)  # every fixed seed
    counted = plan.sets[shape.warmup:]
    assert len(set(counted)) == len(counted) and plan.sets[0] not in counted  # no content twice among counted runs
    assert set(plan.sets[: shape.warmup]) == {plan.sets[0]}  # warm-up repeats one set
    assert set(range(shape.warmup, plan.runs)) <= set(plan.record) and 0 in plan.record and shape.warmup - 1 in plan.record


def test_plans_are_random_per_evaluation():
    sets, shape = _sets(), Shape()
    a = verification_plan(sets, shape, random.Random(1))
    b = verification_plan(sets, shape, random.Random(2))
    assert a.sets != b.sets and a.poison != b.poison
    assert a.poison & 0x7FC00000 == 0x7FC00000  # a quiet NaN whatever its payload


def test_timing_plans_alternate_lengths_and_sample_checks():
    sets, shape = _sets(), Shape(warmup=4, runs=5, extra=5, check_runs=12)
    plans = timing_plans(sets, shape, 10, output_bytes=1000, rng=random.Random(7))
    assert [p.runs for p in plans] == [shape.short, shape.long] * 5
    for p in plans:
        counted = p.sets[shape.warmup:]
        assert len(set(counted)) == len(counted) and p.sets[0] not in counted
        assert all(run >= shape.warmup for run in p.record)  # checks fall on counted runs
    kept = [(i, r) for i, p in enumerate(plans) for r in p.record]
    assert len(kept) == 12
    other = timing_plans(sets, shape, 10, output_bytes=1000, rng=random.Random(8))
    assert kept != [(i, r) for i, p in enumerate(other) for r in p.record]  # positions nobody can predict


def test_checks_shrink_with_large_outputs_but_never_vanish():
    sets, shape = _sets(), Shape(check_runs=16, check_bytes=32 << 20)
    plans = timing_plans(sets, shape, 20, output_bytes=16 << 20, rng=random.Random(1))
    assert sum(len(p.record) for p in plans) == 4
    every = timing_plans(sets, shape, 4, output_bytes=16 << 20, rng=random.Random(1), check_all=True)
    assert all(p.record == tuple(range(shape.warmup, p.runs)) for p in every)


def test_too_few_sets_is_an_error():
    with pytest.raises(ValueError):
        verification_plan(_sets(5, 2), Shape(), random.Random(0))


def test_plan_text_lists_sets_in_order_of_use_and_keeps_named_runs():
    sets, shape = _sets(), Shape(warmup=2, runs=2, extra=1)
    plan = timing_plans(sets, shape, 1, 100, random.Random(0), first_long=True, check_all=True)[0]
    text = plan_text(plan, sets, model="models/m.mnn", api="session", threads=1, precision="high", record="out/c.mkbt")
    lines = text.text.splitlines()
    assert lines[0] == "mkbplan 1" and "record out/c.mkbt" in lines and text.record == "out/c.mkbt"
    inputs = [l.split()[1] for l in lines if l.startswith("input ")]
    assert len(inputs) == len(set(inputs)) == shape.distinct(plan.runs)
    runs = [l.split() for l in lines if l.startswith("run ")]
    assert [r[1] for r in runs] == ["0", "0", "1", "2", "3"]
    assert [len(r) == 3 for r in runs] == [False, False, True, True, True]


def test_kept_outputs_group_by_run():
    grouped = kept_outputs([("3:out0", "a"), ("3:out1", "b"), ("12:out0", "c")])
    assert grouped == {3: ["a", "b"], 12: ["c"]}
