"""The reward service (`mkb-tui serve`): MobileKernelBench evaluations over HTTP for training loops.

config (settings, tokens, keys) -> app (FastAPI routes, errors, body limit) -> core (validation, cache, reward) ->
scheduler (jobs in SQLite, per-device queues) -> evaluators (the Evaluator per device, on its own event loop);
auth (tokens, per-token limits), records (verdict records and their HMAC), metrics (Prometheus), server (uvicorn).
"""

from mkb_tui.service.config import Limits, ServiceConfig
from mkb_tui.service.reward import RewardFormula

__all__ = ["Limits", "RewardFormula", "ServiceConfig"]
