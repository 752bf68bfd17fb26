"""What a reward service is configured with: devices, storage, limits, tokens, signing and the reward formula."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from mkb_tui.errors import ConfigError
from mkb_tui.service.reward import RewardFormula

RESTART_POLICIES = ("resume", "fail")


@dataclass(frozen=True)
class Limits:
    max_body_bytes: int = 2 << 20  # a whole request
    max_files: int = 8  # files in one evaluation
    max_file_bytes: int = 256 << 10  # one file's text (UTF-8 bytes)
    max_batch: int = 64  # evaluations in one batch request
    max_queue: int = 256  # evaluations waiting for a device (running ones not counted): past it, 503
    token_concurrency: int = 32  # evaluations one token may have queued or running at once: past it, 429
    token_rate_per_min: float = 600.0  # evaluation requests (cache hits too) per token and minute: past it, 429
    max_threads: int = 4  # largest `threads` a request may ask for
    read_timeout_s: float = 10.0  # a request's headers and body must arrive within this: a slow client is dropped
    max_connections: int = 256  # open connections at once: past it, 503 (uvicorn's limit_concurrency)

    def __post_init__(self) -> None:
        for name, value in self.__dict__.items():
            if value <= 0:
                raise ConfigError(f"limit {name} must be positive (got {value})")


@dataclass(frozen=True)
class ServiceConfig:
    devices: tuple[str, ...] = ("local",)  # the devices served, each a --device spec; the first is the default
    db_path: Path = Path("sessions/serve.sqlite")
    limits: Limits = field(default_factory=Limits)
    tokens: dict[str, str] = field(default_factory=dict)  # bearer token -> its name (what limits and logs see)
    auth: bool = True  # False only with --no-auth: every request is the token "anonymous"
    hmac_key: bytes | None = None  # signs every stored verdict; cached answers carry and are checked by the signature
    reward: RewardFormula = field(default_factory=RewardFormula)
    on_restart: str = "resume"  # accepted jobs found unfinished at start: resume them, or fail them with a status
    slots_per_device: int | None = None  # evaluations at once per device; None: the evaluator's own safe number (1 if unknown)
    job_days: float = 7.0  # finished jobs (their status and files) are kept this long; verdicts stay cached

    def __post_init__(self) -> None:
        if not self.devices:
            raise ConfigError("serve needs at least one --device")
        if self.on_restart not in RESTART_POLICIES:
            raise ConfigError(f"--on-restart {self.on_restart!r}: use {' or '.join(RESTART_POLICIES)}")
        if self.auth and not self.tokens:
            raise ConfigError("no bearer tokens: give --tokens FILE or set MKB_SERVE_TOKENS (or --no-auth on loopback)")
        if self.slots_per_device is not None and self.slots_per_device < 1:
            raise ConfigError("--slots-per-device must be at least 1")
        if self.job_days <= 0:
            raise ConfigError("--job-days must be positive")


def parse_tokens(text: str, origin: str) -> dict[str, str]:
    """Tokens, one per line or comma-separated: `NAME:TOKEN`, `NAME TOKEN` or a bare TOKEN (named by its position);
    '#' starts a comment. A token must be at least 16 characters: a short one can be guessed."""
    tokens: dict[str, str] = {}
    items = [i.strip() for line in text.splitlines() for i in line.split("#", 1)[0].split(",")]
    for n, item in enumerate([i for i in items if i], 1):
        if ":" in item:
            name, token = item.split(":", 1)
        elif len(item.split()) == 2:
            name, token = item.split()
        else:
            name, token = f"token{n}", item
        name, token = name.strip(), token.strip()
        if len(token) < 16:
            raise ConfigError(f"{origin}: token {name!r} is shorter than 16 characters")
        if token in tokens:
            raise ConfigError(f"{origin}: token {name!r} repeats another one")
        tokens[token] = name
    return tokens


def load_tokens(path: Path | None, env_var: str = "MKB_SERVE_TOKENS") -> dict[str, str]:
    """Bearer tokens from a file and/or an environment variable (never from the command line, where `ps` shows them)."""
    tokens: dict[str, str] = {}
    if path is not None:
        try:
            tokens |= parse_tokens(path.read_text(), str(path))
        except OSError as exc:
            raise ConfigError(f"--tokens {path}: {exc.strerror or exc}") from None
    if os.environ.get(env_var):
        tokens |= parse_tokens(os.environ[env_var], f"${env_var}")
    return tokens


def load_secret(source: str | None) -> bytes | None:
    """An HMAC key from `env:VAR` or a file path (never the key itself on the command line)."""
    if not source:
        return None
    if source.startswith("env:"):
        value = os.environ.get(source[4:], "")
        if not value:
            raise ConfigError(f"--hmac-key {source}: the variable is not set")
        key = value.encode()
    else:
        try:
            key = Path(source).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"--hmac-key {source}: {exc.strerror or exc} (give env:VAR or a key file)") from None
    if len(key) < 16:
        raise ConfigError("--hmac-key: the key is shorter than 16 bytes")
    return key
