"""A real multi-node Ray cluster on this machine (ray.cluster_utils.Cluster), on loopback only."""

from __future__ import annotations

import os

import pytest

# before Ray is imported (it reads this once): nodes bind 127.0.0.1, so no traffic leaves this machine's loopback
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
ray = pytest.importorskip("ray", reason="the cluster extra is not installed: pip install 'mkb-tui[cluster]'")


@pytest.fixture(scope="module")
def ray_cluster():
    """Head (no devices) + one node with a host device. Tests add and remove nodes; each test leaves one host node."""
    from ray.cluster_utils import Cluster

    from mkb_tui.cluster.resources import NodeDevices

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    assert cluster.address.startswith("127.0.0.1:"), cluster.address
    cluster.host_resources = NodeDevices(host=True).resources()
    cluster.first = cluster.add_node(num_cpus=1, resources=cluster.host_resources)
    cluster.wait_for_nodes()
    yield cluster
    ray.shutdown()
    cluster.shutdown()
