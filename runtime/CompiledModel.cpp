//===- CompiledModel.cpp - running a compiled artifact on the host --------===//

#include "runtime/CompiledModel.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/TargetParser/Host.h"

#include <dlfcn.h>

using namespace mm;
using llvm::StringRef;

namespace {

/// The artifact's ABI version this runtime speaks (lowering/Manifest.h).
constexpr int64_t kAbiVersion = 1;

/// MLIR's memref descriptor for the C interface of the compiled entries.
template <typename T, int Rank> struct MemRef {
  T *allocated;
  T *aligned;
  int64_t offset;
  int64_t sizes[Rank];
  int64_t strides[Rank];
};

template <typename T, int Rank>
MemRef<T, Rank> describe(T *data, const int64_t (&sizes)[Rank]) {
  MemRef<T, Rank> ref{data, data, 0, {}, {}};
  int64_t stride = 1;
  for (int d = Rank - 1; d >= 0; --d) {
    ref.sizes[d] = sizes[d];
    ref.strides[d] = stride;
    stride *= sizes[d];
  }
  return ref;
}

using RunFn = void (*)(MemRef<float, 1> *, MemRef<uint8_t, 1> *,
                       MemRef<int32_t, 2> *, MemRef<float, 3> *);
using InitFn = void (*)(MemRef<uint8_t, 1> *, int64_t);

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

CompiledModel::~CompiledModel() {
  if (library)
    dlclose(library);
}

llvm::Expected<std::unique_ptr<CompiledModel>>
CompiledModel::open(StringRef artifactPath) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->path = artifactPath.str();
  auto fail = [&](const llvm::Twine &message) {
    return makeError(llvm::Twine(artifactPath) + ": " + message);
  };
  model->library = dlopen(model->path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!model->library)
    return fail(llvm::Twine("cannot load the artifact: ") + dlerror());
  auto *text = static_cast<const char *>(dlsym(model->library, "mm_manifest"));
  if (!text)
    return fail("not a memmamba-mlir artifact (no mm_manifest)");
  llvm::Expected<llvm::json::Value> parsed = llvm::json::parse(text);
  if (!parsed)
    return fail("corrupt manifest: " + llvm::toString(parsed.takeError()));
  if (!parsed->getAsObject())
    return fail("corrupt manifest: not an object");
  model->manifestObject = std::move(*parsed->getAsObject());
  const llvm::json::Object &manifest = model->manifestObject;

  std::optional<int64_t> abi = manifest.getInteger("abi_version");
  if (abi != kAbiVersion)
    return fail("artifact ABI version " +
                (abi ? std::to_string(*abi) : std::string("?")) +
                ", this runtime runs version " + std::to_string(kAbiVersion) +
                " (recompile it with this version's mm-compile)");

  const llvm::json::Object *target = manifest.getObject("target");
  if (!target || target->getString("kind") != StringRef("cpu"))
    return fail("built for target '" +
                (target ? target->getString("kind").value_or("?").str()
                        : std::string("?")) +
                "', not for the host CPU");
  std::string hostTriple = llvm::sys::getProcessTriple();
  if (target->getString("triple") != StringRef(hostTriple))
    return fail("built for " + target->getString("triple").value_or("?") +
                ", this machine is " + hostTriple);
  // Every CPU feature the code may use must be present here.
  llvm::StringMap<bool> host = llvm::sys::getHostCPUFeatures();
  llvm::SmallVector<StringRef> features;
  llvm::SplitString(target->getString("features").value_or(""), features, ",");
  std::vector<std::string> missing;
  for (StringRef feature : features)
    if (feature.consume_front("+") && !host.lookup(feature))
      missing.push_back(feature.str());
  if (!missing.empty())
    return fail("built for a CPU with " + llvm::join(missing, ", ") +
                ", which this machine lacks (compile it here)");

  const llvm::json::Value *config = manifest.get("config");
  if (!config)
    return fail("the manifest has no config");
  std::string configText;
  llvm::raw_string_ostream(configText) << *config;
  auto modelConfig =
      parseModelConfig(configText, artifactPath.str() + " (manifest)");
  if (!modelConfig)
    return modelConfig.takeError();
  model->modelConfig = *modelConfig;
  const llvm::json::Object *weights = manifest.getObject("weights");
  const llvm::json::Object *state = manifest.getObject("state");
  if (!weights || !state || !weights->getInteger("floats") ||
      !state->getInteger("bytes_per_sequence"))
    return fail("corrupt manifest: no weight or state layout");
  model->weightFloats = *weights->getInteger("floats");
  model->stateBytes = *state->getInteger("bytes_per_sequence");
  if (model->stateBytes != model->modelConfig.stateBytesPerSequence())
    return fail("corrupt manifest: a state of " +
                std::to_string(model->stateBytes) +
                " bytes per sequence, but its config needs " +
                std::to_string(model->modelConfig.stateBytesPerSequence()));

  model->prefillFn = dlsym(model->library, "_mlir_ciface_mm_prefill");
  model->decodeFn = dlsym(model->library, "_mlir_ciface_mm_decode");
  model->initFn = dlsym(model->library, "_mlir_ciface_mm_init_state");
  if (!model->prefillFn || !model->decodeFn || !model->initFn)
    return fail("an entry point is missing (prefill, decode, init_state)");
  return model;
}

llvm::Error CompiledModel::bindWeights(const ModelWeights &weights) {
  const llvm::json::Array *tensors =
      manifestObject.getObject("weights")->getArray("tensors");
  if (!tensors)
    return makeError(path + ": corrupt manifest: no weight list");
  weightBuffer.assign(weightFloats, 0.0f);
  for (const llvm::json::Value &entry : *tensors) {
    const llvm::json::Object *tensor = entry.getAsObject();
    std::optional<StringRef> name =
        tensor ? tensor->getString("name") : std::nullopt;
    std::optional<int64_t> offset =
        tensor ? tensor->getInteger("offset") : std::nullopt;
    const llvm::json::Array *shape =
        tensor ? tensor->getArray("shape") : nullptr;
    if (!name || !offset || !shape)
      return makeError(path + ": corrupt manifest entry in the weight list");
    int64_t count = 1;
    for (const llvm::json::Value &dim : *shape)
      count *= dim.getAsInteger().value_or(0);
    const std::vector<float> &values = weights.get(*name);
    if (static_cast<int64_t>(values.size()) != count || *offset < 0 ||
        *offset + count > weightFloats)
      return makeError(path + ": weight '" + *name + "' has " +
                       std::to_string(values.size()) +
                       " values, the artifact expects " +
                       std::to_string(count));
    std::copy(values.begin(), values.end(), weightBuffer.begin() + *offset);
  }
  weightsBound = true;
  return llvm::Error::success();
}

CompiledState CompiledModel::createState(int64_t batch) const {
  CompiledState state;
  state.batch = batch;
  state.bytes.assign(batch * stateBytes, 0);
  int64_t sizes[1] = {static_cast<int64_t>(state.bytes.size())};
  auto ref = describe(state.bytes.data(), sizes);
  reinterpret_cast<InitFn>(initFn)(&ref, batch);
  return state;
}

llvm::Error CompiledModel::checkInputs(llvm::ArrayRef<int32_t> tokens,
                                       int64_t time,
                                       const CompiledState &state) const {
  if (!weightsBound)
    return makeError(path + ": no weights bound");
  if (state.batch < 1 ||
      static_cast<int64_t>(state.bytes.size()) != state.batch * stateBytes)
    return makeError("the state was not created for this model");
  if (time < 1 || static_cast<int64_t>(tokens.size()) != state.batch * time)
    return makeError(std::to_string(tokens.size()) + " tokens for " +
                     std::to_string(state.batch) + " sequences of " +
                     std::to_string(time));
  return modelConfig.checkTokens(tokens, time);
}

llvm::Expected<std::vector<float>>
CompiledModel::prefill(llvm::ArrayRef<int32_t> tokens, int64_t time,
                       CompiledState &state) const {
  if (llvm::Error err = checkInputs(tokens, time, state))
    return std::move(err);
  const int64_t batch = state.batch, vocab = modelConfig.vocabSize;
  std::vector<float> logits(batch * time * vocab);
  int64_t weightSizes[1] = {weightFloats};
  int64_t stateSizes[1] = {static_cast<int64_t>(state.bytes.size())};
  int64_t tokenSizes[2] = {batch, time};
  int64_t logitSizes[3] = {batch, time, vocab};
  auto w = describe(const_cast<float *>(weightBuffer.data()), weightSizes);
  auto s = describe(state.bytes.data(), stateSizes);
  auto t = describe(const_cast<int32_t *>(tokens.data()), tokenSizes);
  auto l = describe(logits.data(), logitSizes);
  reinterpret_cast<RunFn>(time == 1 ? decodeFn : prefillFn)(&w, &s, &t, &l);
  return logits;
}

llvm::Expected<std::vector<float>>
CompiledModel::decode(llvm::ArrayRef<int32_t> tokens,
                      CompiledState &state) const {
  return prefill(tokens, 1, state);
}
