"""The one `--device` grammar: every spelling round-trips through its canonical text; a bad string is one clear
error naming it; a comma means a pool everywhere (serve included)."""

from __future__ import annotations

import pytest

from mkb_tui.errors import DeviceError
from mkb_tui.sessions.devices import LOCAL, DeviceSpec, DeviceTarget


@pytest.mark.parametrize("text", ["local", "qemu", "adb", "adb:R58M-1", "adb:*", "adb://10.0.0.2:5037", "adb://10.0.0.2:5037/R58M",
                                  "adb://10.0.0.2:5037/*", "adb://[::1]:5037/R58M", "adb:A,adb:B", "adb:A,adb://h:5037/B"])  # fmt: skip
def test_every_spelling_round_trips(text):
    spec = DeviceSpec.parse(text)
    assert spec.text == text and DeviceSpec.parse(spec.text) == spec and str(spec) == text


def test_targets_are_parsed_into_fields():
    assert DeviceSpec.parse("local") == LOCAL and LOCAL.single == DeviceTarget("local")
    remote = DeviceSpec.parse(" adb://phones.lan:5038/SER1 ").single
    assert remote == DeviceTarget("adb", "SER1", ("phones.lan", 5038)) and remote.timing == "phone"
    every = DeviceSpec.parse("adb:*")
    assert every.single is None and every.targets[0].every  # many phones: not one device
    pool = DeviceSpec.parse("adb:A, adb:B")  # spaces around the comma are the same pool
    assert pool.text == "adb:A,adb:B" and [t.serial for t in pool.targets] == ["A", "B"] and pool.single is None
    assert DeviceSpec.parse("qemu").emulated and not LOCAL.emulated
    assert DeviceSpec.parse(pool) is pool  # parsed once: a spec passes through


@pytest.mark.parametrize(("text", "says"), [
    ("toaster", "unknown device 'toaster'"),
    ("", "names no device"),
    ("adb:A,,adb:B", "empty item"),
    ("adb:", "adb:SERIAL"),
    ("adb://host", "adb://HOST:PORT"),
    ("adb://host:99999/X", "adb://HOST:PORT"),
    ("adb://host:5037/", "adb://HOST:PORT"),
    ("adb:A,adb:A", "names a device twice"),
    ("local,qemu", "mixes emulated and host timings"),
    ("qemu,adb:A", "mixes emulated and phone timings"),
    ("adb:A,toaster", "unknown device 'toaster' in --device 'adb:A,toaster'"),
])  # fmt: skip
def test_a_bad_string_is_one_clear_error(text, says):
    with pytest.raises(DeviceError) as caught:
        DeviceSpec.parse(text)
    message = str(caught.value)
    assert says in message and "\n" not in message
    assert repr(text) in message or text == ""  # it names what it refused


def test_settings_take_the_parsed_spec_and_store_its_text():
    from mkb_tui.sessions.settings import SessionSettings

    settings = SessionSettings.new("abs", "scripted:x.jsonl", device="adb:A, adb:B")
    assert settings.device == DeviceSpec.parse("adb:A,adb:B") and settings.to_dict()["device"] == "adb:A,adb:B"
    assert SessionSettings.from_stored(settings.to_dict()).device == settings.device
    with pytest.raises(DeviceError, match="unknown device 'toaster'"):
        SessionSettings.new("abs", "scripted:x.jsonl", device="toaster")


def test_serve_reads_a_comma_as_one_pool_and_repeats_for_several(monkeypatch):
    """In `serve`, as everywhere, a comma is one pool; --device given twice serves two devices."""
    from mkb_tui.cli import serve_cmd
    from mkb_tui.cli.main import build_parser

    seen = {}
    monkeypatch.setattr("mkb_tui.service.server.serve", lambda config, factory, host, port, **kw: seen.update(devices=config.devices))
    monkeypatch.setenv("MKB_SERVE_TOKENS", "t:" + "x" * 24)
    args = build_parser().parse_args(["serve", "--device", "adb:A, adb:B", "--device", "qemu"])
    assert serve_cmd.cmd_serve(args) == 0
    assert seen["devices"] == ("adb:A,adb:B", "qemu")
    with pytest.raises(DeviceError, match="mixes"):
        serve_cmd.cmd_serve(build_parser().parse_args(["serve", "--device", "local,qemu"]))
