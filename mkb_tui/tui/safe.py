"""The app's side of the untrusted-text rule (mkb_tui.untrusted.shown): a DataTable whose string cells are text,
never markup, and `markup()`, our own markup template with untrusted values substituted as plain text."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import DataTable

from mkb_tui.untrusted import as_text, shown

__all__ = ["TextTable", "as_text", "markup", "shown"]


class TextTable(DataTable):
    """A DataTable for stored and model-written values: every str cell is shown as it is (brackets included), with
    control characters made visible. Cells that are already renderables (rich Text) are kept as they are."""

    def add_row(self, *cells, **kwargs):  # type: ignore[override]
        return super().add_row(*(as_text(c) if isinstance(c, str) else c for c in cells), **kwargs)

    def update_cell(self, row_key, column_key, value, **kwargs):  # type: ignore[override]
        return super().update_cell(row_key, column_key, as_text(value) if isinstance(value, str) else value, **kwargs)


def markup(template: str, **values: object) -> Content:
    """Our markup `template` (styles only, written here) with each $name replaced by shown(value): Textual substitutes
    variables as text, so a value's brackets, links or @click actions are never parsed. A literal $ in the template
    must itself be a variable."""
    return Content.from_markup(template, **{k: shown(v) for k, v in values.items()})
