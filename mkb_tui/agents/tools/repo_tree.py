"""Repository Tree Builder: a compact tree of the MNN source relevant to a slot, and a tree-sitter symbol index of
the headers a kernel may include (classes, methods, free functions, macros with file:line and signature)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mkb_tui.engine.static_check import _parser


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str  # class | method | function | macro | field
    file: str
    line: int
    signature: str
    scope: str = ""

    def describe(self) -> str:
        where = f"{self.scope}::" if self.scope else ""
        return f"{where}{self.name} ({self.kind}) {self.file}:{self.line}: {self.signature}"


def _declarator_name(node) -> str | None:
    while node is not None and node.type not in ("identifier", "field_identifier", "operator_name", "destructor_name", "qualified_identifier"):
        node = node.child_by_field_name("declarator")
    return node.text.decode(errors="replace") if node is not None else None


def index_file(path: Path, rel: str) -> list[Symbol]:
    source = path.read_bytes()
    tree = _parser().parse(source)
    out: list[Symbol] = []

    def first_line(node) -> str:
        return source[node.start_byte : node.end_byte].decode(errors="replace").split("{")[0].split("\n")[0].strip()[:160]

    def walk(node, scope: str) -> None:
        for child in node.children:
            t = child.type
            if t in ("class_specifier", "struct_specifier"):
                name = child.child_by_field_name("name")
                if name is not None:
                    cname = name.text.decode(errors="replace")
                    out.append(Symbol(cname, "class", rel, child.start_point[0] + 1, first_line(child), scope))
                    body = child.child_by_field_name("body")
                    if body is not None:
                        walk(body, cname)
            elif t in ("field_declaration", "declaration", "function_definition"):
                decl = child.child_by_field_name("declarator")
                if decl is not None and "function_declarator" in (decl.type, *(c.type for c in decl.children)):
                    name = _declarator_name(decl)
                    if name:
                        out.append(Symbol(name, "method" if scope else "function", rel, child.start_point[0] + 1, first_line(child), scope))
                elif decl is not None and t == "field_declaration":
                    name = _declarator_name(decl)
                    if name:
                        out.append(Symbol(name, "field", rel, child.start_point[0] + 1, first_line(child), scope))
            elif t in ("preproc_def", "preproc_function_def"):
                name = child.child_by_field_name("name")
                if name is not None:
                    out.append(Symbol(name.text.decode(errors="replace"), "macro", rel, child.start_point[0] + 1, first_line(child), ""))
            elif t in ("namespace_definition", "declaration_list", "preproc_ifdef", "preproc_if", "preproc_else", "linkage_specification", "template_declaration"):
                body = child.child_by_field_name("body")
                walk(body if body is not None else child, scope)

    walk(tree.root_node, "")
    return out


@lru_cache(maxsize=16)
def symbol_index(mnn_root: str, headers: tuple[str, ...]) -> tuple[Symbol, ...]:
    root = Path(mnn_root)
    symbols: list[Symbol] = []
    for rel in headers:
        path = root / rel
        if path.exists():
            symbols += index_file(path, rel)
    return tuple(symbols)


def compact_tree(mnn_root: Path, folders: tuple[str, ...] = ("source/backend/cpu", "source/core", "include/MNN"), per_folder: int = 60) -> str:
    lines = []
    for folder in folders:
        files = sorted(p.name for p in (mnn_root / folder).iterdir() if p.is_file())
        shown = files[:per_folder]
        lines.append(f"{folder}/ ({len(files)} files)")
        lines += [f"  {name}" for name in shown] + ([f"  ... {len(files) - per_folder} more"] if len(files) > per_folder else [])
    return "\n".join(lines)
