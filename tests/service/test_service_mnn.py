"""The service with the real pipeline (MNN): its answer for a kernel is the one `mkb-tui eval --json` gives, and the
task endpoint serves the agents' own prompt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mkb_tui.client import MkbClient
from mkb_tui.service import RewardFormula, ServiceConfig
from mkb_tui.sessions.evaluators import EvaluatorSource
from mkb_tui.service.server import BackgroundServer
from tests.adversarial.kernels import BAD, CORRECT

pytestmark = pytest.mark.mnn
REPO = Path(__file__).resolve().parents[2]
TIMING_FLAGS = ("retimed", "unstable_timing", "high_dispersion", "timed_speedup")


def cli_eval(tmp_path: Path, task: str, text: str) -> dict:
    kernel = tmp_path / "MKBCandidate.cpp"
    kernel.write_text(text)
    done = subprocess.run([sys.executable, "-m", "mkb_tui.cli.main", "eval", "--task", task, "--kernel", str(kernel), "--json"],
                          capture_output=True, text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=900)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def steady(flags: list[str]) -> list[str]:
    return sorted(f for f in flags if not f.startswith(TIMING_FLAGS))


async def test_service_answers_as_the_cli_does(mnn, tmp_path):
    kernels = {"correct": CORRECT, "compile_error": BAD["api_hallucination"][0]}
    config = ServiceConfig(db_path=tmp_path / "serve.sqlite", auth=False)
    with BackgroundServer(config, EvaluatorSource().factory()) as server:
        async with MkbClient(server.url) as client:
            served = {name: await client.evaluate("abs", {"MKBCandidate.cpp": text}) for name, text in kernels.items()}
            material = await client.task("abs")
    for name, text in kernels.items():
        cli, result = cli_eval(tmp_path, "abs", text), served[name]
        assert result.kind == cli["verdict"] == name
        assert result.verdict["message"] == cli["message"]
        assert steady(result.verdict["flags"]) == steady(cli["flags"])
        assert result.verdict["diagnostics"] == cli["diagnostics"]
        # a process's first evaluation also checks the slot-able library (or makes a workspace): each CLI run is one
        once = {"slotable", "workspace", "first_build"}
        assert set(cli.get("phases") or {}) - once <= set(result.verdict.get("phases") or {})
        if name == "correct":  # two timings of the same kernel agree within the noise of a shared machine
            assert 0.6 < result.speedup / cli["speedup"] < 1.6
            # the paper's reward, a flagged (untrustworthy) speedup counting at most 1.0
            assert result.reward == pytest.approx(RewardFormula()("correct", result.speedup, result.verdict["flags"]))
            assert result.reward >= 0.6 + min(result.speedup, 1.0) - 1e-9
        else:
            assert result.speedup is None and cli["speedup"] is None and result.reward == 0.0
    assert material["slot"]["files"] == ["source/backend/cpu/MKBCandidate.cpp"]
    assert "class MkbAbs" not in material["prompt"]["user"] and material["source"] in material["prompt"]["user"]
    assert '"onnx"' in material["onnx_node"] and "MNN" in material["prompt"]["system"]


def test_the_pipeline_sets_how_many_evaluations_a_device_takes(mnn):
    from mkb_tui.engine.testing import FakeEvaluator
    from mkb_tui.service.evaluators import own_capacity
    from mkb_tui.sessions.evaluators import open_evaluator

    assert own_capacity(open_evaluator("local", workspaces=3)) == 3  # its runs are exclusive: builds may overlap them
    assert own_capacity(FakeEvaluator()) == 1  # nothing known: one at a time
