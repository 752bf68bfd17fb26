"""Keeping secrets out of the database (settings are scrubbed of anything key-like before they are written, and every
text of every event is redacted: a second guard behind the engine's, see mkb_tui.untrusted) and out of exports (free
text loses keys, paths and machine names)."""

from __future__ import annotations

import re
import socket
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from mkb_tui.untrusted import redact
from mkb_tui.untrusted import secret_values as untrusted_secrets

# setting names that hold credentials (budget_tokens / max_tokens / input_tokens are counts, not credentials)
SECRET_NAME = re.compile(
    r"(api[_-]?key|apikey|secret|passw(or)?d|authorization|credential|bearer|cookie|(^|[_-])key$|(^|[_-])token$|^auth)", re.I
)
# values that look like provider keys or bearer tokens, whatever the setting is called
SECRET_VALUE = re.compile(r"^\s*(bearer\s+\S+|(sk|sk-ant|sk-proj|xai|gsk|hf|ghp|github_pat|AKIA)[-_][A-Za-z0-9_\-]{12,})\s*$", re.I)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_url(value: str) -> str:
    """https://user:pass@host/v1?key=x -> https://host/v1 (credentials in a base URL are still credentials)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return value
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(q for q in parts.query.split("&") if q and not is_secret_name(q.split("=", 1)[0]))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def scrub(value: Any) -> Any:
    """A copy of settings with key-like entries dropped and credentials cut out of URLs; lists and dicts recursively."""
    if isinstance(value, dict):
        return {k: scrub(v) for k, v in value.items() if not is_secret_name(str(k)) and not _secret_value(v)}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value if not _secret_value(v)]
    if isinstance(value, str) and "://" in value:
        return redact_url(value)
    return value


def _secret_value(value: Any) -> bool:
    return isinstance(value, str) and bool(SECRET_VALUE.match(value))


# ---------------------------------------------------------------------------------------------- free text
# an absolute path of two or more parts (not inside a word or a relative path)
ABSOLUTE_PATH = re.compile(r"(?<![\w.~/\-])/(?:[\w.@+\-]+/)+[\w.@+\-]*")
# where an MNN-tree-relative path starts inside an absolute one (workspace and cache prefixes are machine detail)
MNN_TREE = re.compile(r"/((?:source|include|tools|3rd_party|schema|express|transformers)/.*)$")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def _path(match: re.Match) -> str:
    path = match.group(0)
    inside = MNN_TREE.search(path)
    if inside:
        return inside.group(1)
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return f"<path>/{name}" if name else "<path>"


def redact_text(text: str, *, secrets: list[str] | None = None) -> str:
    """Free text with keys, tokens, credential values from the environment, absolute paths (to MNN-relative ones or
    `<path>/NAME`), IPv4 addresses and this host's name taken out: what may leave the machine in an export."""
    text = redact(text, untrusted_secrets() if secrets is None else secrets)
    text = ABSOLUTE_PATH.sub(_path, text)
    text = IPV4.sub("<ip>", text)
    host = socket.gethostname()
    if len(host) >= 2:  # as a whole word: a short name ("vm") inside other words is not this host
        text = re.sub(rf"(?<![\w-]){re.escape(host)}(?![\w-])", "<host>", text)
    return text


def redact_texts(value: Any, secrets: list[str] | None = None) -> Any:
    """A copy of an event payload with known secrets and key-shaped strings redacted in every string, at any depth."""
    secrets = untrusted_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: redact_texts(v, secrets) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_texts(v, secrets) for v in value]
    return value
