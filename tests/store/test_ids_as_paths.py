"""Issue 18, finding 3: ids are data, never paths. Every file name made from a stored id is one plain component, and
what is written is checked to resolve inside the output folder: a database (or a planted link) that tries otherwise
gets one clear error line and writes nothing outside."""

from __future__ import annotations

import pytest

from mkb_tui.cli.main import main
from mkb_tui.errors import ConfigError
from mkb_tui.paths import id_file_name, inside

HOSTILE_IDS = ["../../escaped", "/etc/passwd", "~/.bashrc", ".", "..", ".hidden", "a/b", "a\\b", "a\x00b", "C:\\Users\\x", "x" * 500, "", "é"]


def test_an_id_is_one_plain_file_name():
    names = [id_file_name(i) for i in HOSTILE_IDS]
    for raw, name in zip(HOSTILE_IDS, names, strict=True):
        assert name and "/" not in name and "\\" not in name and "\x00" not in name and not name.startswith("."), (raw, name)
        assert len(name) <= 109, name
    assert len(set(names)) == len(names)  # two ids never share a name
    assert id_file_name("reducemean_lastdim") == "reducemean_lastdim" and id_file_name("1203-1645-ab12") == "1203-1645-ab12"


def test_inside_refuses_what_resolves_outside(tmp_path):
    root = tmp_path / "out"
    (root / "k").mkdir(parents=True)
    assert inside(root, root / "k" / "a.cpp") == root / "k" / "a.cpp"
    (root / "link").symlink_to(tmp_path)
    for path in (root / ".." / "x", root / "link" / "x", tmp_path / "elsewhere"):
        with pytest.raises(ConfigError, match="outside"):
            inside(root, path)


def test_export_through_a_planted_link_is_one_line_and_writes_nothing_outside(tmp_path, monkeypatch, capsys):
    from tests.cli.test_untrusted_cli import store_session

    monkeypatch.chdir(tmp_path)
    db = tmp_path / "s.sqlite"
    store_session(db, model="m:x", task="abs", sid="s1")
    out, victim = tmp_path / "out", tmp_path / "victim"
    (out / "kernels").mkdir(parents=True)
    victim.mkdir()
    (out / "kernels" / "abs").symlink_to(victim)  # the task's folder leads elsewhere
    assert main(["export", "s1", "--db", str(db), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mkb-tui: error: refusing to write") and err.count("\n") == 1
    assert not list(victim.iterdir())
