"""Opening a session: the one way to start or resume one. The app, `--batch` and `--resume` give typed settings (or a
session to resume) and get back everything a run needs: tasks, provider, evaluator and the loop's config."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from mkb_tui.agents.loop import ApprovalHook, HumanKernels, TaskOutcome, auto_approve
from mkb_tui.agents.session import Listener, SessionConfig, run_session
from mkb_tui.bench.tasks import Task
from mkb_tui.engine.evaluator import Evaluator
from mkb_tui.errors import ConfigError
from mkb_tui.llm.base import Provider
from mkb_tui.sessions.evaluators import open_evaluator
from mkb_tui.sessions.settings import SessionSettings
from mkb_tui.store import Store


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


async def open_session(
    store: Store,
    settings: SessionSettings | None = None,
    *,
    resume: str | None = None,
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    base_url: str | None = None,
    evaluator: Evaluator | None = None,
) -> OpenedSession:
    """A new session from `settings`, or the stored one `resume` names (an id, a unique prefix or 'latest'). A resumed
    session may be given a new budget (e.g. after it stopped at the old one) and a new base URL (the stored one may be
    dead); the new values are stored with it. The rest is as stored. `evaluator` replaces the one the settings' device
    would open (tests)."""
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.llm import open_provider

    if (settings is None) == (resume is None):
        raise ConfigError("open a session from settings or resume one, not both")
    session_id: str | None = None
    if resume is not None:
        session_id = await store.resolve(resume)
        settings = SessionSettings.from_stored((await store.session(session_id))["settings"])
    assert settings is not None
    overrides = {k: v for k, v in (("budget_usd", budget_usd), ("budget_tokens", budget_tokens), ("base_url", base_url)) if v is not None}
    settings = replace(settings, **overrides)
    settings.validate()  # a malformed new URL or budget is refused before the session is claimed
    if session_id is not None:
        await store.claim(session_id)  # refuses while another live process is writing this session
    tasks = [get_task(t) for t in settings.tasks]
    provider = open_provider(settings.model, base_url=settings.base_url)
    if evaluator is None:
        evaluator = open_evaluator(settings.device, cluster=settings.cluster, threads=settings.threads, workspaces=settings.workspaces)
    info = evaluator.describe()
    if session_id is None:
        settings.mnn_version = info.mnn_version
        session_id = await store.create_session(settings.to_dict())
    elif base_url is not None:  # the next resume uses it too (a budget is given per run)
        await store.update_settings(session_id, settings.to_dict())
    return OpenedSession(store, session_id, settings, tasks, provider, evaluator, settings.config(), resume is not None, list(info.devices) or [info.device])
