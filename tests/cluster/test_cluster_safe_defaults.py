"""Issue 18: `cluster node --head` binds to loopback and turns on Ray's token auth by default; --dry-run starts nothing."""

from __future__ import annotations

import mkb_tui.cluster as cluster
from mkb_tui.cli.main import main
from mkb_tui.cluster.node import NodeDevices


def fake_devices(calls):
    def node_devices(*, phones: bool = True):
        calls.append(phones)  # phones=True would list adb devices: start an adb server
        return NodeDevices(host=True), []

    return node_devices


def test_head_binds_loopback_with_token_auth_and_dry_run_starts_nothing(monkeypatch, capsys):
    calls: list[bool] = []
    monkeypatch.setattr(cluster, "node_devices", fake_devices(calls))
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    assert main(["cluster", "node", "--head", "--dry-run"]) == 0
    out, err = capsys.readouterr()
    assert calls == [False]  # no adb probe in a dry run
    assert "--node-ip-address 127.0.0.1" in out and "RAY_AUTH_MODE=token" in out and "RAY_AUTH_TOKEN=***" in out
    assert "other nodes join with: RAY_AUTH_TOKEN=<the token> mkb-tui cluster node --address 127.0.0.1:6379" in err


def test_head_can_be_exposed_on_request(monkeypatch, capsys):
    monkeypatch.setattr(cluster, "node_devices", fake_devices([]))
    assert main(["cluster", "node", "--head", "--dry-run", "--bind", "10.0.0.5", "--no-auth", "--no-phones"]) == 0
    out, _ = capsys.readouterr()
    assert "--node-ip-address 10.0.0.5" in out and "RAY_AUTH_MODE" not in out
