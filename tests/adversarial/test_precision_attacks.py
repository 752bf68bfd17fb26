"""Issue 17, classes 21 and 22 through the real pipeline (host MNN): a precision downgrade inside a loose tolerance,
and a shortcut that only works on the task's own input distribution, must be refused; honest accurate kernels pass.
The verdict reports the candidate's error next to MNN's own and the bound it was held to."""

from __future__ import annotations

from tests.adversarial.attacks import CPP, HONEST_SOFTMAX, unary
from tests.mnn_fixtures import evaluate

# erf by Abramowitz & Stegun 7.1.26 (|error| <= 1.5e-7): honest, a few ulps of float32
ERF_ACCURATE = r"""        for (int i = 0; i < n; ++i) {
            const float x = src[i], a = std::fabs(x);
            const float t = 1.0f / (1.0f + 0.3275911f * a);
            const float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
            const float y = 1.0f - p * std::exp(-a * a);
            dst[i] = x < 0.0f ? -y : y;
        }
"""
# erf by A&S 7.1.27 (|error| <= 5e-4): no exp, a quarter of the work, inside the task's stated 1e-3
ERF_CHEAP = r"""        for (int i = 0; i < n; ++i) {
            const float x = src[i], a = std::fabs(x);
            float q = 1.0f + a * (0.278393f + a * (0.230389f + a * (0.000972f + a * 0.078108f)));
            q = q * q;
            q = q * q;
            const float y = 1.0f - 1.0f / q;
            dst[i] = x < 0.0f ? -y : y;
        }
"""
# softmax without the max subtraction: exact enough on uniform [-5, 5], inf/inf = NaN once a value passes 88.7
NAIVE_SOFTMAX = r"""        const int width = inputs[0]->length(inputs[0]->dimensions() - 1);
        for (int row = 0; row < n / width; ++row) {
            const float* x = src + (size_t)row * width;
            float* y = dst + (size_t)row * width;
            float sum = 0.0f;
            for (int i = 0; i < width; ++i) { y[i] = std::exp(x[i]); sum += y[i]; }
            const float inv = 1.0f / sum;
            for (int i = 0; i < width; ++i) y[i] *= inv;
        }
"""


def test_an_accurate_erf_passes_with_its_error_next_to_mnn_s(strict_pipeline):
    verdict = evaluate(strict_pipeline, "erf", {CPP: unary(ERF_ACCURATE)})
    assert verdict.kind.value == "correct", verdict.message
    p = verdict.accuracy
    assert p["tolerance"] == 1e-3 and p["bound"] < 1e-4, p  # held to MNN's precision, not the task's 1e-3
    assert p["native_error"] is not None and p["native_error"] < 1e-6, p
    assert p["error"] is not None and p["error"] <= p["bound"], p
    assert "precision bound" in verdict.message


def test_a_cheap_erf_within_the_old_tolerance_is_wrong_output(strict_pipeline):
    """Class 21: about 5e-4 error, thousands of times MNN's, inside the task's stated 1e-3."""
    verdict = evaluate(strict_pipeline, "erf", {CPP: unary(ERF_CHEAP)})
    assert verdict.kind.value == "wrong_output", verdict.message
    assert verdict.speedup is None
    p = verdict.accuracy
    assert p.get("beyond_bound") is True, p
    assert 1e-4 < p["error"] < 1e-3 and p["times_native"] > 1000, p
    assert "precision bound" in verdict.message and "MNN's own error" in verdict.message


def test_a_softmax_without_max_subtraction_is_wrong_output(strict_pipeline):
    """Class 22: right on the task's own inputs, NaN on the domain draw with large magnitudes."""
    verdict = evaluate(strict_pipeline, "softmax_lastdim", {CPP: unary(NAIVE_SOFTMAX, op_type="Softmax")})
    assert verdict.kind.value == "wrong_output", verdict.message
    assert "domain" in verdict.message, verdict.message  # the draw that caught it is named by its kind, no values


def test_an_honest_softmax_passes_every_domain_draw(strict_pipeline):
    verdict = evaluate(strict_pipeline, "softmax_lastdim", {CPP: unary(HONEST_SOFTMAX, op_type="Softmax")})
    assert verdict.kind.value == "correct", verdict.message
    assert verdict.accuracy["error"] <= verdict.accuracy["bound"] < 1e-3
    assert "domain_draws_native_misses" not in verdict.timing_check

# exp by range reduction and a cubic (relative error ~6e-4): inside exp's stated 1e-3, far beyond MNN's 5e-7
EXP_CUBIC = r"""        for (int i = 0; i < n; ++i) {
            const float x = src[i];
            const float k = std::nearbyint(x * 1.44269504f);
            const float r = x - k * 0.69314718f;
            const float p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6.0f)));
            dst[i] = std::ldexp(p, (int)k);
        }
"""
# tanh as (e^2x - 1) / (e^2x + 1): right on [-5, 5], inf / inf = NaN once 2x passes 88.7
NAIVE_TANH = r"""        for (int i = 0; i < n; ++i) {
            const float e = std::exp(2.0f * src[i]);
            dst[i] = (e - 1.0f) / (e + 1.0f);
        }
"""


def test_a_cubic_exp_within_the_old_tolerance_is_wrong_output(strict_pipeline):
    verdict = evaluate(strict_pipeline, "exp", {CPP: unary(EXP_CUBIC)})
    assert verdict.kind.value == "wrong_output", verdict.message
    assert verdict.accuracy.get("beyond_bound") is True and verdict.accuracy["error"] < 1e-3, verdict.accuracy


def test_a_tanh_that_overflows_is_wrong_output(strict_pipeline):
    verdict = evaluate(strict_pipeline, "tanh", {CPP: unary(NAIVE_TANH)})
    assert verdict.kind.value == "wrong_output", verdict.message
    assert "domain" in verdict.message, verdict.message
