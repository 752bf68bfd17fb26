"""Prompt templates (prompts/*.md) with {{variables}}: checked when loaded, rendered strictly."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from mkb_tui.errors import ConfigError
from mkb_tui.paths import PROMPTS_DIR

VARIABLE = re.compile(r"\{\{\s*(\w+)\s*\}\}")
TEMPLATES: dict[str, set[str]] = {
    "system": {"role", "mnn_version", "target", "simd_note"},
    "coder_initial": {"task_id", "op", "category", "description", "tolerance", "task_source", "onnx_node", "mechanism",
                      "registration", "slot_files", "headers", "example_path", "example"},
    "coder_repair": {"task_id", "op", "verdict", "failure", "suggestions", "kernel"},
    "coder_accelerate": {"task_id", "op", "device", "performance", "bottleneck", "method", "plan", "kernel", "tolerance"},
    "debugger_compile": {"task_id", "op", "mnn_version", "problem", "errors", "kernel", "symbols"},
    "debugger_correctness": {"task_id", "op", "verdict", "failure", "model", "kernel"},
    "accelerator": {"task_id", "op", "device", "threads", "performance", "history", "kernel", "simd"},
    "format_reminder": {"problem", "expected"},
}  # fmt: skip


@dataclass(frozen=True)
class Template:
    name: str
    text: str
    variables: frozenset[str]

    def render(self, **values: object) -> str:
        missing = self.variables - values.keys()
        if missing:
            raise ConfigError(f"prompt {self.name}: missing values for {', '.join(sorted(missing))}")
        return VARIABLE.sub(lambda m: str(values[m.group(1)]), self.text)


def load_templates(directory: Path = PROMPTS_DIR) -> dict[str, Template]:
    """Load every template; fail loudly on a missing file or a variable that is unknown or absent."""
    out = {}
    for name, declared in TEMPLATES.items():
        path = directory / f"{name}.md"
        if not path.exists():
            raise ConfigError(f"prompt template {path} is missing")
        text = path.read_text()
        used = set(VARIABLE.findall(text))
        if used - declared:
            raise ConfigError(f"{path}: unknown variables {', '.join(sorted(used - declared))} (known: {', '.join(sorted(declared))})")
        if declared - used:
            raise ConfigError(f"{path}: does not use {', '.join(sorted(declared - used))}")
        out[name] = Template(name, text, frozenset(used))
    return out
