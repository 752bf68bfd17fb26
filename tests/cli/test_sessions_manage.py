"""Issue 21: `mkb-tui sessions rm|rename|tag`, the listing's filters, and "did you mean" for session refs, as a person
runs them: one line a change, one line an error, the exit codes."""

from __future__ import annotations

import asyncio
import json

from mkb_tui.store import Store
from tests.cli.test_pipes import mkb, store_two_sessions

QWEN, CLAUDE = "1129-1000-ac0d", "1129-1001-bc0d"


def listed(db, *filters: str) -> list[str]:
    out = mkb("sessions", "--db", str(db), "--json", *filters)
    assert out.returncode == 0, out.stderr
    return [s["id"] for s in json.loads(out.stdout)]


def test_rename_and_tag_make_references_and_filters(tmp_path):
    db = tmp_path / "s.sqlite"
    store_two_sessions(db)
    out = mkb("sessions", "rename", "1129-1000", "qwen-run", "--db", str(db))
    assert (out.returncode, out.stdout) == (0, f"renamed {QWEN} to qwen-run\n"), out.stderr
    out = mkb("--db", str(db), "sessions", "tag", "qwen-run", "paper", "q3")  # the name is a reference now
    assert (out.returncode, out.stdout) == (0, f"{QWEN}: tags paper, q3\n"), out.stderr
    assert mkb("sessions", "tag", "qwen-run", "q3", "--untag", "--db", str(db)).stdout == f"{QWEN}: tags paper\n"
    assert listed(db, "--tag", "paper") == [QWEN] and listed(db, "--model", "claude") == [CLAUDE]
    assert listed(db, "--model", "openai-compatible:*") == [QWEN] and listed(db, "--status", "done") == [CLAUDE, QWEN]
    (row,) = json.loads(mkb("sessions", "--db", str(db), "--json", "--tag", "paper").stdout)
    assert (row["name"], row["tags"]) == ("qwen-run", ["paper"])
    table = mkb("sessions", "--db", str(db)).stdout
    assert "qwen-run" in table and table.splitlines()[1].split()[:3] == ["id", "name", "tags"]
    none = mkb("sessions", "--db", str(db), "--status", "running")
    assert none.returncode == 1 and none.stdout == "" and none.stderr == f"mkb-tui: error: no session matches --status running (2 in {db})\n"
    bad = mkb("sessions", "--db", str(db), "--status", "runing")
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "invalid choice" in bad.stderr


def test_rm_removes_one_line_each_and_checks_every_ref_first(tmp_path):
    db = tmp_path / "s.sqlite"
    store_two_sessions(db)
    typo = mkb("sessions", "rm", QWEN, "1129-1001-bcd0", "--db", str(db))
    assert typo.returncode == 2 and typo.stdout == "" and "Traceback" not in typo.stderr
    assert typo.stderr.strip() == f"mkb-tui: error: no session '1129-1001-bcd0' in {db}: did you mean {CLAUDE} or {QWEN}?"
    assert listed(db) == [CLAUDE, QWEN]  # nothing removed: the typo was found before any change
    out = mkb("sessions", "rm", QWEN, CLAUDE, "--db", str(db))
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"removed {QWEN}: done, openai-compatible:qwen3-coder-30b-a3b-instruct, 2/2 tasks",
                                       f"removed {CLAUDE}: done, anthropic:claude-sonnet-4-6-with-a-long-name, 2/2 tasks"]  # fmt: skip
    assert mkb("sessions", "--db", str(db)).stdout.startswith("no sessions in")


def test_rm_refuses_a_running_session_unless_forced(tmp_path):
    db = tmp_path / "s.sqlite"

    async def running() -> str:
        async with Store(db) as store:
            return await store.create_session({"tasks": ["abs"], "model": "m"}, "1203-0800-0001")  # written by this live process

    sid = asyncio.run(running())
    out = mkb("sessions", "rm", sid, "--db", str(db))
    assert out.returncode == 1 and out.stdout == "" and len(out.stderr.strip().splitlines()) == 1
    assert f"session {sid} is running (pid" in out.stderr and "--force" in out.stderr
    assert listed(db) == [sid]
    forced = mkb("sessions", "rm", sid, "--force", "--db", str(db))
    assert forced.returncode == 0 and forced.stdout.startswith(f"removed {sid}: running") and listed(db) == []


def test_an_unknown_session_ref_is_one_line_and_exit_2_in_every_command(tmp_path):
    db = tmp_path / "s.sqlite"
    store_two_sessions(db)
    for args in (("sessions", "rename", "1129-1000-ca0d", "x"), ("sessions", "tag", "1129-1000-ca0d", "t"), ("export", "1129-1000-ca0d"),
                 ("report", "1129-1000-ca0d")):  # fmt: skip
        out = mkb(*args, "--db", str(db), cwd=tmp_path)
        assert out.returncode == 2 and out.stdout == "" and "Traceback" not in out.stderr, (args, out.stderr)
        assert out.stderr.strip().splitlines() == [f"mkb-tui: error: no session '1129-1000-ca0d' in {db}: did you mean {QWEN} or {CLAUDE}?"], args
    far = mkb("sessions", "rm", "nothing-like-it", "--db", str(db))
    assert far.stderr.strip() == f"mkb-tui: error: no session 'nothing-like-it' in {db} (see `mkb-tui sessions`)"


def test_editing_needs_an_existing_database(tmp_path):
    out = mkb("sessions", "rm", "x", "--db", str(tmp_path / "none.sqlite"))
    assert out.returncode == 1 and "no session database yet" in out.stderr and not (tmp_path / "none.sqlite").exists()
