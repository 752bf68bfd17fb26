// A plain LayerNorm over the trailing axes (mkb-tui's own, for bench figures and tests): one pass for the mean, one
// for the variance, one to normalise; gamma/beta from the op's parameters or from inputs 1 and 2.
#include "backend/cpu/CPUBackend.hpp"
#include "core/Execution.hpp"
#include "core/Macro.h"
#include <cmath>
#include <vector>

namespace MNN {
class MkbLayerNorm : public Execution {
public:
    MkbLayerNorm(Backend* backend, const Op* op) : Execution(backend) {
        auto param = op->main_as_LayerNorm();
        mAxes = param->axis() ? (int)param->axis()->size() : 1;
        mEps = param->epsilon();
        if (param->gamma() && param->beta()) {
            mGamma.assign(param->gamma()->begin(), param->gamma()->end());
            mBeta.assign(param->beta()->begin(), param->beta()->end());
        }
    }
    ErrorCode onExecute(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
        const Tensor* x = inputs[0];
        int inner = 1;
        for (int d = x->dimensions() - mAxes; d < x->dimensions(); ++d) inner *= x->length(d);
        const int outer = x->elementSize() / inner;
        const float* gamma = mGamma.empty() ? (inputs.size() > 1 ? inputs[1]->host<float>() : nullptr) : mGamma.data();
        const float* beta = mBeta.empty() ? (inputs.size() > 2 ? inputs[2]->host<float>() : nullptr) : mBeta.data();
        const float* src = x->host<float>();
        float* dst = outputs[0]->host<float>();
        for (int o = 0; o < outer; ++o) {
            const float* row = src + (size_t)o * inner;
            float* out = dst + (size_t)o * inner;
            double sum = 0.0;
            for (int i = 0; i < inner; ++i) sum += row[i];
            const float mean = (float)(sum / inner);
            double sq = 0.0;
            for (int i = 0; i < inner; ++i) sq += (double)(row[i] - mean) * (row[i] - mean);
            const float scale = 1.0f / std::sqrt((float)(sq / inner) + mEps);
            for (int i = 0; i < inner; ++i) {
                float v = (row[i] - mean) * scale;
                if (gamma) v *= gamma[i];
                if (beta) v += beta[i];
                out[i] = v;
            }
        }
        return NO_ERROR;
    }

private:
    int mAxes;
    float mEps;
    std::vector<float> mGamma, mBeta;
};

class MkbLayerNormCreator : public CPUBackend::Creator {
public:
    Execution* onCreate(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs, const MNN::Op* op,
                        Backend* backend) const override {
        return new MkbLayerNorm(backend, op);
    }
};

REGISTER_CPU_OP_CREATOR(MkbLayerNormCreator, OpType_LayerNorm);
} // namespace MNN
