"""The one evaluator factory (local, cluster, plug-in), and the capacity the service asks an evaluator for instead of
looking past the Evaluator protocol."""

from __future__ import annotations

import pytest

from mkb_tui.engine.evaluator import EvaluatorInfo
from mkb_tui.engine.testing import FakeEvaluator
from mkb_tui.errors import ConfigError, DeviceError
from mkb_tui.sessions.devices import DeviceSpec
from mkb_tui.sessions.evaluators import EvaluatorSource, open_evaluator
from tests.sessions import plugin_evaluator


def test_local_opens_the_spec_targets_each_in_its_canonical_spelling(monkeypatch):
    opened = {}

    def fake_engine(targets, *, threads, workspaces):
        opened.update(targets=targets, threads=threads, workspaces=workspaces)
        return FakeEvaluator()

    monkeypatch.setattr("mkb_tui.engine.evaluator.open_evaluator", fake_engine)
    open_evaluator("adb:A, adb://[::1]:5037/B", threads=2, workspaces=3)
    assert opened == {"targets": ["adb:A", "adb://[::1]:5037/B"], "threads": 2, "workspaces": 3}
    assert EvaluatorSource().kind == "local"


def test_a_plugin_gets_the_canonical_spec_and_threads():
    plugin_evaluator.MADE.clear()
    source = EvaluatorSource(plugin="tests.sessions.plugin_evaluator:make")
    evaluator = source.factory()("adb:A , adb:B", 2)
    assert plugin_evaluator.MADE == [("adb:A,adb:B", 2)] and evaluator.describe().device == "plugin:adb:A,adb:B"
    assert source.kind == "plugin"


@pytest.mark.parametrize(("kw", "says"), [
    ({"plugin": "nomodule"}, "use package.module:function"),
    ({"plugin": "tests.sessions.plugin_evaluator:nope"}, "has no attribute 'nope'"),
    ({"plugin": "tests.sessions.plugin_evaluator:NOT_CALLABLE"}, "is not callable"),
    ({"plugin": "tests.sessions.plugin_evaluator:make", "cluster": "auto"}, "not both"),
])  # fmt: skip
def test_a_bad_source_is_one_clear_line(kw, says):
    with pytest.raises(ConfigError, match=says):
        EvaluatorSource(**kw).factory()


@pytest.mark.parametrize("device", ["adb:A,adb:B", "adb://h:5037/X"])
def test_a_cluster_is_refused_a_device_it_cannot_ask_ray_for_before_connecting(device):
    with pytest.raises(DeviceError, match="cannot be used with --cluster"):
        EvaluatorSource(cluster="127.0.0.1:1").open(DeviceSpec.parse(device))


def test_a_bad_device_string_is_refused_before_any_evaluator_opens(monkeypatch):
    monkeypatch.setattr("mkb_tui.engine.evaluator.open_evaluator", lambda *a, **kw: pytest.fail("opened"))
    with pytest.raises(DeviceError, match="unknown device 'toaster'"):
        open_evaluator("toaster")


def test_the_service_asks_an_evaluator_its_capacity():
    from mkb_tui.service.evaluators import EvaluatorSet, own_capacity

    class Roomy(FakeEvaluator):
        def describe(self) -> EvaluatorInfo:
            return EvaluatorInfo("host", "fake", "fake", self.info.mnn_root, False, ("p1", "p2"), capacity=3)

    assert own_capacity(FakeEvaluator()) == 1  # it says nothing: one evaluation at a time per device
    assert own_capacity(Roomy()) == 3
    served = EvaluatorSet(("adb:p1,adb:p2",), lambda device, threads: Roomy(), max_threads=4)
    assert served.slots("adb:p1,adb:p2") == 6  # per device, for each of the pool's devices
    assert served.resolve("adb:p1, adb:p2", None) == ("adb:p1,adb:p2", 1)  # a request's device is read by the same grammar


def test_the_service_refuses_a_request_device_by_the_grammar():
    from mkb_tui.service.errors import ApiError
    from mkb_tui.service.evaluators import EvaluatorSet

    served = EvaluatorSet(("local",), lambda device, threads: FakeEvaluator(), max_threads=4)
    for bad, says in (("toaster", "unknown device 'toaster'"), ("qemu", "not served here")):
        with pytest.raises(ApiError) as caught:
            served.resolve(bad, None)
        assert caught.value.status == 400 and says in caught.value.message and "served: local" in caught.value.message
