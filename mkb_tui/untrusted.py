"""Untrusted text: what comes back from processes that touched a candidate's code (compiler and preprocessor
diagnostics, runner and converter output) is data written by the candidate. Before it reaches a verdict, a prompt, a
log or the store it is bounded in size, stripped of terminal control sequences and cleared of known secrets: the
values of environment variables named like credentials, keys the harness loaded from its config, and anything shaped
like a provider key. Every layer may import this module (it imports nothing of mkb_tui)."""

from __future__ import annotations

import base64
import os
import re

REDACTED = "***"
# environment variable names whose values are credentials (SSH_AUTH_SOCK and the like are not)
SECRET_ENV_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSW(OR)?D|CREDENTIAL|COOKIE", re.I)
MIN_SECRET_LEN = 8  # shorter values ("1", "true") are not secrets and would shred the text
# shapes of provider keys and bearer tokens, whatever variable (or file) they came from
SECRET_SHAPE = re.compile(
    r"\bsk-ant-[A-Za-z0-9_\-]{8,}"
    r"|\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{16,}"
    r"|\b(?:xai|gsk|hf|ghp|gho|ghs|ghu|github_pat|glpat|xox[abpr])[-_][A-Za-z0-9_\-]{12,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|\bAIza[0-9A-Za-z_\-]{30,}"
    r"|\b[Bb]earer\s+[A-Za-z0-9._~+/\-]{12,}=*"
)
# ANSI/OSC escape sequences, C0 controls but tab and newline, DEL, and invisible format characters (zero-width, bidi
# overrides): untrusted text must not drive a terminal, and removing them first means none can hide a secret's letters
CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?|[\x00-\x08\x0b-\x1f\x7f-\x9f]"
    r"|[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]"
)

_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """A credential the harness holds that did not come from an obviously named variable (a config file's key)."""
    if value and len(value) >= MIN_SECRET_LEN:
        _registered.add(value)


def secret_values(environ: dict[str, str] | None = None) -> list[str]:
    """Every known secret and its simple encodings (base64 at each alignment, hex, reversed), longest first."""
    env = os.environ if environ is None else environ
    raw = {v for k, v in env.items() if SECRET_ENV_NAME.search(k) and len(v) >= MIN_SECRET_LEN} | _registered
    found: set[str] = set()
    for value in raw:
        data = value.encode()
        found |= {value, value[::-1], data.hex()}
        for skip in range(3):  # the secret's base64 inside a longer base64 text: its stable middle part
            core = base64.b64encode(data[skip:]).decode().rstrip("=")[:-2]
            if len(core) >= MIN_SECRET_LEN:
                found.add(core)
    return sorted(found, key=len, reverse=True)


def redact(text: str, secrets: list[str] | None = None) -> str:
    """`text` with known secrets and key-shaped strings replaced by ***."""
    if not text:
        return text
    for value in secrets if secrets is not None else secret_values():
        if value in text:
            text = text.replace(value, REDACTED)
    return SECRET_SHAPE.sub(REDACTED, text)


def clean_text(text: str, limit: int, *, keep: str = "tail", secrets: list[str] | None = None) -> str:
    """Untrusted text made safe to show, store and prompt with: control sequences removed, secrets redacted, at most
    `limit` characters (the end of a log matters most: keep='tail'; a message's start: keep='head')."""
    if not text:
        return text
    # Cut a margin wider than the limit, clean, then drop the margin: a secret cut in half at the edge goes with it.
    margin = 512
    cut = len(text) > limit + margin
    if cut:
        text = text[-(limit + 2 * margin):] if keep == "tail" else text[: limit + 2 * margin]
    text = redact(CONTROL.sub("", text), secrets)  # controls first: an escape inside a secret must not hide it
    if cut:
        text = text[margin:] if keep == "tail" else text[:-margin]
    if len(text) > limit:
        note = "[... cut ...]\n" if keep == "tail" else "\n[... cut ...]"
        text = note + text[-(limit - len(note)):] if keep == "tail" else text[: limit - len(note)] + note
    return text


# --- showing untrusted text ------------------------------------------------------------------------------------------
# One rule wherever text from outside (model answers, plans, kernels, diagnostics, runner messages, stored ids and model
# names) meets a renderer: it is shown as text, never parsed as markup, and no control character or escape sequence
# reaches a terminal, a pipe or a report. Controls are made visible (U+2400 control pictures, <U+XXXX> for invisible
# format characters), so what is shown is what is stored, minus the power to drive a terminal.
_SHOWN_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _picture(match: re.Match[str]) -> str:
    ch = match.group()
    code = ord(ch)
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␍ for a lone CR, ...
    if code == 0x7F:
        return "\u2421"
    return f"<U+{code:04X}>"


def shown(text: object) -> str:
    """`text` safe to hand to a terminal: CRLF/CR line ends as LF, every other control or invisible format character
    made visible (an ESC becomes ␛, so no escape sequence survives). Tabs and newlines are kept."""
    if text is None:
        return ""
    s = text if isinstance(text, str) else str(text)
    if "\r" in s:
        s = s.replace("\r\n", "\n")
    return _SHOWN_CONTROL.sub(_picture, s)


def as_text(text: object, style: str = ""):
    """`shown(text)` as a rich Text: a renderable that no markup parser touches (DataTable cells, Static, Label)."""
    from rich.text import Text

    return Text(shown(text), style=style)
