// What one core of a device can do at best: memory bandwidth by footprint (read, write, copy, triad) and the
// arithmetic peak (independent vector FMAs). Prints one JSON line. Built with the device's compiler and run on the
// device like the runner (mkb_tui/engine/roofline.py); a time below what these figures allow is impossible.
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

// the thread's CPU time, not the wall clock: on a shared machine the time the core spends on other processes is not
// charged (a figure measured while others run must not come out low: it would raise the floor)
static double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile uint32_t g_sink;
static volatile float g_fsink;

// each kernel touches `n` 32-bit words per stream; returns the bytes it moved
__attribute__((noinline)) static double k_read(const uint32_t* a, size_t n) {
    uint32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;  // integer adds: the compiler may vectorise them (no fast-math needed)
    for (size_t i = 0; i < n; i += 4) {
        s0 += a[i];
        s1 += a[i + 1];
        s2 += a[i + 2];
        s3 += a[i + 3];
    }
    g_sink = s0 ^ s1 ^ s2 ^ s3;
    return 4.0 * n;
}

__attribute__((noinline)) static double k_write(uint32_t* a, size_t n, uint32_t v) {
    for (size_t i = 0; i < n; ++i) a[i] = v;
    return 4.0 * n;
}

__attribute__((noinline)) static double k_memset(uint32_t* a, size_t n, int v) {
    memset(a, v, n * 4);
    return 4.0 * n;
}

__attribute__((noinline)) static double k_copy(uint32_t* dst, const uint32_t* src, size_t n) {
    memcpy(dst, src, n * 4);
    return 8.0 * n;
}

__attribute__((noinline)) static double k_triad(float* a, const float* b, const float* c, size_t n, float s) {
    for (size_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    return 12.0 * n;
}

// best bandwidth (GB/s) of one kernel at one footprint: repeated until `min_s` has passed, best of `reps`; the clock
// is read every `batch` passes (a 16 KiB pass takes ~50 ns, as long as reading the clock)
template <typename F>
static double best(F f, double min_s, int reps, int batch = 1) {
    double top = 0;
    for (int r = 0; r < reps; ++r) {
        double bytes = 0, t0 = now_s(), t;
        do {
            for (int b = 0; b < batch; ++b) bytes += f();
            t = now_s() - t0;
        } while (t < min_s);
        double gbs = bytes / t * 1e-9;
        if (gbs > top) top = gbs;
    }
    return top;
}

#if defined(__AVX512F__)
#define VBYTES 64
#elif defined(__AVX__)
#define VBYTES 32
#else
#define VBYTES 16
#endif
typedef float vf __attribute__((vector_size(VBYTES)));
#define LANES (VBYTES / 4)
#define ACC 12

__attribute__((noinline)) static double k_fma(long iters, float m, float c) {
    vf acc[ACC], vm, vc;
    for (int l = 0; l < LANES; ++l) {
        vm[l] = m;
        vc[l] = c;
    }
    for (int j = 0; j < ACC; ++j)
        for (int l = 0; l < LANES; ++l) acc[j][l] = (float)(j + l) * 1e-3f;
    for (long i = 0; i < iters; ++i) {
        for (int j = 0; j < ACC; ++j) acc[j] = acc[j] * vm + vc;  // contracted to FMA (-ffp-contract=fast)
    }
    float s = 0;
    for (int j = 0; j < ACC; ++j)
        for (int l = 0; l < LANES; ++l) s += acc[j][l];
    g_fsink = s;
    return 2.0 * ACC * LANES * (double)iters;  // flops
}

int main(int argc, char** argv) {
    // many short windows, the best kept: a window that no other process disturbed (caches, a shared core) shows
    // what the core can do
    double min_s = argc > 1 ? atof(argv[1]) : 0.001;
    int reps = argc > 2 ? atoi(argv[2]) : 9;
    static const size_t sizes[] = {16u << 10, 64u << 10, 256u << 10, 1u << 20, 4u << 20, 16u << 20, 64u << 20};
    size_t most = (64u << 20) / 4;  // words per buffer at the largest footprint
    uint32_t *a = 0, *b = 0, *c = 0;
    if (posix_memalign((void**)&a, 64, most * 4) || posix_memalign((void**)&b, 64, most * 4) || posix_memalign((void**)&c, 64, most * 4)) {
        printf("{\"ok\": false, \"error\": \"out of memory\"}\n");
        return 1;
    }
    for (size_t i = 0; i < most; ++i) a[i] = b[i] = c[i] = (uint32_t)i;
    float* fa = (float*)a;
    float* fb = (float*)b;
    float* fc = (float*)c;
    for (size_t i = 0; i < most; ++i) fa[i] = fb[i] = fc[i] = 1.0f + (float)(i & 7);
    printf("{\"ok\": true, \"vector_bytes\": %d, \"bandwidth\": [", VBYTES);
    for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); ++k) {
        size_t fp = sizes[k];  // bytes touched by one pass, all streams together
        int batch = fp >= (4u << 20) ? 1 : (int)((4u << 20) / fp);
        double rd = best([&] { return k_read(a, fp / 4); }, min_s, reps, batch);
        double wr = best([&] { return k_write(a, fp / 4, 7); }, min_s, reps, batch);
        double ms = best([&] { return k_memset(a, fp / 4, 3); }, min_s, reps, batch);
        double cp = best([&] { return k_copy(a, b, fp / 8); }, min_s, reps, batch);
        double tr = best([&] { return k_triad(fa, fb, fc, fp / 12, 0.5f); }, min_s, reps, batch);
        printf("%s{\"bytes\": %zu, \"read\": %.3f, \"write\": %.3f, \"memset\": %.3f, \"copy\": %.3f, \"triad\": %.3f}",
               k ? ", " : "", fp, rd, wr, ms, cp, tr);
    }
    long iters = 1 << 16;
    double gf = best([&] { return k_fma(iters, 0.999999f, 1e-7f); }, min_s * 2, reps * 2);
    printf("], \"peak_gflops\": %.3f}\n", gf);
    return 0;
}
