"""C++ highlighting for TextArea: Textual ships no C++ grammar, so register tree-sitter-cpp (with C's queries)."""

from __future__ import annotations

from functools import lru_cache

from textual.widgets import TextArea


@lru_cache(maxsize=1)
def _cpp():
    import tree_sitter_c
    import tree_sitter_cpp
    from tree_sitter import Language

    return Language(tree_sitter_cpp.language()), tree_sitter_c.HIGHLIGHTS_QUERY + "\n" + tree_sitter_cpp.HIGHLIGHTS_QUERY


def cpp_text_area(widget_id: str) -> TextArea:
    area = TextArea("", read_only=True, show_line_numbers=True, id=widget_id, soft_wrap=False)
    language, query = _cpp()
    area.register_language("cpp", language, query)
    area.language = "cpp"
    return area
