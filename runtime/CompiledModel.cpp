//===- CompiledModel.cpp - running a compiled artifact --------------------===//

#include "runtime/CompiledModel.h"

#include "runtime/gpu/MgpuAbi.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/TargetParser/Host.h"

#include <dlfcn.h>
#include <limits>
#include <mutex>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <limits>
#include <mutex>
#include <utility>

using namespace mm;
using llvm::Error;
using llvm::Expected;
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

/// Calls a prefill or decode entry on buffers of the artifact's device (host
/// memory for a CPU artifact, device memory for a GPU one).
void callRun(void *entry, float *weights, int64_t weightFloats, uint8_t *state,
             int64_t stateBytes, int32_t *tokens, int64_t batch, int64_t time,
             float *logits, int64_t vocab) {
  int64_t weightSizes[1] = {weightFloats};
  int64_t stateSizes[1] = {stateBytes};
  int64_t tokenSizes[2] = {batch, time};
  int64_t logitSizes[3] = {batch, time, vocab};
  auto w = describe(weights, weightSizes);
  auto s = describe(state, stateSizes);
  auto t = describe(tokens, tokenSizes);
  auto l = describe(logits, logitSizes);
  reinterpret_cast<RunFn>(entry)(&w, &s, &t, &l);
}

void callInit(void *entry, uint8_t *state, int64_t stateBytes, int64_t batch) {
  int64_t sizes[1] = {stateBytes};
  auto ref = describe(state, sizes);
  reinterpret_cast<InitFn>(entry)(&ref, batch);
}

Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The manifest text of the artifact at `path`, read from the file (the
/// bytes of its dynamic symbol mm_manifest, up to their NUL) without loading
/// it. Errors are relative to the artifact.
Expected<std::string> readManifest(StringRef path) {
  auto object = llvm::object::ObjectFile::createObjectFile(path);
  if (!object)
    return makeError("cannot load the artifact: " +
                     llvm::toString(object.takeError()));
  const auto *elf =
      llvm::dyn_cast<llvm::object::ELFObjectFileBase>(object->getBinary());
  if (!elf || elf->getEType() != llvm::ELF::ET_DYN)
    return makeError("cannot load the artifact: not a shared library");
  for (const llvm::object::ELFSymbolRef &symbol :
       elf->getDynamicSymbolIterators()) {
    Expected<StringRef> name = symbol.getName();
    if (!name || *name != "mm_manifest") {
      llvm::consumeError(name.takeError());
      continue;
    }
    Expected<llvm::object::section_iterator> section = symbol.getSection();
    Expected<uint64_t> address = symbol.getAddress();
    if (!section || !address || *section == elf->section_end() ||
        (*section)->isBSS()) {
      llvm::consumeError(section.takeError());
      llvm::consumeError(address.takeError());
      break;
    }
    Expected<StringRef> contents = (*section)->getContents();
    uint64_t start = *address - (*section)->getAddress();
    if (!contents || *address < (*section)->getAddress() ||
        start >= contents->size()) {
      llvm::consumeError(contents.takeError());
      break;
    }
    StringRef text = contents->drop_front(start);
    size_t end = text.find('\0');
    if (end == StringRef::npos)
      return makeError("corrupt manifest: not NUL-terminated");
    return text.take_front(end).str();
  }
  return makeError("not a memmamba-mlir artifact (no mm_manifest)");
}

/// A GPU artifact's global constructors load its kernel modules on the
/// device current at dlopen, and the dynamic loader runs them only when the
/// file is first loaded into the process: every model of that file shares
/// those modules, so all must run on the same device. The loaded GPU
/// artifacts, by dlopen handle: their device and how many models hold them.
class LoadedGpuArtifacts {
public:
  static LoadedGpuArtifacts &get() {
    static LoadedGpuArtifacts loaded;
    return loaded;
  }

  /// Records one more model of `library` on `device`; an error naming the
  /// device it is loaded on when that is another one.
  Error add(void *library, const std::string &device) {
    std::lock_guard<std::mutex> lock(mutex);
    Entry &entry = entries[library];
    if (entry.models > 0 && entry.device != device)
      return makeError("its kernels are loaded on " + entry.device +
                       " in this process, and a process runs an artifact "
                       "file on one device (copy the file to run it on " +
                       device + " too)");
    entry.device = device;
    ++entry.models;
    return Error::success();
  }

  void remove(void *library) {
    std::lock_guard<std::mutex> lock(mutex);
    auto it = entries.find(library);
    if (it != entries.end() && --it->second.models == 0)
      entries.erase(it);
  }

private:
  struct Entry {
    std::string device;
    int models = 0;
  };
  std::mutex mutex;
  llvm::DenseMap<void *, Entry> entries;
};

/// Device memory that is freed at the end of its scope unless released.
class DeviceMemory {
public:
  explicit DeviceMemory(gpu::GpuDevice &device) : device(device) {}
  ~DeviceMemory() { llvm::consumeError(device.free(pointer)); }
  DeviceMemory(const DeviceMemory &) = delete;
  DeviceMemory &operator=(const DeviceMemory &) = delete;

  Error allocate(size_t bytes) {
    Expected<void *> allocated = device.allocate(bytes);
    if (!allocated)
      return allocated.takeError();
    pointer = static_cast<uint8_t *>(*allocated);
    return Error::success();
  }
  /// Frees the memory now, reporting a failure.
  Error release() { return device.free(std::exchange(pointer, nullptr)); }
  uint8_t *get() const { return pointer; }

private:
  gpu::GpuDevice &device;
  uint8_t *pointer = nullptr;
};

/// The alignment of each buffer within one device allocation.
constexpr size_t kDeviceAlignment = 256;

} // namespace

//===----------------------------------------------------------------------===//
// Opening
//===----------------------------------------------------------------------===//

CompiledModel::~CompiledModel() {
  if (!gpuDevice) {
    if (library)
      dlclose(library);
    return;
  }
  // The artifact's destructors unload its kernels from the current device.
  gpu::CurrentDeviceScope scope(*gpuDevice);
  llvm::consumeError(gpuDevice->free(deviceWeights));
  if (library) {
    LoadedGpuArtifacts::get().remove(library);
    dlclose(library);
  }
  llvm::consumeError(gpu::takeMgpuError());
  llvm::consumeError(gpuDevice->destroyStream(stream));
}

Error CompiledModel::fail(const llvm::Twine &message) const {
  return makeError(path + ": " + message);
}

Expected<std::unique_ptr<CompiledModel>>
CompiledModel::open(StringRef artifactPath, gpu::GpuDevice *device) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  model->path = artifactPath.str();
  Expected<std::string> text = readManifest(artifactPath);
  if (!text)
    return model->fail(llvm::toString(text.takeError()));
  Expected<llvm::json::Value> parsed = llvm::json::parse(*text);
  if (!parsed)
    return model->fail("corrupt manifest: " +
                       llvm::toString(parsed.takeError()));
  if (!parsed->getAsObject())
    return model->fail("corrupt manifest: not an object");
  model->manifestObject = std::move(*parsed->getAsObject());
  const llvm::json::Object &manifest = model->manifestObject;

  std::optional<int64_t> abi = manifest.getInteger("abi_version");
  if (abi != kAbiVersion)
    return model->fail("artifact ABI version " +
                       (abi ? std::to_string(*abi) : std::string("?")) +
                       ", this runtime runs version " +
                       std::to_string(kAbiVersion) +
                       " (recompile it with this version's mm-compile)");
  const llvm::json::Object *target = manifest.getObject("target");
  model->kind =
      (target ? target->getString("kind") : std::nullopt).value_or("?").str();
  if (Error err = model->checkTarget(device))
    return std::move(err);

  const llvm::json::Value *config = manifest.get("config");
  if (!config)
    return model->fail("the manifest has no config");
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
    return model->fail("corrupt manifest: no weight or state layout");
  model->weightFloats = *weights->getInteger("floats");
  model->stateBytes = *state->getInteger("bytes_per_sequence");
  if (model->stateBytes != model->modelConfig.stateBytesPerSequence())
    return model->fail(
        "corrupt manifest: a state of " + std::to_string(model->stateBytes) +
        " bytes per sequence, but its config needs " +
        std::to_string(model->modelConfig.stateBytesPerSequence()));

  if (Error err = model->load(device))
    return std::move(err);
  model->prefillFn = dlsym(model->library, "_mlir_ciface_mm_prefill");
  model->decodeFn = dlsym(model->library, "_mlir_ciface_mm_decode");
  model->initFn = dlsym(model->library, "_mlir_ciface_mm_init_state");
  if (!model->prefillFn || !model->decodeFn || !model->initFn)
    return model->fail(
        "an entry point is missing (prefill, decode, init_state)");
  return model;
}

Error CompiledModel::checkTarget(gpu::GpuDevice *device) const {
  const llvm::json::Object *target = manifestObject.getObject("target");
  const bool onGpu = kind == "cuda" || kind == "hip";
  if (!target || (kind != "cpu" && !onGpu))
    return fail("built for target '" + kind +
                "', not for the host CPU or a GPU this runtime drives "
                "(cuda, hip)");
  // The host code, of either kind, runs here.
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

  if (!onGpu) {
    if (device)
      return fail("built for the host CPU, not for " + device->getSpec() +
                  " (" + device->getName() +
                  "): run it on the CPU (--device cpu), or compile the "
                  "model for the GPU");
    return Error::success();
  }
  StringRef chip = target->getString("chip").value_or("");
  if (chip.empty())
    return fail("corrupt manifest: a " + kind + " target without a chip");
  std::string builtFor = kind + ":" + chip.str();
  if (!device)
    return fail("built for " + builtFor + "; run it on a device: --device " +
                kind + ":N");
  if (gpu::getVendorName(device->getVendor()) != kind)
    return fail("built for " + builtFor + ", but " + device->getSpec() + " (" +
                device->getName() + ", " + device->getArch() + ") is a " +
                gpu::getVendorName(device->getVendor()) + " device");
  if (Error err = checkChip(chip, device->getInfo()))
    return fail(llvm::toString(std::move(err)));
  return Error::success();
}

/// Compiled host code allocates its intermediates with malloc and frees them
/// after their last use. At long prompts they are tens of megabytes, which
/// glibc would map and unmap on every call, faulting in every page again (at
/// 8192 tokens of the 130m shape that was 40% of prefill time). Keep them in
/// the heap and reuse them; the process keeps its peak heap.
static void keepLargeAllocationsInTheHeap() {
#ifdef __GLIBC__
  static std::once_flag once;
  std::call_once(once, [] {
    mallopt(M_MMAP_THRESHOLD, std::numeric_limits<int>::max());
    mallopt(M_TRIM_THRESHOLD, std::numeric_limits<int>::max());
  });
#endif
}

Error CompiledModel::load(gpu::GpuDevice *device) {
  if (!device) {
    keepLargeAllocationsInTheHeap();
    library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (!library)
      return fail(llvm::Twine("cannot load the artifact: ") + dlerror());
    return Error::success();
  }
  // Loading runs the artifact's constructors, which load its kernels on the
  // current device; unloading (here or in the destructor) unloads them.
  std::string spec = device->getSpec();
  gpu::CurrentDeviceScope scope(*device);
  llvm::consumeError(gpu::takeMgpuError());
  void *handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle)
    return fail(llvm::Twine("cannot load the artifact: ") + dlerror());
  Error error = gpu::takeMgpuError();
  if (error)
    error = fail("loading its kernels on " + spec +
                 " failed: " + llvm::toString(std::move(error)));
  else if (Error taken = LoadedGpuArtifacts::get().add(handle, spec))
    error = fail(llvm::toString(std::move(taken)));
  if (error) {
    dlclose(handle);
    llvm::consumeError(gpu::takeMgpuError());
    return error;
  }
  library = handle;
  gpuDevice = device;
  Expected<gpu::GpuStream> created = device->createStream();
  if (!created)
    return fail("on " + spec + ": " + llvm::toString(created.takeError()));
  stream = *created;
  return Error::success();
}

Error mm::checkChip(StringRef chip, const gpu::GpuDeviceInfo &device) {
  std::string builtFor = (gpu::getVendorName(device.vendor) + ":" + chip).str();
  std::string actual =
      device.getSpec() + " (" + device.name + ") is " + device.arch;
  if (device.vendor == gpu::Vendor::Hip) {
    if (chip == device.arch)
      return Error::success();
    return makeError("built for " + builtFor + ", but " + actual +
                     ": HIP code runs only on the chip it was built for");
  }
  // sm_<major><minor><suffix>: none (PTX for this capability and newer),
  // "a" (this capability only) or "f" (this major, this minor or newer).
  auto parse = [](StringRef arch, unsigned &capability, StringRef &suffix) {
    if (!arch.consume_front("sm_"))
      return false;
    StringRef digits = arch.take_while(llvm::isDigit);
    suffix = arch.drop_front(digits.size());
    return !digits.getAsInteger(10, capability) && capability >= 10;
  };
  unsigned wanted = 0, have = 0;
  StringRef suffix, deviceSuffix;
  if (!parse(chip, wanted, suffix))
    return makeError("built for " + builtFor +
                     ", which is not a CUDA chip (sm_XY)");
  if (!parse(device.arch, have, deviceSuffix))
    return makeError(actual + ", which is not a CUDA chip (sm_XY)");
  auto capability = [](unsigned sm) {
    return std::to_string(sm / 10) + "." + std::to_string(sm % 10);
  };
  if (suffix.empty()) {
    if (have >= wanted)
      return Error::success();
    return makeError("built for " + builtFor + ", but " + actual +
                     ": it needs compute capability " + capability(wanted) +
                     " or newer");
  }
  if (suffix == "f" ? have / 10 == wanted / 10 && have >= wanted
                    : have == wanted)
    return Error::success();
  return makeError("built for " + builtFor + ", but " + actual + ": code for " +
                   chip + " runs only on compute capability " +
                   capability(wanted) +
                   (suffix == "f" ? " and newer of the same major" : ""));
}

//===----------------------------------------------------------------------===//
// Weights
//===----------------------------------------------------------------------===//

Error CompiledModel::bindWeights(const ModelWeights &weights) {
  weightsBound = false;
  const llvm::json::Array *tensors =
      manifestObject.getObject("weights")->getArray("tensors");
  if (!tensors)
    return fail("corrupt manifest: no weight list");
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
      return fail("corrupt manifest entry in the weight list");
    int64_t count = 1;
    for (const llvm::json::Value &dim : *shape)
      count *= dim.getAsInteger().value_or(0);
    const std::vector<float> &values = weights.get(*name);
    if (static_cast<int64_t>(values.size()) != count || *offset < 0 ||
        *offset + count > weightFloats)
      return fail("weight '" + *name + "' has " +
                  std::to_string(values.size()) +
                  " values, the artifact expects " + std::to_string(count));
    std::copy(values.begin(), values.end(), weightBuffer.begin() + *offset);
  }
  if (gpuDevice) {
    // Once to the device; the host copy goes.
    const size_t bytes = weightBuffer.size() * sizeof(float);
    if (!deviceWeights) {
      Expected<void *> allocated = gpuDevice->allocate(bytes);
      if (!allocated)
        return fail("weights on " + gpuDevice->getSpec() + ": " +
                    llvm::toString(allocated.takeError()));
      deviceWeights = *allocated;
    }
    Error copied =
        llvm::joinErrors(gpuDevice->copyToDevice(
                             deviceWeights, weightBuffer.data(), bytes, stream),
                         gpuDevice->synchronize(stream));
    if (copied)
      return fail("weights on " + gpuDevice->getSpec() + ": " +
                  llvm::toString(std::move(copied)));
    std::vector<float>().swap(weightBuffer);
  }
  weightsBound = true;
  return Error::success();
}

Error CompiledModel::checkInputs(llvm::ArrayRef<int32_t> tokens, int64_t time,
                                 const CompiledState &state) const {
  if (!weightsBound)
    return fail("no weights bound");
  if (state.batch < 1 ||
      static_cast<int64_t>(state.bytes.size()) != state.batch * stateBytes)
    return makeError("the state was not created for this model");
  if (time < 1 || static_cast<int64_t>(tokens.size()) != state.batch * time)
    return makeError(std::to_string(tokens.size()) + " tokens for " +
                     std::to_string(state.batch) + " sequences of " +
                     std::to_string(time));
  return modelConfig.checkTokens(tokens, time);
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

// On a GPU the host bytes stay the state (CompiledState's copies are
// snapshots, and callers read and write the bytes): each call copies the
// state to the device and back, B * stateBytesPerSequence() bytes each way
// (about 2.8 MB per sequence for mamba-130m, a fraction of a millisecond
// over PCIe), next to the tokens in and the logits out. The call's buffers
// share one allocation; the weights stay on the device.

Error CompiledModel::withDevice(
    StringRef entry, size_t bytes,
    llvm::function_ref<Error(uint8_t *)> body) const {
  gpu::CurrentDeviceScope scope(*gpuDevice, stream);
  llvm::consumeError(gpu::takeMgpuError());
  DeviceMemory memory(*gpuDevice);
  Error error = memory.allocate(bytes);
  if (!error)
    error = body(memory.get());
  if (!error)
    error = gpuDevice->synchronize(stream);
  if (!error)
    error = memory.release();
  if (!error)
    return Error::success();
  // Nothing may still write into the caller's host buffers as they go.
  llvm::consumeError(gpuDevice->synchronize(stream));
  return fail(entry + " on " + gpuDevice->getSpec() + ": " +
              llvm::toString(std::move(error)));
}

Expected<CompiledState> CompiledModel::createState(int64_t batch) const {
  if (batch < 1)
    return makeError("a state needs at least one sequence, not " +
                     std::to_string(batch));
  CompiledState state;
  state.batch = batch;
  state.bytes.assign(batch * stateBytes, 0);
  const size_t size = state.bytes.size();
  if (!gpuDevice) {
    callInit(initFn, state.bytes.data(), size, batch);
    return state;
  }
  Error error = withDevice("init_state", size, [&](uint8_t *memory) -> Error {
    callInit(initFn, memory, size, batch);
    if (Error err = gpu::takeMgpuError())
      return err;
    return gpuDevice->copyToHost(state.bytes.data(), memory, size, stream);
  });
  if (error)
    return std::move(error);
  return state;
}

Expected<std::vector<float>>
CompiledModel::prefill(llvm::ArrayRef<int32_t> tokens, int64_t time,
                       CompiledState &state) const {
  if (Error err = checkInputs(tokens, time, state))
    return std::move(err);
  void *entry = time == 1 ? decodeFn : prefillFn;
  const int64_t batch = state.batch, vocab = modelConfig.vocabSize;
  std::vector<float> logits(batch * time * vocab);
  const size_t stateSize = state.bytes.size();
  if (!gpuDevice) {
    callRun(entry, const_cast<float *>(weightBuffer.data()), weightFloats,
            state.bytes.data(), stateSize, const_cast<int32_t *>(tokens.data()),
            batch, time, logits.data(), vocab);
    return logits;
  }

  // One allocation: the state, the tokens and the logits.
  const size_t tokenSize = tokens.size() * sizeof(int32_t);
  const size_t logitSize = logits.size() * sizeof(float);
  const size_t tokenOffset = llvm::alignTo(stateSize, kDeviceAlignment);
  const size_t logitOffset =
      llvm::alignTo(tokenOffset + tokenSize, kDeviceAlignment);
  std::vector<uint8_t> newState(stateSize);
  auto body = [&](uint8_t *memory) -> Error {
    auto *deviceTokens = reinterpret_cast<int32_t *>(memory + tokenOffset);
    auto *deviceLogits = reinterpret_cast<float *>(memory + logitOffset);
    if (Error err = gpuDevice->copyToDevice(memory, state.bytes.data(),
                                            stateSize, stream))
      return err;
    if (Error err = gpuDevice->copyToDevice(deviceTokens, tokens.data(),
                                            tokenSize, stream))
      return err;
    callRun(entry, static_cast<float *>(deviceWeights), weightFloats, memory,
            stateSize, deviceTokens, batch, time, deviceLogits, vocab);
    if (Error err = gpu::takeMgpuError())
      return err;
    if (Error err = gpuDevice->copyToHost(logits.data(), deviceLogits,
                                          logitSize, stream))
      return err;
    return gpuDevice->copyToHost(newState.data(), memory, stateSize, stream);
  };
  if (Error err = withDevice(time == 1 ? "decode" : "prefill",
                             logitOffset + logitSize, body))
    return std::move(err);
  state.bytes = std::move(newState);
  return logits;
}

Expected<std::vector<float>>
CompiledModel::decode(llvm::ArrayRef<int32_t> tokens,
                      CompiledState &state) const {
  return prefill(tokens, 1, state);
}
