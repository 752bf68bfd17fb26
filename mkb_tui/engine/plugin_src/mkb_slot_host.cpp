// mkb-tui's slot in a slot-able MNN library (mkb_tui/engine/plugin.py). Every CPU creator MNN registers passes through
// mkbSlotWrap (the slot-able copy's CPUBackend::addCreator calls it), and one creator a plug-in provides can fill the
// slot: the task's op type, and its sub-type for the ops that have one. Creations of that op go to the plug-in, all
// others to MNN's own creator. The plug-in's creations and executions are counted here, in the library, as the proof
// that it ran. The runner (trusted, before any session) fills the slot once; an empty slot is MNN unchanged.
#include <cstring>
#include <memory>
#include "backend/cpu/CPUBackend.hpp"
#include "core/Execution.hpp"
#include "MNN_generated.h"

namespace MNN {
namespace {
struct MkbSlot {
    bool filled = false;
    OpType op = OpType_AbsVal;
    char subtype[64] = {0};  // empty: every op of the type
    CPUBackend::Creator* creator = nullptr;
};
MkbSlot gMkbSlot;
long gMkbCreations = 0, gMkbNulls = 0;  // creations happen on the session's thread, before any run
// Executions are counted on the hot path: a plain counter on its own cache lines (an atomic increment, a full fence,
// measured 8.5 -> 13.5 us for Neg and made MNN's own kernel look 0.65x through the slot).
struct alignas(128) MkbExecutionCounter {
    long value = 0;
    char pad[120];
};
MkbExecutionCounter gMkbExecutions;

const char* subtypeOf(const Op* op) {
    switch (op->main_type()) {
        case OpParameter_UnaryOp: return EnumNameUnaryOpOperation(op->main_as_UnaryOp()->opType());
        case OpParameter_BinaryOp: return EnumNameBinaryOpOperation((BinaryOpOperation)op->main_as_BinaryOp()->opType());
        case OpParameter_ReductionParam: return EnumNameReductionType(op->main_as_ReductionParam()->operation());
        case OpParameter_Pool: return EnumNamePoolType(op->main_as_Pool()->type());
        default: return "";
    }
}

bool inSlot(OpType type, const Op* op) {
    if (!gMkbSlot.filled || type != gMkbSlot.op) return false;
    return gMkbSlot.subtype[0] == 0 || (nullptr != op && 0 == strcmp(subtypeOf(op), gMkbSlot.subtype));
}

class MKBCountingExecution : public Execution {
public:
    MKBCountingExecution(Backend* backend, Execution* inner) : Execution(backend), mInner(inner) {}
    ErrorCode onResize(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
        return mInner->onResize(inputs, outputs);
    }
    ErrorCode onExecute(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs) override {
        gMkbExecutions.value++;  // onExecute runs on the session's thread only
        return mInner->onExecute(inputs, outputs);
    }
    bool onClone(Backend* bn, const Op* op, Execution** dst) override {
        if (nullptr == dst) return mInner->onClone(bn, op, nullptr);
        Execution* inner = nullptr;
        if (!mInner->onClone(bn, op, &inner) || nullptr == inner) return false;
        *dst = new MKBCountingExecution(bn, inner);
        return true;
    }

private:
    std::unique_ptr<Execution> mInner;
};

class MKBSlotCreator : public CPUBackend::Creator {
public:
    MKBSlotCreator(OpType type, CPUBackend::Creator* native) : mType(type), mNative(native) {}
    Execution* onCreate(const std::vector<Tensor*>& inputs, const std::vector<Tensor*>& outputs, const Op* op,
                        Backend* backend) const override {
        if (!inSlot(mType, op)) return mNative->onCreate(inputs, outputs, op, backend);
        Execution* exe = gMkbSlot.creator->onCreate(inputs, outputs, op, backend);
        if (nullptr == exe) {
            gMkbNulls++;
            return nullptr;
        }
        gMkbCreations++;
        return new MKBCountingExecution(backend, exe);
    }

private:
    OpType mType;
    CPUBackend::Creator* mNative;
};
}  // namespace

CPUBackend::Creator* mkbSlotWrap(OpType type, CPUBackend::Creator* native) {
    if (nullptr == native) return native;
    return new MKBSlotCreator(type, native);  // one per op type, for the life of the process
}
}  // namespace MNN

// 0: filled; 1: already filled; 2: no such op type; 3: no creator; 4: sub-type too long
extern "C" __attribute__((visibility("default"))) int mkb_slot_fill(const char* opName, const char* subtype, void* creator) {
    using namespace MNN;
    if (gMkbSlot.filled) return 1;
    if (nullptr == creator) return 3;
    if (nullptr == subtype) subtype = "";
    if (strlen(subtype) >= sizeof(gMkbSlot.subtype)) return 4;
    for (int i = (int)OpType_MIN; i <= (int)OpType_MAX; ++i) {
        if (0 != strcmp(EnumNameOpType((OpType)i), opName) || 0 == opName[0]) continue;
        gMkbSlot.op = (OpType)i;
        strcpy(gMkbSlot.subtype, subtype);
        gMkbSlot.creator = static_cast<CPUBackend::Creator*>(creator);
        gMkbSlot.filled = true;
        return 0;
    }
    return 2;
}
extern "C" __attribute__((visibility("default"))) long mkb_candidate_creations() { return MNN::gMkbCreations; }
extern "C" __attribute__((visibility("default"))) long mkb_candidate_executions() { return MNN::gMkbExecutions.value; }
extern "C" __attribute__((visibility("default"))) long mkb_candidate_nulls() { return MNN::gMkbNulls; }
