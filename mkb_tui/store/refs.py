"""Stable references to stored events: SESSION#SEQ (the session id and the event's sequence number in the store)."""

from __future__ import annotations

from mkb_tui.errors import ConfigError


def event_ref(session_id: str, seq: int) -> str:
    return f"{session_id}#{seq}"


def parse_ref(ref: str) -> tuple[str, int | None]:
    """'SESSION#SEQ' -> (SESSION, SEQ); 'SESSION' -> (SESSION, None); ConfigError for a bad SEQ."""
    session, sep, seq = ref.partition("#")
    if not sep:
        return ref, None
    if not seq.isdigit() or not session:
        raise ConfigError(f"{ref!r}: an event reference is SESSION#SEQ, e.g. 1129-1015-a3f9#42")
    return session, int(seq)
