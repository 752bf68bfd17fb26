"""Text from candidate processes is untrusted: bounded, stripped of control sequences and cleared of secrets before it
reaches a prompt, a log or the store. A decoy key (an environment variable, and a file the compiler error quotes) is
checked in all three sinks: the requests the provider received, the session database, and the verdict log."""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
import sqlite3

import pytest

from mkb_tui.vocabulary import events as ev
from mkb_tui.vocabulary.events import Event
from mkb_tui.vocabulary.verdicts import Diagnostic, Verdict, VerdictKind
from mkb_tui.untrusted import REDACTED, clean_text, redact, register_secret
from tests.adversarial.kernels import HEAD, kernel

ENV_SECRET = "decoy-" + secrets.token_hex(12)  # no key shape: known only by its variable's name
SHAPED = "sk-ant-api03-" + secrets.token_urlsafe(24)  # a provider key's shape, in no variable


@pytest.fixture
def decoys(monkeypatch):
    monkeypatch.setenv("MKB_DECOY_API_KEY", ENV_SECRET)
    return [ENV_SECRET, SHAPED]


def _leaks(text: str, values) -> list[str]:
    return [v for v in values if v in text]


def test_clean_text_redacts_bounds_and_strips_controls(decoys):
    b64 = base64.b64encode(b"xx" + ENV_SECRET.encode()).decode()
    text = ("x" * 50000 + f"\nkey {ENV_SECRET} shaped {SHAPED} split {ENV_SECRET[:9]}\x1b[0m{ENV_SECRET[9:]} zero-width "
            f"{ENV_SECRET[:5]}\u200b{ENV_SECRET[5:]} reversed {ENV_SECRET[::-1]} base64 {b64} title \x1b]0;pwned\x07 end")
    out = clean_text(text, 2000)
    assert len(out) <= 2000 and out.endswith(" end") and out.startswith("[... cut ...]")
    assert not _leaks(out, decoys + [ENV_SECRET[::-1]]) and ENV_SECRET[4:-4] not in out
    assert "\x1b" not in out and "\u200b" not in out and "pwned" not in out
    assert out.count(REDACTED) >= 6
    assert clean_text("short " + SHAPED, 100, keep="head") == f"short {REDACTED}"
    assert redact("SSH_AUTH_SOCK=/tmp/agent.1 max_tokens=8192") == "SSH_AUTH_SOCK=/tmp/agent.1 max_tokens=8192"


def test_a_secret_cut_at_the_edge_is_not_left_in_part(decoys):
    text = "a" * 3000 + ENV_SECRET + "b" * 1990
    out = clean_text(text, 2000)
    assert ENV_SECRET[-10:] not in out and len(out) <= 2000


def test_config_keys_are_redacted_too():
    value = "cfg-" + secrets.token_hex(10)
    register_secret(value)
    assert redact(f"quoted {value}") == f"quoted {REDACTED}"


def test_verdict_make_safe_covers_every_text_field(decoys):
    v = Verdict("abs", VerdictKind.COMPILE_ERROR, message=f"error {ENV_SECRET}" + "m" * 10000, log=f"{SHAPED}\n" * 5000,
                first_mismatch=f"seed 0 {SHAPED}", flags=[f"flag {ENV_SECRET}"],
                diagnostics=[Diagnostic(f"/tmp/{ENV_SECRET}.h", 1, 1, "error", f"'{SHAPED}' does not name a type")] * 500)
    data = json.dumps(v.make_safe().to_dict())
    assert not _leaks(data, decoys)
    assert len(v.message) <= 2000 and len(v.log) <= 20000 and len(v.diagnostics) == 100


def test_store_redacts_every_event_payload(tmp_path, decoys):
    from mkb_tui.store import Store

    async def scenario():
        async with Store(tmp_path / "s.sqlite") as store:
            sid = await store.create_session({"model": "scripted:x", "api_key": ENV_SECRET})
            await store.append(sid, Event(ev.MESSAGE, {"role": "user", "text": f"prompt quoting {ENV_SECRET}"}, "abs", 0))
            await store.append(sid, Event(ev.VERDICT, {"verdict": "runtime_error", "message": f"runner said {SHAPED}",
                                                       "log": f"{ENV_SECRET}", "diagnostics": [{"message": SHAPED}]}, "abs", 0))  # fmt: skip
            await store.append(sid, Event(ev.ERRORS, {"errors": [{"error_message": SHAPED}]}, "abs", 0))

    asyncio.run(scenario())
    assert not _leaks(_database_text(tmp_path / "s.sqlite"), decoys)


def _database_text(path) -> str:
    """Every value in every table, and the raw bytes of the database and its WAL."""
    db = sqlite3.connect(path)
    text = "\n".join(db.iterdump())
    db.close()
    for suffix in ("", "-wal"):
        raw = path.with_name(path.name + suffix)
        if raw.exists():
            text += raw.read_bytes().decode("latin-1")
    return text


# ---------------------------------------------------------------- through the real pipeline, provider and store

class StaticOff:
    """The pipeline with its source and object checks off: a candidate that got past them, which is when this guard
    matters (it must hold alone)."""

    def __init__(self, pipeline) -> None:
        self.inner = pipeline

    def __getattr__(self, name):
        return getattr(self.inner, name)

    async def evaluate(self, task, candidate, **kw):
        from mkb_tui.engine.pipeline import Pipeline

        async def not_rejected(*args, **kwargs) -> bool:
            return False

        checks = Pipeline._rejected_after_build
        Pipeline._rejected_after_build = not_rejected
        try:
            return await self.inner.evaluate(task, candidate, **{**kw, "static": False})
        finally:
            Pipeline._rejected_after_build = checks


# an Abs kernel that prints the key where the harness reads the runner's report, and on stderr
LEAK_AT_RUN = kernel(
    '        const char* key = getenv("MKB_DECOY_API_KEY");\n'
    '        printf("{\\"ok\\": false, \\"error\\": \\"key %s\\"}\\n", key ? key : "SHAPED");\n'
    '        fprintf(stderr, "stderr key %s\\n", key ? key : "SHAPED");\n'
    "        fflush(stdout);\n"
    "        _exit(1);\n",
    head=HEAD.replace("#include <cmath>", "#include <cmath>\n#include <cstdio>\n#include <cstdlib>\n#include <unistd.h>"),
)


def _answer(text: str) -> str:
    return f"```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{text}```\n"


def test_decoy_key_reaches_no_prompt_store_or_log(pipeline, tmp_path, decoys, monkeypatch):
    from mkb_tui.agents.loop import LoopConfig, MokaLoop
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.llm import open_provider
    from mkb_tui.store import Store
    from tests.llm.loopback import LoopbackLLM, Reply

    decoy = tmp_path / "decoy_config.h"
    decoy.write_text(f"ANTHROPIC_API_KEY={SHAPED}\nMKB_DECOY_API_KEY={ENV_SECRET}\n")
    quote_at_compile = f'#define MKB_DECOY "{decoy}"\n#include MKB_DECOY\n' + LEAK_AT_RUN
    advice = '```json\n{"local_error_suggestion": "fix it", "crossfile_error_suggestion": "none"}\n```'
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-" + secrets.token_hex(12))
    judged = StaticOff(pipeline)
    with LoopbackLLM() as llm:
        llm.replies = [Reply(text=_answer(quote_at_compile)), Reply(text=advice), Reply(text=_answer(LEAK_AT_RUN.replace("SHAPED", SHAPED))),
                       Reply(text=advice), Reply(text=_answer("int broken(")), Reply(text=advice)]  # fmt: skip

        async def scenario():
            async with Store(tmp_path / "s.sqlite") as store:
                sid = await store.create_session({"model": "openai-compatible:decoy"})
                verdicts = []

                async def sink(event):
                    await store.append(sid, event)
                    if event.kind == ev.VERDICT:
                        verdicts.append(event.payload)

                provider = open_provider("openai-compatible:decoy", base_url=llm.url + "/v1")
                await MokaLoop(get_task("abs"), provider, judged, config=LoopConfig(iterations=3), sink=sink).run()
                return verdicts

        verdicts = asyncio.run(scenario())
    prompts = json.dumps([r["body"] for r in llm.requests])
    assert [v["verdict"] for v in verdicts][:2] == ["compile_error", "runtime_error"], [v["message"] for v in verdicts]
    assert REDACTED in prompts  # the path was taken: the compiler quoted the file, the runner printed the key
    assert not _leaks(prompts, decoys), "a secret reached the provider"
    assert not _leaks(_database_text(tmp_path / "s.sqlite"), decoys), "a secret reached the session database"
    assert not _leaks(json.dumps(verdicts), decoys), "a secret reached a verdict log"
