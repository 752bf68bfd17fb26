"""Issue 19, paper-shaped results: a `--batch` sweep over one category of the paper's suite, driven by a model behind
the real OpenAI SDK on a loopback server, is reported (terminal, JSON, HTML) and compared beside the paper's own
published figures for the same method, with where each figure came from. (The evaluator is the fake one: what is
under test is the sweep's stored results and their reports, not the judge.)"""

from __future__ import annotations

import json

import pytest

import mkb_tui.sessions.opening as opening
from mkb_tui.bench.published import MOKA, SINGLE_QUERY, beside_rows
from mkb_tui.cli.main import main
from mkb_tui.engine.testing import FakeEvaluator
from tests.bench.test_paper_suite import paper_root  # noqa: F401 (the fixture: skips when the suite cannot be set up)
from tests.llm.loopback import LoopbackLLM, MokaModel

# per Binary task, what its kernels are judged (the fake evaluator reads the marker): a spread of outcomes
OUTCOMES = {"paper/Add": "correct 2.0", "paper/Sub": "correct 1.2", "paper/Mul": "wrong_output", "paper/Div": "compile_error"}


def kernel(task_id: str, n: int) -> str:
    return f"// fake-verdict: {OUTCOMES.get(task_id, 'correct 0.8')}\nint k_{n};"


@pytest.fixture
def sweeps(paper_root, tmp_path, monkeypatch, capsys):  # noqa: F811
    """Two stored sweeps over paper/binary/*: MoKA (2 iterations) and a single query; their session ids."""
    monkeypatch.setattr(opening, "open_evaluator", lambda *a, **kw: FakeEvaluator())
    db, ids = tmp_path / "p.sqlite", []
    with LoopbackLLM() as server:
        server.responder = MokaModel(kernel, "source/backend/cpu/MKBCandidate.cpp")
        for method in (["--iterations", "2"], ["--method", "single"]):
            code = main(["--batch", "--tasks", "binary/*", "--suite", "paper", "--model", "openai-compatible:loopback",
                         "--base-url", server.url + "/v1", *method, "--db", str(db), "--out", str(tmp_path / "out")])  # fmt: skip
            out = capsys.readouterr().out
            assert code == 0, out
            assert "beside the paper" in out  # the batch's own report sets the paper beside it
            ids.append(json.loads((tmp_path / "out" / "report.json").read_text())["session"]["id"])
    return db, ids


def _report(db, sid, *args, capsys) -> tuple[int, str]:
    code = main(["report", sid, "--db", str(db), *args])
    return code, capsys.readouterr().out


def test_a_paper_sweep_is_reported_beside_the_papers_figures(sweeps, capsys, tmp_path):
    db, (moka, single) = sweeps
    code, out = _report(db, moka, "--json", capsys=capsys)
    report = json.loads(out)
    side = report["beside_paper"]
    assert code == 0 and side["published"]["key"] == "moka" and side["method"] == "moka" and side["tasks"] == 8
    binary = next(r for r in beside_rows(report, side) if r["category"] == "Binary")
    # ours: 8 tasks; Add, Sub and the four 0.8x ones correct (6), Mul compiled but wrong: CSR 7/8, FCR 6/8, fast_1.0 2/8
    assert (binary["csr"]["ours"], binary["fcr"]["ours"], binary["fast_1.0"]["ours"], binary["fast_1.5"]["ours"]) == (87.5, 75.0, 25.0, 12.5)
    assert (binary["csr"]["paper"], binary["fcr"]["paper"], binary["fast_1.0"]["paper"]) == (100, 75, 50)  # MoKA's Binary row
    assert binary["fast_1.5"]["paper"] is None  # not published per category: never made up
    assert side["published"]["overall"]["fast_1.5"] == 27.4 and "Table 5" in side["published"]["source"]
    assert any("Xiaomi 13" in n for n in side["notes"]) and any("over the 8 tasks" in n and "190" in n for n in side["notes"])

    code, text = _report(db, moka, capsys=capsys)
    assert code == 0 and "beside the paper: MoKA (10 iterations)" in text
    row = next(line.split() for line in text.splitlines() if line.startswith("Binary") and "75.0" in line and "100.0" in line)
    assert row[:10] == ["Binary", "8", "87.5", "100.0", "75.0", "75.0", "25.0", "50.0", "12.5", "-"]

    code, _ = _report(db, moka, "--html", str(tmp_path / "r.html"), "--out", str(tmp_path / "r"), capsys=capsys)
    page = (tmp_path / "r.html").read_text()
    assert code == 0 and "Beside the paper: MoKA (10 iterations)" in page and "Table 5" in page and "paper/Mul" in page

    # the single query is set beside the paper's single query (Table 4; a model the paper did not run: its best, Claude's)
    side = json.loads(_report(db, single, "--json", capsys=capsys)[1])["beside_paper"]
    assert side["published"]["key"] == SINGLE_QUERY["claude-sonnet-4"].key and "Table 4" in side["published"]["source"]
    assert side["published"]["per_category"] == {}
    # asked for explicitly, another method's figures; none leaves them out
    assert json.loads(_report(db, single, "--json", "--beside", "single:gpt-5", capsys=capsys)[1])["beside_paper"]["published"]["overall"]["csr"] == 47.4
    assert json.loads(_report(db, single, "--json", "--beside", "none", capsys=capsys)[1])["beside_paper"] is None
    with pytest.raises(SystemExit):
        main(["report", single, "--db", str(db), "--beside", "gpt-6"])
    assert "unknown method 'gpt-6'" in capsys.readouterr().err


def test_paper_sweeps_are_compared_beside_the_papers_figures(sweeps, capsys):
    db, (moka, single) = sweeps
    assert main(["compare", moka, single, "--db", str(db), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [p["key"] for p in data["beside_paper"]] == [MOKA.key, SINGLE_QUERY["claude-sonnet-4"].key]
    assert data["overall"][moka]["csr"] == 87.5 and data["overall"][single]["fcr"] == 75.0
    assert main(["compare", moka, single, "--db", str(db)]) == 0
    text = capsys.readouterr().out
    assert "paper: MoKA (10 iterations)" in text and "paper: Claude-Sonnet-4.5, single query" in text and "Table 4" in text
    binary_paper = next(line for line in text.splitlines() if line.startswith("Binary") and "paper: MoKA" in line)
    assert "100.0" in binary_paper and "75.0" in binary_paper and "50.0" in binary_paper
