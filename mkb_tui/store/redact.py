"""Keeping secrets out of the database: settings are scrubbed of anything key-like before they are written."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# setting names that hold credentials (budget_tokens / max_tokens / input_tokens are counts, not credentials)
SECRET_NAME = re.compile(
    r"(api[_-]?key|apikey|secret|passw(or)?d|authorization|credential|bearer|cookie|(^|[_-])key$|(^|[_-])token$|^auth)", re.I
)
# values that look like provider keys or bearer tokens, whatever the setting is called
SECRET_VALUE = re.compile(r"^\s*(bearer\s+\S+|(sk|sk-ant|sk-proj|xai|gsk|hf|ghp|github_pat|AKIA)[-_][A-Za-z0-9_\-]{12,})\s*$", re.I)
REDACTED = "***"


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
