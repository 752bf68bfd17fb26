"""Evaluations past one machine, on a Ray cluster (the optional `cluster` extra).

Public surface: `RayEvaluator` (the Evaluator protocol over Ray), `NodeDevices` / `node_devices` (what a node can
evaluate on, advertised as Ray resources), `cluster_status` (nodes, devices, queue depth, throughput).
"""

from mkb_tui.cluster.evaluator import RayEvaluator
from mkb_tui.cluster.node import node_devices
from mkb_tui.cluster.resources import NodeDevices, device_request
from mkb_tui.cluster.status import ClusterStatus, cluster_status


def open_cluster_evaluator(address: str, device: str = "local", *, threads: int = 1, **kw) -> RayEvaluator:
    """The evaluator for `--cluster ADDRESS --device DEVICE`."""
    return RayEvaluator(address, device, threads=threads, **kw)


__all__ = ["ClusterStatus", "NodeDevices", "RayEvaluator", "cluster_status", "device_request", "node_devices", "open_cluster_evaluator"]
