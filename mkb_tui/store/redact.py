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
# common secret formats beyond provider keys (issue 18): each is replaced whole
SECRET_FORMATS = [
    re.compile(r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----.*?(?:-----END [A-Z0-9 ]*PRIVATE KEY-----|\Z)", re.S),  # PEM, OpenSSH
    re.compile(r"\beyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]*"),  # JWT
    re.compile(r"\b(?:sk|rk|pk)_(?:live|test)_[A-Za-z0-9]{10,}"),  # Stripe
    re.compile(r"\b(?:ASIA|AKIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b"),  # AWS access key ids
    re.compile(r"(?i)(aws_secret_access_key|secret[_-]?access[_-]?key|aws_session_token)(\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{16,}"),
    re.compile(r"(?<![A-Za-z0-9/+])(?=[A-Za-z0-9/+]*[/+])(?=[A-Za-z0-9/+]*\d)[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])"),  # an AWS secret key's shape
    re.compile(r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key)(\s*[:=]\s*)[\"']?[^\s\"']{6,}"),  # key=value
    re.compile(r"(?i)\bbasic\s+[A-Za-z0-9+/=]{12,}"),  # basic auth header
]
URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^\s/@:]+:[^\s/@]+@")  # scheme://user:pass@host
NODE_NAME = re.compile(r"\bnode=[^\s,;\"']+")
EMAIL = re.compile(r"(?<![\w.+\-])[\w.+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")
HOME_PATHS = re.compile(r"(?<![\w])~[\\/][^\s\"'`]*|(?i:\b[A-Z]:\\(?:Users|Documents and Settings)\\)[^\s\"'`]*|/(?:home|Users|root)/[^\s\"'`/]+")


def _ipv6(match: re.Match) -> str:
    """An IPv6 address (with a digit and six characters at least: C++'s a::b is not one) as <ip>."""
    import ipaddress

    value = match.group(0)
    try:
        ipaddress.IPv6Address(value.split("%")[0])
    except ValueError:
        return value
    return "<ip>" if len(value) >= 6 and any(ch.isdigit() for ch in value) else value


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
    for shape in SECRET_FORMATS:
        text = shape.sub(lambda m: (m.group(1) + m.group(2) + "***") if m.re.groups >= 2 else "***", text)
    text = URL_CREDENTIALS.sub(r"\1***@", text)
    text = NODE_NAME.sub("node=<node>", text)  # a cluster node's name (node=HOST/ID in a verdict's flags)
    text = EMAIL.sub("<email>", text)
    text = HOME_PATHS.sub("<home>", text)
    text = ABSOLUTE_PATH.sub(_path, text)
    text = IPV4.sub("<ip>", text)
    text = IPV6.sub(_ipv6, text)
    host = socket.gethostname()
    if len(host) >= 2:  # as a whole word: a short name ("vm") inside other words is not this host
        text = re.sub(rf"(?<![\w-]){re.escape(host)}(?![\w-])", "<host>", text)
    return text


def redact_record(value: Any, secrets: list[str] | None = None) -> Any:
    """An export record with redact_text in every string at any depth: flags, model and node names included."""
    secrets = untrusted_secrets() if secrets is None else secrets
    if isinstance(value, str):
        return redact_text(value, secrets=secrets)
    if isinstance(value, dict):
        # a cluster node's name is a field of its own (Verdict.node): the whole of it is the machine's name
        return {k: ("<node>" if k == "node" and isinstance(v, str) and v else redact_record(v, secrets)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact_record(v, secrets) for v in value]
    return value


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
