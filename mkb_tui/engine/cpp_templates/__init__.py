"""The C++ the harness generates, as files: each is a template (`${name}` fields, string.Template) rendered with the
values of one task. Kept as C++ so it reads, diffs and compiles as C++ (tests/engine/test_cpp_templates.py renders
and compiles each one against MNN's headers), not as f-strings with doubled braces."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from string import Template

HERE = Path(__file__).resolve().parent
NAMES = ("cpu_dispatch.cpp", "geometry_dispatch.cpp", "core_table_probe.cpp")


@cache
def _template(name: str) -> Template:
    return Template((HERE / name).read_text())


def fields(name: str) -> set[str]:
    """The fields a template takes."""
    return set(re.findall(r"\$\{(\w+)\}", _template(name).template))


def render(name: str, **values: str) -> str:
    """The template `name` with every field filled: a missing or an extra value is an error, not a blank."""
    wanted = fields(name)
    if set(values) != wanted:
        raise KeyError(f"{name} takes {sorted(wanted)}, given {sorted(values)}")
    return _template(name).substitute(values)
