"""Joining a Ray cluster as a driver: one clear error line when it cannot be reached."""

from __future__ import annotations

import os
import socket

from mkb_tui.errors import ConfigError

NAMESPACE = "mkb"


def _ray():
    try:
        import ray
    except ImportError as exc:  # the optional extra
        raise ConfigError("--cluster needs Ray: pip install 'mkb-tui[cluster]'") from exc
    return ray


def _reachable(address: str, timeout: float = 3.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]") or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


def connect(address: str):
    """Connect this process to the cluster at `address` ('auto', 'HOST:PORT' or 'ray://HOST:PORT'); returns the ray
    module. A second call reuses the connection."""
    ray = _ray()
    if ray.is_initialized():
        return ray
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage reports from a benchmark harness
    if address != "auto":
        bare = address.removeprefix("ray://")
        if not _reachable(bare):  # ray.init would wait a minute on a wrong address before failing
            raise ConfigError(f"cannot reach the Ray cluster at {address}: nothing listens there")
    try:
        ray.init(address=address, namespace=NAMESPACE, log_to_driver=False, logging_level="ERROR")
    except Exception as exc:  # ConnectionError, RuntimeError, ValueError: Ray's own types vary by version
        raise ConfigError(f"cannot join the Ray cluster at {address}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc
    return ray
