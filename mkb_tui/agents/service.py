"""The session service: the one way to start or resume a session. The app, `--batch` and `--resume` give it typed
settings (or a session to resume) and get back everything a run needs: tasks, provider, evaluator and the config
(method, k, iterations, jobs, budget, threads). Everything that can refuse the input does so before a session
exists, with one clear line (ConfigError, DeviceError, ProviderError)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mkb_tui.agents.loop import ApprovalHook, HumanKernels, TaskOutcome, auto_approve
from mkb_tui.agents.session import Listener, SessionConfig, run_session
from mkb_tui.bench.tasks import Task
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.errors import ConfigError
from mkb_tui.llm.base import Provider
from mkb_tui.llm.budget import Budget
from mkb_tui.store import Store

METHODS = ("moka", "single", "pass@k")
DEFAULT_JOBS = 8  # tasks in flight: they mostly wait on the model; builds and runs have their own bounds
SCRIPTED_JOBS = 1  # a scripted model replays one recorded conversation in order


def method_and_k(method: str, k: int | None) -> tuple[str, int]:
    """'moka'|'single' -> k=1; 'pass@k' takes k (default 10); 'pass@5' names k itself."""
    if method in ("moka", "single"):
        if k not in (None, 1):
            raise ConfigError(f"--k applies to --method pass@k, not {method}")
        return method, 1
    if method == "pass@k":
        k = 10 if k is None else k
    elif method.startswith("pass@") and method[5:].isdigit():
        if k is not None and k != int(method[5:]):
            raise ConfigError(f"--method {method} and --k {k} disagree")
        k = int(method[5:])
    else:
        raise ConfigError(f"--method {method!r}: use moka, single or pass@k")
    if k < 1:
        raise ConfigError("pass@k needs k >= 1")
    return "pass@k", k


def resolve_tasks(patterns: str | list[str]) -> list[str]:
    """Task ids from ids or globs ('unary/*,softmax*' or a list); ConfigError when nothing matches."""
    from mkb_tui.bench.tasks import load_tasks

    text = patterns if isinstance(patterns, str) else ",".join(patterns)
    if not text.strip():
        raise ConfigError("no tasks given")
    ids: list[str] = []
    for task in load_tasks(text):
        if task.state != "supported":  # a foreign suite's task with no faithful MNN form (its reason is in `tasks list`)
            continue
        if task.id not in ids:
            ids.append(task.id)
    if not ids:
        raise ConfigError(f"--tasks {text!r} matches no task (see `mkb-tui tasks list`)")
    return ids


@dataclass
class SessionSettings:
    """What a session is: stored with it (as a dict, scrubbed of anything key-like) and read back on resume."""

    tasks: list[str]
    model: str
    device: str = "local"
    base_url: str | None = None
    method: str = "moka"  # moka | single | pass@k
    k: int = 1
    iterations: int = 10
    jobs: int = DEFAULT_JOBS  # tasks in flight (bounded by the model's limits, not by cores)
    threads: int = 1  # MNN threads when timing
    workspaces: int | None = None  # MNN workspaces per device (None: as many as keep the device busy)
    budget_usd: float | None = None
    budget_tokens: int | None = None
    mnn_version: str | None = None  # filled in when the session is created
    cluster: str | None = None  # a Ray cluster's address: evaluations run there (the `cluster` extra)

    @classmethod
    def new(cls, tasks: str | list[str], model: str | None, *, method: str = "moka", k: int | None = None, **kw: Any) -> SessionSettings:
        """Validated settings for a new session; tasks may be ids or globs. ConfigError (one line) on bad input."""
        if not model:
            raise ConfigError("a session needs --model PROVIDER:NAME")
        method, k = method_and_k(method, k)
        given = {n: v for n, v in kw.items() if v is not None}
        if model.startswith("scripted:"):
            given.setdefault("jobs", SCRIPTED_JOBS)
        settings = cls(resolve_tasks(tasks), model, method=method, k=k, **given)
        settings.validate()
        return settings

    def validate(self) -> None:
        for name in ("iterations", "jobs", "threads", "workspaces"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"--{name} must be at least 1")
        for name in ("budget_usd", "budget_tokens"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"--{name.replace('_', '-')} must be positive")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> SessionSettings:
        """Settings as a session stored them (older sessions lack some keys: the defaults they ran with apply)."""
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known and v is not None}
        values.setdefault("jobs", 1)  # sessions stored before the default changed ran one task at a time
        if "tasks" not in values or "model" not in values:
            raise ConfigError("this session's settings lack its tasks or model: it cannot be resumed")
        return cls(**values)

    @property
    def budget(self) -> Budget:
        return Budget(self.budget_usd, self.budget_tokens)

    def config(self) -> SessionConfig:
        return SessionConfig(self.method, self.iterations, self.k, self.jobs, self.budget, threads=self.threads)

    @property
    def method_label(self) -> str:
        return self.method + (f" (k={self.k})" if self.method == "pass@k" else "")


@dataclass
class OpenedSession:
    """Everything a run needs. `run` drives it through the shared session runner."""

    store: Store
    session_id: str
    settings: SessionSettings
    tasks: list[Task]
    provider: Provider
    evaluator: Evaluator
    config: SessionConfig
    resumed: bool = False
    devices: list[str] = field(default_factory=list)

    async def run(self, *, approval: ApprovalHook = auto_approve, listeners: list[Listener] | None = None, human: HumanKernels | None = None,
                  reopen: dict[str, dict[str, str]] | None = None) -> list[TaskOutcome]:  # fmt: skip
        """`human`: kernels a person edits while it runs; `reopen`: task -> an edited kernel to continue a finished task."""
        return await run_session(self.store, self.session_id, self.tasks, self.provider, self.evaluator, config=self.config,
                                 approval=approval, listeners=listeners, resume=self.resumed, human=human, reopen=reopen)  # fmt: skip


def open_any_evaluator(device: str, *, cluster: str | None = None, threads: int = 1, workspaces: int | None = None) -> Evaluator:
    """This machine's devices, or with `cluster` (ray://HOST:PORT, HOST:PORT or auto) a Ray cluster's."""
    if cluster:
        from mkb_tui.cluster import open_cluster_evaluator

        return open_cluster_evaluator(cluster, device, threads=threads)
    from mkb_tui.engine.evaluator import open_evaluator

    return open_evaluator(device, threads=threads, workspaces=workspaces)


async def open_session(
    store: Store,
    settings: SessionSettings | None = None,
    *,
    resume: str | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    evaluator: Evaluator | None = None,
) -> OpenedSession:
    """A new session from `settings`, or the stored one `resume` names (an id, a unique prefix or 'latest'). A resumed
    session may be given a new budget (e.g. after it stopped at the old one); the rest is as stored. `evaluator`
    replaces the one the settings' device would open (tests, a cluster)."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.llm import open_provider

    if (settings is None) == (resume is None):
        raise ConfigError("open a session from settings or resume one, not both")
    session_id: str | None = None
    if resume is not None:
        session_id = await store.resolve(resume)
        settings = SessionSettings.from_stored((await store.session(session_id))["settings"])
        await store.claim(session_id)  # refuses while another live process is writing this session
    assert settings is not None
    overrides = {k: v for k, v in (("budget_usd", budget_usd), ("budget_tokens", budget_tokens)) if v is not None}
    settings = replace(settings, **overrides)
    settings.validate()
    tasks = [get_task(t) for t in settings.tasks]
    provider = open_provider(settings.model, base_url=settings.base_url)
    if evaluator is None:
        evaluator = open_any_evaluator(settings.device, cluster=settings.cluster, threads=settings.threads, workspaces=settings.workspaces)
    info = evaluator.describe()
    if session_id is None:
        settings.mnn_version = info.mnn_version
        session_id = await store.create_session(settings.to_dict())
    return OpenedSession(store, session_id, settings, tasks, provider, evaluator, settings.config(), resume is not None, list(info.devices) or [info.device])


def native_kernel_files(task_id: str) -> dict[str, str] | None:
    """MNN's own kernel for a task, {path in the MNN tree: text}, read from the user's pristine tree at run time
    (the app shows it and compares candidates with it); None when MNN, the task or its slot is missing."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.mnn import find_mnn
    from mkb_tui.engine.slots import slot_for
    from mkb_tui.errors import MkbError

    info = find_mnn()
    if info is None:
        return None
    try:
        slot = slot_for(get_task(task_id), info.root)
    except (MkbError, OSError, RuntimeError):
        return None
    files = {rel: (info.root / rel).read_text(errors="replace") for rel in slot.native_files if (info.root / rel).is_file()}
    return files or None


def native_kernel_source(task_id: str) -> str | None:
    """The first file of MNN's own kernel for a task, or None."""
    files = native_kernel_files(task_id)
    return next(iter(files.values())) if files else None


def cluster_summary(address: str) -> str:
    """A cluster's status in one line (blocking), for screens that must not know the cluster package."""
    from mkb_tui.cluster.status import cluster_summary as summary

    return summary(address)
