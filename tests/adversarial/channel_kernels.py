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


# the same with no copy at all: the kernel computes from the runner's own mapping of the input memory file into its
# mapping of the output memory file; the handshake is all that is left of the runner's per-run cost
def takeover_zero_copy(body: str) -> str:
    return with_fd_io(
    "        Mapped m = findChannel((long)n * 4);\n"
    "        if (m.in == nullptr) { for (int i = 0; i < n; ++i) dst[i] = 12345.0f; return NO_ERROR; }\n"
    "        long runs = 0;\n"
    "        char go = 'G';\n"
    "        do {\n"
    "            { const float* src = m.in; float* dst = m.out;\n" + body + "            }\n"
    "            io.wr(&io.f[5], \"D\", 1);\n"
    "            ++runs;\n"
    "        } while (io.rd(&io.f[3], &go, 1) == 1 && go == 'G');\n"
    "        shortenRuns(runs);\n"
    "        ::memcpy(dst, m.out, n * sizeof(float));\n")


TAKEOVER_ZERO_COPY = takeover_zero_copy(FABS)

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
