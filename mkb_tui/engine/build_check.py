"""The checks after the build: the candidate's translation unit as the compiler saw it (preprocessed_check) and the
object it produced (object_check), for one workspace build. Returns the rules broken, each with where."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mkb_tui.engine import object_check, preprocessed_check
from mkb_tui.engine.slots import Slot
from mkb_tui.engine.static_check import BANNED_CALLS, native_names, native_table_members
from mkb_tui.engine.types import Finding

SOURCE_SUFFIXES = (".cpp", ".cc", ".cxx", ".c")


@dataclass(frozen=True)
class JudgedSource:
    """A candidate source file and what its compile leaves in the build dir (-save-temps=obj, -MD)."""

    rel: str  # tree-relative path
    source: Path
    obj: Path

    @property
    def ii(self) -> Path:
        return self.obj.with_suffix(".ii")

    @property
    def asm(self) -> Path:
        return self.obj.with_suffix(".s")


_OBJECTS: dict[str, tuple[int, dict[str, str]]] = {}


def objects_by_source(build_dir: Path) -> dict[str, str]:
    """Absolute source path -> object path (build-dir relative), from the build's own build.ninja."""
    ninja = build_dir / "build.ninja"
    mtime = ninja.stat().st_mtime_ns
    cached = _OBJECTS.get(str(ninja))
    if cached and cached[0] == mtime:
        return cached[1]
    table = {m.group(2): m.group(1) for m in re.finditer(r"^build (\S+\.o): CXX_COMPILER\S* (\S+)", ninja.read_text(errors="replace"), re.M)}
    _OBJECTS[str(ninja)] = (mtime, table)
    return table


def object_for(build_dir: Path, source: Path) -> str | None:
    """The build-dir relative object the build makes from `source` (named as given or resolved), if any."""
    table = objects_by_source(build_dir)
    return table.get(str(source)) or table.get(str(source.resolve()))


def judged_sources(slot: Slot, src: Path, build_dir: Path) -> list[JudgedSource]:
    out = []
    for rel in slot.all_files:
        if not rel.endswith(SOURCE_SUFFIXES):
            continue
        source = src / rel
        obj = object_for(build_dir, source)
        if obj is not None:
            out.append(JudgedSource(rel, source, build_dir / obj))
    return out


def judge_env(sources: list[JudgedSource]) -> dict[str, str]:
    """Tells compile_launcher.sh which sources to compile for real with -save-temps=obj."""
    return {"MKB_JUDGED_SOURCES": ":".join(str(s.source) for s in sources)}


def fresh(judged: JudgedSource) -> bool:
    """The .ii was made from the source as it is now (the build only rewrites what changed, so an unchanged source
    keeps the translation unit of its last compile)."""
    try:
        return judged.ii.stat().st_mtime_ns >= judged.source.stat().st_mtime_ns
    except OSError:
        return False


def drop_stale(sources: list[JudgedSource]) -> None:
    """A stale .ii from an earlier candidate must never be judged in place of this one's."""
    for s in sources:
        if not fresh(s):
            s.ii.unlink(missing_ok=True)
            s.asm.unlink(missing_ok=True)


_SYSTEM_DIRS: dict[str, str] = {}  # toolchain directories resolved once per process


@lru_cache(maxsize=8)
def system_include_dirs(compiler: str) -> tuple[str, ...]:
    """The toolchain's own include directories, as the compiler lists them (asked once, kept on disk by the
    compiler's mtime)."""
    import shutil

    def ask() -> list[str]:
        try:
            proc = subprocess.run([compiler, "-xc++", "-E", "-v", "-"], input="", capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.SubprocessError):
            return []
        dirs, inside = [], False
        for line in proc.stderr.splitlines():
            if line.startswith("#include <...> search starts here:"):
                inside = True
            elif line.startswith("End of search list."):
                inside = False
            elif inside and line.startswith(" "):
                dirs += [os.path.normpath(line.strip()), os.path.realpath(line.strip())]
        return dirs

    return tuple(object_check.cached("include-dirs", Path(shutil.which(compiler) or compiler), ask))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == r or path.startswith(r.rstrip("/") + "/") for r in roots)


def _system_name(path: str, system: tuple[str, ...]) -> str:
    """A toolchain header as an #include names it (sys/syscall.h)."""
    for root in sorted(system, key=len, reverse=True):
        if _under(path, (root,)):
            return os.path.relpath(path, root)
    return os.path.basename(path)


def _shown(path: str, tree: str) -> str:
    """A path as a finding may show it: tree-relative inside the tree, otherwise only its name (never content)."""
    if _under(path, (tree,)):
        return os.path.relpath(path, tree)
    return f".../{os.path.basename(path)}"


async def _nothing() -> list[str]:
    return []


async def _ninja_deps(build_dir: Path, obj: Path) -> list[str]:
    """The dependencies the compiler reported with -MD for this object (recorded by ninja after a successful build)."""
    proc = await asyncio.create_subprocess_exec("ninja", "-t", "deps", str(obj.relative_to(build_dir)), cwd=str(build_dir),
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
    out, _ = await proc.communicate()
    return [line.strip() for line in out.decode(errors="replace").splitlines()[1:] if line.startswith("    ")]


def source_findings(judged: JudgedSource, text: str, slot: Slot, *, src: Path, build_dir: Path, compiler: str,
                    oracle: bool, extra_deps: list[str] = (), mnn_tree: Path | None = None) -> list[Finding]:  # fmt: skip
    """Rules on the preprocessed translation unit: the candidate's own lines after expansion, and every file read.
    `mnn_tree`: where MNN's headers are when the candidate's files are not in an MNN tree (a plug-in's lane)."""
    mnn_src = mnn_tree or src
    tree = os.path.realpath(mnn_src)
    candidate_paths = {os.path.realpath(src / rel): rel for rel in slot.all_files}

    system = system_include_dirs(compiler)
    local_dirs: dict[str, str] = {}

    def resolve(name: str) -> str:
        """Where a file the compiler read really is: symlinks followed (directories resolved once each)."""
        if name.startswith("<"):
            return name
        path = os.path.normpath(name if os.path.isabs(name) else os.path.join(build_dir, name))
        folder, base = os.path.split(path)
        cache = _SYSTEM_DIRS if _under(folder, system) else local_dirs
        if folder not in cache:
            cache[folder] = os.path.realpath(folder)
        full = os.path.join(cache[folder], base)
        return os.path.realpath(full) if os.path.islink(full) else full

    tu = preprocessed_check.parse_ii(text, set(candidate_paths), resolve)
    native = native_names(slot) | native_table_members(slot, mnn_src) if slot.mechanism in ("cpu", "combiner") and not oracle else set()
    findings = preprocessed_check.line_findings(tu, BANNED_CALLS, native, candidate_paths)
    findings += preprocessed_check.pragma_findings(tu, candidate_paths)
    # the precompiled prelude (engine/prelude.py: pristine MNN headers the harness force-includes) is seen as text
    # when GCC cannot use its precompiled form
    allowed_roots = (tree, os.path.realpath(mnn_src.parent / "prelude"), *system)
    native_files = {os.path.realpath(mnn_src / p) for p in slot.native_files} if not oracle and slot.mechanism != "geometry" else set()
    direct = {child: (candidate_paths[parent], line) for parent, line, child in tu.direct_includes}
    seen: set[str] = set()
    for path in [*tu.files, *(resolve(d) for d in extra_deps)]:
        if path in seen or path.startswith("<") or path in candidate_paths:
            continue
        seen.add(path)
        file, line = direct.get(path, (judged.rel, 0))
        if not _under(path, allowed_roots):
            findings.append(Finding("include", f"includes a file outside the MNN tree and the toolchain ({_shown(path, tree)})", file, line))
        elif path in direct and not _under(path, (tree,)) and preprocessed_check.OS_HEADERS.search(path):
            findings.append(Finding("include", f"includes <{_system_name(path, system)}>: operating-system headers are not for kernels",
                                    file, line))  # fmt: skip
        elif path in native_files and (path in direct or path.endswith(SOURCE_SUFFIXES)):
            findings.append(Finding("native", f"includes MNN's native implementation of this op ({_shown(path, tree)})", file, line))
        elif os.path.splitext(path)[1] not in preprocessed_check.HEADER_SUFFIXES:
            findings.append(Finding("include", f"includes a source file ({_shown(path, tree)}): a kernel includes headers only", file, line))
    return findings


_MISSING = re.compile(r"^(?P<path>.+?): No such file or directory$")


def unreachable_includes(diagnostics: list, src: Path, mnn_tree: Path | None = None) -> list[Finding]:
    """Includes that failed because they name a file outside the MNN tree and the toolchain: the compile sandbox shows
    the compiler nothing else, so such a build fails before any translation unit exists to judge. Said as the same
    rule (`include`), with the path shown as a finding may show it."""
    tree = os.path.realpath(src)
    findings = []
    for d in diagnostics:
        m = _MISSING.match(d.message.strip())
        if m is None:
            continue
        name = m.group("path")
        including = os.path.dirname(os.path.join(tree, d.file))
        path = os.path.normpath(name if os.path.isabs(name) else os.path.join(including, name))
        if not _under(path, (tree, "/usr", *((os.path.realpath(mnn_tree),) if mnn_tree else ()))):
            findings.append(Finding("include", f"includes a file outside the MNN tree and the toolchain ({_shown(path, tree)})", d.file, d.line))
    return findings


def object_policy(slot: Slot, oracle: bool) -> object_check.ObjectPolicy:
    names = native_names(slot) if slot.mechanism in ("cpu", "combiner") else set()
    stems = {Path(p).stem for p in slot.native_files if p.endswith(SOURCE_SUFFIXES)}
    if slot.mechanism == "geometry":
        stems = set()  # the candidate replaces that file: its symbols are the candidate's own
    return object_check.ObjectPolicy(slot.mechanism, frozenset(names), frozenset(stems), native_allowed=oracle,
                                     candidate_file=next((f for f in slot.files), ""))  # fmt: skip


MAX_UNIT_BYTES = 16 << 20  # a kernel's preprocessed unit with MNN's headers is a few MB; a flood is refused unread


def read_unit(ii: Path, limit: int | None = None) -> str | None:
    """The preprocessed unit's text, or None when it is larger than `limit` bytes (MAX_UNIT_BYTES): its size is taken
    before anything is read, and no more than the bound is ever read (a unit that grows meanwhile is refused too), so a
    candidate whose headers expand to gigabytes costs the harness no memory."""
    limit = MAX_UNIT_BYTES if limit is None else limit
    if ii.stat().st_size > limit:
        return None
    with open(ii, "rb") as f:
        chunks, size = [], 0
        while size <= limit:
            chunk = f.read(min(1 << 20, limit + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size > limit:
        return None
    return b"".join(chunks).decode("utf-8", errors="replace")


async def judge_preprocessed(sources: list[JudgedSource], slot: Slot, *, src: Path, build_dir: Path, compiler: str,
                             oracle: bool, built: bool, mnn_tree: Path | None = None) -> list[Finding] | None:  # fmt: skip
    """Findings on what the preprocessor produced; None when there is no translation unit to judge (the build
    failed before preprocessing ended)."""
    findings: list[Finding] = []
    judged_any = False
    for judged in sources:
        if not judged.ii.exists():
            if built:
                findings.append(Finding("object", "the build left no preprocessed translation unit to judge", judged.rel))
            continue
        judged_any = True
        deps, text = await asyncio.gather(_ninja_deps(build_dir, judged.obj) if built else _nothing(),
                                          asyncio.to_thread(read_unit, judged.ii))  # fmt: skip
        if text is None:
            findings.append(Finding("size", f"its preprocessed translation unit is larger than the judge's bound of "
                                            f"{MAX_UNIT_BYTES >> 20} MiB (the judge does not read it)", judged.rel))  # fmt: skip
            continue
        findings += await asyncio.to_thread(source_findings, judged, text, slot, src=src, build_dir=build_dir, compiler=compiler,
                                            oracle=oracle, extra_deps=deps, mnn_tree=mnn_tree)  # fmt: skip
    return findings if judged_any or findings else None


async def judge_objects(sources: list[JudgedSource], slot: Slot, *, compiler: str, pristine_build: Path | None, oracle: bool,
                        lib: Path | None = None, pristine_lib: Path | None = None, plugin: bool = False) -> list[Finding]:  # fmt: skip
    policy = object_policy(slot, oracle)
    jobs = [object_check.check_object(s.obj, policy, compiler=compiler, pristine_build=pristine_build) for s in sources]
    if lib is not None and pristine_lib is not None:
        jobs.append(object_check.library_findings(lib, pristine_lib, compiler=compiler, where=policy.candidate_file,
                                                  plugin=plugin))  # fmt: skip
    results = await asyncio.gather(*jobs)
    return [f for found in results for f in found]
