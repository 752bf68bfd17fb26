"""Honest, correct, genuinely faster kernels (issue 17, "honest kernels the judge got wrong"): the judge must credit each
within 15% of a figure measured independently (tests/adversarial/test_honest_credit.py).

Their gains over MNN's native kernels on an x86-64 host with AVX-512 (MNN's Abs and Erf are scalar loops here):
- `abs_loop`: a plain fabs loop the compiler vectorises with SSE2, about 1.7x;
- `erf_sse`: erf four lanes at a time with SSE2 intrinsics, about 6x;
- `erf_avx2`: the same on eight lanes, AVX2 without FMA, about 13x;
- `erf_avx2fma`: eight lanes with fused multiply-adds, about 20x;
- `erf_avx512`: sixteen lanes with FMA, about 40x (the AVX2 FMA code where AVX-512 is missing).

The erf is accurate to 2e-7 over the whole real line (MNN's std::erf: about 6e-8): for |x| < 1, x times the Taylor
series of erf(x)/x in x^2 to ten terms; for |x| >= 1, 1 - t P(t) exp(-x^2) with t = 1/(1 + p|x|) (Abramowitz and Stegun
7.1.26), exp(-x^2) from a Cephes-style reduction 2^n exp(r); both branches are computed and blended lane by lane.
"""

import re

from tests.adversarial.kernels import HEAD, kernel

CPP = "source/backend/cpu/MKBCandidate.cpp"

ABS_LOOP = kernel("        for (int i = 0; i < n; ++i) dst[i] = std::fabs(src[i]);\n")

SCALAR_ERF = r"""
static inline float mkbErfScalar(float x) {
    const float a = std::fabs(x);
    if (a < 1.0f) {
        const float z = x * x;
        float s = -1.0f / 6894720.0f;
        s = s * z + 1.0f / 685440.0f; s = s * z - 1.0f / 75600.0f; s = s * z + 1.0f / 9360.0f;
        s = s * z - 1.0f / 1320.0f; s = s * z + 1.0f / 216.0f; s = s * z - 1.0f / 42.0f;
        s = s * z + 1.0f / 10.0f; s = s * z - 1.0f / 3.0f; s = s * z + 1.0f;
        return 1.1283791670955126f * x * s;
    }
    const float t = 1.0f / (1.0f + 0.3275911f * a);
    const float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
    const float y = 1.0f - p * std::exp(-(a < 9.0f ? a * a : 81.0f));
    return x < 0.0f ? -y : y;
}
"""

# one vector of erf: x (type V) in, y out; names in @..@ are the instruction set's
VECTOR_ERF = r"""
    const V one = SET1(1.0f), signMask = SET1(-0.0f), ax = ANDNOT(signMask, x), z = MUL(x, x);
    V s = SET1(-1.0f / 6894720.0f);
    s = FMA(s, z, SET1(1.0f / 685440.0f)); s = FMA(s, z, SET1(-1.0f / 75600.0f));
    s = FMA(s, z, SET1(1.0f / 9360.0f)); s = FMA(s, z, SET1(-1.0f / 1320.0f));
    s = FMA(s, z, SET1(1.0f / 216.0f)); s = FMA(s, z, SET1(-1.0f / 42.0f));
    s = FMA(s, z, SET1(1.0f / 10.0f)); s = FMA(s, z, SET1(-1.0f / 3.0f)); s = FMA(s, z, one);
    const V small = MUL(MUL(SET1(1.1283791670955126f), x), s);
    const V t = DIV(one, FMA(SET1(0.3275911f), ax, one));
    V p = FMA(SET1(1.061405429f), t, SET1(-1.453152027f));
    p = FMA(p, t, SET1(1.421413741f)); p = FMA(p, t, SET1(-0.284496736f));
    p = FMA(p, t, SET1(0.254829592f)); p = MUL(p, t);
    const V e = SUB(SET1(0.0f), MIN(z, SET1(81.0f)));
    const V nf = CVTBACK(CVT(MUL(e, SET1(1.44269504088896341f))));
    V r = FMA(nf, SET1(-0.693359375f), e); r = FMA(nf, SET1(2.12194440e-4f), r);
    V q = SET1(1.9875691500e-4f);
    q = FMA(q, r, SET1(1.3981999507e-3f)); q = FMA(q, r, SET1(8.3334519073e-3f));
    q = FMA(q, r, SET1(4.1665795894e-2f)); q = FMA(q, r, SET1(1.6666665459e-1f));
    q = FMA(q, r, SET1(5.0000001201e-1f)); q = FMA(MUL(q, r), r, ADD(r, one));
    const V pow2n = CASTPS(SHL(IADD(CVT(nf), ISET1(127)), 23));
    const V large = OR(SUB(one, MUL(p, MUL(q, pow2n))), AND(signMask, x));
    const V isSmall = LESS(ax, one);
    const V y = OR(AND(isSmall, small), ANDNOT(isSmall, large));
"""

ISA = {
    # name: (vector type, lanes, intrinsic prefix, integer cast, target attribute, fused multiply-add)
    "sse": ("__m128", 4, "_mm", "_mm_castsi128_ps", "", False),
    "avx2": ("__m256", 8, "_mm256", "_mm256_castsi256_ps", '__attribute__((target("avx2")))', False),
    "avx2fma": ("__m256", 8, "_mm256", "_mm256_castsi256_ps", '__attribute__((target("avx2,fma")))', True),
    "avx512": ("__m512", 16, "_mm512", "_mm512_castsi512_ps", '__attribute__((target("avx512f,avx512dq")))', True),
}


def _vector_erf_function(isa: str) -> str:
    vtype, lanes, pre, castps, target, fused = ISA[isa]
    names = {
        "SET1": f"{pre}_set1_ps", "ADD": f"{pre}_add_ps", "SUB": f"{pre}_sub_ps", "MUL": f"{pre}_mul_ps",
        "DIV": f"{pre}_div_ps", "AND": f"{pre}_and_ps", "ANDNOT": f"{pre}_andnot_ps", "OR": f"{pre}_or_ps",
        "MIN": f"{pre}_min_ps", "CVT": f"{pre}_cvtps_epi32", "CVTBACK": f"{pre}_cvtepi32_ps", "SHL": f"{pre}_slli_epi32",
        "IADD": f"{pre}_add_epi32", "ISET1": f"{pre}_set1_epi32", "CASTPS": castps,
    }  # fmt: skip
    fma = f"{pre}_fmadd_ps(a, b, c)" if fused else f"{pre}_add_ps({pre}_mul_ps(a, b), c)"
    if isa == "sse":
        less = "_mm_cmplt_ps(a, b)"
    elif isa == "avx512":
        less = "_mm512_movm_epi32(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ))"
        less = f"_mm512_castsi512_ps({less})"
    else:
        less = "_mm256_cmp_ps(a, b, _CMP_LT_OQ)"
    body = re.sub(r"\bV\b", vtype, VECTOR_ERF)
    helpers = (f"{target} static inline {vtype} mkbFma_{isa}({vtype} a, {vtype} b, {vtype} c) {{ return {fma}; }}\n"
               f"{target} static inline {vtype} mkbLess_{isa}({vtype} a, {vtype} b) {{ return {less}; }}\n")
    body = re.sub(r"\b(" + "|".join(names) + r")\(", lambda m: names[m.group(1)] + "(", body)
    body = re.sub(r"\bFMA\(", f"mkbFma_{isa}(", body)
    body = re.sub(r"\bLESS\(", f"mkbLess_{isa}(", body)
    return helpers + (
        f"{target} static void mkbErf_{isa}(float* dst, const float* src, int n) {{\n"
        f"    int i = 0;\n"
        f"    for (; i + {lanes} <= n; i += {lanes}) {{\n"
        f"        const {vtype} x = {pre}_loadu_ps(src + i);\n"
        + body.replace("\n    ", "\n        ")
        + f"    {pre}_storeu_ps(dst + i, y);\n"
        f"    }}\n"
        f"    for (; i < n; ++i) dst[i] = mkbErfScalar(src[i]);\n"
        f"}}\n"
    )


def _with_globals(globals_: str, body: str) -> str:
    return kernel(body, head=HEAD.replace("namespace MNN {", globals_ + "\nnamespace MNN {", 1))


def erf_kernel(isa: str) -> str:
    """An erf candidate on one instruction set; `avx512` falls back to `avx2fma` on a CPU without it."""
    globals_ = "#include <immintrin.h>\n" + SCALAR_ERF + _vector_erf_function(isa)
    if isa == "avx512":
        globals_ += _vector_erf_function("avx2fma")
        body = ('        if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) mkbErf_avx512(dst, src, n);\n'
                "        else mkbErf_avx2fma(dst, src, n);\n")
    else:
        body = f"        mkbErf_{isa}(dst, src, n);\n"
    return _with_globals(globals_, body)


# name: (task, source, the gain expected on this host: for the docs and a loose sanity bound only)
HONEST = {
    "abs_loop": ("abs", ABS_LOOP, 1.7),
    "erf_sse": ("erf", erf_kernel("sse"), 6.0),
    "erf_avx2": ("erf", erf_kernel("avx2"), 13.0),
    "erf_avx2fma": ("erf", erf_kernel("avx2fma"), 20.0),
    "erf_avx512": ("erf", erf_kernel("avx512"), 40.0),
}
