"""`mkb-tui cluster status`: nodes, their devices (busy or free), queue depth and evaluations per minute."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from mkb_tui.cluster.connect import connect
from mkb_tui.cluster.resources import PREFIX, devices_of
from mkb_tui.cluster.stats import STATS_ACTOR, StatsSnapshot


@dataclass
class NodeStatus:
    node_id: str
    address: str
    alive: bool
    devices: list[str]
    busy: list[str] = field(default_factory=list)  # devices with an evaluation on them now


@dataclass
class ClusterStatus:
    address: str
    nodes: list[NodeStatus]
    stats: StatsSnapshot

    @property
    def queue_depth(self) -> int:
        """Evaluations submitted and not yet on a device."""
        running = sum(len(n.busy) for n in self.nodes if n.alive)
        return max(0, self.stats.in_flight - running)

    def to_dict(self) -> dict:
        return {**asdict(self), "queue_depth": self.queue_depth}


def busy_devices(total: dict[str, float], available: dict[str, float]) -> list[str]:
    """Devices of a node in use: each device resource that is not fully available (pure)."""
    used = {k: v for k, v in total.items() if k.startswith(PREFIX) and available.get(k, 0.0) < v}
    return devices_of(used)


def cluster_status(address: str) -> ClusterStatus:
    ray = connect(address)

    nodes = []
    per_node_available = _available_per_node(ray)
    for node in ray.nodes():
        total = {k: float(v) for k, v in node.get("Resources", {}).items()}
        available = per_node_available.get(node["NodeID"], total)
        nodes.append(NodeStatus(node["NodeID"][:8], node.get("NodeManagerAddress", "?"), bool(node.get("Alive")), devices_of(total),
                                busy_devices(total, available) if node.get("Alive") else []))  # fmt: skip
    try:
        stats = ray.get(ray.get_actor(STATS_ACTOR).snapshot.remote(), timeout=10)
    except ValueError:  # no evaluation has run on this cluster yet
        stats = StatsSnapshot()
    return ClusterStatus(address, [n for n in nodes if n.devices or n.alive], stats)


def _available_per_node(ray) -> dict[str, dict[str, float]]:
    """Available resources per node id (the GCS keeps them per node; ray.available_resources() only sums them)."""
    try:
        from ray._private.state import state  # internal, but the only per-node view without the dashboard

        return {nid: {k: float(v) for k, v in res.items()} for nid, res in state.available_resources_per_node().items()}
    except Exception:
        return {}


def summary_line(status: ClusterStatus) -> str:
    """One line for the app's status bar (pure)."""
    alive = [n for n in status.nodes if n.alive and n.devices]
    devices = sum(len(n.devices) for n in alive)
    busy = sum(len(n.busy) for n in alive)
    return (f"ray: {len(alive)} node{'s' if len(alive) != 1 else ''}, {busy}/{devices} devices busy, "
            f"queue {status.queue_depth}, {status.stats.per_minute:.1f}/min")  # fmt: skip


def cluster_summary(address: str) -> str:
    """The status bar's line for the cluster at `address`, or why it cannot be read (never raises)."""
    try:
        return summary_line(cluster_status(address))
    except Exception as exc:  # a status line must not take the app down: a lost head shows as such
        return f"ray: unreachable ({str(exc).splitlines()[0][:80] if str(exc) else type(exc).__name__})"
