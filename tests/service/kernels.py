"""An honest LayerNorm candidate (written for this bench, not MNN's): the service figures' and tests' real kernel."""

LAYERNORM = r"""#include "backend/cpu/CPUBackend.hpp"
#include "core/Execution.hpp"
#include "core/Macro.h"
#include <cmath>
#include <vector>

namespace MNN {
// LayerNorm over the last `axes` dimensions: mean and variance per row, then the affine transform
class MkbLayerNorm : public Execution {
public:
    MkbLayerNorm(Backend* backend, const LayerNorm* param) : Execution(backend) {
        mAxes = (param->axis() != nullptr) ? (int)param->axis()->size() : 1;
        mEpsilon = param->epsilon();
        if (param->gamma() != nullptr && param->beta() != nullptr) {
            const int n = (int)param->gamma()->size();
            mGamma.resize(n);
            mBeta.resize(n);
            for (int i = 0; i < n; ++i) {
                mGamma[i] = param->gamma()->Get(i);
                mBeta[i] = param->beta()->Get(i);
            }
        }
    }
    ErrorCode onExecute(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
        const Tensor* input = inputs[0];
        const int dims = input->dimensions();
        int inner = 1;
        for (int i = dims - mAxes; i < dims; ++i) {
            inner *= input->length(i);
        }
        const int outer = input->elementSize() / inner;
        const float* src = input->host<float>();
        float* dst = outputs[0]->host<float>();
        const bool affine = (int)mGamma.size() == inner;
        for (int row = 0; row < outer; ++row) {
            const float* s = src + (size_t)row * inner;
            float* d = dst + (size_t)row * inner;
            float sum = 0.0f;
            for (int i = 0; i < inner; ++i) sum += s[i];
            const float mean = sum / inner;
            float squares = 0.0f;
            for (int i = 0; i < inner; ++i) {
                const float centered = s[i] - mean;
                squares += centered * centered;
            }
            const float scale = 1.0f / std::sqrt(squares / inner + mEpsilon);
            if (affine) {
                for (int i = 0; i < inner; ++i) d[i] = (s[i] - mean) * scale * mGamma[i] + mBeta[i];
            } else {
                for (int i = 0; i < inner; ++i) d[i] = (s[i] - mean) * scale;
            }
        }
        return NO_ERROR;
    }

private:
    int mAxes;
    float mEpsilon;
    std::vector<float> mGamma;
    std::vector<float> mBeta;
};

class MkbLayerNormCreator : public CPUBackend::Creator {
public:
    Execution* onCreate(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs, const MNN::Op* op,
                        Backend* backend) const override {
        return new MkbLayerNorm(backend, op->main_as_LayerNorm());
    }
};

REGISTER_CPU_OP_CREATOR(MkbLayerNormCreator, OpType_LayerNorm);
} // namespace MNN
"""


def variant(text: str, n: int) -> str:
    """The same kernel as a different submission (a new file hash: no cache hit, a one-file rebuild)."""
    return text + f"// variant {n}\n"
