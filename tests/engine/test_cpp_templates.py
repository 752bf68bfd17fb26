"""The C++ the harness generates (engine/cpp_templates): every field filled, and each template, rendered for real
tasks, compiles against the MNN headers of the slot-able build with the flags MNN's own CPU files get."""

import asyncio
import subprocess

import pytest

from mkb_tui.engine import cpp_templates


def test_a_template_is_filled_completely_or_not_at_all():
    assert cpp_templates.fields("geometry_dispatch.cpp") == {"op"}
    text = cpp_templates.render("geometry_dispatch.cpp", op="OpType_Concat")
    assert "${" not in text and "op->type() == OpType_Concat" in text
    with pytest.raises(KeyError):
        cpp_templates.render("geometry_dispatch.cpp")
    with pytest.raises(KeyError):
        cpp_templates.render("geometry_dispatch.cpp", op="OpType_Concat", extra="x")


def _rendered(mnn) -> dict[str, str]:
    from mkb_tui.bench.tasks import get_task
    from mkb_tui.engine.core_table import members_in, probe_source
    from mkb_tui.engine.slots import dispatch_source, geometry_dispatch_source, slot_for
    from mkb_tui.engine.static_check import CORE_FUNCTIONS_HEADER

    header = (mnn.root / CORE_FUNCTIONS_HEADER).read_text()
    return {
        "dispatch-abs": dispatch_source(slot_for(get_task("abs"), mnn.root)),  # a sub-typed op
        "dispatch-layernorm": dispatch_source(slot_for(get_task("layernorm_bert"), mnn.root)),
        "dispatch-none": dispatch_source(None),
        "geometry": geometry_dispatch_source(next(slot_for(t, mnn.root) for t in [get_task("concat_channels")])),
        "probe": probe_source([m for m in members_in(header) if m in ("MNNPoolingMax", "MNNSoftmax", "MNNNormPacked")]),
    }


@pytest.mark.mnn
def test_each_generated_source_compiles_against_mnn(mnn, tmp_path):
    from mkb_tui.engine.plugin import SlotableLibrary
    from mkb_tui.engine.toolchain import host_target

    lib = SlotableLibrary(mnn, host_target())
    if not lib.ready():
        pytest.skip("the slot-able MNN build is not made (mkb-tui setup mnn)")
    flags = asyncio.run(lib.compile_command())
    assert flags
    for name, text in _rendered(mnn).items():
        assert "${" not in text, name
        source = tmp_path / f"{name}.cpp"
        source.write_text(text)
        proc = subprocess.run([*flags, "-fsyntax-only", str(source)], capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
