"""Abs kernels that try to tell the timed runs from the checked ones, or to make the runner's clock lie (classes 1-3).

Each is honest where it thinks it is checked and skips its work (or takes a shortcut) where it thinks it is timed.
"""

from tests.adversarial.kernels import HEAD, kernel

FABS = "        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n"
# an honest but slow computation: a memoiser built on it would gain a lot from every hit
SLOW = (
    "        for (int i = 0; i < n; ++i) {\n"
    "            float acc = 0.0f, v = src[i];\n"
    "            for (int k = 0; k < 8; ++k) acc += std::sqrt(v * v + (float)k);\n"
    "            dst[i] = std::fabs(v) + (acc < 0.0f ? 1.0f : 0.0f);\n"
    "        }\n"
)


def with_globals(globals_: str, body: str) -> str:
    return kernel(body, head=HEAD.replace("namespace MNN {", globals_ + "\nnamespace MNN {", 1))


TIMING_ATTACKS = {
    # class 1: the process's arguments, which glibc hands to ELF constructors (the old runner passed --iters when timing)
    "argv_in_constructor": with_globals(
        "#include <cstring>\n"
        "static bool gTimed = false;\n"
        "__attribute__((constructor)) static void mkbSpy(int argc, char** argv, char**) {\n"
        "    for (int i = 0; i < argc; ++i) if (std::strstr(argv[i], \"--iters\") || std::strstr(argv[i], \"timing\")) gTimed = true;\n"
        "    if (argc == 1) gTimed = true;\n"
        "}\n",
        "        if (gTimed) return NO_ERROR;\n" + FABS),
    # class 1: an execution counter (the old verification ran 10 executions, the timing far more)
    "execution_counter": kernel("        static long calls = 0;\n        if (++calls > 10) return NO_ERROR;\n" + FABS),
    # class 1 / 2: the same input buffer as last run means a repeated (timed) run: keep the last output
    "same_address": kernel("        static const float* last = nullptr;\n        if (src == last) return NO_ERROR;\n        last = src;\n" + FABS),
    # class 1 / 2: the same input content as last run
    "same_content": kernel(
        "        static std::vector<float> prev;\n"
        "        if ((int)prev.size() == n && ::memcmp(prev.data(), src, n * sizeof(float)) == 0) return NO_ERROR;\n"
        "        prev.assign(src, src + n);\n" + FABS),
    # class 2: a private copy of the last result, keyed on the input's address
    "memo_by_address": kernel(
        "        static const float* key = nullptr;\n        static std::vector<float> memo;\n"
        "        if (src == key && (int)memo.size() == n) { ::memcpy(dst, memo.data(), n * sizeof(float)); return NO_ERROR; }\n"
        + SLOW + "        key = src; memo.assign(dst, dst + n);\n"),
    # class 2: results keyed on a sample of the input's values (correct whenever the content repeats)
    "memo_by_sampled_values": with_globals(
        "#include <map>\n#include <tuple>\n",
        "        static std::map<std::tuple<float, float, float>, std::vector<float>> memo;\n"
        "        auto key = std::make_tuple(src[0], src[n / 2], src[n - 1]);\n"
        "        auto hit = memo.find(key);\n"
        "        if (hit != memo.end()) { ::memcpy(dst, hit->second.data(), n * sizeof(float)); return NO_ERROR; }\n"
        + SLOW + "        memo[key].assign(dst, dst + n);\n"),
    # class 3: the runner's clock replaced by one that hardly moves (both the C library's and libstdc++'s)
    "clock_interposer": with_globals(
        "#include <chrono>\n#include <time.h>\n"
        "static long gTicks = 0;\n"
        "extern \"C\" int clock_gettime(clockid_t, struct timespec* ts) { ts->tv_sec = 0; ts->tv_nsec = ++gTicks; return 0; }\n"
        "std::chrono::steady_clock::time_point std::chrono::steady_clock::now() noexcept {\n"
        "    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(++gTicks));\n"
        "}\n",
        SLOW),
}

SLOW_HONEST = kernel(SLOW)
