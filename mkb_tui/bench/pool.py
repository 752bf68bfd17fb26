"""Extra input sets per task that nobody knows in advance: seeds derived from a secret kept in the user's cache.

The fixed seeds of a task are in this repository, so a kernel could carry their answers. The pool's seeds come from
a random key made on first use (cache_dir()/secret/pool.key, readable by its owner only) and the task's id, so they
differ from machine to machine and cannot be derived from anything a candidate sees; their reference outputs are
computed on the host (PyTorch, cached like the fixed seeds') and never leave it. Each evaluation draws from the pool
at random (mkb_tui.engine.schedule).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from mkb_tui.bench.tasks import Task
from mkb_tui.paths import cache_dir

POOL_EXTRAS = 11  # with a task's 5 fixed seeds: 16 input sets, enough for the longest runner process


def _key_path() -> Path:
    return cache_dir() / "secret" / "pool.key"


def secret_key() -> bytes:
    path = _key_path()
    try:
        key = path.read_bytes()
        if len(key) == 32:
            return key
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".pool.key.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_bytes(32))
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's key
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return path.read_bytes()


def pool_seeds(task: Task, count: int = POOL_EXTRAS, key: bytes | None = None) -> tuple[int, ...]:
    """`count` secret seeds for `task` (62-bit, distinct from its fixed seeds)."""
    key = secret_key() if key is None else key
    seeds: list[int] = []
    i = 0
    while len(seeds) < count:
        digest = hmac.new(key, f"{task.id}\0{task.content_hash}\0{i}".encode(), hashlib.sha256).digest()
        seed = int.from_bytes(digest[:8], "little") >> 2
        if seed not in task.seeds and seed not in seeds:
            seeds.append(seed)
        i += 1
    return tuple(seeds)


def domain_seeds(task: Task, key: bytes | None = None) -> tuple[tuple[str, int], ...]:
    """(kind, seed) of each of the task's domain draws (mkb_tui.bench.domain): secret seeds after the pool's own."""
    from mkb_tui.bench.domain import domain_kinds

    kinds = domain_kinds(task)
    return tuple(zip(kinds, pool_seeds(task, POOL_EXTRAS + len(kinds), key)[POOL_EXTRAS:]))
