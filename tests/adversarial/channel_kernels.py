"""Abs kernels that attack the channel (plan 2) from inside the runner's process, classes 17-20 and 23.

None uses a banned symbol or instruction: raw reads, writes, seeks and closes on any descriptor come through the
function table (vtable) of libc's own `stdout` FILE, copied with another descriptor number. That is enough to speak
the channel's protocol on fds 3-6 in the runner's place.
"""

from tests.adversarial.kernels import HEAD, kernel
from tests.adversarial.timing_kernels import FABS

FD_IO = r'''
#include <cstdio>
#include <cstdint>
namespace {
struct Ehdr { unsigned char ident[16]; uint16_t type, machine; uint32_t version; uint64_t entry, phoff, shoff; uint32_t flags;
              uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx; };
struct Phdr { uint32_t type, flags; uint64_t offset, vaddr, paddr, filesz, memsz, align; };
struct Dyn { int64_t tag; uint64_t val; };
struct Sym { uint32_t name; unsigned char info, other; uint16_t shndx; uint64_t value, size; };
typedef long (*IoRead)(FILE*, void*, long);
typedef long (*IoWrite)(FILE*, const void*, long);
typedef long (*IoSeek)(FILE*, long, int);
typedef int (*IoClose)(FILE*);
// glibc's struct _IO_FILE_plus: the FILE, then its vtable (__read, __write, __seek, __close at 14..17)
struct Io {
    FILE f[7];
    IoRead rd; IoWrite wr; IoSeek sk; IoClose cl;
    Io() {
        void** vt = *(void***)((char*)stdout + sizeof(FILE));
        rd = (IoRead)vt[14]; wr = (IoWrite)vt[15]; sk = (IoSeek)vt[16]; cl = (IoClose)vt[17];
        for (int fd = 0; fd < 7; ++fd) { ::memcpy(&f[fd], stdout, sizeof(FILE)); f[fd]._fileno = fd; f[fd]._flags2 = 0; f[fd]._offset = -1; }
    }
};
// the runner's std::vector<Run> (16-byte elements, all {set 0, keep false} on plan 2) lies on the stack above this
// frame: found by its size and shortened to one run, so the runner ends cleanly after what it thinks is its first
// (the stack above this frame ends not far above runMain's: every scan stops at the vector, never past the top)
long findRuns(long runs) {  // runs <= 0: any count from 2 to 64
    volatile uintptr_t anchor[2] = {0, 0};
    volatile uintptr_t* p = anchor;
    void* probe = ::malloc(16);
    uintptr_t heap = (uintptr_t)probe;
    ::free(probe);
    for (long i = 0; i < 8192; ++i) {
        uintptr_t b = p[i], e = p[i + 1], c = p[i + 2];
        if (b == 0 || (b & 15) || e <= b || (e - b) % 16 || c < e) continue;
        long count = (long)((e - b) / 16);
        if (runs > 0 ? count != runs : (count < 2 || count > 64)) continue;
        if (c - b > (uintptr_t)(64 * count)) continue;
        if ((b > heap ? b - heap : heap - b) > ((uintptr_t)1 << 32)) continue;
        const uint64_t* r = (const uint64_t*)b;
        bool ok = true;
        for (long k = 0; k < count && ok; ++k) ok = r[2 * k] == 0 && (r[2 * k + 1] & 0xff) == 0;
        if (ok) return i;
    }
    return -1;
}
// the runner's vector<Run> shortened to one run, so the runner ends cleanly after what it thinks is its first
bool shortenRuns(long runs) {
    volatile uintptr_t anchor[2] = {0, 0};
    volatile uintptr_t* p = anchor;
    long i = findRuns(runs);
    if (i < 0) return false;
    // findRuns's frame lies below this one by a fixed amount: look again from here
    for (long j = 0; j < 8192; ++j)
        if (p[j] && p[j + 1] - p[j] == (uintptr_t)(16 * runs) && p[j + 2] >= p[j + 1] && (p[j] & 15) == 0) {
            const uint64_t* r = (const uint64_t*)p[j];
            bool ok = true;
            for (long k = 0; k < runs && ok; ++k) ok = r[2 * k] == 0 && (r[2 * k + 1] & 0xff) == 0;
            if (ok) { p[j + 1] = p[j] + 16; return true; }
        }
    return false;
}
// a libc function by name, without a reference to it: libc's ELF header lies below any of its code (one of the FILE
// vtable's functions), its dynamic symbol table is in memory
void* libcFunction(const void* inLibc, const char* name) {
    uintptr_t a = (uintptr_t)inLibc & ~(uintptr_t)4095;
    for (int k = 0; k < 16384 && *(const uint32_t*)a != 0x464c457fu; ++k) a -= 4096;
    if (*(const uint32_t*)a != 0x464c457fu) return nullptr;
    const Ehdr* eh = (const Ehdr*)a;
    const Phdr* ph = (const Phdr*)(a + eh->phoff);
    const Dyn* dyn = nullptr;
    for (int i = 0; i < eh->phnum; ++i) if (ph[i].type == 2 /* PT_DYNAMIC */) dyn = (const Dyn*)(a + ph[i].vaddr);
    if (!dyn) return nullptr;
    uintptr_t symtab = 0, strtab = 0;
    for (; dyn->tag != 0; ++dyn) {
        uintptr_t v = dyn->val < a ? a + dyn->val : dyn->val;
        if (dyn->tag == 6 /* DT_SYMTAB */) symtab = v;
        if (dyn->tag == 5 /* DT_STRTAB */) strtab = v;
    }
    if (!symtab || !strtab || strtab <= symtab) return nullptr;
    for (const Sym* sym = (const Sym*)symtab; (uintptr_t)(sym + 1) <= strtab; ++sym)
        if (sym->value && (sym->info & 15) == 2 /* STT_FUNC */ && ::strcmp((const char*)strtab + sym->name, name) == 0)
            return (void*)(a + sym->value);
    return nullptr;
}
// the runner's report, as the runner would have written it for `runs` runs (each claimed 1 us: nothing decides by it)
void forgeReport(Io& io, long runs) {
    char line[64];
    for (long r = 0; r < runs; ++r) {
        int len = ::snprintf(line, sizeof line, "\nmkbrun %ld 1000 1000\n", r);
        io.wr(&io.f[1], line, len);
    }
    std::vector<char> j;
    auto put = [&](const char* t) { while (*t) j.push_back(*t++); };
    auto list = [&](const char* key) {
        put(key);
        for (long r = 0; r < runs; ++r) put(r ? ",0.001" : "0.001");
        put("]");
    };
    put("\n{\"ok\":true,\"api\":\"session\",\"threads\":1,\"precision\":\"high\",\"clock\":\"vdso\"");
    list(",\"times_ms\":[");
    list(",\"raw_ms\":[");
    list(",\"io_ms\":[");
    ::snprintf(line, sizeof line, ",\"hashes\":[],\"timed_ms\":%.3f", runs * 0.001);
    put(line);
    ::snprintf(line, sizeof line, ",\"candidate_proof\":{\"creations\":1,\"executions\":%ld,\"nulls\":0}}\n", runs);
    put(line);
    io.wr(&io.f[1], j.data(), (long)j.size());
}
// the runner's own mappings of the input and output memory files (its global `gChannel`, in the executable's .bss):
// the auxiliary vector at the top of the stack names the executable's program headers (AT_PHDR), so its base; from
// there the image is readable up to its .bss
struct Mapped { const float* in = nullptr; float* out = nullptr; };
Mapped findChannel(long bytes) {
    volatile uintptr_t anchor[2] = {0, 0};
    volatile uintptr_t* p = anchor;
    uintptr_t phdr = 0;
    for (long i = 0; i < (1L << 16) && !phdr; ++i)
        if (p[i] == 3 && p[i + 2] == 4 && p[i + 3] == 56 && p[i + 4] == 5 && p[i + 5] > 0 && p[i + 5] < 64) phdr = p[i + 1];
    Mapped m;
    if (!phdr || *(const uint32_t*)(phdr - 64) != 0x464c457fu) return m;
    const uint64_t* w = (const uint64_t*)(phdr - 64);
    for (long k = 0; k < (1L << 17); ++k) {  // 1 MB at most: found in the .bss first
        if ((w[k] & 0xff) == 1 && w[k + 2] == (uint64_t)bytes && w[k + 4] == (uint64_t)bytes && w[k + 1] && !(w[k + 1] & 4095) &&
            w[k + 3] && !(w[k + 3] & 4095) && w[k + 6] - w[k + 5] == 8) {
            m.in = (const float*)w[k + 1];
            m.out = (float*)w[k + 3];
            return m;
        }
    }
    return m;
}
}
'''


def with_fd_io(body: str) -> str:
    return kernel("        static Io io;\n" + body, head=HEAD.replace("namespace MNN {", FD_IO + "\nnamespace MNN {", 1))


# class 18/23: the kernel runs the whole channel loop itself from its first execution: each run's input read from
# fd 4, computed, written to fd 6, 'D' on fd 5, the next 'G' read from fd 3; the runner's own per-run work (poison,
# feeding, MNN's session, the copies out), which the judge subtracts as measured on the baseline, never happens
TAKEOVER = with_fd_io(
    "        std::vector<float> in(n), out(n);\n"
    "        long runs = 0;\n"
    "        char go = 'G';\n"
    "        do {\n"
    "            io.sk(&io.f[4], 0, 0);\n"
    "            if (io.rd(&io.f[4], in.data(), (long)n * 4) != (long)n * 4) break;\n"
    "            { const float* src = in.data(); float* dst = out.data();\n" + FABS + "            }\n"
    "            io.sk(&io.f[6], 0, 0);\n"
    "            io.wr(&io.f[6], out.data(), (long)n * 4);\n"
    "            io.wr(&io.f[5], \"D\", 1);\n"
    "            ++runs;\n"
    "        } while (io.rd(&io.f[3], &go, 1) == 1 && go == 'G');\n"
    "        shortenRuns(runs);\n"
    "        ::memcpy(dst, out.data(), n * sizeof(float));\n")

# honest work of a known cost: abs computed `times` over (MNN's Abs on this task: ~12 us; once over: ~7 us)
def repeated_fabs(times: int) -> str:
    return ("        static volatile float vone = 1.0f;\n"
            f"        for (int r = 0; r < {times}; ++r) {{\n"
            "            const float one = vone;\n"
            "            for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i] * one);\n"
            "        }\n")


def honest(body: str) -> str:
    return kernel(body)


# the same with no copy at all: the kernel answers every run itself, computing from the runner's own mapping of the
# input memory file into the session's output tensor (and, on 'G', into the output memory file): the handshake is all
# that is left of the runner's per-run cost
def takeover_zero_copy(body: str) -> str:
    return with_fd_io(
    "        Mapped m = findChannel((long)n * 4);\n"
    "        if (m.in == nullptr) { for (int i = 0; i < n; ++i) dst[i] = 12345.0f; return NO_ERROR; }\n"
    "        float* tensor = dst;\n"
    "        long runs = 0;\n"
    "        char go = '?';  // the first run's word was the runner's to read: both places\n"
    "        do {\n"
    "            { const float* src = m.in; float* dst = tensor;\n" + body + "            }\n"
    "            if (go != 'H') ::memcpy(m.out, tensor, n * sizeof(float));\n"
    "            io.wr(&io.f[5], \"D\", 1);\n"
    "            ++runs;\n"
    "        } while (io.rd(&io.f[3], &go, 1) == 1 && (go == 'G' || go == 'H'));\n"
    "        shortenRuns(runs);\n")


TAKEOVER_ZERO_COPY = takeover_zero_copy(FABS)


def takeover_forged(body: str) -> str:
    """takeover_zero_copy, and the runner never speaks again: the kernel writes the runner's report for every run the
    supervisor timed, and ends the process with libc's _exit, found through libc's own symbol table. It speaks both
    words of the protocol: on 'G' the outputs go to the output memory file (the runner's copy skipped), on 'H' (the
    supervisor reads the session's tensors itself) into the session's output tensor; the input is always read from
    the input memory file (the runner's copy in skipped)."""
    return with_fd_io(
        "        Mapped m = findChannel((long)n * 4);\n"
        "        typedef void (*ExitFn)(int);\n"
        "        ExitFn leave = (ExitFn)libcFunction((const void*)io.wr, \"_exit\");\n"
        "        if (m.in == nullptr || leave == nullptr) { for (int i = 0; i < n; ++i) dst[i] = 12345.0f; return NO_ERROR; }\n"
        "        float* tensor = dst;\n"
        "        long runs = 0;\n"
        "        char go = '?';  // the first run's word was the runner's to read: both places\n"
        "        do {\n"
        "            { const float* src = m.in; float* dst = tensor;\n" + body + "            }\n"
        "            if (go != 'H') ::memcpy(m.out, tensor, n * sizeof(float));\n"
        "            io.wr(&io.f[5], \"D\", 1);\n"
        "            ++runs;\n"
        "        } while (io.rd(&io.f[3], &go, 1) == 1 && (go == 'G' || go == 'H'));\n"
        "        forgeReport(io, runs);\n"
        "        leave(0);\n")

CHANNEL_ATTACKS = {
    # class 18: 'D' before computing (the clock stops early); the runner's own 'D' then ends the next run
    "done_before_computing": with_fd_io("        io.wr(&io.f[5], \"D\", 1);\n" + FABS),
    # class 20: bytes that are not the protocol on the control descriptor
    "garbage_on_control": with_fd_io("        io.wr(&io.f[5], \"\\xff\\x00garbage\\n\", 10);\n" + FABS),
    # class 18/20: a second output layout, announcing an element type the host does not know and a huge size
    "forged_layout_line": with_fd_io("        io.wr(&io.f[5], \"R 99999999999 1 out 77 1 5\\n\", 27);\n" + FABS),
    # class 18: the supervisor's 'G' descriptor closed under the runner
    "closes_go_descriptor": with_fd_io("        static bool once = io.cl(&io.f[3]) == 0;\n        (void)once;\n" + FABS),
    # class 18: outputs written into the output memory file past the announced layout, and the input file's offset
    # moved (the runner maps both; neither decides anything)
    "scribbles_past_outputs": with_fd_io(
        "        io.sk(&io.f[6], (long)n * 4, 0);\n        io.wr(&io.f[6], src, (long)n * 4);\n" + FABS),
}


# class 19: a byte of an input spelt out in the exit code, in the verification process only (16 runs; the rerun on the
# fixed seeds alone has 12, so it passes and the failure "needs a secret input"): 4 of its 9 input sets are secret
EXIT_CODE_LEAK = with_fd_io(
    "        static long calls = 0;\n"
    "        if (++calls == 14) {\n"
    "            typedef void (*ExitFn)(int);\n"
    "            ExitFn leave = (ExitFn)libcFunction((const void*)io.wr, \"_exit\");\n"
    "            unsigned char byte[4];\n"
    "            ::memcpy(byte, src, 4);\n"
    "            if (leave) leave(200 + (byte[3] & 0x3f) % 50);  // 200..249: told apart from the runner's own codes\n"
    "        }\n" + FABS)

# class 23: a kernel that waits (libc's usleep, found through libc's symbol table: no reference, and a sleep is no
# timer) 100 ms in every run: its CPU is an honest abs, its wall time 8000x MNN's
SLEEPER = with_fd_io(
    "        typedef int (*SleepFn)(unsigned);\n"
    "        static SleepFn nap = (SleepFn)libcFunction((const void*)io.wr, \"usleep\");\n"
    "        if (nap) nap(100000);\n" + FABS)

# class 17/19: the input memory file read once, at the first run, and every later run answered from it: wrong, and
# the verdict on a secret set must not quote the values it got or expected (the expected is |a secret input|)
STALE_INPUT = with_fd_io(
    "        static std::vector<float> early;\n"
    "        if (early.empty()) {\n"
    "            early.assign(n, 7.0f);\n"
    "            io.sk(&io.f[4], 0, 0);\n"
    "            io.rd(&io.f[4], early.data(), (long)n * 4);\n"
    "        }\n"
    "        for (int i = 0; i < n; ++i) dst[i] = std::fabs(early[i]);\n")

# work elsewhere (class 17/23): a second process or a thread, started through libc's own functions found in its
# symbol table (no reference the object check sees). Had either started, the outputs are made wrong on purpose, so
# a correct verdict means the sandbox refused it
SPAWN_ATTACKS = {
    "fork_via_libc": with_fd_io(
        "        typedef int (*ForkFn)();\n"
        "        static ForkFn spawn = (ForkFn)libcFunction((const void*)io.wr, \"fork\");\n"
        "        static int child = spawn ? spawn() : -1;\n"
        "        if (child == 0) for (;;) {}\n"
        + FABS + "        if (child > 0) dst[0] = 12345.0f;\n"),
    "thread_via_libc": with_fd_io(
        "        typedef int (*CreateFn)(void*, const void*, void* (*)(void*), void*);\n"
        "        static char name[] = {'p','t','h','r','e','a','d','_','c','r','e','a','t','e',0};\n"  # no name in a string
        "        static CreateFn create = (CreateFn)libcFunction((const void*)io.wr, name);\n"
        "        static unsigned long tid = 0;\n"
        "        static int rc = create ? create(&tid, nullptr, [](void*) -> void* { for (;;) {} }, nullptr) : -1;\n"
        + FABS + "        if (rc == 0) dst[0] = 12345.0f;\n"),
    "truncates_output_file": with_fd_io(
        "        typedef int (*TruncFn)(int, long);\n"
        "        static TruncFn cut = (TruncFn)libcFunction((const void*)io.wr, \"ftruncate\");\n"
        "        if (cut) cut(6, 4);\n" + FABS),
}
