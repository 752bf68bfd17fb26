"""`mkb-tui export --format sft|preference`: training data from stored sessions, filtered, with no key, path or
machine detail in it (a decoy key and home paths are planted in a session's stored text)."""

from __future__ import annotations

import asyncio
import json
import re
import socket
from pathlib import Path

import pytest

from mkb_tui.cli.main import main
from mkb_tui.store import Store
from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event

DECOY_KEY = "sk-ant-api03-DECOYdecoyDECOY0123456789abcdef"
ENV_SECRET = "decoy-env-credential-7f3a9c"  # not key-shaped: only known as a credential by its variable's name
HOME_PATH = f"{Path.home()}/projects/secret-plans/notes.txt"
OTHER_HOME = "/home/alice/.ssh/id_ed25519"
WORKSPACE = "/root/.cache/mkb-tui/workspaces-x/ws0/source/backend/cpu/MKBCandidate.cpp"
PROMPT = "Write an MNN CPU kernel for this benchmark task.\n## Task abs: ONNX Abs (Unary)"


def answer(body: str) -> str:
    return f"```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{body}\n```"


async def _session(store: Store, model: str, task: str, category: str, attempts: list[tuple[str, str, float | None, list[str]]],
                   prompt: str = PROMPT) -> str:  # fmt: skip
    sid = await store.create_session({"tasks": [task], "model": model, "device": "local", "method": "pass@k", "mnn_version": "3.6.1"})
    await store.append(sid, Event(ev.TASK_STARTED, {"category": category, "op": task.capitalize()}, task))
    for it, (body, verdict, speedup, flags) in enumerate(attempts):
        await store.append(sid, Event(ev.ITERATION_STARTED, {"mode": "draft"}, task, it))
        await store.append(sid, Event(ev.MESSAGE, {"role": "user", "to": "coder", "text": prompt}, task, it))
        await store.append(sid, Event(ev.MESSAGE, {"role": "coder", "text": answer(body)}, task, it))
        await store.append(sid, Event(ev.KERNEL, {"files": {"source/backend/cpu/MKBCandidate.cpp": body}}, task, it))
        await store.append(sid, Event(ev.VERDICT, {"verdict": verdict, "speedup": speedup, "flags": flags, "message": f"{verdict} at {WORKSPACE}"}, task, it))
    return sid


@pytest.fixture
def sessions_db(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MKB_TEST_API_KEY", ENV_SECRET)
    db = tmp_path / "mkb.sqlite"
    leaky = (f"// keys: {DECOY_KEY} and {ENV_SECRET}\n// read {HOME_PATH} and {OTHER_HOME} on {socket.gethostname()} (10.1.2.3)\n"
             "void abs_fast();")  # fmt: skip

    async def write():
        async with Store(db) as store:
            await _session(store, "anthropic:claude-sonnet-4-6", "abs", "Unary", [
                (leaky, "correct", 2.0, []),
                ("void abs_slow();", "correct", 1.0, []),
                ("void abs_broken(", "compile_error", None, []),
                ("void abs_cheat();", "correct", 40.0, ["suspicious_speedup"]),
            ], prompt=PROMPT + f"\nlast error: {WORKSPACE}: error: {DECOY_KEY}")  # fmt: skip
            await _session(store, "openai:gpt-5", "abs", "Unary", [("void abs_wrong();", "wrong_output", None, []),
                                                                   ("void abs_gpt();", "correct", 1.3, [])])  # fmt: skip
            sid = await _session(store, "openai:gpt-5", "softmax_lastdim", "Activation", [("void softmax();", "correct", 1.1, [])],
                                 prompt="Write an MNN CPU kernel.\n## Task softmax_lastdim")  # fmt: skip
            # a human's edited kernel (iteration 1): judged, but no prompt or answer of the Coder's
            await store.append(sid, Event(ev.ITERATION_STARTED, {"mode": "human"}, "softmax_lastdim", 1))
            await store.append(sid, Event(ev.MESSAGE, {"role": "human", "text": "an edited kernel"}, "softmax_lastdim", 1))
            await store.append(sid, Event(ev.KERNEL, {"files": {"source/backend/cpu/MKBCandidate.cpp": "void human();"}}, "softmax_lastdim", 1))
            await store.append(sid, Event(ev.VERDICT, {"verdict": "correct", "speedup": 9.0}, "softmax_lastdim", 1))

    asyncio.run(write())
    return db


def export(db: Path, out: Path, *args: str) -> list[dict]:
    assert main(["export", "--db", str(db), "--out", str(out), *args]) == 0
    text = out.read_text()
    for leak in (DECOY_KEY, ENV_SECRET, str(Path.home()) + "/", "/home/alice", "/root/", "secret-plans/", "10.1.2.3"):
        assert leak not in text, f"{leak!r} leaked into {out.name}"
    assert not re.search(rf"(?<![\w-]){re.escape(socket.gethostname())}(?![\w-])", text), "the host name leaked"
    return [json.loads(line) for line in text.splitlines()]


def test_sft_exports_correct_kernels_with_their_prompts(sessions_db, tmp_path):
    records = export(sessions_db, tmp_path / "sft.jsonl", "--format", "sft")
    # "speedup" is the trusted one (issue 18): the flagged 40x is measured, never exported as a speedup
    assert sorted((r["task"], r["measured_speedup"]) for r in records) == [("abs", 1.0), ("abs", 1.3), ("abs", 2.0), ("abs", 40.0), ("softmax_lastdim", 1.1)]
    first = next(r for r in records if r["speedup"] == 2.0)
    assert first["prompt"].startswith(PROMPT) and "source/backend/cpu/MKBCandidate.cpp: error: ***" in first["prompt"]
    assert "void abs_fast();" in first["completion"] and "<path>/notes.txt" in first["completion"] and "<host>" in first["completion"]
    assert (first["verdict"], first["category"], first["model"], first["mnn_version"]) == ("correct", "Unary", "anthropic:claude-sonnet-4-6", "3.6.1")
    cheat = next(r for r in records if r["measured_speedup"] == 40.0)
    assert cheat["flags"] == ["suspicious_speedup"] and cheat["speedup"] is None


def test_sft_filters(sessions_db, tmp_path):
    out = tmp_path / "f.jsonl"
    assert {r["model"] for r in export(sessions_db, out, "--format", "sft", "--model", "openai:*")} == {"openai:gpt-5"}
    assert {r["task"] for r in export(sessions_db, out, "--format", "sft", "--category", "activation")} == {"softmax_lastdim"}
    assert sorted(r["speedup"] for r in export(sessions_db, out, "--format", "sft", "--min-speedup", "1.25")) == [1.3, 2.0]  # the flagged 40x is not fast
    failed = export(sessions_db, out, "--format", "sft", "--verdict", "compile_error", "--verdict", "wrong_output")
    assert sorted(r["verdict"] for r in failed) == ["compile_error", "wrong_output"]


def test_preference_pairs_share_a_prompt(sessions_db, tmp_path):
    pairs = export(sessions_db, tmp_path / "pref.jsonl", "--format", "preference")
    assert pairs and all(p["task"] == "abs" for p in pairs)  # softmax has one kernel: nothing to pair
    names = {(p["chosen"].split("void ")[1].split("(")[0], p["rejected"].split("void ")[1].split("(")[0]) for p in pairs}
    # the Claude session's prompt differs from GPT's (it carries an error): pairs stay within a prompt
    # a flagged speedup is not trusted: abs_cheat (40x, suspicious) is compared with no correct kernel on speed
    assert names == {("abs_fast", "abs_slow"), ("abs_fast", "abs_broken"), ("abs_slow", "abs_broken"), ("abs_cheat", "abs_broken"),
                     ("abs_gpt", "abs_wrong")}  # fmt: skip
    best_only = export(sessions_db, tmp_path / "pref2.jsonl", "--format", "preference", "--min-speedup", "1.5", "--model", "anthropic:*")
    assert {p["chosen_speedup"] for p in best_only} == {2.0}  # trusted speedups only: the flagged 40x is not chosen as fast


def test_export_refuses_bad_arguments(sessions_db, tmp_path, capsys):
    assert main(["export", "a", "b", "--db", str(sessions_db)]) == 1
    assert "one session at a time" in capsys.readouterr().err
    assert main(["export", "--format", "preference", "--max-pairs", "0", "--db", str(sessions_db)]) == 1
