"""Judge the built object: what the candidate's compiled code references, defines, runs at load time and executes.

- References: an allowlist of external symbols a kernel may use (MNN's API and compute helpers, libm, memcpy & co.,
  operator new/delete, the libstdc++ internals of containers and strings, __cxa_*, the stack protector, printf to
  stdout); everything else is refused: file, network, process, thread, clock, dynamic loading, affinity, mprotect,
  syscall, and MNN's own helpers that do those (its file utilities, loaders, timers, thread pool set-up).
- No reference to a symbol of MNN's native implementation of the op: the symbols its object defines in the pristine
  build, and the names the static check knows (the slot's native classes and compute helpers).
- No definition of a symbol that libc, libm, libstdc++ or libgcc also define: such a definition, exported or linked
  statically, replaces the runner's own (its clock, for one). Checked on the object and on the workspace library's
  dynamic symbol table.
- No code at load or unload time beyond the registration: no .init_array entry for cpu and geometry kernels (their
  registration is a function MNN calls), and for a combiner only a compiler-generated initialiser that registers.
- No instruction that only assembly produces: system calls, cycle counters, system registers.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from mkb_tui.engine.static_check import GENERIC_HELPERS
from mkb_tui.engine.types import Finding

# ---------------------------------------------------------------------------------------------------- allowlists

LIBC_ALLOWED = {
    "memcpy", "memmove", "memset", "memcmp", "memchr", "strlen", "strnlen", "strcmp", "strncmp", "strcpy", "strncpy",
    "strcat", "strncat", "strchr", "strrchr", "strstr", "malloc", "calloc", "realloc", "free", "posix_memalign",
    "aligned_alloc", "memalign", "abort", "__assert_fail", "__stack_chk_fail", "__stack_chk_guard", "__memcpy_chk",
    "__memmove_chk", "__memset_chk", "__strcpy_chk", "__strcat_chk", "__strncpy_chk",
    # printing to stdout/stderr (MNN_PRINT / MNN_ERROR); a FILE* can only be one of those, fopen & co. are refused
    "printf", "puts", "putchar", "fputs", "fputc", "putc", "fprintf", "fwrite", "fflush", "vprintf", "vfprintf",
    "__printf_chk", "__fprintf_chk", "__vprintf_chk", "__vfprintf_chk", "stdout", "stderr",
    "sprintf", "snprintf", "vsprintf", "vsnprintf", "__sprintf_chk", "__snprintf_chk", "__vsprintf_chk", "__vsnprintf_chk",
    "abs", "labs", "llabs", "div", "ldiv", "qsort", "bsearch", "atoi", "atol", "atof", "strtol", "strtoul", "strtoll",
    "strtoull", "strtof", "strtod", "__errno_location", "__ctype_b_loc", "__ctype_tolower_loc", "__ctype_toupper_loc",
    "tolower", "toupper", "__isnan", "__isnanf", "__isinf", "__isinff", "__finite", "__finitef", "__fpclassify",
    "__fpclassifyf", "__signbit", "__signbitf", "frexp", "frexpf", "ldexp", "ldexpf", "modf", "modff", "scalbn", "scalbnf",
    "__libc_single_threaded", "pthread_mutex_lock", "pthread_mutex_unlock", "pthread_mutex_trylock",
    "_GLOBAL_OFFSET_TABLE_", "__dso_handle", "__cxa_atexit", "__cxa_finalize", "__cxa_guard_acquire", "__cxa_guard_release",
    "__cxa_guard_abort", "__cxa_pure_virtual", "__cxa_deleted_virtual", "__cxa_begin_catch", "__cxa_end_catch",
    "__cxa_rethrow", "__cxa_allocate_exception", "__cxa_free_exception", "__cxa_throw", "__cxa_call_unexpected",
    "__gxx_personality_v0", "_Unwind_Resume", "__mulsc3", "__muldc3", "__divsc3", "__divdc3", "__powisf2", "__powidf2",
    "__extendhfsf2", "__truncsfhf2", "__gnu_h2f_ieee", "__gnu_f2h_ieee", "__popcountdi2", "__clzdi2", "__ctzdi2",
    "__cpu_model", "__cpu_indicator_init", "__cpu_features2", "__aarch64_have_lse_atomics", "__getauxval",
}  # fmt: skip
STD_ALLOWED = re.compile(
    r"^(_Z(nw|na|dl|da)\w*"  # operator new / delete (all forms)
    r"|_ZSt\d+__throw_\w+|_ZSt\d+__glibcxx_assert_fail"  # std::__throw_* (what containers call on misuse)
    r"|_ZSt\d+_Rb_tree_\w+|_ZN?K?St8__detail\d+_(List_node_base|Prime_rehash_policy|Hash)\w*"  # map/set/list/unordered_*
    r"|_ZNK?St8__detail\d+_Prime_rehash_policy\w*|_ZNSt8__detail15_List_node_base\w*"
    r"|_ZNK?St7__cxx1112basic_stringI\w+|_ZNK?Ss\w+|_ZNSt19_Sp_make_shared_tag\w+|_ZNSt\d+bad_\w+"  # std::string, shared_ptr
    r"|_ZSt9terminatev|_ZSt7nothrow|_ZT[VIS]N10__cxxabiv1\w+|_ZT[IS]S[tt]?\w+|_ZT[VIS]St\d+\w+"
    r"|__aarch64_(cas|swp|ldadd|ldclr|ldeor|ldset)\d+_\w+)$"  # aarch64 outline atomics (libgcc)
)
# MNN's own code is in reach (the API and the compute helpers a kernel is built from), except what does I/O, clocks,
# threads or loading: refused by the object that defines it in the pristine build, and by name where it is inline.
MNN_SYMBOL = re.compile(r"^(_Z[A-Z]*N[K]?3MNN|_ZTVN3MNN|_ZTIN3MNN|_ZTSN3MNN|_ZGVZN3MNN|_ZZN3MNN|_Z\d+MNN|MNN|_SSE_MNN|_AVX_MNN|"
                        r"_AVX512_MNN|_AVX_|_SSE_|_AVX512_|_ZN11flatbuffers|_ZNK11flatbuffers|_Z\d+_AVX|_Z\d+_SSE)")  # fmt: skip
MNN_DENIED_OBJECTS = {
    "MNNFileUtils": "MNN's file utilities (file I/O)", "FileLoader": "MNN's file loader (file I/O)",
    "AutoTime": "MNN's timer (a clock)", "WorkerThread": "MNN's worker threads", "CPURuntime": "MNN's CPU runtime "
    "(affinity, /proc and /sys reads)", "cpu_id": "MNN's CPU feature probe (reads /proc)", "Pipeline": "MNN's session "
    "pipeline", "Session": "MNN's session", "Interpreter": "MNN's interpreter (loads models from files)",
    "ThreadPool": "MNN's thread pool set-up", "Executor": "MNN's executor", "ExecutorScope": "MNN's executor",
    "Module": "MNN's module loader", "PipelineModule": "MNN's module loader", "StaticModule": "MNN's module loader",
}  # fmt: skip
# a combiner is converter code that builds MNN Express expressions (MNN's own LSTM transform takes the current
# executor): in reach there, where the converter runs contained with nothing but the model in and out
COMBINER_MNN_ALLOWED = {"Executor", "ExecutorScope"}
MNN_ALLOWED_FROM_DENIED = re.compile(r"ThreadPool7enqueue")  # MNN_CONCURRENCY_BEGIN/END: the pool, not its set-up
MNN_DENIED_NAMES = re.compile(r"(MNNFile|MNNCreateFile|MNNOpenFile|MNNReadFile|MNNWriteFile|MNNMmap|MNNUnmap|MNNRemoveFile|"
                              r"MNNSetFileOffset|MNNGetFileSize|MNNDir|MNNCreateDir|MNNGetCurrentPid|MNNSetSchedAffinity|"
                              r"MNNGetCPUMask|FileLoader|AutoTime|5Timer|addCreator|8gCreator|mkb_|mkbRegister|mkbSlot|OnnxExtraManager4find|"
                              r"createFromFile|createFromBuffer|setCacheFile|updateCacheFile|RuntimeManager|Variable4load|Variable4save|"
                              r"Variable7loadMap|Module4load|"
                              r"WorkerThread|ThreadPool4init|ThreadPool7destroy|ThreadPool6active|ThreadPool8deactive)")  # fmt: skip
# what a refused libc/libstdc++ symbol is, for the message
CATEGORIES = [
    (re.compile(r"^(f?open(64|at)?|f?read|f?write|pread|pwrite|fclose|fseek|ftell|lseek|stat|fstat|lstat|access|unlink|remove|"
                r"rename|mkdir|rmdir|opendir|readdir|closedir|creat|dup2?|pipe|mmap(64)?|munmap|truncate|ftruncate|fdopen|"
                r"tmpfile|fgets|fscanf|getline|dprintf|_ZNSt\d+basic_[io]?fstream|_ZNSt\d+basic_filebuf|chdir|getcwd|sendfile)"),
     "file I/O"),  # fmt: skip
    (re.compile(r"^(socket|connect|bind|listen|accept|send|sendto|recv|recvfrom|getaddrinfo|gethostbyname|inet_\w+)"), "network"),
    (re.compile(r"^(fork|vfork|clone|execv\w*|execl\w*|system|popen|posix_spawn\w*|kill|setsid|setpgid|waitpid|wait|_exit|exit|"
                r"ptrace|prctl|signal|sigaction|raise|getpid|getppid)"), "processes"),  # fmt: skip
    (re.compile(r"^(pthread_(?!mutex_)\w+|_ZNSt6thread\w*|_ZNSt\d+condition_variable\w*|_ZSt\d+this_thread\w*|sched_\w+|"
                r"__cxa_thread_atexit\w*|__tls_get_addr)"), "threads or affinity"),  # fmt: skip
    (re.compile(r"^(clock\w*|gettimeofday|time|times|nanosleep|usleep|sleep|timer_\w+|_ZNSt6chrono\w*|__rdtsc)"), "clocks"),
    (re.compile(r"^(dlopen|dlsym|dlclose|dlerror|dladdr|dl_iterate_phdr)"), "dynamic loading"),
    (re.compile(r"^(mprotect|madvise|mlock|syscall|ioctl|getenv|secure_getenv|setenv|putenv|environ|__environ|"
                r"program_invocation\w*|__progname\w*|getauxval)$"), "the process's memory, environment or system calls"),  # fmt: skip
    (re.compile(r"^(_ZSt4cout|_ZSt4cerr|_ZSt4clog|_ZSt3cin|_ZNSo|_ZNSi|_ZStls|_ZStrs|_ZNSt8ios_base|_ZNSt\d+basic_\w*stream)"),
     "iostreams (use MNN_PRINT)"),  # fmt: skip
]
# what only assembly or a counter intrinsic produces and does something (traps such as ud2 or brk just crash)
X86_BANNED = re.compile(r"^\s*(syscall|sysenter|int|rdtscp?|rdpmc|rdpid|wr[fg]sbase|rd[fg]sbase)\b")
ARM_BANNED = re.compile(r"^\s*(svc|hvc|smc|msr|mrs\s+\w+,\s*(cnt\w+|pmc\w+|pmev\w+|s3_\w+))\b")
STD_TEMPLATE = re.compile(r"^_ZN?K?St")  # a definition in namespace std: an instantiation when it has template arguments
# A combiner is converter code: MNN's converter logs through iostreams (logkit.h's LOG(...) << ...), so writing to the
# standard streams is in reach there, file streams are not
COMBINER_STREAMS = re.compile(r"^(_ZSt4cout|_ZSt4cerr|_ZSt4clog|_ZNSo\w+|_ZNKSo\w+|_ZStlsI\w+|_ZSt16__ostream_insert\w+|"
                              r"_ZNSt8ios_base4Init(C|D)[12]Ev|_ZSt4endlI\w+|_ZSt5flushI\w+|_ZNKSt9basic_iosI\w+|_ZNSt9basic_iosI\w+|"
                              r"_ZNKSt5ctypeIcE\w+|_ZNSt5ctypeIcE\w+|_ZSt16__throw_bad_castv)$")  # fmt: skip
# A combiner's static initialiser registers its transform: what it may call
COMBINER_INIT_CALLS = re.compile(r"^(_ZN3MNN7Express16OnnxExtraManager(3get|6insert)\w*|_Znwm|_ZdlPv\w*|__cxa_atexit|__cxa_guard_\w+|"
                                 r"_Unwind_Resume|memcpy|memmove|strlen|_ZNK?St7__cxx1112basic_string\w+|_ZSt\d+__throw_\w+|"
                                 r"__stack_chk_fail|__libc_single_threaded|__dso_handle|_ZNSt8ios_base4Init(C|D)[12]Ev)$")  # fmt: skip


@dataclass(frozen=True)
class Tools:
    nm: str
    objdump: str
    readelf: str
    arch: str  # x86 | arm


def tools_for(compiler: str) -> Tools:
    """The binutils that read this compiler's objects (the cross binutils for aarch64)."""
    name = os.path.basename(compiler)
    arm = "aarch64" in name or "arm" in name
    prefix = ""
    m = re.match(r"^(.*-)(g\+\+|c\+\+|gcc|cc)(-\d+)?$", name)
    if m:
        prefix = m.group(1)
    if name.startswith("clang"):  # the NDK: llvm tools next to the compiler
        base = os.path.dirname(compiler)
        return Tools(*(os.path.join(base, f"llvm-{t}") for t in ("nm", "objdump", "readelf")), "arm" if arm else "x86")
    return Tools(f"{prefix}nm", f"{prefix}objdump", f"{prefix}readelf", "arm" if arm else "x86")


async def _run(argv: list[str]) -> str:
    proc = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
                                                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C"})  # fmt: skip
    out, _ = await proc.communicate()
    return out.decode(errors="replace")


def _cache_file(kind: str, key: str) -> Path:
    from mkb_tui.paths import cache_dir

    safe = re.sub(r"[^\w.-]+", "_", key)[-150:]
    return cache_dir() / "judge" / f"{kind}-{safe}.json"


def cached(kind: str, source: Path, compute):
    """A derived table, kept on disk next to nothing secret, keyed by the source's path and mtime."""
    try:
        key = f"{source}-{source.stat().st_mtime_ns}"
    except OSError:
        return compute()
    path = _cache_file(kind, key)
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    value = compute()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(value))
        os.replace(tmp, path)
    except OSError:
        pass
    return value


def dynamic_definitions(path: Path) -> set[str]:
    """The symbols an ELF64 shared object defines in its dynamic symbol table (global, weak or unique binding), read
    directly from the file: a few ms where nm takes a tenth of a second."""
    import struct

    with open(path, "rb") as f:
        ident = f.read(64)
        if ident[:4] != b"\x7fELF" or ident[4] != 2:
            return set()
        end = "<" if ident[5] == 1 else ">"
        shoff, = struct.unpack_from(end + "Q", ident, 0x28)
        shentsize, shnum = struct.unpack_from(end + "HH", ident, 0x3A)
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        headers = [struct.unpack_from(end + "IIQQQQIIQQ", table, i * shentsize) for i in range(shnum)]
        dynsym = next((h for h in headers if h[1] == 11), None)  # SHT_DYNSYM
        if dynsym is None:
            return set()
        strtab = headers[dynsym[6]]
        f.seek(dynsym[4])
        syms = f.read(dynsym[5])
        f.seek(strtab[4])
        strings = f.read(strtab[5])
    names = set()
    for i in range(0, len(syms) - 23, 24):
        st_name, st_info, _other, st_shndx = struct.unpack_from(end + "IBBH", syms, i)
        if st_shndx != 0 and (st_info >> 4) in (1, 2, 10) and st_name:
            names.add(strings[st_name : strings.index(b"\0", st_name)].decode(errors="replace"))
    return names


_SYSTEM_EXPORTS: dict[str, set[str]] = {}
SYSTEM_LIBS = ("libc.so.6", "libm.so.6", "libstdc++.so.6", "libgcc_s.so.1", "libpthread.so.0", "librt.so.1", "libdl.so.2")


def _runtime_paths(compiler: str) -> dict[str, str]:
    """Where this compiler's target C/C++ runtime libraries are (asked once, kept on disk by the compiler's mtime)."""
    import shutil
    import subprocess

    exe = Path(shutil.which(compiler) or compiler)

    def ask() -> dict[str, str]:
        found = {}
        for lib in SYSTEM_LIBS:
            try:
                path = subprocess.run([compiler, f"-print-file-name={lib}"], capture_output=True, text=True, timeout=30).stdout.strip()
            except (OSError, subprocess.SubprocessError):
                continue
            if path and os.path.isabs(path) and os.path.exists(path):
                found[lib] = os.path.realpath(path)
        return found

    return cached("runtime", exe, ask)


def system_exports(compiler: str) -> set[str]:
    """Every symbol libc, libm, libstdc++ and libgcc export for this compiler's target (what an interposer would define)."""
    if compiler not in _SYSTEM_EXPORTS:
        import shutil

        def read() -> list[str]:
            return sorted(set().union(*(dynamic_definitions(Path(p)) for p in _runtime_paths(compiler).values())))

        _SYSTEM_EXPORTS[compiler] = set(cached("system-exports", Path(shutil.which(compiler) or compiler), read))
    return _SYSTEM_EXPORTS[compiler]


@lru_cache(maxsize=4)
def libm_exports(compiler: str) -> frozenset[str]:
    path = _runtime_paths(compiler).get("libm.so.6")
    return frozenset(dynamic_definitions(Path(path))) if path else frozenset()


def nm_lines(nm: str, flags: list[str], paths: list[str]):
    """(file, fields) for each line of `nm -A -P flags` over the paths (400 at a time)."""
    import subprocess

    for i in range(0, len(paths), 400):
        out = subprocess.run([nm, "-A", "-P", *flags, *paths[i : i + 400]], capture_output=True, text=True, timeout=300).stdout
        for line in out.splitlines():
            head, _, rest = line.partition(": ")
            yield head, rest.split()


def pristine_definitions(build_dir: Path, nm: str) -> dict[str, str]:
    """Strong global symbol -> the source file (tree-relative, without directory) whose object defines it, over a
    pristine build's objects."""
    lib = next((p for p in (build_dir / "libMNN.so", build_dir / "libMNN.a", build_dir / "MNNConvert") if p.exists()), build_dir / "build.ninja")

    def compute() -> dict[str, str]:
        table: dict[str, str] = {}
        for head, parts in nm_lines(nm, ["--defined-only", "-g"], [str(p) for p in build_dir.rglob("*.o")]):
            if len(parts) >= 2 and parts[1] in "TDBR":
                table.setdefault(parts[0], head.rsplit("/", 1)[-1].split(".")[0])
        return table

    return cached(f"defs-{build_dir.name}", lib, compute)


# MNN's compute library: the kernels its CPU executions call (MNNSigmoid, MNNNorm, MNNSoftmax...)
COMPUTE_DIRS = ("source/backend/cpu/compute/", "source/backend/cpu/arm/", "source/backend/cpu/x86_x64/")


def pristine_helpers(build_dir: Path, nm: str) -> dict[str, list[str]]:
    """Object stem -> the compute-library functions its object references directly, over a pristine build: what MNN's
    native implementation of an op calls to compute it (CPUUnary: MNNSigmoid, MNNTanh, MNNExp...)."""
    lib = next((p for p in (build_dir / "libMNN.so", build_dir / "libMNN.a", build_dir / "MNNConvert") if p.exists()), build_dir / "build.ninja")

    def symbols(flags: list[str], objects: list[str]):
        """(object stem, symbol, kind) for each line of nm over the objects."""
        for head, parts in nm_lines(nm, flags, objects):
            if parts:
                yield head.rsplit("/", 1)[-1].split(".")[0], parts[0], parts[1] if len(parts) > 1 else ""

    def compute() -> dict[str, list[str]]:
        objects = [str(p) for p in build_dir.rglob("*.o")]
        compute_objects = [o for o in objects if any(d in o for d in COMPUTE_DIRS)]
        kernels = {name for _, name, kind in symbols(["--defined-only", "-g"], compute_objects) if kind in ("T", "W")}
        refs: dict[str, set[str]] = {}
        for stem, name, _ in symbols(["--undefined-only"], objects):
            if name in kernels and not GENERIC_HELPERS.search(name):
                refs.setdefault(stem, set()).add(name)
        return {stem: sorted(names) for stem, names in refs.items()}

    return cached(f"helpers-{build_dir.name}", lib, compute)


# ---------------------------------------------------------------------------------------------------- reading an object


@dataclass
class ObjectSymbols:
    undefined: list[str]
    defined: list[tuple[str, str]]  # (name, kind: T global, W weak, u unique, i indirect function)


@dataclass
class Disassembly:
    functions: dict[str, list[str]]  # function symbol -> its instructions (mnemonic and operands)
    calls: dict[str, list[str]]  # function symbol -> relocation targets in its section
    sections: dict[str, str]  # section name -> the first function symbol in it
    init_targets: list[str]  # relocation targets in .init_array / .ctors / .preinit_array
    fini_targets: list[str]


_RELA = re.compile(r"^Relocation section '\.rela?(\S+)'")
_RELOC = re.compile(r"^[0-9a-f]+\s+[0-9a-f]+\s+R_\w+\s+[0-9a-f]+\s+(\S+)")
_SYM = re.compile(r"^\s*\d+:\s+[0-9a-f]+\s+\d+\s+(\w+)\s+(\w+)\s+(\w+)\s+(\w+)\s*(\S*)")
_FUNC = re.compile(r"^[0-9a-f]+ <(.+)>:$")


_LOAD_TIME = re.compile(r"^\.(init_array|ctors|preinit_array)(\.|$)")
_UNLOAD_TIME = re.compile(r"^\.(fini_array|dtors)(\.|$)")


def parse_readelf(text: str) -> tuple[ObjectSymbols, Disassembly]:
    """`readelf -W -s -r`: symbols, and relocations per section (with -ffunction-sections, per function)."""
    undefined: list[str] = []
    defined: list[tuple[str, str]] = []
    section_names: dict[str, str] = {}  # index -> name
    first_function: dict[str, str] = {}  # section index -> function
    relocs: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = _RELA.match(line)
        if m:
            current = relocs.setdefault(m.group(1), [])
            continue
        if line.startswith("Symbol table"):
            current = None
            continue
        if current is not None:
            r = _RELOC.match(line)
            if r:
                current.append(r.group(1))
            continue
        m = _SYM.match(line)
        if not m:
            continue
        kind, bind, _vis, ndx, name = m.groups()
        if kind == "SECTION":
            section_names[ndx] = name
        elif ndx == "UND":
            if name:
                undefined.append(name)
        elif kind == "FUNC" and ndx not in first_function:
            first_function[ndx] = name
        if ndx != "UND" and bind in ("GLOBAL", "WEAK", "UNIQUE") and kind != "SECTION" and name:
            defined.append((name, "i" if kind == "IFUNC" else {"GLOBAL": "T", "WEAK": "W", "UNIQUE": "u"}[bind]))
    sections = {section_names[i]: f for i, f in first_function.items() if i in section_names}
    functions = {f: [] for f in first_function.values()}
    calls = {f: relocs.get(sec, []) for sec, f in sections.items()}
    # by prefix: a constructor with a priority lives in .init_array.00200 (or .ctors.65335), still run at load
    init = [t for sec, targets in relocs.items() if _LOAD_TIME.match(sec) for t in targets]
    fini = [t for sec, targets in relocs.items() if _UNLOAD_TIME.match(sec) for t in targets]
    return ObjectSymbols(undefined, defined), Disassembly(functions, calls, sections, init, fini)


def parse_disassembly(text: str) -> dict[str, list[str]]:
    functions: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in text.splitlines():
        m = _FUNC.match(line)
        if m:
            current = functions.setdefault(m.group(1), [])
        elif current is not None and line.startswith(" "):
            fields = line.split("\t")  # "  14:\tsvc\t#0x0" (aarch64) or "   1:\tint    $0x80" (x86)
            if len(fields) >= 2:
                current.append(" ".join(f.strip() for f in fields[1:3]))
    return functions


async def read_object(obj: Path, tools: Tools) -> tuple[ObjectSymbols, Disassembly]:
    tables, dis = await asyncio.gather(_run([tools.readelf, "-W", "-s", "-r", str(obj)]),
                                       _run([tools.objdump, "-d", "-w", "--no-show-raw-insn", str(obj)]))  # fmt: skip
    symbols, disassembly = parse_readelf(tables)
    disassembly.functions.update(parse_disassembly(dis))
    return symbols, disassembly


# ---------------------------------------------------------------------------------------------------- the rules


def demangle(names: list[str]) -> dict[str, str]:
    if not names:
        return {}
    import subprocess

    try:
        out = subprocess.run(["c++filt"], input="\n".join(names), capture_output=True, text=True, timeout=30).stdout.splitlines()
    except (OSError, subprocess.SubprocessError):
        return {n: n for n in names}
    return dict(zip(names, out)) if len(out) == len(names) else {n: n for n in names}


def _category(name: str) -> str | None:
    for pattern, what in CATEGORIES:
        if pattern.match(name):
            return what
    return None


@dataclass(frozen=True)
class ObjectPolicy:
    """What the judge knows about the slot when it reads the object."""

    mechanism: str  # cpu | geometry | combiner
    native_names: frozenset[str]  # identifiers of the native implementation (classes, creators, helpers)
    native_sources: frozenset[str]  # file stems of the native implementation (their objects' symbols are refused)
    native_allowed: bool = False  # the oracle: MNN's own code through the slot references the native code by design
    candidate_file: str = ""  # tree-relative, where findings point


def _mentions(name: str, identifiers: frozenset[str]) -> bool:
    """Whether a (mangled) symbol names one of these identifiers: as itself (C linkage) or as a mangled name component
    (<length><identifier>), so no demangling is needed to decide."""
    for ident in identifiers:
        if name == ident:
            return True
        token = f"{len(ident)}{ident}"
        at = name.find(token)
        while at != -1:
            if at == 0 or not name[at - 1].isdigit():
                return True
            at = name.find(token, at + 1)
    return False


def symbol_findings(symbols: ObjectSymbols, policy: ObjectPolicy, *, system: set[str], libm: set[str],
                    mnn_defs: dict[str, str], helpers: frozenset[str] = frozenset()) -> list[Finding]:  # fmt: skip
    """Messages hold `{sym}` for the symbol's readable name, filled in by `readable` (one c++filt for all). `helpers`:
    the compute kernels the native implementation calls (pristine_helpers of its objects)."""
    findings: list[Finding] = []
    where = policy.candidate_file
    for name in symbols.undefined:
        source = mnn_defs.get(name)
        if not policy.native_allowed and (source in policy.native_sources or _mentions(name, policy.native_names)):
            findings.append(Finding("native", "references MNN's native implementation of this op ({sym})", where, symbol=name))
            continue
        if not policy.native_allowed and name in helpers:
            findings.append(Finding("native", "references {sym}, a kernel MNN's native implementation of this op computes it with",
                                    where, symbol=name))  # fmt: skip
            continue
        if name in LIBC_ALLOWED or name in libm or STD_ALLOWED.match(name):
            continue
        if policy.mechanism == "combiner" and COMBINER_STREAMS.match(name):
            continue
        if MNN_SYMBOL.match(name) or source is not None:
            denied = MNN_DENIED_OBJECTS.get(source or "")
            if policy.mechanism == "combiner" and source in COMBINER_MNN_ALLOWED:
                denied = None
            if denied and not MNN_ALLOWED_FROM_DENIED.search(name):
                findings.append(Finding("symbol", f"references {{sym}}: {denied} is not allowed in a kernel", where, symbol=name))
            elif MNN_DENIED_NAMES.search(name) and not MNN_ALLOWED_FROM_DENIED.search(name):
                findings.append(Finding("symbol", "references {sym}: MNN's file, clock, thread, loader or registration "
                                                  "helpers are not allowed in a kernel", where, symbol=name))  # fmt: skip
            continue
        what = _category(name)
        why = f"{what} are not allowed in a kernel" if what else "not on the list of symbols a kernel may reference"
        findings.append(Finding("symbol", f"references {{sym}}: {why}", where, symbol=name))
    std_defined = [n for n, kind in symbols.defined if n in system and kind in "Wu" and STD_TEMPLATE.match(n)]
    templates = {n for n, plain in demangle(std_defined).items() if "<" in plain}  # instantiations of std templates
    for name, kind in symbols.defined:
        if kind == "i":
            findings.append(Finding("interpose", "defines an indirect function ({sym})", where, symbol=name))
        elif name in system and name not in templates:
            findings.append(Finding("interpose", "defines {sym}, which the C or C++ runtime also defines (it would replace "
                                                 "the runner's own)", where, symbol=name))  # fmt: skip
    return findings


def readable(findings: list[Finding]) -> list[Finding]:
    """Fill `{sym}` in the messages with demangled names."""
    names = demangle(sorted({f.symbol for f in findings if f.symbol}))
    return [Finding(f.rule, f.message.replace("{sym}", names.get(f.symbol, f.symbol)), f.file, f.line, f.symbol) for f in findings]


def init_findings(dis: Disassembly, policy: ObjectPolicy, undefined: frozenset[str] = frozenset()) -> list[Finding]:
    """Code at load/unload time: none for cpu and geometry (registration is a function MNN calls); a combiner's
    compiler-generated initialiser may only register its transform."""
    where = policy.candidate_file
    findings: list[Finding] = []
    for target in dis.fini_targets:
        findings.append(Finding("constructor", "runs code when the library unloads ({sym})", where, symbol=_function_at(dis, target)))
    for target in dis.init_targets:
        func = _function_at(dis, target)
        if policy.mechanism != "combiner":
            findings.append(Finding("constructor", "runs code when the library loads ({sym}): a kernel has no global constructors "
                                                   "(use function-local statics or constant data)", where, symbol=func))  # fmt: skip
            continue
        if not func.startswith("_GLOBAL__sub_I_"):
            findings.append(Finding("constructor", "a load-time function ({sym}) besides the registration", where, symbol=func))
            continue
        for callee in sorted(_reachable_externals(dis, func) & undefined):
            if not COMBINER_INIT_CALLS.match(callee):
                findings.append(Finding("constructor", "the static initialiser does more than register the transform (calls {sym})",
                                        where, symbol=callee))  # fmt: skip
    return findings


def _function_at(dis: Disassembly, target: str) -> str:
    """A relocation target is a function symbol, or a section whose first function it is (local functions)."""
    if target in dis.functions:
        return target
    return dis.sections.get(target, target)


def _reachable_externals(dis: Disassembly, root: str) -> set[str]:
    seen, out, stack = {root}, set(), [root]
    while stack:
        func = stack.pop()
        for target in dis.calls.get(func, []):
            local = _function_at(dis, target)
            if local in dis.functions:
                if local not in seen:
                    seen.add(local)
                    stack.append(local)
            elif not target.startswith("."):
                out.add(target)
    return out


def asm_findings(dis: Disassembly, arch: str, where: str) -> list[Finding]:
    banned = ARM_BANNED if arch == "arm" else X86_BANNED
    findings = []
    for func, instructions in dis.functions.items():
        for ins in instructions:
            if banned.match(ins):
                op = ins.split()[0]
                findings.append(Finding("asm", f"the instruction `{op}` (in {{sym}}) is not allowed: system calls, counters and "
                                               "system registers are out of a kernel's reach", where, symbol=func))  # fmt: skip
                break
    return findings


async def check_object(obj: Path, policy: ObjectPolicy, *, compiler: str, pristine_build: Path | None) -> list[Finding]:
    tools = tools_for(compiler)
    if not obj.exists():
        return [Finding("object", "the candidate's object file is missing after the build", policy.candidate_file)]
    (symbols, dis), system, libm, mnn_defs, by_object = await asyncio.gather(
        read_object(obj, tools),
        asyncio.to_thread(system_exports, compiler),
        asyncio.to_thread(libm_exports, compiler),
        asyncio.to_thread(pristine_definitions, pristine_build, tools.nm) if pristine_build else _empty(),
        asyncio.to_thread(pristine_helpers, pristine_build, tools.nm) if pristine_build and policy.native_sources else _empty(),
    )
    helpers = frozenset(n for stem in policy.native_sources for n in by_object.get(stem, ()))
    return readable(symbol_findings(symbols, policy, system=system, libm=libm, mnn_defs=mnn_defs, helpers=helpers)
                    + init_findings(dis, policy, frozenset(symbols.undefined))
                    + asm_findings(dis, tools.arch, policy.candidate_file))  # fmt: skip


async def _empty() -> dict:
    return {}


def writable_code(path: Path) -> list[str]:
    """The program headers of an ELF64 file that map memory both writable and executable (a section flagged "awx")
    or ask for an executable stack (PT_GNU_STACK with PF_X): places where a kernel could write code and run it, past
    the runner's rule that no memory becomes executable once its plug-in is loaded."""
    import struct

    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return ["not an ELF64 file"]
        end = "<" if head[5] == 1 else ">"
        phoff, = struct.unpack_from(end + "Q", head, 0x20)
        phentsize, phnum = struct.unpack_from(end + "HH", head, 0x36)
        f.seek(phoff)
        table = f.read(phentsize * phnum)
    found = []
    for i in range(phnum):
        p_type, p_flags = struct.unpack_from(end + "II", table, i * phentsize)
        if p_type == 1 and p_flags & 1 and p_flags & 2:  # PT_LOAD, PF_X and PF_W
            found.append(f"a writable and executable segment (program header {i})")
        elif p_type == 0x6474E551 and p_flags & 1:  # PT_GNU_STACK, PF_X
            found.append("an executable stack")
    return found


async def library_findings(lib: Path, pristine_lib: Path, *, compiler: str, where: str, plugin: bool = False) -> list[Finding]:
    """The built library (a workspace's libMNN or a candidate's plug-in) exports no symbol of the C/C++ runtime that
    the pristine library does not; a plug-in maps no memory that is both writable and executable (a workspace's
    library is MNN's own build, candidate and all, loaded before any rule on new code applies)."""
    if not lib.exists() or lib.suffix != ".so":
        return []
    exported = await asyncio.to_thread(dynamic_definitions, lib)
    system = await asyncio.to_thread(system_exports, compiler)
    base = set(await asyncio.to_thread(cached, "dynsym", pristine_lib, lambda: sorted(dynamic_definitions(pristine_lib))))
    added = sorted((exported - base) & system)
    code = [Finding("code", f"the built library has {what}: no memory of a kernel is both writable and executable", where)
            for what in (await asyncio.to_thread(writable_code, lib) if plugin else [])]  # fmt: skip
    return code + readable([Finding("interpose", "the built library exports {sym}, which the C or C++ runtime also defines", where,
                                    symbol=n) for n in added])  # fmt: skip
