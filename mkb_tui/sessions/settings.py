"""What a session is: its typed settings, validated where they come in (the command line, the new-session dialog, a
stored session being resumed), stored with the session as a dict and read back on resume. Everything that can refuse
the input does so here, with one clear line (ConfigError, DeviceError), before a session exists."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any
from urllib.parse import urlsplit

from mkb_tui.errors import ConfigError
from mkb_tui.llm.budget import Budget
from mkb_tui.sessions.devices import LOCAL, DeviceSpec

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


def check_base_url(url: str) -> str:
    """A provider's base URL, refused up front when it cannot be one (a request to it would only retry and time out)."""
    try:
        parts = urlsplit(url)
        port = parts.port  # ValueError for a port that is no number or out of range
    except ValueError as exc:
        raise ConfigError(f"--base-url {url!r} is not a URL ({exc}): use http://HOST:PORT/v1") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or any(c.isspace() for c in url):
        raise ConfigError(f"--base-url {url!r} is not an http(s) URL: use http://HOST:PORT/v1")
    del port
    return url


@dataclass
class SessionSettings:
    """What a session is: stored with it (as a dict, scrubbed of anything key-like) and read back on resume."""

    tasks: list[str]
    model: str
    device: DeviceSpec = LOCAL  # text is parsed here, once (the one grammar: mkb_tui.sessions.devices)
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

    def __post_init__(self) -> None:
        self.device = DeviceSpec.parse(self.device)

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
        if self.base_url is not None:
            check_base_url(self.base_url)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "device": self.device.text}

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

    def config(self):
        from mkb_tui.agents.session import SessionConfig

        return SessionConfig(self.method, self.iterations, self.k, self.jobs, self.budget, threads=self.threads)

    @property
    def method_label(self) -> str:
        return self.method + (f" (k={self.k})" if self.method == "pass@k" else "")
