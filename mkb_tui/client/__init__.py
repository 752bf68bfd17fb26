"""Clients of the reward service: `MkbClient` (async, httpx, retries with backoff) and `KernelReward`, a reward
function with TRL's `reward_funcs` signature for GRPO trainers."""

from mkb_tui.client.http import EvaluateResult, MkbClient, ServiceError, verify_signature
from mkb_tui.client.reward import KernelReward

__all__ = ["EvaluateResult", "KernelReward", "MkbClient", "ServiceError", "verify_signature"]
