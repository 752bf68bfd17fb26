"""The one evaluator factory: where evaluations run for the app, `--batch`, `eval`, `oracle`, `doctor` and `serve`.

An EvaluatorSource is this machine's devices (local), a Ray cluster (`--cluster ADDR`, the `cluster` extra), or a
plug-in (`--evaluator MODULE:FUNC`, a callable (device text, threads) -> Evaluator). It opens an evaluator for a parsed
DeviceSpec; what an evaluator can safely run at once per device is its `describe().capacity` (the service asks it).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.errors import ConfigError, DeviceError
from mkb_tui.sessions.devices import DeviceSpec

PluginFactory = Callable[[str, int], Evaluator]  # (canonical device spec, threads) -> an evaluator


@dataclass(frozen=True)
class EvaluatorSource:
    cluster: str | None = None  # a Ray cluster's address: ray://HOST:PORT, HOST:PORT or auto
    plugin: str | None = None  # package.module:function

    def __post_init__(self) -> None:
        if self.cluster and self.plugin:
            raise ConfigError("give --cluster or --evaluator, not both")
        if self.plugin is not None:
            module, _, attr = self.plugin.partition(":")
            if not module or not attr:
                raise ConfigError(f"--evaluator {self.plugin!r}: use package.module:function")

    @property
    def kind(self) -> str:
        return "plugin" if self.plugin else "cluster" if self.cluster else "local"

    def open(self, device: DeviceSpec | str, *, threads: int = 1, workspaces: int | None = None) -> Evaluator:
        """An evaluator for `device` (a DeviceSpec, or text parsed here by the one grammar)."""
        spec = DeviceSpec.parse(device)
        if self.plugin:
            return self._plugin()(spec.text, threads)
        if self.cluster:
            return _cluster_evaluator(self.cluster, spec, threads)
        from mkb_tui.engine.evaluator import open_evaluator

        return open_evaluator([t.text for t in spec.targets], threads=threads, workspaces=workspaces)

    def factory(self) -> Callable[[str, int], Evaluator]:
        """(device text, threads) -> an evaluator: the form the service keeps per served device."""
        if self.plugin:
            self._plugin()  # a plug-in that cannot be loaded stops the service at start
        return lambda device, threads: self.open(device, threads=threads)

    def _plugin(self) -> PluginFactory:
        module_name, _, attr = (self.plugin or "").partition(":")
        try:
            factory = getattr(importlib.import_module(module_name), attr)
        except (ImportError, AttributeError) as exc:
            raise ConfigError(f"--evaluator {self.plugin!r}: {exc}") from None
        if not callable(factory):
            raise ConfigError(f"--evaluator {self.plugin!r} is not callable")
        return factory


def _cluster_evaluator(address: str, spec: DeviceSpec, threads: int) -> Evaluator:
    """On a cluster, Ray keeps one evaluation per device itself, so a spec names one kind of device there: the host,
    qemu, a phone, one phone by serial, or every phone (`adb:*`, which Ray spreads over the cluster's phones)."""
    target = spec.targets[0]
    if len(spec.targets) > 1 or target.server is not None:
        raise DeviceError(f"--device {spec.text!r} cannot be used with --cluster: use local, qemu, adb (any phone), adb:* or adb:SERIAL")
    try:
        from mkb_tui.cluster import open_cluster_evaluator
    except ImportError:
        raise ConfigError("--cluster needs the Ray evaluator (pip install 'mkb-tui[cluster]'), which this install lacks") from None
    return open_cluster_evaluator(address, target.text, threads=threads)


def open_evaluator(device: DeviceSpec | str, *, cluster: str | None = None, plugin: str | None = None, threads: int = 1,
                   workspaces: int | None = None) -> Evaluator:  # fmt: skip
    """This machine's devices, a Ray cluster's (`cluster`), or a plug-in's (`plugin`), for a device spec."""
    return EvaluatorSource(cluster, plugin).open(device, threads=threads, workspaces=workspaces)
