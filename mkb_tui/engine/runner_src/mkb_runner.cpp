// mkb_runner: the project's own harness binary. Loads one .mnn model, feeds MKBT inputs, runs the session with
// pinned threads and precision, writes MKBT outputs and prints one JSON line with timings.
//
// usage: mkb_runner MODEL.mnn IN[,IN...] OUT[,OUT...] [--threads N] [--precision high|normal|low]
//                   [--warmup W] [--iters N] [--repeat R] [--api session|module]
// Several input sets run one after another in the same session, so a kernel that caches results across runs is
// caught. --repeat R runs each forward R times and fails (exit 4) if outputs differ bitwise (uninitialised memory).
// Timing (--iters) uses the first input set. --api module runs models with control-flow subgraphs (e.g. an LSTM
// lowered to While), which a Session cannot; both paths time the forward computation only.
#include <MNN/Interpreter.hpp>
#include <MNN/Tensor.hpp>
#include <MNN/expr/Executor.hpp>
#include <MNN/expr/ExprCreator.hpp>
#include <MNN/expr/Module.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

// Optional counters compiled into a candidate workspace by the harness (slot dispatcher). Weak: absent in the
// pristine library, where they resolve to null.
extern "C" long mkb_candidate_creations() __attribute__((weak));
extern "C" long mkb_candidate_executions() __attribute__((weak));
extern "C" long mkb_candidate_nulls() __attribute__((weak));

namespace {

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

bool writeTensors(const char* path, const std::vector<HostTensor>& ts) {
    FILE* f = fopen(path, "wb");
    if (!f) return false;
    uint32_t version = 1, count = (uint32_t)ts.size();
    fwrite("MKBT", 1, 4, f);
    fwrite(&version, 4, 1, f);
    fwrite(&count, 4, 1, f);
    for (const auto& t : ts) {
        uint32_t nameLen = (uint32_t)t.name.size(), ndim = (uint32_t)t.dims.size();
        uint64_t nbytes = t.data.size();
        fwrite(&nameLen, 4, 1, f);
        fwrite(t.name.data(), 1, nameLen, f);
        fwrite(&t.dtype, 4, 1, f);
        fwrite(&ndim, 4, 1, f);
        if (ndim) fwrite(t.dims.data(), 8, ndim, f);
        fwrite(&nbytes, 8, 1, f);
        if (nbytes) fwrite(t.data.data(), 1, nbytes, f);
    }
    return fclose(f) == 0;
}

double loadValue(const HostTensor& t, size_t i) {
    const uint8_t* p = t.data.data() + i * dtypeSize(t.dtype);
    switch (t.dtype) {
        case F32: { float v; memcpy(&v, p, 4); return v; }
        case I32: { int32_t v; memcpy(&v, p, 4); return v; }
        case I64: { int64_t v; memcpy(&v, p, 8); return (double)v; }
        case F64: { double v; memcpy(&v, p, 8); return v; }
        case I8: return (double)(int8_t)*p;
        default: return (double)*p;
    }
}

// Fill n elements of type ty at dst (plain NCHW / TENSORFLOW layout, as the model's input) converting element types.
bool fillBuffer(const HostTensor& src, halide_type_t ty, void* dst, size_t n, std::string& err) {
    size_t have = src.data.size() / dtypeSize(src.dtype);
    if (n != have) { err = "input " + src.name + ": element count " + std::to_string(have) + " != model's " + std::to_string(n); return false; }
    for (size_t i = 0; i < n; ++i) {
        double v = loadValue(src, i);
        if (ty.code == halide_type_float && ty.bits == 32) static_cast<float*>(dst)[i] = (float)v;
        else if (ty.code == halide_type_int && ty.bits == 32) static_cast<int32_t*>(dst)[i] = (int32_t)v;
        else if (ty.code == halide_type_uint && ty.bits == 8) static_cast<uint8_t*>(dst)[i] = (uint8_t)v;
        else if (ty.code == halide_type_int && ty.bits == 8) static_cast<int8_t*>(dst)[i] = (int8_t)v;
        else { err = "input " + src.name + ": unsupported MNN tensor type"; return false; }
    }
    return true;
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

std::vector<std::string> splitList(const std::string& s) {
    std::vector<std::string> out;
    size_t start = 0;
    while (true) {
        size_t comma = s.find(',', start);
        out.push_back(s.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (comma == std::string::npos) return out;
        start = comma + 1;
    }
}

std::string jsonEscape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '"' || c == '\\') { o += '\\'; o += c; }
        else if ((unsigned char)c < 0x20) o += ' ';
        else o += c;
    }
    return o;
}

void printProof() {
    if (mkb_candidate_creations)
        printf(",\"candidate_proof\":{\"creations\":%ld,\"executions\":%ld,\"nulls\":%ld}", mkb_candidate_creations(),
               mkb_candidate_executions ? mkb_candidate_executions() : 0L, mkb_candidate_nulls ? mkb_candidate_nulls() : 0L);
}

int fail(const std::string& msg, int code = 2) {
    printf("{\"ok\":false,\"error\":\"%s\"", jsonEscape(msg).c_str());
    printProof();
    printf("}\n");
    fflush(stdout);
    return code;
}

void printTimes(const std::vector<double>& times) {
    printf("\"times_ms\":[");
    for (size_t i = 0; i < times.size(); ++i) printf("%s%.6f", i ? "," : "", times[i]);
    printf("]");
    printProof();
    printf("}\n");
    fflush(stdout);
}

// The Module path: models with control-flow subgraphs. Same contract as the Session path in main().
int runModule(const char* modelFile, std::vector<std::vector<HostTensor>>& inputSets, const std::vector<std::string>& outputFiles,
              const MNN::ScheduleConfig& config, int threads, const std::string& precision, int warmup, int iters, int repeat) {
    using namespace MNN::Express;
    std::shared_ptr<Executor::RuntimeManager> runtime(Executor::RuntimeManager::createRuntimeManager(config));
    std::vector<std::string> names;
    for (const auto& in : inputSets[0]) names.push_back(in.name);
    std::shared_ptr<Module> net(Module::load(names, {}, modelFile, runtime));
    if (!net) return fail(std::string("cannot load model as a module ") + modelFile);
    const Module::Info* info = net->getInfo();
    std::string err;
    auto feed = [&](const std::vector<HostTensor>& set, std::vector<VARP>& vars) -> bool {
        vars.clear();
        for (const auto& in : set) {
            halide_type_t ty = halide_type_of<float>();
            for (size_t k = 0; k < info->inputNames.size() && k < info->inputs.size(); ++k)
                if (info->inputNames[k] == in.name) ty = info->inputs[k].type;
            std::vector<int> dims(in.dims.begin(), in.dims.end());
            VARP v = _Input(dims, NCHW, ty);
            size_t n = 1;
            for (int d : dims) n *= (size_t)d;
            if (!fillBuffer(in, ty, v->writeMap<void>(), n, err)) return false;
            vars.push_back(v);
        }
        return true;
    };
    auto forward = [&](const std::vector<VARP>& vars, std::vector<HostTensor>* outs) -> bool {
        std::vector<VARP> res = net->onForward(vars);
        if (res.empty()) { err = "forward failed"; return false; }
        for (size_t i = 0; i < res.size(); ++i) {
            VARP o = res[i];
            if (o->getInfo() == nullptr) { err = "forward failed (no output shape)"; return false; }
            if (o->getInfo()->order == NC4HW4) o = _Convert(o, NCHW);
            const Variable::Info* oi = o->getInfo();
            const void* p = o->readMap<void>();
            if (p == nullptr) { err = "forward failed (output not computed)"; return false; }
            if (outs) {
                std::string name = i < info->outputNames.size() ? info->outputNames[i] : "output" + std::to_string(i);
                outs->push_back(fromBuffer(name, oi->type, oi->dim, p, oi->size * oi->type.bytes()));
            }
        }
        return true;
    };
    std::vector<VARP> vars;
    for (size_t set = 0; set < inputSets.size(); ++set) {
        std::vector<HostTensor> outs;
        if (!feed(inputSets[set], vars)) return fail(err);
        if (!forward(vars, &outs)) return fail(err, 3);
        for (int r = 1; r < repeat; ++r) {
            std::vector<HostTensor> again;
            if (!feed(inputSets[set], vars) || !forward(vars, &again)) return fail(err, 3);
            for (size_t i = 0; i < outs.size(); ++i)
                if (again[i].data != outs[i].data) return fail("outputs differ between repeated runs (nondeterministic or uninitialised memory)", 4);
        }
        if (!writeTensors(outputFiles[set].c_str(), outs)) return fail("cannot write " + outputFiles[set]);
    }
    if (!feed(inputSets[0], vars)) return fail(err);
    for (int i = 0; i < warmup; ++i)
        if (!forward(vars, nullptr)) return fail(err, 3);
    std::vector<double> times;
    for (int i = 0; i < iters; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        if (!forward(vars, nullptr)) return fail(err, 3);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    printf("{\"ok\":true,\"api\":\"module\",\"threads\":%d,\"precision\":\"%s\",", threads, precision.c_str());
    printTimes(times);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 4) return fail("usage: mkb_runner MODEL INPUTS OUTPUTS [--threads N] [--precision P] [--warmup W] [--iters N] [--repeat R]");
    int threads = 1, warmup = 0, iters = 0, repeat = 1;
    std::string precision = "high", api = "session";
    for (int i = 4; i + 1 < argc; i += 2) {
        std::string k = argv[i];
        if (k == "--threads") threads = atoi(argv[i + 1]);
        else if (k == "--precision") precision = argv[i + 1];
        else if (k == "--warmup") warmup = atoi(argv[i + 1]);
        else if (k == "--iters") iters = atoi(argv[i + 1]);
        else if (k == "--repeat") repeat = atoi(argv[i + 1]);
        else if (k == "--api") api = argv[i + 1];
        else return fail("unknown option " + k);
    }
    std::vector<std::string> inputFiles = splitList(argv[2]), outputFiles = splitList(argv[3]);
    if (inputFiles.size() != outputFiles.size()) return fail("as many output files as input files are needed");
    std::vector<std::vector<HostTensor>> inputSets(inputFiles.size());
    std::string err;
    for (size_t i = 0; i < inputFiles.size(); ++i)
        if (!readTensors(inputFiles[i].c_str(), inputSets[i], err)) return fail(err);
    std::vector<HostTensor>* current = &inputSets[0];
    MNN::ScheduleConfig config;
    config.type = MNN_FORWARD_CPU;
    config.numThread = threads;
    MNN::BackendConfig backend;
    backend.precision = precision == "low" ? MNN::BackendConfig::Precision_Low
                        : precision == "normal" ? MNN::BackendConfig::Precision_Normal
                                                : MNN::BackendConfig::Precision_High;
    config.backendConfig = &backend;
    if (api == "module") return runModule(argv[1], inputSets, outputFiles, config, threads, precision, warmup, iters, repeat);
    if (api != "session") return fail("unknown --api " + api);
    std::unique_ptr<MNN::Interpreter> net(MNN::Interpreter::createFromFile(argv[1]));
    if (!net) return fail(std::string("cannot load model ") + argv[1]);
    MNN::Session* session = net->createSession(config);
    if (!session) return fail("createSession failed");

    auto modelInputs = net->getSessionInputAll(session);
    for (const auto& in : inputSets[0]) {
        auto it = modelInputs.find(in.name);
        if (it == modelInputs.end()) return fail("model has no input named " + in.name);
        std::vector<int> dims(in.dims.begin(), in.dims.end());
        net->resizeTensor(it->second, dims);
    }
    net->resizeSession(session);
    // Fresh host buffers for every call: a kernel may not rely on stale data.
    auto feed = [&]() -> bool {
        for (const auto& in : *current) {
            MNN::Tensor* dev = modelInputs[in.name];
            std::unique_ptr<MNN::Tensor> host(new MNN::Tensor(dev, dev->getDimensionType()));
            if (!fillHost(in, host.get(), err)) return false;
            dev->copyFromHostTensor(host.get());
        }
        return true;
    };
    auto collect = [&]() {
        std::vector<HostTensor> outs;
        for (const auto& kv : net->getSessionOutputAll(session)) {
            MNN::Tensor* dev = kv.second;
            std::unique_ptr<MNN::Tensor> host(new MNN::Tensor(dev, MNN::Tensor::CAFFE));
            dev->copyToHostTensor(host.get());
            outs.push_back(fromHost(kv.first, host.get()));
        }
        return outs;
    };

    std::vector<std::string> opTypes;
    std::map<std::string, double> opMs;
    std::map<std::string, std::chrono::steady_clock::time_point> opStart;
    auto before = [&](const std::vector<MNN::Tensor*>&, const MNN::OperatorInfo* info) {
        opStart[info->name()] = std::chrono::steady_clock::now();
        return true;
    };
    auto after = [&](const std::vector<MNN::Tensor*>&, const MNN::OperatorInfo* info) {
        double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - opStart[info->name()]).count();
        if (opMs.find(info->type()) == opMs.end()) opTypes.push_back(info->type());
        opMs[info->type()] += ms;
        return true;
    };

    for (size_t set = 0; set < inputSets.size(); ++set) {
        current = &inputSets[set];
        if (!feed()) return fail(err);
        if (net->runSessionWithCallBackInfo(session, before, after, true) != MNN::NO_ERROR) return fail("runSession failed", 3);
        std::vector<HostTensor> outs = collect();
        for (int r = 1; r < repeat; ++r) {
            if (!feed()) return fail(err);
            net->runSession(session);
            std::vector<HostTensor> again = collect();
            for (size_t i = 0; i < outs.size(); ++i)
                if (again[i].data != outs[i].data) return fail("outputs differ between repeated runs (nondeterministic or uninitialised memory)", 4);
        }
        if (!writeTensors(outputFiles[set].c_str(), outs)) return fail("cannot write " + outputFiles[set]);
    }
    current = &inputSets[0];
    if (!feed()) return fail(err);

    for (int i = 0; i < warmup; ++i) net->runSession(session);
    std::vector<double> times;
    for (int i = 0; i < iters; ++i) {
        auto t0 = std::chrono::steady_clock::now();
        net->runSession(session);
        times.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }

    printf("{\"ok\":true,\"threads\":%d,\"precision\":\"%s\",\"op_types\":[", threads, precision.c_str());
    for (size_t i = 0; i < opTypes.size(); ++i) printf("%s\"%s\"", i ? "," : "", jsonEscape(opTypes[i]).c_str());
    printf("],\"op_ms\":{");
    size_t k = 0;
    for (const auto& kv : opMs) printf("%s\"%s\":%.6f", k++ ? "," : "", jsonEscape(kv.first).c_str(), kv.second);
    printf("},");
    printTimes(times);
    net->releaseSession(session);
    return 0;
}
