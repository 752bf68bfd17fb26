"""Issue 21: `mkb-tui completion bash|zsh|fish`, generated from the argparse tree, and the hidden id helpers the scripts
call (`tasks list --ids`, `sessions --ids`). The bash script is run for real: words typed, COMPREPLY read."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mkb_tui.cli.completion import script
from mkb_tui.cli.main import build_parser
from tests.cli.test_pipes import mkb, store_two_sessions

ROOT = Path(__file__).resolve().parents[2]


def every_command(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += [(*prefix, name), *every_command(sub, (*prefix, name))]
    return out


# how each shell is asked what it offers after the words typed (the last is the word being typed); zsh's completion
# builtins are stood in for (compadd prints what it is given), since they need a live line editor
ASK = {
    "bash": lambda script, words: f'source {script}; COMP_WORDS=({words}); COMP_CWORD=$((${{#COMP_WORDS[@]}} - 1)); _mkb_tui; '
                                  'printf "%s\\n" "${COMPREPLY[@]}"',
    "zsh": lambda script, words: f'compdef() {{ : }}; compadd() {{ shift; print -l -- "$@" }}; _files() {{ : }}; source {script}; '
                                 f'words=({words}); CURRENT=${{#words}}; _mkb_tui',
    "fish": lambda script, words: f"source {script}; complete -C {words!r}",
}


def complete(tmp_path: Path, *words: str, shell: str = "bash") -> list[str]:
    """What `shell` offers after `words`, with mkb-tui on PATH."""
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "mkb-tui"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m mkb_tui "$@"\n')
    shim.chmod(0o755)
    path = tmp_path / f"c.{shell}"
    path.write_text(script(shell))
    typed = " ".join(("mkb-tui", *words)) if shell == "fish" else " ".join(f"'{w}'" for w in ("mkb-tui", *words))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([shell, "-c", ASK[shell](path, typed)], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert out.returncode == 0, out.stderr
    offered = [w.split("\t")[0] for w in out.stdout.splitlines() if w]
    return offered if shell == "bash" else [w for w in offered if w.startswith(words[-1])]  # zsh's compadd filters; the stand-in does not


def test_the_bash_script_parses_and_names_every_subcommand_and_option(tmp_path):
    out = mkb("completion", "bash")
    assert out.returncode == 0 and out.stdout == script("bash")
    path = tmp_path / "c.bash"
    path.write_text(out.stdout)
    check = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    rows = dict(line.strip().split(") echo ", 1) for line in out.stdout.splitlines() if ") echo " in line)
    for *parent, name in every_command(build_parser()):
        assert name in rows[f'"{"/".join(parent)} commands"'].strip('" ;').split(), (parent, name)
    for option in ("--jsonl-progress", "--status", "--untag", "--force", "--resume"):
        assert option in out.stdout, option
    assert "--ids" not in out.stdout.replace("sessions --ids", "").replace("tasks list --ids", "")  # the helpers stay hidden


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_each_shell_completes_subcommands_options_choices_and_stored_ids(tmp_path, shell):
    db = tmp_path / "s.sqlite"
    ids = store_two_sessions(db)
    assert sorted(complete(tmp_path, "sessions", "", shell=shell)) == ["rename", "rm", "tag"]
    assert sorted(complete(tmp_path, "--db", str(db), "sessions", "rm", "", shell=shell)) == sorted(ids)  # the --db typed on the line
    assert complete(tmp_path, "tasks", "show", "softmax_a", shell=shell) == ["softmax_axis1"]
    assert complete(tmp_path, "--batch", "--jsonl", shell=shell) == ["--jsonl-progress"]  # the batch's own options after --batch
    assert sorted(complete(tmp_path, "export", "--format", "", shell=shell)) == ["kernels", "preference", "sft"]
    assert sorted(complete(tmp_path, "completion", "", shell=shell)) == ["bash", "fish", "zsh"]


@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_the_zsh_and_fish_scripts_parse(tmp_path, shell):
    text = script(shell)
    assert "sessions --ids" in text and "tasks list --ids" in text and "--jsonl-progress" in text
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed here: only its text is checked")
    path = tmp_path / f"c.{shell}"
    path.write_text(text)
    check = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr


def test_the_id_helpers_print_one_id_a_line(tmp_path):
    from mkb_tui.bench.tasks import load_tasks

    tasks = mkb("tasks", "list", "--ids")
    assert tasks.returncode == 0 and tasks.stdout.splitlines() == [t.id for t in load_tasks()]
    unary = mkb("tasks", "list", "--ids", "--category", "Unary").stdout.splitlines()
    assert unary and set(unary) == {t.id for t in load_tasks(category="Unary")}
    db = tmp_path / "s.sqlite"
    ids = store_two_sessions(db)
    sessions = mkb("sessions", "--ids", "--db", str(db))
    assert sessions.returncode == 0 and sorted(sessions.stdout.splitlines()) == sorted(ids)
    assert mkb("sessions", "--ids", "--db", str(db), "--model", "claude").stdout.splitlines() == [ids[1]]
    none = mkb("sessions", "--ids", "--db", str(tmp_path / "none.sqlite"))
    assert (none.returncode, none.stdout, none.stderr) == (0, "", "")  # completion stays quiet without a database


def test_an_unknown_shell_is_one_usage_line():
    out = mkb("completion", "tcsh")
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1 and "invalid choice" in out.stderr
