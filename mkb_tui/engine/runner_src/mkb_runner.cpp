// mkb_runner: the project's own harness binary. Loads one .mnn model and runs it by a plan read from stdin, printing
// one JSON line with the timings.
//
// usage: mkb_runner < PLAN
// Every process is started the same way (no arguments: a library's ELF constructor sees the same argv for every
// process), and every process runs the same kind of plan: a sequence of runs, each on an input set that appears only
// once in the process (so neither the input's address nor its content tells one run from another, and a result
// memoised from an earlier run is never the right one). The harness decides afterwards which runs were "warm-up" and
// which outputs it compares; the runner times every run and writes the outputs of the runs the plan names.
// Before every run, outside the timed region, the output tensors are filled with a NaN pattern, so a kernel that
// returns early leaves NaNs.
//
// Plan (text, one directive per line):
//   mkbplan 1
//   model PATH | api session|module | threads N | precision high|normal|low | poison HEX32
//   input PATH            an input set (MKBT), numbered from 0 in order of appearance
//   record PATH           where the kept outputs go: one MKBT file, tensors named "RUN:NAME", written after the last run
//   run SET [keep]        run on input set SET; `keep`: this run's outputs are written to the record file
//   profile N             after the runs, N more runs on set 0 with MNN's per-op callbacks, reported as each op
//                         type's time per run (op_ns): asked of MNN's own kernels only (the baseline's process), whose
//                         other ops the candidate's total can then be held to
//
// Plan 2 (`mkbplan 2`, the channel: every device with a supervisor): no input file is named and none exists in the
// runner's reach. The plan lists the layout of one input set instead (`tensor NAME DTYPE NDIM DIMS... OFFSET NBYTES`)
// and the number of runs (`runs N`). The supervisor, a separate process outside the runner's address space, hands
// each run its input set just in time, in a memory file (fd 4, read-only), and times every run on its own clock and
// by the kernel's accounting of this process's CPU time:
//   runner -> fd 5: `R OUTBYTES COUNT NAME DTYPE NDIM DIMS... ...` once the session is ready (the outputs' layout,
//                   written one after another into the memory file on fd 6, which the runner sizes); a module, whose
//                   outputs are known only once it has run, says `S` (ready) first and its layout before run 0's `D`;
//   fd 3 -> runner: one byte `G`: the input of the next run is in place (the supervisor took its clock first);
//   runner -> fd 5: `D` once the run's outputs are in the output memory file.
// The times the runner prints itself are kept for the baseline's side (MNN's own code, nothing of the candidate's):
// what feeding and reading back cost there, which the harness takes out of both sides' outside times.
//
// The clock: the kernel's clock_gettime found in the vDSO image (located through the auxiliary vector on the initial
// stack) and called through a private pointer, so a candidate library that defines clock_gettime or
// std::chrono::steady_clock::now (in the dynamic link or the static one) does not replace the runner's timer. The
// timed regions are also timed with a raw clock_gettime system call (no library, no pointer), read just outside the
// vDSO readings (raw_ms): the harness compares the two, so a clock made to run slow shows. Feeding each run's inputs
// and reading its outputs back (MNN's copies, which a candidate could redirect to do work the clock does not see)
// are timed by the same system call (io_ms): the harness compares them with the baseline's.
#include <MNN/Interpreter.hpp>
#include <MNN/Tensor.hpp>
#include <MNN/expr/Executor.hpp>
#include <MNN/expr/ExprCreator.hpp>
#include <MNN/expr/Module.hpp>

#include <elf.h>
#include <link.h>
#include <sys/stat.h>
#include <time.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "mkb_lockdown.h"

// Optional counters compiled into a candidate workspace by the harness (slot dispatcher). Weak: absent in the
// pristine library, where they resolve to null.
extern "C" long mkb_candidate_creations() __attribute__((weak));
extern "C" long mkb_candidate_executions() __attribute__((weak));
extern "C" long mkb_candidate_nulls() __attribute__((weak));
// The slot of a slot-able library (engine/plugin_src/mkb_slot_host.cpp): the candidate as a plug-in fills it.
extern "C" int mkb_slot_fill(const char* op, const char* subtype, void* creator) __attribute__((weak));
#ifdef MKB_PLUGINS
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>
#endif

namespace {

// ---- the clock ------------------------------------------------------------------------------------------------------

typedef int (*ClockFn)(clockid_t, struct timespec*);

// The vDSO clock's address, alone in a page made read-only once it is set: a kernel that finds the pointer by value
// in the runner's writable data cannot point it at a clock of its own.
struct alignas(4096) ClockPage {
    ClockFn fn;
};
ClockPage gClockPage;
const char* gClockKind = "libc";

// clock_gettime as a system call, without any library function in between.
long rawClock(struct timespec* ts) {
#if defined(__x86_64__)
    long ret;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(228L), "D"((long)CLOCK_MONOTONIC), "S"(ts) : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = 113;
    register long x0 __asm__("x0") = CLOCK_MONOTONIC;
    register long x1 __asm__("x1") = (long)ts;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1) : "memory");
    return x0;
#else
    return clock_gettime(CLOCK_MONOTONIC, ts);
#endif
}

bool sameName(const char* a, const char* b) {  // no strcmp: nothing on the clock path goes through a library
    while (*a && *a == *b) ++a, ++b;
    return *a == *b;
}

// The vDSO's clock_gettime, from the ELF image the kernel maps into every process.
ClockFn vdsoClock(uintptr_t base) {
    if (base == 0) return nullptr;
    const ElfW(Ehdr)* eh = (const ElfW(Ehdr)*)base;
    if (eh->e_ident[0] != 0x7f || eh->e_ident[1] != 'E' || eh->e_ident[2] != 'L' || eh->e_ident[3] != 'F') return nullptr;
    const ElfW(Phdr)* ph = (const ElfW(Phdr)*)(base + eh->e_phoff);
    uintptr_t load = 0;
    bool haveLoad = false;
    const ElfW(Dyn)* dyn = nullptr;
    for (int i = 0; i < eh->e_phnum; ++i) {
        if (ph[i].p_type == PT_LOAD && !haveLoad) { load = base + ph[i].p_offset - ph[i].p_vaddr; haveLoad = true; }
        else if (ph[i].p_type == PT_DYNAMIC) dyn = (const ElfW(Dyn)*)(base + ph[i].p_offset);
    }
    if (!haveLoad || dyn == nullptr) return nullptr;
    const ElfW(Sym)* symtab = nullptr;
    const char* strtab = nullptr;
    const uint32_t* sysvHash = nullptr;
    const uint32_t* gnuHash = nullptr;
    for (; dyn->d_tag != DT_NULL; ++dyn) {
        uintptr_t p = load + dyn->d_un.d_ptr;
        if (dyn->d_tag == DT_SYMTAB) symtab = (const ElfW(Sym)*)p;
        else if (dyn->d_tag == DT_STRTAB) strtab = (const char*)p;
        else if (dyn->d_tag == DT_HASH) sysvHash = (const uint32_t*)p;
        else if (dyn->d_tag == DT_GNU_HASH) gnuHash = (const uint32_t*)p;
    }
    if (symtab == nullptr || strtab == nullptr) return nullptr;
    size_t count = 0;
    if (sysvHash) {
        count = sysvHash[1];  // nchain: one entry per symbol
    } else if (gnuHash) {
        uint32_t nbuckets = gnuHash[0], symoffset = gnuHash[1], bloomSize = gnuHash[2];
        const uint32_t* buckets = (const uint32_t*)((const ElfW(Addr)*)(gnuHash + 4) + bloomSize);
        const uint32_t* chain = buckets + nbuckets;
        uint32_t last = 0;
        for (uint32_t b = 0; b < nbuckets; ++b) if (buckets[b] > last) last = buckets[b];
        if (last < symoffset) count = symoffset;
        else { while (!(chain[last - symoffset] & 1)) ++last; count = last + 1; }
    }
    for (size_t i = 0; i < count; ++i) {
        const ElfW(Sym)& s = symtab[i];
        if ((s.st_info & 0xf) != STT_FUNC || s.st_shndx == SHN_UNDEF) continue;
        const char* name = strtab + s.st_name;
        if (sameName(name, "__vdso_clock_gettime") || sameName(name, "__kernel_clock_gettime")) return (ClockFn)(load + s.st_value);
    }
    return nullptr;
}

// The auxiliary vector follows the environment block that follows argv on the initial stack (argv itself, unlike
// environ, is never moved by setenv).
uintptr_t auxValue(char** argv, int argc, unsigned long type) {
    char** p = argv + argc + 1;
    while (*p) ++p;
    for (const ElfW(auxv_t)* a = (const ElfW(auxv_t)*)(p + 1); a->a_type != AT_NULL; ++a)
        if (a->a_type == type) return a->a_un.a_val;
    return 0;
}

int64_t rawNowNs() {
    struct timespec ts;
    rawClock(&ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

bool protectClockPage() {
#if defined(__x86_64__)
    const long kMprotect = 10;
#elif defined(__aarch64__)
    const long kMprotect = 226;
#else
    return false;
#endif
#if defined(__x86_64__) || defined(__aarch64__)
    long ret;
#if defined(__x86_64__)
    __asm__ volatile("syscall" : "=a"(ret) : "a"(kMprotect), "D"((long)&gClockPage), "S"((long)sizeof(gClockPage)), "d"(1L /* PROT_READ */)
                     : "rcx", "r11", "memory");
#else
    register long x8 __asm__("x8") = kMprotect;
    register long x0 __asm__("x0") = (long)&gClockPage;
    register long x1 __asm__("x1") = (long)sizeof(gClockPage);
    register long x2 __asm__("x2") = 1;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2) : "memory");
    ret = x0;
#endif
    return ret == 0;
#endif
}

void initClock(char** argv, int argc) {
    ClockFn fn = vdsoClock(auxValue(argv, argc, AT_SYSINFO_EHDR));
    if (fn) {
        // accept the vDSO clock only if it reads between two system-call readings
        struct timespec t;
        int64_t before = rawNowNs();
        bool ok = fn(CLOCK_MONOTONIC, &t) == 0;
        int64_t mid = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec, after = rawNowNs();
        if (ok && before <= mid && mid <= after) {
            gClockPage.fn = fn;
            if (protectClockPage()) { gClockKind = "vdso"; return; }
            gClockPage.fn = nullptr;  // could not be made read-only: the system-call clock instead
        }
    }
#if defined(__x86_64__) || defined(__aarch64__)
    gClockKind = "syscall";
#endif
}

inline int64_t nowNs() {
    struct timespec ts;
    if (gClockPage.fn) gClockPage.fn(CLOCK_MONOTONIC, &ts);
    else rawClock(&ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

// ---- output and exit without the C library ------------------------------------------------------------------------
// What the runner reports (its JSON line, the kept outputs) is written with system calls and the process ends with
// exit_group: a candidate that defines printf, fwrite or fopen does not change the report, and its static destructors
// and atexit handlers never run after the report is written.

long rawCall6(long n, long a, long b, long c, long d, long e, long f) {
#if defined(__x86_64__)
    long ret;
    register long r10 __asm__("r10") = d;
    register long r8 __asm__("r8") = e;
    register long r9 __asm__("r9") = f;
    __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9) : "rcx", "r11", "memory");
    return ret;
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n;
    register long x0 __asm__("x0") = a;
    register long x1 __asm__("x1") = b;
    register long x2 __asm__("x2") = c;
    register long x3 __asm__("x3") = d;
    register long x4 __asm__("x4") = e;
    register long x5 __asm__("x5") = f;
    __asm__ volatile("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5) : "memory");
    return x0;
#else
    (void)n; (void)a; (void)b; (void)c; (void)d; (void)e; (void)f;
    return -38;
#endif
}

long rawCall4(long n, long a, long b, long c, long d) { return rawCall6(n, a, b, c, d, 0, 0); }

long rawCall3(long n, long a, long b, long c) { return rawCall4(n, a, b, c, 0); }

#if defined(__x86_64__)
enum { kWrite = 1, kClose = 3, kOpenat = 257, kExitGroup = 231 };
#else
enum { kWrite = 64, kClose = 57, kOpenat = 56, kExitGroup = 94 };
#endif
const bool kRawIo =
#if defined(__x86_64__) || defined(__aarch64__)
    true;
#else
    false;
#endif

bool rawWriteAll(int fd, const char* p, size_t n) {
    if (!kRawIo) return fwrite(p, 1, n, fd == 1 ? stdout : stderr) == n && fflush(fd == 1 ? stdout : stderr) == 0;
    while (n > 0) {
        long w = rawCall3(kWrite, fd, (long)p, (long)n);
        if (w == -4) continue;  // EINTR
        if (w <= 0) return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

bool rawWriteFile(const char* path, const std::vector<char>& data) {
    if (!kRawIo) {
        FILE* f = fopen(path, "wb");
        if (!f) return false;
        bool ok = data.empty() || fwrite(data.data(), 1, data.size(), f) == data.size();
        return fclose(f) == 0 && ok;
    }
    long fd = rawCall4(kOpenat, -100 /* AT_FDCWD */, (long)path, 01 | 0100 | 01000 /* O_WRONLY|O_CREAT|O_TRUNC */, 0644);
    if (fd < 0) return false;
    bool ok = true;
    const char* p = data.data();
    size_t n = data.size();
    while (ok && n > 0) {
        long w = rawCall3(kWrite, fd, (long)p, (long)n);
        if (w == -4) continue;
        ok = w > 0;
        if (ok) { p += w; n -= (size_t)w; }
    }
    return rawCall3(kClose, fd, 0, 0) == 0 && ok;
}

[[noreturn]] void rawExit(int code) {
    if (kRawIo) rawCall3(kExitGroup, code, 0, 0);
    _Exit(code);
}

// Where the report goes: stdout as it was when main started (before any candidate code ran). A kernel can print
// lines of its own, which the report follows as the last line; it could also point stdout elsewhere (dup2) and print
// a report of its own in the runner's place: then the runner writes nothing and fails (the host wants exit code 0).
struct StdoutId {
    dev_t dev = 0;
    ino_t ino = 0;
    bool known = false;
};
StdoutId gStdout;

void noteStdout() {
    struct stat st;
    if (fstat(1, &st) != 0) return;
    gStdout.dev = st.st_dev;
    gStdout.ino = st.st_ino;
    gStdout.known = true;
}

bool stdoutIntact() {
    struct stat st;
    return gStdout.known && fstat(1, &st) == 0 && st.st_dev == gStdout.dev && st.st_ino == gStdout.ino;
}

// A JSON line built by hand: no printf, no library formatting
struct Json {
    std::vector<char> b;
    Json& raw(const char* s) { while (*s) b.push_back(*s++); return *this; }
    Json& str(const std::string& s) {
        b.push_back('"');
        for (size_t i = 0; i < s.size(); ++i) {
            char c = s[i];
            if (c == '"' || c == '\\') { b.push_back('\\'); b.push_back(c); }
            else b.push_back((unsigned char)c < 0x20 ? ' ' : c);
        }
        b.push_back('"');
        return *this;
    }
    Json& num(long long v) {
        if (v < 0) { b.push_back('-'); v = -v; }
        char d[24];
        int k = 0;
        do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
        while (k > 0) b.push_back(d[--k]);
        return *this;
    }
    Json& hex(uint64_t v) {
        const char* digits = "0123456789abcdef";
        b.push_back('"');
        for (int shift = 60; shift >= 0; shift -= 4) b.push_back(digits[(v >> shift) & 0xf]);
        b.push_back('"');
        return *this;
    }
    Json& ms(int64_t ns) {  // nanoseconds as milliseconds with 6 decimals
        if (ns < 0) { b.push_back('-'); ns = -ns; }
        num(ns / 1000000);
        b.push_back('.');
        int64_t frac = ns % 1000000;
        for (int64_t scale = 100000; scale > 0; scale /= 10) b.push_back((char)('0' + (frac / scale) % 10));
        return *this;
    }
    bool emit() {
        if (!stdoutIntact()) {
            const char* why = "mkb_runner: stdout is not what it was when the runner started: no report\n";
            rawWriteAll(2, why, strlen(why));
            return false;
        }
        b.push_back('\n');
        // a line of its own even after a kernel's unfinished printf (the host reads the last line only)
        return rawWriteAll(1, "\n", 1) && rawWriteAll(1, b.data(), b.size());
    }
};

// Each run's times leave the process as soon as they are read, before any candidate code runs again: a kernel that
// later rewrites the runner's memory (its stored times, or the report as it is built) cannot change what the harness
// already has, and the harness refuses a report that differs from these lines. Written from the stack, no allocation.
void streamRun(size_t run, int64_t ns, int64_t rawNs) {
    char line[96];
    size_t n = 0;
    auto put = [&](const char* s) { while (*s) line[n++] = *s++; };
    auto num = [&](long long v) {
        if (v < 0) { line[n++] = '-'; v = -v; }
        char d[24];
        int k = 0;
        do { d[k++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
        while (k > 0) line[n++] = d[--k];
    };
    put("\nmkbrun ");
    num((long long)run);
    put(" ");
    num(ns);
    put(" ");
    num(rawNs);
    put("\n");
    rawWriteAll(1, line, n);
}

// ---- tensors --------------------------------------------------------------------------------------------------------

enum DType : uint32_t { F32 = 0, I32 = 1, I64 = 2, U8 = 3, BOOL = 4, F16 = 5, I8 = 6, F64 = 7 };

struct HostTensor {
    std::string name;
    uint32_t dtype = F32;
    std::vector<int64_t> dims;
    std::vector<uint8_t> data;
};

size_t dtypeSize(uint32_t d) {
    switch (d) {
        case F32: case I32: return 4;
        case I64: case F64: return 8;
        case F16: return 2;
        default: return 1;
    }
}

bool readAll(FILE* f, void* dst, size_t n) { return fread(dst, 1, n, f) == n; }

bool readTensors(const char* path, std::vector<HostTensor>& out, std::string& err) {
    FILE* f = fopen(path, "rb");
    if (!f) { err = std::string("cannot open ") + path; return false; }
    char magic[4];
    uint32_t version = 0, count = 0;
    bool ok = readAll(f, magic, 4) && memcmp(magic, "MKBT", 4) == 0 && readAll(f, &version, 4) && version == 1 &&
              readAll(f, &count, 4);
    for (uint32_t i = 0; ok && i < count; ++i) {
        HostTensor t;
        uint32_t nameLen = 0, ndim = 0;
        uint64_t nbytes = 0;
        ok = readAll(f, &nameLen, 4) && nameLen < 4096;
        if (ok) { t.name.resize(nameLen); ok = readAll(f, &t.name[0], nameLen); }
        ok = ok && readAll(f, &t.dtype, 4) && readAll(f, &ndim, 4) && ndim <= 16;
        if (ok) { t.dims.resize(ndim); ok = ndim == 0 || readAll(f, t.dims.data(), 8 * ndim); }
        ok = ok && readAll(f, &nbytes, 8) && nbytes < (uint64_t(1) << 34);
        if (ok) { t.data.resize(nbytes); ok = nbytes == 0 || readAll(f, t.data.data(), nbytes); }
        if (ok) out.push_back(std::move(t));
    }
    fclose(f);
    if (!ok) err = std::string("malformed MKBT file ") + path;
    return ok;
}

void appendBytes(std::vector<char>& out, const void* p, size_t n) {
    const char* c = static_cast<const char*>(p);
    out.insert(out.end(), c, c + n);
}

bool writeTensors(const char* path, const std::vector<HostTensor>& ts) {
    std::vector<char> out;
    uint32_t version = 1, count = (uint32_t)ts.size();
    appendBytes(out, "MKBT", 4);
    appendBytes(out, &version, 4);
    appendBytes(out, &count, 4);
    for (const auto& t : ts) {
        uint32_t nameLen = (uint32_t)t.name.size(), ndim = (uint32_t)t.dims.size();
        uint64_t nbytes = t.data.size();
        appendBytes(out, &nameLen, 4);
        appendBytes(out, t.name.data(), nameLen);
        appendBytes(out, &t.dtype, 4);
        appendBytes(out, &ndim, 4);
        if (ndim) appendBytes(out, t.dims.data(), 8 * ndim);
        appendBytes(out, &nbytes, 8);
        if (nbytes) appendBytes(out, t.data.data(), nbytes);
    }
    return rawWriteFile(path, out);
}

double loadValueAt(const uint8_t* data, uint32_t dtype, size_t i) {
    const uint8_t* p = data + i * dtypeSize(dtype);
    switch (dtype) {
        case F32: { float v; memcpy(&v, p, 4); return v; }
        case I32: { int32_t v; memcpy(&v, p, 4); return v; }
        case I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
        case F64: { double v; memcpy(&v, p, 8); return v; }
        case I8: return (double)(int8_t)*p;
        default: return (double)*p;
    }
}

// Fill n elements of type ty at dst (plain NCHW / TENSORFLOW layout, as the model's input) converting element types.
bool fillFromBytes(const std::string& name, const uint8_t* data, size_t bytes, uint32_t dtype, halide_type_t ty, void* dst, size_t n,
                   std::string& err) {
    size_t have = bytes / dtypeSize(dtype);
    if (n != have) { err = "input " + name + ": element count " + std::to_string(have) + " != model's " + std::to_string(n); return false; }
    // the same element type: a plain copy (a process reads a dozen input sets; converting each value costs 10 ms)
    bool same = (dtype == F32 && ty.code == halide_type_float && ty.bits == 32) || (dtype == I32 && ty.code == halide_type_int && ty.bits == 32) ||
                (dtype == U8 && ty.code == halide_type_uint && ty.bits == 8) || (dtype == I8 && ty.code == halide_type_int && ty.bits == 8);
    if (same) {
        memcpy(dst, data, n * dtypeSize(dtype));
        return true;
    }
    for (size_t i = 0; i < n; ++i) {
        double v = loadValueAt(data, dtype, i);
        if (ty.code == halide_type_float && ty.bits == 32) static_cast<float*>(dst)[i] = (float)v;
        else if (ty.code == halide_type_int && ty.bits == 32) static_cast<int32_t*>(dst)[i] = (int32_t)v;
        else if (ty.code == halide_type_uint && ty.bits == 8) static_cast<uint8_t*>(dst)[i] = (uint8_t)v;
        else if (ty.code == halide_type_int && ty.bits == 8) static_cast<int8_t*>(dst)[i] = (int8_t)v;
        else { err = "input " + name + ": unsupported MNN tensor type"; return false; }
    }
    return true;
}

bool fillBuffer(const HostTensor& src, halide_type_t ty, void* dst, size_t n, std::string& err) {
    return fillFromBytes(src.name, src.data.data(), src.data.size(), src.dtype, ty, dst, n, err);
}

bool fillHost(const HostTensor& src, MNN::Tensor* host, std::string& err) {
    return fillBuffer(src, host->getType(), host->host<void>(), (size_t)host->elementSize(), err);
}

HostTensor fromBuffer(const std::string& name, halide_type_t ty, const std::vector<int>& shape, const void* data, size_t bytes) {
    HostTensor t;
    t.name = name;
    if (ty.code == halide_type_float) t.dtype = F32;
    else if (ty.code == halide_type_int && ty.bits == 32) t.dtype = I32;
    else if (ty.code == halide_type_int && ty.bits == 8) t.dtype = I8;
    else t.dtype = U8;
    for (int d : shape) t.dims.push_back(d);
    const uint8_t* p = static_cast<const uint8_t*>(data);
    t.data.assign(p, p + bytes);
    return t;
}

HostTensor fromHost(const std::string& name, MNN::Tensor* host) {
    return fromBuffer(name, host->getType(), host->shape(), host->host<void>(), host->size());
}


bool gPluginLoaded = false;

void proof(Json& j) {
    // a slot-able library counts for a plug-in only; a workspace's library (no slot) for its compiled-in candidate
    if (mkb_candidate_creations && (gPluginLoaded || !mkb_slot_fill))
        j.raw(",\"candidate_proof\":{\"creations\":").num(mkb_candidate_creations())
         .raw(",\"executions\":").num(mkb_candidate_executions ? mkb_candidate_executions() : 0L)
         .raw(",\"nulls\":").num(mkb_candidate_nulls ? mkb_candidate_nulls() : 0L).raw("}");
}

int fail(const std::string& msg, int code = 2) {
    Json j;
    j.raw("{\"ok\":false,\"error\":").str(msg);
    proof(j);
    j.raw("}").emit();
    return code;
}

// ---- the channel (plan 2) -------------------------------------------------------------------------------------------

#if defined(__x86_64__)
enum { kRead = 0, kMmap = 9, kFtruncate = 77 };
#else
enum { kRead = 63, kMmap = 222, kFtruncate = 46 };
#endif
enum { kCtlIn = 3, kInputs = 4, kCtlOut = 5, kOutputs = 6 };

// One byte from the supervisor: false when it closed the channel (the runner then stops). 'G': this run's input is in
// the input memory file; 'H': the supervisor also wrote it into the session's own input tensors, and it reads the
// outputs from the session's tensors itself (gDirectRun), so the runner copies neither way.
bool gDirectRun = false;
bool awaitGo() {
    char c = 0;
    for (;;) {
        long r = rawCall3(kRead, kCtlIn, (long)&c, 1);
        if (r == -4) continue;  // EINTR
        gDirectRun = r == 1 && c == 'H';
        return r == 1 && (c == 'G' || c == 'H');
    }
}

void* mapChannel(int fd, size_t bytes, bool writable) {
    if (bytes == 0) return nullptr;
    long prot = writable ? 3 /* PROT_READ|PROT_WRITE */ : 1;
    long addr = rawCall6(kMmap, 0, (long)bytes, prot, 1 /* MAP_SHARED */, fd, 0);
    return (addr < 0 && addr > -4096) ? nullptr : (void*)addr;
}

struct Channel {
    bool on = false;
    const uint8_t* in = nullptr;  // this run's input set, laid out as the plan's tensors say
    size_t inBytes = 0;
    uint8_t* out = nullptr;
    size_t outBytes = 0;
    std::vector<size_t> outOffsets;
};
Channel gChannel;

// The outputs' layout to the supervisor, and the output memory file sized and mapped for it.
bool announceOutputs(const std::vector<HostTensor>& outs) {
    size_t total = 0;
    gChannel.outOffsets.clear();
    for (const auto& t : outs) { gChannel.outOffsets.push_back(total); total += t.data.size(); }
    if (rawCall3(kFtruncate, kOutputs, (long)total, 0) != 0) return false;
    gChannel.out = static_cast<uint8_t*>(mapChannel(kOutputs, total, true));
    gChannel.outBytes = total;
    if (total > 0 && gChannel.out == nullptr) return false;
    Json line;
    line.raw("R ").num((long long)total).raw(" ").num((long long)outs.size());
    for (const auto& t : outs) {
        line.raw(" ");
        if (t.name.empty()) line.raw("-");
        for (char c : t.name) line.b.push_back((unsigned char)c <= ' ' ? '_' : c);  // one word per name
        line.raw(" ").num(t.dtype).raw(" ").num((long long)t.dims.size());
        for (int64_t d : t.dims) line.raw(" ").num(d);
    }
    line.b.push_back('\n');
    return rawWriteAll(kCtlOut, line.b.data(), line.b.size());
}

bool runDone(const std::vector<HostTensor>& outs) {
    for (size_t i = 0; i < outs.size(); ++i)
        if (!outs[i].data.empty()) memcpy(gChannel.out + gChannel.outOffsets[i], outs[i].data.data(), outs[i].data.size());
    return rawWriteAll(kCtlOut, "D", 1);
}

// ---- the plan -------------------------------------------------------------------------------------------------------

struct Run {
    size_t set = 0;
    bool keep = false;  // its outputs go to the record file
};

struct ChannelTensor {  // one input tensor of a plan-2 input set: where its bytes lie in the input memory file
    std::string name;
    uint32_t dtype = F32;
    std::vector<int64_t> dims;
    size_t offset = 0, bytes = 0;
};

struct Plan {
    int version = 1;
    std::vector<ChannelTensor> layout;  // plan 2
    std::string model, api = "session", precision = "high";
    int threads = 1;
    int profile = 0;
    uint32_t poison = 0x7fc0dead;
    std::string record;
    std::vector<std::string> inputs;
    std::vector<Run> runs;
};

bool readPlan(std::istream& in, Plan& plan, std::string& err) {
    std::string line, key;
    bool header = false;
    while (std::getline(in, line)) {
        std::istringstream words(line);
        if (!(words >> key)) continue;
        if (!header) {
            int version = 0;
            if (key != "mkbplan" || !(words >> version) || (version != 1 && version != 2)) { err = "the plan must start with `mkbplan 1` or `mkbplan 2`"; return false; }
            plan.version = version;
            header = true;
        } else if (key == "model") words >> plan.model;
        else if (key == "api") words >> plan.api;
        else if (key == "threads") words >> plan.threads;
        else if (key == "precision") words >> plan.precision;
        else if (key == "poison") { std::string hex; words >> hex; plan.poison = (uint32_t)strtoul(hex.c_str(), nullptr, 16); }
        else if (key == "input" && plan.version == 1) { std::string path; words >> path; plan.inputs.push_back(path); }
        else if (key == "tensor" && plan.version == 2) {
            ChannelTensor t;
            size_t ndim = 0;
            if (!(words >> t.name >> t.dtype >> ndim) || ndim > 16) { err = "plan: malformed tensor"; return false; }
            t.dims.resize(ndim);
            for (size_t k = 0; k < ndim; ++k) if (!(words >> t.dims[k])) { err = "plan: malformed tensor"; return false; }
            if (!(words >> t.offset >> t.bytes)) { err = "plan: malformed tensor"; return false; }
            plan.layout.push_back(t);
        } else if (key == "runs" && plan.version == 2) {
            size_t n = 0;
            if (!(words >> n) || n == 0 || n > 100000) { err = "plan: malformed runs"; return false; }
            plan.inputs.assign(1, "channel");
            plan.runs.assign(n, Run());
        }
        else if (key == "record") words >> plan.record;
        else if (key == "profile") {
            if (!(words >> plan.profile) || plan.profile < 1 || plan.profile > 1000) { err = "plan: malformed profile"; return false; }
        }
        else if (key == "run") {
            Run r;
            std::string keep;
            if (!(words >> r.set) || r.set >= plan.inputs.size()) { err = "plan: run of an unknown input set"; return false; }
            r.keep = (words >> keep) && keep == "keep";
            if (r.keep && plan.record.empty()) { err = "plan: a kept run needs a record file first"; return false; }
            plan.runs.push_back(r);
        } else { err = "plan: unknown directive " + key; return false; }
    }
    if (!header || plan.model.empty() || plan.inputs.empty() || plan.runs.empty()) { err = "plan: needs a model, inputs and runs"; return false; }
    return true;
}

// A NaN pattern (a quiet NaN with a payload that changes from run to run) over a buffer.
void poisonBytes(void* dst, size_t bytes, uint32_t pattern) {
    uint8_t* p = static_cast<uint8_t*>(dst);
    size_t words = bytes / 4;
    for (size_t i = 0; i < words; ++i) memcpy(p + 4 * i, &pattern, 4);
    for (size_t i = words * 4; i < bytes; ++i) p[i] = 0xff;
}

uint32_t runPoison(uint32_t base, size_t run) { return 0x7fc00000u | ((base ^ (uint32_t)(run * 2654435761u)) & 0x3fffffu); }

struct Timing {
    std::vector<int64_t> times;  // ns
    std::vector<int64_t> raw;  // ns: each timed region again, by the system-call clock just outside the vDSO readings
    std::vector<int64_t> io;  // ns: feeding the inputs and reading the outputs back, by the system-call clock
    std::vector<uint64_t> hashes;  // every run's outputs (outputHash): the harness matches them to outputs it verified
    std::vector<HostTensor> kept;  // outputs of the kept runs, named "RUN:NAME"
    std::map<std::string, int64_t> opNs;  // `profile`: each op type's time, ns per run
};

// A hash of a run's outputs that numpy recomputes quickly (mkb_tui.engine.measure.output_hash): per tensor the sum of
// its little-endian 64-bit words times 1, 3, 5, ... (mod 2^64), folded with the byte count.
uint64_t outputHash(const std::vector<HostTensor>& outs) {
    uint64_t h = 0;
    for (const auto& t : outs) {
        uint64_t sum = 0;
        const uint8_t* p = t.data.data();
        size_t n = t.data.size();
        for (size_t i = 0; 8 * i < n; ++i) {
            uint64_t w = 0;
            size_t take = n - 8 * i < 8 ? n - 8 * i : 8;
            for (size_t k = 0; k < take; ++k) w |= (uint64_t)p[8 * i + k] << (8 * k);
            sum += w * (2 * (uint64_t)i + 1);
        }
        h = h * 1000003ULL + sum + (uint64_t)n;
    }
    return h;
}

void keep(Timing& timing, size_t run, std::vector<HostTensor> outs) {
    for (auto& t : outs) {
        t.name = std::to_string(run) + ":" + t.name;
        timing.kept.push_back(std::move(t));
    }
}

int report(const Plan& plan, const Timing& timing) {
    if (!plan.record.empty() && !writeTensors(plan.record.c_str(), timing.kept)) return fail("cannot write " + plan.record);
    int64_t timed = 0;
    Json j;
    j.raw("{\"ok\":true,\"api\":").str(plan.api).raw(",\"threads\":").num(plan.threads).raw(",\"precision\":").str(plan.precision);
    j.raw(",\"clock\":").str(gClockKind).raw(",\"times_ms\":[");
    for (size_t i = 0; i < timing.times.size(); ++i) { j.raw(i ? "," : "").ms(timing.times[i]); timed += timing.times[i]; }
    j.raw("],\"raw_ms\":[");
    for (size_t i = 0; i < timing.raw.size(); ++i) j.raw(i ? "," : "").ms(timing.raw[i]);
    j.raw("],\"io_ms\":[");
    for (size_t i = 0; i < timing.io.size(); ++i) j.raw(i ? "," : "").ms(timing.io[i]);
    j.raw("],\"hashes\":[");
    for (size_t i = 0; i < timing.hashes.size(); ++i) j.raw(i ? "," : "").hex(timing.hashes[i]);
    j.raw("],\"timed_ms\":").ms(timed);
    if (!timing.opNs.empty()) {
        j.raw(",\"op_ns\":{");
        bool first = true;
        for (const auto& kv : timing.opNs) { j.raw(first ? "" : ",").str(kv.first).raw(":").num(kv.second); first = false; }
        j.raw("}");
    }
    proof(j);
    j.raw("}");
    return j.emit() ? 0 : 5;
}

// The Module path: models with control-flow subgraphs, which a Session cannot run. Same contract as runSessionPlan.
int runModulePlan(const Plan& plan, std::vector<std::vector<HostTensor>>& sets, const MNN::ScheduleConfig& config) {
    using namespace MNN::Express;
    std::shared_ptr<Executor::RuntimeManager> runtime(Executor::RuntimeManager::createRuntimeManager(config));
    std::vector<std::string> names;
    for (const auto& in : sets[0]) names.push_back(in.name);
    std::shared_ptr<Module> net(Module::load(names, {}, plan.model.c_str(), runtime));
    if (!net) return fail("cannot load model as a module " + plan.model);
    const Module::Info* info = net->getInfo();
    std::string err;
    // each set converted once to the model's element types; a run copies it into fresh input variables
    std::vector<std::vector<std::vector<uint8_t>>> converted(sets.size());
    std::vector<halide_type_t> types;
    for (const auto& in : sets[0]) {
        halide_type_t ty = halide_type_of<float>();
        for (size_t k = 0; k < info->inputNames.size() && k < info->inputs.size(); ++k)
            if (info->inputNames[k] == in.name) ty = info->inputs[k].type;
        types.push_back(ty);
    }
    for (size_t s = 0; s < sets.size(); ++s) {
        for (size_t i = 0; i < sets[s].size(); ++i) {
            const HostTensor& in = sets[s][i];
            size_t n = 1;
            for (int64_t d : in.dims) n *= (size_t)d;
            std::vector<uint8_t> buf(n * types[i].bytes());
            if (!gChannel.on && !fillBuffer(in, types[i], buf.data(), n, err)) return fail(err);  // plan 2: filled per run
            converted[s].push_back(std::move(buf));
            sets[s][i].data.clear();
        }
    }
    Timing timing;
    bool announced = false;
    // a module's outputs are known once it has run: ready now (`S`), the layout follows the first run
    if (gChannel.on && !rawWriteAll(kCtlOut, "S\n", 2)) return fail("cannot open the channel to the supervisor");
    for (size_t r = 0; r < plan.runs.size(); ++r) {
        const Run& run = plan.runs[r];
        if (gChannel.on && !awaitGo()) return fail("the supervisor closed the channel");
        int64_t feed0 = rawNowNs();  // feeding and reading back timed too (io_ms, as runSessionPlan)
        if (gChannel.on)
            for (size_t i = 0; i < plan.layout.size(); ++i) {
                const ChannelTensor& t = plan.layout[i];
                std::vector<uint8_t>& buf = converted[0][i];
                if (!fillFromBytes(t.name, gChannel.in + t.offset, t.bytes, t.dtype, types[i], buf.data(), buf.size() / types[i].bytes(), err))
                    return fail(err);
            }
        std::vector<VARP> vars;
        for (size_t i = 0; i < sets[run.set].size(); ++i) {
            const HostTensor& in = sets[run.set][i];
            std::vector<int> dims(in.dims.begin(), in.dims.end());
            VARP v = _Input(dims, NCHW, types[i]);
            memcpy(v->writeMap<void>(), converted[run.set][i].data(), converted[run.set][i].size());
            vars.push_back(v);
        }
        int64_t raw0 = rawNowNs(), t0 = nowNs();
        std::vector<VARP> res = net->onForward(vars);
        bool computed = !res.empty();
        for (size_t i = 0; computed && i < res.size(); ++i)  // reading maps forces the (lazy) computation
            computed = res[i]->getInfo() != nullptr && res[i]->readMap<void>() != nullptr;
        int64_t t1 = nowNs(), raw1 = rawNowNs();
        streamRun(r, t1 - t0, raw1 - raw0);
        std::vector<HostTensor> outs;  // every run's outputs are hashed; the kept ones written too
        for (size_t i = 0; computed && i < res.size(); ++i) {
            VARP o = res[i];
            if (o->getInfo()->order == NC4HW4) o = _Convert(o, NCHW);
            const Variable::Info* oi = o->getInfo();
            std::string name = i < info->outputNames.size() ? info->outputNames[i] : "output" + std::to_string(i);
            outs.push_back(fromBuffer(name, oi->type, oi->dim, o->readMap<void>(), oi->size * oi->type.bytes()));
        }
        int64_t read1 = rawNowNs();
        timing.raw.push_back(raw1 - raw0);
        timing.io.push_back((raw0 - feed0) + (read1 - raw1));
        if (!computed) return fail("forward failed (output not computed)", 3);
        timing.times.push_back(t1 - t0);
        if (gChannel.on) {  // a module's outputs are known once it has run: announced after the first run
            if (!announced && !announceOutputs(outs)) return fail("cannot announce the outputs to the supervisor");
            announced = true;
            if (!runDone(outs)) return fail("the supervisor closed the channel");
        }
        {
            if (!gChannel.on) timing.hashes.push_back(outputHash(outs));  // plan 2: the supervisor hashes them
            if (run.keep) keep(timing, r, std::move(outs));
        }
        // whatever memory held these results holds a NaN pattern when the next run starts
        for (auto& o : res) {
            const Variable::Info* oi = o->getInfo();
            poisonBytes(const_cast<void*>(o->readMap<void>()), oi->size * oi->type.bytes(), runPoison(plan.poison, r + 1));
        }
    }
    if (gChannel.on) awaitGo();  // the end of the channel: alive until the supervisor took the last run's clocks
    return report(plan, timing);
}

bool sameType(uint32_t dtype, halide_type_t ty) {
    return (dtype == F32 && ty.code == halide_type_float && ty.bits == 32) || (dtype == I32 && ty.code == halide_type_int && ty.bits == 32) ||
           (dtype == U8 && ty.code == halide_type_uint && ty.bits == 8) || (dtype == I8 && ty.code == halide_type_int && ty.bits == 8);
}

// `profile N`: N more runs with MNN's callbacks around every op, each op type's time per run into timing.opNs. The
// inputs are the last run's, still in the session. Asked of MNN's own kernels only (the baseline's process).
bool profileOps(const Plan& plan, MNN::Interpreter* net, MNN::Session* session, Timing& timing) {
    if (plan.profile <= 0) return true;
    std::map<std::string, int64_t> total;
    int64_t started = 0;
    MNN::TensorCallBackWithInfo before = [&](const std::vector<MNN::Tensor*>&, const MNN::OperatorInfo*) {
        started = nowNs();
        return true;
    };
    MNN::TensorCallBackWithInfo after = [&](const std::vector<MNN::Tensor*>&, const MNN::OperatorInfo* op) {
        total[op->type()] += nowNs() - started;
        return true;
    };
    for (int k = 0; k < plan.profile; ++k)
        if (net->runSessionWithCallBackInfo(session, before, after, true) != MNN::NO_ERROR) return false;
    for (const auto& kv : total) timing.opNs[kv.first] = kv.second / plan.profile;
    return true;
}

// Plan 2's runs: the least the runner does per run, since whatever it does there runs in the candidate's address space
// and is charged from the baseline's figure (a candidate that answered the channel itself would skip it): one copy in
// from the input memory file (straight into MNN's tensor when the layouts agree), the session, one copy out into the
// output memory file, the handshake. No poisoning (the supervisor fills the output file with a NaN pattern before each
// run, and a run that leaves MNN's outputs as they were leaves the previous input's answer: wrong, and seen), no
// system-call clock, no per-run line (the supervisor's clock decides; the runner's own is only shown).
int runSessionChannel(const Plan& plan, MNN::Interpreter* net, MNN::Session* session, std::map<std::string, MNN::Tensor*>& modelInputs,
                      std::vector<std::unique_ptr<MNN::Tensor>>& hosts, const std::vector<bool>& plainIn,
                      const std::map<std::string, MNN::Tensor*>& outputs, std::vector<std::unique_ptr<MNN::Tensor>>& hostOuts,
                      std::vector<HostTensor>& outs, const std::vector<bool>& plainOut) {
    std::string err;
    std::vector<MNN::Tensor*> devs;
    std::vector<bool> direct;
    for (size_t k = 0; k < plan.layout.size(); ++k) {
        const ChannelTensor& t = plan.layout[k];
        MNN::Tensor* dev = modelInputs[t.name];
        if (dev == nullptr || k >= hosts.size()) return fail("model has no input named " + t.name);
        devs.push_back(dev);
        direct.push_back(plainIn[k] && sameType(t.dtype, dev->getType()) && (size_t)dev->size() == t.bytes);
    }
    std::vector<const MNN::Tensor*> outTensors;
    for (const auto& kv : outputs) outTensors.push_back(kv.second);
    // Where the session's own tensors are, for a supervisor that writes inputs and reads outputs there itself: then no
    // copy is the runner's work, so none is subtracted from a run's charge for a kernel to skip (a kernel that answered
    // the channel itself skipped the runner's copies and was credited for them). "I offset address bytes" for each
    // input held as plain memory, "O offset address bytes" for each output (a converted one: its host copy).
    Json where;
    for (size_t k = 0; k < plan.layout.size(); ++k) {
        if (!direct[k]) continue;
        where.raw("I ").num((long long)plan.layout[k].offset).raw(" ").num((long long)(uintptr_t)devs[k]->host<void>())
            .raw(" ").num((long long)plan.layout[k].bytes).raw("\n");
    }
    size_t outAt = 0;
    for (size_t i = 0; i < outTensors.size() && i < outs.size(); ++i) {
        const void* at = plainOut[i] ? outTensors[i]->host<void>() : hostOuts[i]->host<void>();
        where.raw("O ").num((long long)outAt).raw(" ").num((long long)(uintptr_t)at).raw(" ").num((long long)outs[i].data.size()).raw("\n");
        outAt += outs[i].data.size();
    }
    if (!where.b.empty() && !rawWriteAll(kCtlOut, where.b.data(), where.b.size())) return fail("cannot announce the tensors to the supervisor");
    if (!announceOutputs(outs)) return fail("cannot announce the outputs to the supervisor");
    Timing timing;
    for (size_t r = 0; r < plan.runs.size(); ++r) {
        if (!awaitGo()) return fail("the supervisor closed the channel");
        for (size_t k = 0; k < plan.layout.size(); ++k) {
            const ChannelTensor& t = plan.layout[k];
            if (direct[k]) {
                if (!gDirectRun) memcpy(devs[k]->host<void>(), gChannel.in + t.offset, t.bytes);
                continue;
            }
            MNN::Tensor* host = hosts[k].get();
            if (!fillFromBytes(t.name, gChannel.in + t.offset, t.bytes, t.dtype, host->getType(), host->host<void>(),
                               (size_t)host->elementSize(), err))
                return fail(err);
            if (plainIn[k]) memcpy(devs[k]->host<void>(), host->host<void>(), (size_t)host->size());
            else devs[k]->copyFromHostTensor(host);
        }
        int64_t t0 = nowNs();
        MNN::ErrorCode code = net->runSession(session);
        int64_t t1 = nowNs();
        if (code != MNN::NO_ERROR) return fail("runSession failed", 3);
        for (size_t i = 0; i < outTensors.size(); ++i) {
            uint8_t* dst = gChannel.out + gChannel.outOffsets[i];
            if (plainOut[i]) {
                if (!gDirectRun) memcpy(dst, outTensors[i]->host<void>(), outs[i].data.size());
            } else {
                outTensors[i]->copyToHostTensor(hostOuts[i].get());
                if (!gDirectRun) memcpy(dst, hostOuts[i]->host<void>(), outs[i].data.size());
            }
        }
        if (!rawWriteAll(kCtlOut, "D", 1)) return fail("the supervisor closed the channel");
        timing.times.push_back(t1 - t0);
    }
    awaitGo();  // the end of the channel: alive until the supervisor took the last run's clocks
    if (!profileOps(plan, net, session, timing)) return fail("runSession failed", 3);
    return report(plan, timing);
}

int runSessionPlan(const Plan& plan, std::vector<std::vector<HostTensor>>& sets, const MNN::ScheduleConfig& config) {
    std::unique_ptr<MNN::Interpreter> net(MNN::Interpreter::createFromFile(plan.model.c_str()));
    if (!net) return fail("cannot load model " + plan.model);
    MNN::Session* session = net->createSession(config);
    if (!session) return fail("createSession failed");
    auto modelInputs = net->getSessionInputAll(session);
    for (const auto& in : sets[0]) {
        auto it = modelInputs.find(in.name);
        if (it == modelInputs.end()) return fail("model has no input named " + in.name);
        std::vector<int> dims(in.dims.begin(), in.dims.end());
        net->resizeTensor(it->second, dims);
    }
    net->resizeSession(session);
    std::string err;
    // one host tensor per input of every set, filled once; a run copies it into the session's input
    std::vector<std::vector<std::unique_ptr<MNN::Tensor>>> hosts(sets.size());
    for (size_t s = 0; s < sets.size(); ++s) {
        for (auto& in : sets[s]) {
            MNN::Tensor* dev = modelInputs[in.name];
            if (dev == nullptr) return fail("model has no input named " + in.name);
            std::unique_ptr<MNN::Tensor> host(new MNN::Tensor(dev, dev->getDimensionType()));
            if (!gChannel.on && !fillHost(in, host.get(), err)) return fail(err);  // plan 2: filled per run
            hosts[s].push_back(std::move(host));
            in.data.clear();
        }
    }
    const auto& outputs = net->getSessionOutputAll(session);
    // Host copies of the outputs, made once: reading a run's outputs back allocates nothing (an allocation is a call
    // a candidate could have redirected, and page faults would blur the witness below)
    std::vector<std::unique_ptr<MNN::Tensor>> hostOuts;
    std::vector<HostTensor> outs;
    std::vector<bool> plainOut;  // read as plain memory (NCHW, on the host): no MNN call at all between clock and copy
    for (const auto& kv : outputs) {
        hostOuts.emplace_back(new MNN::Tensor(kv.second, MNN::Tensor::CAFFE));
        outs.push_back(fromHost(kv.first, hostOuts.back().get()));
        plainOut.push_back(kv.second->host<void>() != nullptr && kv.second->getDimensionType() == MNN::Tensor::CAFFE &&
                           (size_t)kv.second->size() == outs.back().data.size());
    }
    // inputs the same way: each set's host copy has the device tensor's own layout, so a plain copy is MNN's copy
    std::vector<std::vector<bool>> plainIn(sets.size());
    for (size_t s = 0; s < sets.size(); ++s)
        for (size_t k = 0; k < sets[s].size(); ++k) {
            MNN::Tensor* dev = modelInputs[sets[s][k].name];
            plainIn[s].push_back(dev->host<void>() != nullptr && dev->getDimensionType() != MNN::Tensor::CAFFE_C4 &&
                                 dev->getDimensionType() == hosts[s][k]->getDimensionType() && dev->size() == hosts[s][k]->size());
        }
    if (gChannel.on) {
        int code = runSessionChannel(plan, net.get(), session, modelInputs, hosts[0], plainIn[0], outputs, hostOuts, outs, plainOut);
        net->releaseSession(session);
        return code;
    }
    Timing timing;
    for (size_t r = 0; r < plan.runs.size(); ++r) {
        const Run& run = plan.runs[r];
        // poison first, then feed: an output that shares memory with an input still gets its input
        for (const auto& kv : outputs)
            if (kv.second->host<void>()) poisonBytes(kv.second->host<void>(), kv.second->usize(), runPoison(plan.poison, r));
        // Feeding the inputs and reading the outputs back through MNN (the backend's onCopyBuffer) would run code a
        // candidate can redirect (a vtable of its own), outside the runner's clock: plain tensors are copied as
        // memory, the others (NC4HW4) through MNN, and both are timed by the system-call clock (io_ms), for the
        // harness to compare with the baseline's
        int64_t feed0 = rawNowNs();
        if (gChannel.on)  // this run's input set, just handed over: into the host copies, as plan 1 had them
            for (size_t k = 0; k < plan.layout.size(); ++k) {
                const ChannelTensor& t = plan.layout[k];
                MNN::Tensor* host = hosts[0][k].get();
                if (!fillFromBytes(t.name, gChannel.in + t.offset, t.bytes, t.dtype, host->getType(), host->host<void>(),
                                   (size_t)host->elementSize(), err))
                    return fail(err);
            }
        size_t i = 0;
        for (const auto& in : sets[run.set]) {
            MNN::Tensor* dev = modelInputs[in.name];
            MNN::Tensor* host = hosts[run.set][i].get();
            if (plainIn[run.set][i]) memcpy(dev->host<void>(), host->host<void>(), (size_t)host->size());
            else dev->copyFromHostTensor(host);
            ++i;
        }
        int64_t raw0 = rawNowNs(), t0 = nowNs();
        MNN::ErrorCode code = net->runSession(session);
        int64_t t1 = nowNs(), raw1 = rawNowNs();
        streamRun(r, t1 - t0, raw1 - raw0);
        i = 0;
        for (const auto& kv : outputs) {  // every run's outputs are hashed; the kept ones written too
            if (code != MNN::NO_ERROR) break;
            if (plainOut[i]) {
                memcpy(outs[i].data.data(), kv.second->host<void>(), outs[i].data.size());
            } else {
                kv.second->copyToHostTensor(hostOuts[i].get());
                memcpy(outs[i].data.data(), hostOuts[i]->host<void>(), outs[i].data.size());
            }
            ++i;
        }
        int64_t read1 = rawNowNs();
        timing.raw.push_back(raw1 - raw0);
        timing.io.push_back((raw0 - feed0) + (read1 - raw1));
        if (code != MNN::NO_ERROR) return fail("runSession failed", 3);
        timing.times.push_back(t1 - t0);
        if (gChannel.on && !runDone(outs)) return fail("the supervisor closed the channel");
        if (!gChannel.on) timing.hashes.push_back(outputHash(outs));  // plan 2: the supervisor hashes them
        if (run.keep) keep(timing, r, outs);
    }
    if (gChannel.on) awaitGo();  // the end of the channel: alive until the supervisor took the last run's clocks
    if (!profileOps(plan, net.get(), session, timing)) return fail("runSession failed", 3);
    int code = report(plan, timing);
    net->releaseSession(session);
    return code;
}

}  // namespace

// The candidate as a plug-in (engine/plugin.py): the harness names its shared object in MKB_PLUGIN and the task's
// slot in MKB_SLOT ("OpType" or "OpType/SUBTYPE"). It is loaded before any session exists, local to itself
// (RTLD_LOCAL: nothing it defines replaces a symbol of the runner or of MNN), and its one creator fills the library's
// slot. Its code first runs in mkb_plugin_creator (constructing its creator), after the plan was read.
#ifdef MKB_PLUGINS
// MKB_TRAP: "OFFSET+SIZE,..." (hex, relative to the library's load address): the functions of MNN's own
// implementation of the slot's op (engine/native_trap.py). In the candidate's process they are overwritten with
// trapping instructions before its plug-in is loaded, so no route to them (a name, the creator registry, a vtable, a
// scan of memory) runs MNN's kernel as the candidate's: it ends the process on SIGTRAP (x86) or SIGILL (udf, arm64).
bool trapNative(std::string& err) {
    const char* spec = getenv("MKB_TRAP");
    if (spec == nullptr || *spec == 0) return true;
    Dl_info info;
    if (!mkb_slot_fill || dladdr(reinterpret_cast<void*>(mkb_slot_fill), &info) == 0 || info.dli_fbase == nullptr) {
        err = "cannot find the slot-able library's load address for its traps";
        return false;
    }
    char* base = static_cast<char*>(info.dli_fbase);
    const uintptr_t page = static_cast<uintptr_t>(sysconf(_SC_PAGESIZE));
    for (const char* at = spec; *at;) {
        char* end = nullptr;
        unsigned long long offset = strtoull(at, &end, 16);
        if (end == at || *end != '+') return (err = "malformed MKB_TRAP", false);
        at = end + 1;
        unsigned long long size = strtoull(at, &end, 16);
        if (end == at || (*end != ',' && *end != 0) || size == 0 || size > (64u << 20)) return (err = "malformed MKB_TRAP", false);
        at = *end == ',' ? end + 1 : end;
        char* start = base + offset;
        uintptr_t lo = reinterpret_cast<uintptr_t>(start) & ~(page - 1);
        uintptr_t hi = (reinterpret_cast<uintptr_t>(start) + size + page - 1) & ~(page - 1);
        // writable, not executable, while written: nothing runs there meanwhile (one thread, no session yet)
        if (mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_READ | PROT_WRITE) != 0)
            return (err = "cannot write the native kernel's code to trap it", false);
#if defined(__x86_64__) || defined(__i386__)
        memset(start, 0xCC, size);  // int3 at every byte: no offset into the function escapes it
#else
        memset(start, 0, size);  // udf #0 at every (4-byte aligned) instruction
#endif
        if (mprotect(reinterpret_cast<void*>(lo), hi - lo, PROT_READ | PROT_EXEC) != 0)
            return (err = "cannot restore the native kernel's code protection", false);
        __builtin___clear_cache(start, start + size);
    }
    return true;
}
#endif

bool loadPlugin(std::string& err) {
    const char* path = getenv("MKB_PLUGIN");
    if (path == nullptr || *path == 0) return true;
#ifdef MKB_PLUGINS
    if (!trapNative(err)) return false;
    if (!mkb_slot_fill) {
        err = "a plug-in needs the slot-able MNN library (this one has no slot)";
        return false;
    }
    std::string slot = getenv("MKB_SLOT") ? getenv("MKB_SLOT") : "";
    size_t cut = slot.find('/');
    std::string op = slot.substr(0, cut), subtype = cut == std::string::npos ? "" : slot.substr(cut + 1);
    void* handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
        const char* why = dlerror();
        err = std::string("cannot load the candidate's shared object: ") + (why ? why : "?");
        return false;
    }
    typedef void* (*MakeCreator)();
    MakeCreator make = reinterpret_cast<MakeCreator>(dlsym(handle, "mkb_plugin_creator"));
    if (make == nullptr) {
        err = "the candidate's shared object has no creator (mkb_plugin_creator)";
        return false;
    }
    // every library is mapped: from here no memory becomes executable (mkb_lockdown.h), before the candidate's code
    // first runs in make()
#ifdef MKB_AUDIT_ARCH
    if (!mkb_lockdown::noNewCode()) {
        err = "cannot forbid new executable memory before the plug-in runs (seccomp)";
        return false;
    }
#else
    err = "plug-ins need seccomp on this architecture (to forbid new executable memory)";
    return false;
#endif
    int rc = mkb_slot_fill(op.c_str(), subtype.c_str(), make());
    if (rc != 0) {
        err = "the slot refused the candidate's creator (" + std::to_string(rc) + ") for " + slot;
        return false;
    }
    gPluginLoaded = true;
    return true;
#else
    err = "this runner cannot load plug-ins (a static build)";
    return false;
#endif
}

int runMain(int argc, char** argv) {
    if (argc != 1) return fail("usage: mkb_runner < PLAN (the plan comes on stdin; no arguments)");
    Plan plan;
    std::string err;
    if (!readPlan(std::cin, plan, err)) return fail(err);
#if defined(__GLIBC__)
    // the plan's text (which runs are kept) stays in stdin's stdio buffer, where a kernel scanning the heap finds it
    // (tests/adversarial: lenient_task_skips_unkept_runs): wiped once read
    if (stdin->_IO_buf_base != nullptr && stdin->_IO_buf_end > stdin->_IO_buf_base)
        memset(stdin->_IO_buf_base, 0, (size_t)(stdin->_IO_buf_end - stdin->_IO_buf_base));
#endif
    std::vector<std::vector<HostTensor>> sets(plan.inputs.size());
    if (plan.version == 2) {  // one input set, handed over run by run
        size_t bytes = 0;
        for (const auto& t : plan.layout) {
            HostTensor h;
            h.name = t.name;
            h.dtype = t.dtype;
            h.dims = t.dims;
            sets[0].push_back(h);
            if (t.offset + t.bytes > bytes) bytes = t.offset + t.bytes;
        }
        if (sets[0].empty()) return fail("plan: a channel plan needs its input tensors");
        gChannel.on = true;
        gChannel.inBytes = bytes;
        gChannel.in = static_cast<const uint8_t*>(mapChannel(kInputs, bytes, false));
        if (bytes > 0 && gChannel.in == nullptr) return fail("cannot map the input channel");
    }
    for (size_t i = 0; plan.version == 1 && i < plan.inputs.size(); ++i) {
        if (!readTensors(plan.inputs[i].c_str(), sets[i], err)) return fail(err);
        if (sets[i].size() != sets[0].size()) return fail("input sets differ in their number of tensors");
    }
    if (!loadPlugin(err)) return fail(err);
#ifdef MKB_AUDIT_ARCH
    // a workspace's candidate is inside libMNN, whose code first runs when the session is made (its creator is
    // registered then): the same rule against new executable memory, where seccomp is at hand (a plug-in's process
    // already has it; a second copy of the filter changes nothing)
    if (getenv("MKB_PLUGIN") == nullptr || *getenv("MKB_PLUGIN") == 0) mkb_lockdown::noNewCode();
#endif
    MNN::ScheduleConfig config;
    config.type = MNN_FORWARD_CPU;
    config.numThread = plan.threads;
    MNN::BackendConfig backend;
    backend.precision = plan.precision == "low"      ? MNN::BackendConfig::Precision_Low
                        : plan.precision == "normal" ? MNN::BackendConfig::Precision_Normal
                                                     : MNN::BackendConfig::Precision_High;
    config.backendConfig = &backend;
    if (plan.api == "module") return runModulePlan(plan, sets, config);
    if (plan.api != "session") return fail("unknown api " + plan.api);
    return runSessionPlan(plan, sets, config);
}

int main(int argc, char** argv) {
    noteStdout();
    initClock(argv, argc);
    rawExit(runMain(argc, argv));  // no destructor or atexit handler runs after the report
}
