"""The reward formula, token files, and the TRL-style reward function against a running service."""

from __future__ import annotations

import pytest

from mkb_tui.client import KernelReward
from mkb_tui.client.reward import completion_text
from mkb_tui.errors import ConfigError
from mkb_tui.service import RewardFormula
from mkb_tui.service.config import load_secret, parse_tokens
from tests.service.conftest import TOKEN

TASK = "layernorm_bert"


@pytest.mark.parametrize(("kind", "speedup", "flags", "reward"), [
    ("correct", 2.0, [], 2.6),
    ("correct", 0.5, [], 1.1),
    ("correct", None, [], 0.6),  # emulated timing: no speedup term
    ("correct", 40.0, ["suspicious_speedup"], 1.6),  # an untrusted speedup counts at most 1.0
    ("correct", 3.0, ["retimed", "native_incorrect"], 3.6),  # benign flags change nothing
    ("wrong_output", None, [], 0.3),
    ("runtime_error", None, [], 0.3),
    ("timeout", None, [], 0.3),
    ("compile_error", None, [], 0.0),
    ("rejected", None, [], 0.0),
    ("format_error", None, [], 0.0),
    ("device_error", None, [], 0.0),
])  # fmt: skip
def test_paper_reward_by_default(kind, speedup, flags, reward):
    assert RewardFormula()(kind, speedup, flags) == pytest.approx(reward)


def test_reward_formula_is_configurable():
    formula = RewardFormula.parse("compiled=0.1, correct=0.5, speedup=2, speedup_cap=3, untrusted_cap=none")
    assert formula("correct", 10.0, ["suspicious_speedup"]) == pytest.approx(0.1 + 0.5 + 2 * 3)
    assert formula("wrong_output", None) == pytest.approx(0.1)
    assert RewardFormula.parse("") == RewardFormula()
    for bad in ("compiled", "bonus=1", "speedup=fast", "compiled=none"):
        with pytest.raises(ConfigError):
            RewardFormula.parse(bad)


def test_token_files_and_keys(tmp_path, monkeypatch):
    tokens = parse_tokens("# trainers\nalice:aaaaaaaaaaaaaaaaaaaa\nbob bbbbbbbbbbbbbbbbbbbb\ncccccccccccccccccccc, dave:dddddddddddddddddddd\n", "f")
    assert tokens == {"a" * 20: "alice", "b" * 20: "bob", "c" * 20: "token3", "d" * 20: "dave"}
    with pytest.raises(ConfigError, match="shorter"):
        parse_tokens("eve:short", "f")
    with pytest.raises(ConfigError, match="repeats"):
        parse_tokens("a:aaaaaaaaaaaaaaaaaaaa,b:aaaaaaaaaaaaaaaaaaaa", "f")
    monkeypatch.setenv("MKB_TEST_HMAC", "s" * 32)
    assert load_secret("env:MKB_TEST_HMAC") == b"s" * 32
    (tmp_path / "key").write_text("k" * 40 + "\n")
    assert load_secret(str(tmp_path / "key")) == b"k" * 40
    for bad in ("env:MKB_NOT_SET_ANYWHERE", str(tmp_path / "missing")):
        with pytest.raises(ConfigError):
            load_secret(bad)


def test_completion_text_reads_trl_formats():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "chat"}]) == "chat"
    assert completion_text([{"role": "user", "content": "q"}, {"role": "assistant", "content": "a1"}, {"role": "assistant", "content": "a2"}]) == "a2"


def answer(kind: str, speedup: float | None = None, nonce: str = "") -> str:
    marker = f"// fake: {kind}" + (f" speedup={speedup}" if speedup else "")
    return f"My kernel:\n```cpp\n// source/backend/cpu/MKBCandidate.cpp\n{marker}\n// {nonce}\nint f();\n```\n"


def test_kernel_reward_scores_completions_through_the_service(service, ledger):
    reward = KernelReward(service.url, TOKEN)
    try:
        prompts = ["p"] * 5
        completions = [answer("correct", 2.0, "a"), answer("compile_error", nonce="b"), "no code at all",
                       [{"role": "assistant", "content": answer("wrong_output", nonce="c")}], answer("correct", 2.0, "a")]  # fmt: skip
        rewards = reward(prompts, completions, task=[TASK] * 5, completion_ids=[[1]] * 5)
        assert rewards == pytest.approx([2.6, 0.0, 0.0, 0.3, 2.6])
        assert isinstance(reward.last[2], str) and reward.last[2].startswith("format_error")
        assert sum(ledger.calls.values()) == 3  # the format error never reached the service; the repeat was one job
        assert reward.__name__ == "mkb_kernel_reward"
        with pytest.raises(ValueError, match="task"):
            reward(prompts, completions)
    finally:
        reward.close()


def test_serve_refuses_bad_settings_in_one_line(tmp_path, capsys, monkeypatch):
    from mkb_tui.cli.main import main

    monkeypatch.delenv("MKB_SERVE_TOKENS", raising=False)
    fake = ["--evaluator", "tests.service.fakes:factory", "--db", str(tmp_path / "s.sqlite")]
    cases = [
        (["serve", *fake], "no bearer tokens"),
        (["serve", "--host", "0.0.0.0", "--no-auth", *fake], "only allowed on a loopback"),
        (["serve", "--no-auth", "--evaluator", "no.such.module:factory"], "--evaluator"),
        (["serve", "--no-auth", "--reward", "bonus=3", *fake], "--reward"),
        (["serve", "--no-auth", "--hmac-key", "env:MKB_NOT_SET_ANYWHERE", *fake], "--hmac-key"),
        (["serve", "--no-auth", "--queue", "0", *fake], "max_queue"),
    ]  # fmt: skip
    (tmp_path / "not-a-db").write_text("this is not sqlite" * 100)
    cases.append((["serve", "--no-auth", "--evaluator", "tests.service.fakes:factory", "--db", str(tmp_path / "not-a-db")], "not a usable"))
    for argv, message in cases:
        assert main(argv) == 1, argv
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, (argv, err)
