//===- CompiledModel.cpp - running a compiled artifact --------------------===//

#include "runtime/CompiledModel.h"

#include "runtime/HostMemory.h"
#include "runtime/Safetensors.h"
#include "runtime/gpu/KernelContext.h"
#include "runtime/gpu/MgpuAbi.h"

#include "llvm/ADT/DenseSet.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/BinaryFormat/ELF.h"
#include "llvm/Object/ELFObjectFile.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/TargetParser/Host.h"

#include <atomic>
#include <dlfcn.h>
#include <limits>
#include <mutex>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>

using namespace mm;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

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

using DecodeFn = void (*)(MemRef<float, 1> *, MemRef<uint8_t, 1> *,
                          MemRef<int32_t, 2> *, MemRef<float, 3> *);
// Prefill takes each sequence's length after the tokens (ABI version 4).
using PrefillFn = void (*)(MemRef<float, 1> *, MemRef<uint8_t, 1> *,
                           MemRef<int32_t, 2> *, MemRef<int32_t, 1> *,
                           MemRef<float, 3> *);
using InitFn = void (*)(MemRef<uint8_t, 1> *, int64_t);
// GPU entry points take the kernel context first (ABI version 2).
using GpuDecodeFn = void (*)(MMKernelContext *, MemRef<float, 1> *,
                             MemRef<uint8_t, 1> *, MemRef<int32_t, 2> *,
                             MemRef<float, 3> *);
using GpuPrefillFn = void (*)(MMKernelContext *, MemRef<float, 1> *,
                              MemRef<uint8_t, 1> *, MemRef<int32_t, 2> *,
                              MemRef<int32_t, 1> *, MemRef<float, 3> *);
using GpuInitFn = void (*)(MMKernelContext *, MemRef<uint8_t, 1> *, int64_t);

/// Calls a prefill or prefill_last entry (with `lengths`, [batch]) or a
/// decode entry (`lengths` null) on buffers of the artifact's device (host
/// memory for a CPU artifact, device memory and its kernel `context` for a
/// GPU one); `logits` is [batch, logitRows, vocab]. `weightSize` is the
/// weight buffer's size in elements of the entry's weight argument (floats,
/// or bytes in a reduced precision).
void callRun(void *entry, MMKernelContext *context, float *weights,
             int64_t weightSize, uint8_t *state, int64_t stateBytes,
             int32_t *tokens, int32_t *lengths, int64_t batch, int64_t time,
             float *logits, int64_t logitRows, int64_t vocab) {
  int64_t weightSizes[1] = {weightSize};
  int64_t stateSizes[1] = {stateBytes};
  int64_t tokenSizes[2] = {batch, time};
  int64_t lengthSizes[1] = {batch};
  int64_t logitSizes[3] = {batch, logitRows, vocab};
  auto w = describe(weights, weightSizes);
  auto s = describe(state, stateSizes);
  auto t = describe(tokens, tokenSizes);
  auto n = describe(lengths, lengthSizes);
  auto l = describe(logits, logitSizes);
  if (lengths && context)
    reinterpret_cast<GpuPrefillFn>(entry)(context, &w, &s, &t, &n, &l);
  else if (lengths)
    reinterpret_cast<PrefillFn>(entry)(&w, &s, &t, &n, &l);
  else if (context)
    reinterpret_cast<GpuDecodeFn>(entry)(context, &w, &s, &t, &l);
  else
    reinterpret_cast<DecodeFn>(entry)(&w, &s, &t, &l);
}

void callInit(void *entry, MMKernelContext *context, uint8_t *state,
              int64_t stateBytes, int64_t batch) {
  int64_t sizes[1] = {stateBytes};
  auto ref = describe(state, sizes);
  if (context)
    reinterpret_cast<GpuInitFn>(entry)(context, &ref, batch);
  else
    reinterpret_cast<InitFn>(entry)(&ref, batch);
}

Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The manifest text of a shared library in memory: the bytes of its
/// dynamic symbol mm_manifest, up to their NUL.
Expected<std::string> readManifest(StringRef library) {
  auto object = llvm::object::ObjectFile::createObjectFile(
      llvm::MemoryBufferRef(library, "artifact"));
  if (!object)
    return makeError("not a shared library: " +
                     llvm::toString(object.takeError()));
  const auto *elf =
      llvm::dyn_cast<llvm::object::ELFObjectFileBase>(object->get());
  if (!elf || elf->getEType() != llvm::ELF::ET_DYN)
    return makeError("not a shared library");
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

/// a * b, or nullopt when it overflows int64_t or either is negative.
std::optional<int64_t> checkedMul(int64_t a, int64_t b) {
  int64_t product;
  if (a < 0 || b < 0 || __builtin_mul_overflow(a, b, &product))
    return std::nullopt;
  return product;
}

/// Stream-ordered device memory that is freed (on its stream) at the end of
/// its scope unless released.
class DeviceMemory {
public:
  DeviceMemory(gpu::GpuDevice &device, gpu::GpuStream stream)
      : device(device), stream(stream) {}
  ~DeviceMemory() { llvm::consumeError(device.freeAsync(pointer, stream)); }
  DeviceMemory(const DeviceMemory &) = delete;
  DeviceMemory &operator=(const DeviceMemory &) = delete;

  Error allocate(size_t bytes) {
    Expected<void *> allocated = device.allocateAsync(bytes, stream);
    if (!allocated)
      return allocated.takeError();
    pointer = static_cast<uint8_t *>(*allocated);
    return Error::success();
  }
  /// Frees the memory after the work queued on the stream, reporting a
  /// failure.
  Error release() {
    return device.freeAsync(std::exchange(pointer, nullptr), stream);
  }
  uint8_t *get() const { return pointer; }

private:
  gpu::GpuDevice &device;
  gpu::GpuStream stream;
  uint8_t *pointer = nullptr;
};

/// The alignment of each buffer within one device allocation.
constexpr size_t kDeviceAlignment = 256;

} // namespace

//===----------------------------------------------------------------------===//
// Opening
//===----------------------------------------------------------------------===//

CompiledModel::~CompiledModel() {
  if (!gpuDevice)
    return;
  llvm::consumeError(gpuDevice->free(deviceWeights));
  kernels.reset();
  if (library)
    library->unload();
  llvm::consumeError(gpuDevice->destroyStream(stream));
}

Error CompiledModel::fail(const llvm::Twine &message) const {
  return makeError(path + ": " + message);
}

Expected<std::unique_ptr<CompiledModel>>
CompiledModel::open(StringRef artifactPath, gpu::GpuDevice *device,
                    StringRef noDeviceHint) {
  std::unique_ptr<CompiledModel> model(new CompiledModel());
  static std::atomic<uint64_t> models{0};
  model->modelId = ++models;
  model->path = artifactPath.str();
  // What is checked and what runs are the same bytes, read once.
  Expected<SealedArtifact> artifact = readSealedArtifact(artifactPath);
  if (!artifact)
    return model->fail(llvm::toString(artifact.takeError()));
  model->artifactDigest = artifact->digest;
  Expected<std::string> text = readManifest(artifact->library);
  if (!text)
    return model->fail(llvm::toString(text.takeError()));
  Expected<ArtifactManifest> manifest =
      parseArtifactManifest(*text, artifactPath.str() + " (manifest)");
  if (!manifest)
    return model->fail(llvm::toString(manifest.takeError()));
  model->kind = manifest->kind;
  model->manifestObject = std::move(manifest->object);
  if (Error err = model->checkTarget(device, noDeviceHint))
    return std::move(err);
  model->modelConfig = manifest->config;
  model->precision = manifest->precision;
  model->weightFloats = manifest->weightFloats;
  model->weightOffsets = std::move(manifest->weights);
  model->stateBytes = manifest->stateBytes;
  model->fields = std::move(manifest->fields);
  model->indexStateFields();

  if (Error err = model->load(artifact->library, device))
    return std::move(err);
  model->prefillFn = model->library->symbol("_mlir_ciface_mm_prefill");
  model->decodeFn = model->library->symbol("_mlir_ciface_mm_decode");
  model->initFn = model->library->symbol("_mlir_ciface_mm_init_state");
  model->prefillLastFn = model->library->symbol("_mlir_ciface_mm_prefill_last");
  if (!model->prefillFn || !model->decodeFn || !model->initFn ||
      !model->prefillLastFn)
    return model->fail("an entry point is missing (prefill, decode, "
                       "init_state, prefill_last)");
  return model;
}

void CompiledModel::indexStateFields() {
  for (size_t i = 0; i < fields.size(); ++i) {
    const StateField &field = fields[i];
    if (field.kind == "position")
      positionFieldIndex = i;
    if (field.kind != "pool_count")
      continue;
    auto positions = llvm::find_if(fields, [&](const StateField &other) {
      return other.kind == "pool_positions" && other.layer == field.layer;
    });
    assert(positions != fields.end() && "a pool without positions");
    pools.push_back({i, positions - fields.begin()});
  }
}

Error CompiledModel::checkTarget(gpu::GpuDevice *device,
                                 StringRef noDeviceHint) const {
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
    return fail("built for " + builtFor + "; run it on a device: " +
                (noDeviceHint.empty() ? "--device " + kind + ":N"
                                      : noDeviceHint.str()));
  // The simulator runs code built for any chip of either vendor; each
  // launch checks the limits of the chip its kernel was built for.
  if (device->isSimulator())
    return Error::success();
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

Error CompiledModel::load(StringRef code, gpu::GpuDevice *device) {
  library = std::make_unique<MemoryLoadedLibrary>();
  StringRef name = llvm::sys::path::filename(path);
  if (!device) {
    keepLargeAllocationsInTheHeap();
    if (Error err = library->load(code, name))
      return fail(llvm::toString(std::move(err)));
    return Error::success();
  }
  // The artifact loads nothing itself (no global constructors): its kernels
  // are data (mm_kernel_module) that the runtime loads on this model's
  // device, and hands to the entry points in a kernel context with the
  // model's stream. So models of one artifact may run on different devices.
  std::string spec = device->getSpec();
  if (Error err = library->load(code, name))
    return fail(llvm::toString(std::move(err)));
  gpuDevice = device;
  Expected<gpu::GpuStream> created = device->createStream();
  if (!created)
    return fail("on " + spec + ": " + llvm::toString(created.takeError()));
  stream = *created;
  const auto *module = static_cast<const MMKernelModule *>(
      library->symbol(MM_KERNEL_MODULE_SYMBOL));
  if (!module)
    return fail("has no kernel module (" MM_KERNEL_MODULE_SYMBOL
                "); recompile it with this mm-compile");
  Expected<std::unique_ptr<gpu::KernelContext>> loaded =
      gpu::KernelContext::load(*device, *module, stream);
  if (!loaded)
    return fail("loading its kernels on " + spec +
                " failed: " + llvm::toString(loaded.takeError()));
  kernels = std::move(*loaded);
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
  // parseArtifactManifest validated every entry: names of the config,
  // offsets and sizes inside the buffer.
  if (Error err = checkFitsInMemory(4 * weightFloats, "the weight buffer"))
    return fail(llvm::toString(std::move(err)));
  try {
    weightBuffer.assign(weightFloats, 0.0f);
  } catch (const std::bad_alloc &) {
    return fail("out of memory for " + std::to_string(weightFloats) +
                " floats of weights");
  }
  for (const ArtifactManifest::Weight &weight : weightOffsets) {
    const std::vector<float> &values = weights.get(weight.name);
    if (weight.dtype == Precision::F32) {
      std::copy(values.begin(), values.end(),
                weightBuffer.begin() + weight.offset);
      continue;
    }
    // A reduced-precision tensor: its 16-bit values from the word at its
    // offset, converted once here (round to nearest even).
    auto *out = reinterpret_cast<uint8_t *>(weightBuffer.data() +
                                            weight.offset);
    for (size_t i = 0; i < values.size(); ++i) {
      uint16_t bits = floatToPrecisionBits(values[i], weight.dtype);
      float stored = precisionBitsToFloat(bits, weight.dtype);
      if (std::isfinite(values[i]) && !std::isfinite(stored))
        return fail(weights.origin() + ": tensor '" + weight.name +
                    "' holds " + std::to_string(values[i]) + " at element " +
                    std::to_string(i) + ", beyond the range of " +
                    stringifyPrecision(weight.dtype) +
                    ", the dtype this artifact stores it in (compile it "
                    "with --precision=bf16 or f32)");
      std::memcpy(out + 2 * i, &bits, sizeof(bits));
    }
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
      gpuDevice->nameAllocation(deviceWeights, "the weights");
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
                                 llvm::ArrayRef<int64_t> lengths,
                                 const CompiledState &state) const {
  if (!weightsBound)
    return fail("no weights bound");
  if (Error err = checkStateKind(state))
    return err;
  std::optional<int64_t> count = checkedMul(state.batch, time);
  if (time < 1 || !count || static_cast<int64_t>(tokens.size()) != *count)
    return makeError(std::to_string(tokens.size()) + " tokens for " +
                     std::to_string(state.batch) + " sequences of " +
                     std::to_string(time));
  if (!lengths.empty()) {
    if (static_cast<int64_t>(lengths.size()) != state.batch)
      return makeError(std::to_string(lengths.size()) + " lengths for " +
                       std::to_string(state.batch) + " sequences");
    // Only each sequence's own tokens are read; its padding is not.
    for (int64_t b = 0; b < state.batch; ++b) {
      if (lengths[b] < 0 || lengths[b] > time)
        return makeError("sequence " + std::to_string(b) + " has length " +
                         std::to_string(lengths[b]) + ", outside [0, " +
                         std::to_string(time) + "] (the row's tokens)");
      if (Error err =
              modelConfig.checkTokens(tokens.slice(b * time, lengths[b]), time))
        return makeError("sequence " + std::to_string(b) + ": " +
                         llvm::toString(std::move(err)));
    }
  } else if (Error err = modelConfig.checkTokens(tokens, time)) {
    return err;
  }
  // Compiled code indexes the pools by the state's counts and positions.
  // A host state's bytes are the caller's to change between calls; a
  // device state changes only through compiled code and writeState, which
  // checks what it writes.
  if (gpuDevice)
    return Error::success();
  return checkState(state.batch, state.bytes, /*checkValues=*/false);
}

/// Reads element `index` of a 4-byte field.
template <typename T> static T readField(const uint8_t *base, int64_t index) {
  T value;
  std::memcpy(&value, base + 4 * index, sizeof(T));
  return value;
}

Error CompiledModel::checkState(const CompiledState &state,
                                bool checkValues) const {
  if (!state.device)
    return checkState(state.batch, state.bytes, checkValues);
  Expected<std::vector<uint8_t>> bytes = readState(state);
  if (!bytes)
    return bytes.takeError();
  return checkState(state.batch, *bytes, checkValues);
}

Error CompiledModel::checkState(int64_t batch, llvm::ArrayRef<uint8_t> bytes,
                                bool checkValues) const {
  if (batch < 1 || batch > kMaxBatch ||
      static_cast<int64_t>(bytes.size()) != batch * stateBytes)
    return makeError("a state of " + std::to_string(bytes.size()) +
                     " bytes for " + std::to_string(batch) +
                     " sequences, but this model's state has " +
                     std::to_string(stateBytes) + " bytes per sequence");
  // Field f of sequence b starts at batch * offset(f) + b * size(f).
  auto at = [&](const StateField &field, int64_t b) {
    return bytes.data() + batch * field.offset + b * 4 * field.elements;
  };
  auto bad = [&](int64_t b, const StateField &field, const llvm::Twine &what) {
    return makeError("invalid state: sequence " + std::to_string(b) + ", " +
                     field.name + ": " + what);
  };
  const StateField *positionField =
      positionFieldIndex >= 0 ? &fields[positionFieldIndex] : nullptr;
  const int64_t poolSize =
      modelConfig.memory ? modelConfig.memory->poolSize : 0;
  for (int64_t b = 0; b < batch; ++b) {
    int64_t position = positionField
                           ? readField<int32_t>(at(*positionField, b), 0)
                           : std::numeric_limits<int32_t>::max();
    if (positionField && position < 0)
      return bad(b, *positionField,
                 "position " + llvm::Twine(position) + " is negative");
    if (checkValues)
      for (const StateField &field : fields) {
        if (!field.isFloat)
          continue;
        const uint8_t *base = at(field, b);
        for (int64_t i = 0; i < field.elements; ++i)
          if (!std::isfinite(readField<float>(base, i)))
            return bad(b, field,
                       "element " + llvm::Twine(i) + " is not finite");
      }
    // Each pool: its count, then the positions of its slots.
    for (auto [countIndex, positionsIndex] : pools) {
      const StateField &countField = fields[countIndex];
      const StateField &positions = fields[positionsIndex];
      int64_t count = readField<int32_t>(at(countField, b), 0);
      if (count < 0 || count > poolSize)
        return bad(b, countField,
                   "count " + llvm::Twine(count) + " outside [0, " +
                       llvm::Twine(poolSize) + "]");
      const uint8_t *base = at(positions, b);
      // Compiled code never reads the free slots [count, M).
      llvm::SmallDenseSet<int32_t, 64> used;
      for (int64_t j = 0; j < count; ++j) {
        int32_t slotPosition = readField<int32_t>(base, j);
        if (slotPosition < 0 || slotPosition >= position ||
            !used.insert(slotPosition).second)
          return bad(b, positions,
                     "slot " + llvm::Twine(j) + " holds position " +
                         llvm::Twine(slotPosition) + " (" + llvm::Twine(count) +
                         " slots in use, " + llvm::Twine(position) +
                         " tokens seen)");
      }
    }
  }
  return Error::success();
}

Expected<std::vector<std::vector<int32_t>>>
CompiledModel::poolPositions(const CompiledState &state,
                             int64_t sequence) const {
  if (sequence < 0 || sequence >= state.batch)
    return makeError("sequence " + std::to_string(sequence) +
                     " of a state of " + std::to_string(state.batch));
  if (Error err = checkStateKind(state))
    return std::move(err);
  // A host state is read where it is; a device state's bytes come over.
  std::vector<uint8_t> copied;
  if (state.device) {
    Expected<std::vector<uint8_t>> read = readState(state);
    if (!read)
      return read.takeError();
    copied = std::move(*read);
  }
  const uint8_t *bytes = state.device ? copied.data() : state.bytes.data();
  std::vector<std::vector<int32_t>> result;
  for (auto [countIndex, positionsIndex] : pools) {
    // Field f of sequence b starts at batch * offset(f) + b * size(f).
    auto at = [&](const StateField &field) {
      return bytes + state.batch * field.offset + sequence * 4 * field.elements;
    };
    int32_t count = readField<int32_t>(at(fields[countIndex]), 0);
    std::vector<int32_t> &positions = result.emplace_back();
    for (int32_t j = 0; j < count; ++j)
      positions.push_back(readField<int32_t>(at(fields[positionsIndex]), j));
    llvm::sort(positions);
  }
  return result;
}

//===----------------------------------------------------------------------===//
// Running
//===----------------------------------------------------------------------===//

// A GPU model's state stays on its device (runtime/DeviceState.h): a call
// copies the tokens in and the logits it is asked for out, and runs on the
// state's own stream, which it waits for once at its end. Decode steps
// replay a graph captured at the state's first step.

Error CompiledModel::onDevice(
    StringRef entry, DeviceState &state,
    llvm::function_ref<Error(MMKernelContext *)> body) const {
  gpu::GpuStream stream = state.getStream();
  gpu::CurrentDeviceScope scope(*gpuDevice, stream);
  llvm::consumeError(gpu::takeMgpuError());
  // The model's kernels, launched on the state's stream.
  MMKernelContext context = *kernels->get();
  context.stream = stream;
  Error error = body(&context);
  if (!error)
    error = gpuDevice->synchronize(stream);
  if (!error)
    return Error::success();
  // Nothing may still write into the caller's host buffers as they go.
  llvm::consumeError(gpuDevice->synchronize(stream));
  return fail(entry + " on " + gpuDevice->getSpec() + ": " +
              llvm::toString(std::move(error)));
}

Error CompiledModel::checkStateKind(const CompiledState &state) const {
  const int64_t size = state.size();
  if (state.batch < 1 || state.batch > kMaxBatch ||
      size != state.batch * stateBytes)
    return makeError("the state was not created for this model (" +
                     std::to_string(size) + " bytes for " +
                     std::to_string(state.batch) + " sequences of " +
                     std::to_string(stateBytes) + ")");
  if (!gpuDevice && state.device)
    return makeError("the state lives on " +
                     state.device->getDevice().getSpec() +
                     ", this model runs on the host");
  if (gpuDevice && !state.device)
    return makeError("the state lives on the host, this model runs on " +
                     gpuDevice->getSpec() + " (create it with this model)");
  if (gpuDevice && &state.device->getDevice() != gpuDevice)
    return makeError("the state lives on another device (" +
                     state.device->getDevice().getSpec() +
                     ") than this model (" + gpuDevice->getSpec() + ")");
  return Error::success();
}

Expected<CompiledState> CompiledModel::createState(int64_t batch) const {
  if (batch < 1 || batch > kMaxBatch)
    return makeError("a state needs 1 to " + std::to_string(kMaxBatch) +
                     " sequences, not " + std::to_string(batch));
  std::optional<int64_t> size = checkedMul(batch, stateBytes);
  if (!size)
    return makeError("a state of " + std::to_string(batch) +
                     " sequences does not fit in memory");
  CompiledState state;
  state.batch = batch;
  if (!gpuDevice) {
    if (Error err = checkFitsInMemory(
            *size, "a state of " + llvm::Twine(batch) + " sequences"))
      return std::move(err);
    try {
      state.bytes.assign(*size, 0);
    } catch (const std::bad_alloc &) {
      return makeError("out of memory for a state of " + std::to_string(batch) +
                       " sequences (" + std::to_string(*size) + " bytes)");
    }
    callInit(initFn, nullptr, state.bytes.data(), *size, batch);
    return state;
  }
  // The simulator's device memory is this machine's; a GPU's is its own.
  const std::string what = "a state of " + std::to_string(batch) + " sequences";
  if (gpuDevice->isSimulator()) {
    if (Error err = checkFitsInMemory(*size, what))
      return std::move(err);
  } else if (gpuDevice->getTotalMemory() &&
             uint64_t(*size) > gpuDevice->getTotalMemory()) {
    return makeError(what + " would take " + std::to_string(*size) +
                     " bytes, more than the memory of " + gpuDevice->getSpec() +
                     " (" + std::to_string(gpuDevice->getTotalMemory()) +
                     " bytes)");
  }
  Expected<std::unique_ptr<DeviceState>> created = DeviceState::create(
      *gpuDevice, *size,
      "the state of " + llvm::Twine(batch) + " sequences (" +
          llvm::Twine(stateBytes) + " bytes each)");
  if (!created)
    return fail("a state of " + llvm::Twine(batch) + " sequences on " +
                gpuDevice->getSpec() + ": " +
                llvm::toString(created.takeError()));
  state.device = std::move(*created);
  if (Error err = onDevice(
          "init_state", *state.device, [&](MMKernelContext *context) -> Error {
            callInit(initFn, context, state.device->data(), *size, batch);
            return gpu::takeMgpuError();
          }))
    return std::move(err);
  return state;
}

Expected<CompiledState>
CompiledModel::copyState(const CompiledState &state) const {
  if (Error err = checkStateKind(state))
    return std::move(err);
  if (!gpuDevice) {
    CompiledState copy;
    copy.batch = state.batch;
    try {
      copy.bytes = state.bytes;
    } catch (const std::bad_alloc &) {
      return makeError("out of memory for a copy of a state of " +
                       std::to_string(state.size()) + " bytes");
    }
    return copy;
  }
  CompiledState copy;
  copy.batch = state.batch;
  Expected<std::unique_ptr<DeviceState>> created = DeviceState::create(
      *gpuDevice, state.size(),
      "a copy of the state of " + llvm::Twine(state.batch) + " sequences");
  if (!created)
    return fail("a copy of a state on " + gpuDevice->getSpec() + ": " +
                llvm::toString(created.takeError()));
  copy.device = std::move(*created);
  if (Error err = restoreState(copy, state))
    return std::move(err);
  return copy;
}

Error CompiledModel::restoreState(CompiledState &target,
                                  const CompiledState &source) const {
  if (Error err = checkStateKind(target))
    return err;
  if (Error err = checkStateKind(source))
    return err;
  if (source.batch != target.batch)
    return makeError("a state of " + std::to_string(source.batch) +
                     " sequences cannot replace one of " +
                     std::to_string(target.batch));
  if (&source == &target)
    return Error::success();
  if (!gpuDevice) {
    std::copy(source.bytes.begin(), source.bytes.end(), target.bytes.begin());
    return Error::success();
  }
  // Every call on a state waits for its stream before it returns: nothing
  // is left to write into `source`.
  return onDevice("copying a state", *target.device, [&](MMKernelContext *) {
    return gpuDevice->copyOnDevice(target.device->data(), source.device->data(),
                                   target.device->size(),
                                   target.device->getStream());
  });
}

Expected<CompiledState>
CompiledModel::extractSequence(const CompiledState &state,
                               int64_t sequence) const {
  if (Error err = checkStateKind(state))
    return std::move(err);
  if (sequence < 0 || sequence >= state.batch)
    return makeError("no sequence " + std::to_string(sequence) +
                     " in a state of " + std::to_string(state.batch));
  Expected<CompiledState> single = createState(1);
  if (!single)
    return single.takeError();
  // Field f of B sequences starts at byte B * offset(f); sequence b's part
  // at b * 4 * elements(f) into it.
  auto copyFields = [&](auto &&copy) -> Error {
    for (const StateField &field : fields) {
      const int64_t size = 4 * field.elements;
      if (Error err = copy(field.offset,
                           state.batch * field.offset + sequence * size, size))
        return err;
    }
    return Error::success();
  };
  if (!gpuDevice) {
    cantFail(copyFields([&](int64_t to, int64_t from, int64_t size) {
      std::memcpy(single->bytes.data() + to, state.bytes.data() + from, size);
      return Error::success();
    }));
    return single;
  }
  DeviceState &target = *single->device;
  if (Error err = onDevice(
          "copying a sequence's state", target, [&](MMKernelContext *) {
            return copyFields([&](int64_t to, int64_t from, int64_t size) {
              return gpuDevice->copyOnDevice(target.data() + to,
                                             state.device->data() + from, size,
                                             target.getStream());
            });
          }))
    return std::move(err);
  return single;
}

Expected<std::vector<uint8_t>>
CompiledModel::readState(const CompiledState &state) const {
  if (Error err = checkStateKind(state))
    return std::move(err);
  if (!gpuDevice)
    return state.bytes;
  std::vector<uint8_t> bytes(state.size());
  DeviceState &device = *state.device;
  if (Error err = onDevice("reading a state", device, [&](MMKernelContext *) {
        return gpuDevice->copyToHost(bytes.data(), device.data(), bytes.size(),
                                     device.getStream());
      }))
    return std::move(err);
  return bytes;
}

Error CompiledModel::writeState(CompiledState &state,
                                llvm::ArrayRef<uint8_t> bytes) const {
  if (Error err = checkStateKind(state))
    return err;
  if (static_cast<int64_t>(bytes.size()) != state.size())
    return makeError("a snapshot of " + std::to_string(bytes.size()) +
                     " bytes for a state of " + std::to_string(state.size()) +
                     " (" + std::to_string(state.batch) + " sequences)");
  if (Error err = checkState(state.batch, bytes))
    return err;
  if (!gpuDevice) {
    std::copy(bytes.begin(), bytes.end(), state.bytes.begin());
    return Error::success();
  }
  DeviceState &device = *state.device;
  return onDevice("writing a state", device, [&](MMKernelContext *) {
    return gpuDevice->copyToDevice(device.data(), bytes.data(), bytes.size(),
                                   device.getStream());
  });
}

Error CompiledModel::runChunk(const int32_t *tokens, const int32_t *lengths,
                              int64_t time, CompiledState &state, float *logits,
                              bool graphs, bool lastOnly) const {
  const int64_t batch = state.batch, vocab = modelConfig.vocabSize;
  // Decode where every sequence takes one token; prefill, which takes
  // lengths, otherwise.
  std::vector<int32_t> uniform;
  const bool step =
      time == 1 && (!lengths || std::all_of(lengths, lengths + batch,
                                            [](int32_t n) { return n == 1; }));
  if (step) {
    lengths = nullptr;
  } else if (!lengths) {
    uniform.assign(batch, static_cast<int32_t>(time));
    lengths = uniform.data();
  }
  void *entry = step ? decodeFn : lastOnly ? prefillLastFn : prefillFn;
  // The rows of logits the call writes per sequence.
  const int64_t logitRows = lastOnly ? 1 : time;
  const size_t stateSize = state.size();
  if (!gpuDevice) {
    callRun(entry, nullptr, const_cast<float *>(weightBuffer.data()),
            weightArgumentSize(), state.bytes.data(), stateSize,
            const_cast<int32_t *>(tokens), const_cast<int32_t *>(lengths),
            batch, time, logits, logitRows, vocab);
    return Error::success();
  }
  DeviceState &device = *state.device;
  if (step && graphs && !device.captureFailed) {
    Expected<bool> replayed = replayStep(tokens, device, logits);
    if (!replayed || *replayed)
      return replayed.takeError();
  }
  // The call's tokens, lengths and logits, one stream-ordered allocation.
  const size_t tokenSize = batch * time * sizeof(int32_t);
  const size_t lengthsOffset = llvm::alignTo(tokenSize, kDeviceAlignment);
  const size_t lengthsSize = lengths ? batch * sizeof(int32_t) : 0;
  const size_t logitSize = batch * logitRows * vocab * sizeof(float);
  const size_t logitOffset =
      llvm::alignTo(lengthsOffset + lengthsSize, kDeviceAlignment);
  const StringRef call = step       ? "decode"
                         : lastOnly ? "prefill_last"
                                    : "prefill";
  return onDevice(call, device, [&](MMKernelContext *context) -> Error {
    gpu::GpuStream stream = device.getStream();
    DeviceMemory memory(*gpuDevice, stream);
    if (Error err = memory.allocate(logitOffset + logitSize))
      return err;
    gpuDevice->nameAllocation(
        memory.get(),
        ("the buffer of a " + call + " call (the tokens at byte 0, " +
         (lengths ? "the lengths at byte " + llvm::Twine(lengthsOffset) + ", "
                  : llvm::Twine()) +
         "the logits at byte " + llvm::Twine(logitOffset) + ")")
            .str());
    auto *deviceTokens = reinterpret_cast<int32_t *>(memory.get());
    auto *deviceLengths =
        lengths ? reinterpret_cast<int32_t *>(memory.get() + lengthsOffset)
                : nullptr;
    auto *deviceLogits = reinterpret_cast<float *>(memory.get() + logitOffset);
    if (Error err =
            gpuDevice->copyToDevice(deviceTokens, tokens, tokenSize, stream))
      return err;
    if (lengths)
      if (Error err = gpuDevice->copyToDevice(deviceLengths, lengths,
                                              lengthsSize, stream))
        return err;
    callRun(entry, context, static_cast<float *>(deviceWeights),
            weightArgumentSize(), device.data(), stateSize, deviceTokens,
            deviceLengths, batch, time, deviceLogits, logitRows, vocab);
    if (Error err = gpu::takeMgpuError())
      return err;
    if (Error err =
            gpuDevice->copyToHost(logits, deviceLogits, logitSize, stream))
      return err;
    return memory.release();
  });
}

Expected<bool> CompiledModel::replayStep(const int32_t *tokens,
                                         DeviceState &device,
                                         float *logits) const {
  const int64_t batch = device.size() / stateBytes,
                vocab = modelConfig.vocabSize;
  bool replayed = false;
  Error error =
      onDevice("decode", device, [&](MMKernelContext *context) -> Error {
        gpu::GpuStream stream = device.getStream();
        Expected<DeviceState::StepBuffers> buffers =
            device.stepBuffers(batch, vocab);
        if (!buffers)
          return buffers.takeError();
        if (Error err = gpuDevice->copyToDevice(
                buffers->tokens, tokens, batch * sizeof(int32_t), stream))
          return err;
        gpu::GpuGraph *graph = device.getStepGraph(modelId);
        if (!graph) {
          // One capture at a time in the process (a device captures one stream
          // at a time); capturing launches nothing, so the wait is short.
          static std::mutex captureMutex;
          std::lock_guard<std::mutex> lock(captureMutex);
          if (Error err = gpuDevice->beginCapture(stream)) {
            // This driver or device cannot capture: steps launch directly.
            llvm::consumeError(std::move(err));
            device.captureFailed = true;
            return Error::success();
          }
          callRun(decodeFn, context, static_cast<float *>(deviceWeights),
                  weightArgumentSize(), device.data(), device.size(),
                  buffers->tokens, /*lengths=*/nullptr, batch, 1,
                  buffers->logits, 1, vocab);
          Error launches = gpu::takeMgpuError();
          Expected<std::unique_ptr<gpu::GpuGraph>> captured =
              gpuDevice->endCapture(stream);
          if (launches || !captured) {
            llvm::consumeError(std::move(launches));
            llvm::consumeError(captured.takeError());
            device.captureFailed = true;
            return Error::success();
          }
          device.setStepGraph(std::move(*captured), modelId);
          graph = device.getStepGraph(modelId);
        }
        if (Error err = graph->launch(stream))
          return err;
        replayed = true;
        return gpuDevice->copyToHost(logits, buffers->logits,
                                     batch * vocab * sizeof(float), stream);
      });
  if (error)
    return std::move(error);
  return replayed;
}

Expected<std::vector<float>>
CompiledModel::prefill(llvm::ArrayRef<int32_t> tokens, int64_t time,
                       CompiledState &state,
                       const PrefillOptions &options) const {
  return runTokens(tokens, time, state, options, /*graphs=*/false);
}

Expected<std::vector<float>>
CompiledModel::decode(llvm::ArrayRef<int32_t> tokens, CompiledState &state,
                      const DecodeOptions &options) const {
  return runTokens(tokens, 1, state, PrefillOptions{PromptLogits::All, 1},
                   options.graphs);
}

Expected<std::vector<float>>
CompiledModel::runTokens(llvm::ArrayRef<int32_t> tokens, int64_t time,
                         CompiledState &state, const PrefillOptions &options,
                         bool graphs) const {
  if (Error err = checkInputs(tokens, time, options.lengths, state))
    return std::move(err);
  if (options.chunkTokens < 0 || options.chunkTokens > kMaxChunkTokens)
    return makeError("a chunk of " + std::to_string(options.chunkTokens) +
                     " tokens: chunks hold 1 to " +
                     std::to_string(kMaxChunkTokens) + " tokens (0: no limit)");
  const int64_t batch = state.batch, vocab = modelConfig.vocabSize;
  // A batch of different lengths (right-padded to `time`) runs up to its
  // longest sequence; each sequence's chunks end at its length.
  const bool ragged = !options.lengths.empty();
  auto lengthOf = [&](int64_t b) { return ragged ? options.lengths[b] : time; };
  int64_t longest = 0;
  for (int64_t b = 0; b < batch; ++b) {
    longest = std::max(longest, lengthOf(b));
    if (lengthOf(b) == 0 && options.logits == PromptLogits::Last)
      return makeError("sequence " + std::to_string(b) +
                       " has no tokens, so no last logits (ask for all "
                       "logits or none)");
  }
  const int64_t chunk = std::max<int64_t>(
      1, options.chunkTokens == 0 ? longest
                                  : std::min(longest, options.chunkTokens));
  // Without all logits the chunks run prefill_last: the language-model head
  // on each sequence's last row only.
  const bool lastOnly = options.logits != PromptLogits::All;
  const int64_t chunkRows = lastOnly ? 1 : chunk;
  // Sizes: the result and one chunk's tokens and logits.
  // (batch x time fits: checkInputs.)
  std::optional<int64_t> resultSize =
      options.logits == PromptLogits::All    ? checkedMul(batch * time, vocab)
      : options.logits == PromptLogits::Last ? checkedMul(batch, vocab)
                                             : std::optional<int64_t>(0);
  std::optional<int64_t> chunkLogits = checkedMul(batch * chunkRows, vocab);
  if (!resultSize || !chunkLogits ||
      *resultSize > std::numeric_limits<int64_t>::max() / 4 ||
      *chunkLogits > std::numeric_limits<int64_t>::max() / 4)
    return makeError("logits of " + std::to_string(batch) + " x " +
                     std::to_string(time) + " tokens x " +
                     std::to_string(vocab) + " do not fit in memory");
  if (Error err = checkFitsInMemory(4 * (*resultSize + *chunkLogits),
                                    "the logits of " + llvm::Twine(batch) +
                                        " x " + llvm::Twine(time) +
                                        " tokens (ask for fewer logits or a "
                                        "smaller chunk)"))
    return std::move(err);
  // Every call but a whole uniform batch gets its tokens copied: a chunk's
  // rows, with the padding past each sequence's length zero (a valid token
  // the compiled code may embed; nothing reads what it computes).
  const bool copyTokens = ragged || (batch > 1 && chunk < time);
  std::vector<float> result, scratch;
  std::vector<int32_t> chunkTokens, chunkLengths;
  std::vector<uint8_t> saved;
  try {
    // The rows of all logits past a sequence's length stay NaN.
    result.assign(*resultSize,
                  ragged ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
    scratch.resize(*chunkLogits);
    if (copyTokens)
      chunkTokens.resize(batch * chunk);
    if (ragged)
      chunkLengths.resize(batch);
    // The compiled code updates the state in place: a copy to go back to
    // when a chunk fails or its logits are not finite (on the device for a
    // GPU state).
    if (!state.device)
      saved = state.bytes;
  } catch (const std::bad_alloc &) {
    return makeError("out of memory for the logits of " +
                     std::to_string(batch) + " x " + std::to_string(time) +
                     " tokens (" +
                     std::to_string(4 * (*resultSize + *chunkLogits)) +
                     " bytes); ask for fewer logits or a smaller chunk");
  }
  if (state.device)
    if (Error err = state.device->saveCopy())
      return fail("saving a copy of the state on " + gpuDevice->getSpec() +
                  ": " + llvm::toString(std::move(err)));
  auto restore = [&](Error error) -> Error {
    if (!state.device) {
      state.bytes = std::move(saved);
      return error;
    }
    DeviceState &device = *state.device;
    Error restored = llvm::joinErrors(
        device.restoreCopy(), gpuDevice->synchronize(device.getStream()));
    if (!restored)
      return error;
    return makeError(llvm::toString(std::move(error)) +
                     "; and restoring the state failed too (it is lost): " +
                     llvm::toString(std::move(restored)));
  };
  for (int64_t start = 0; start < longest; start += chunk) {
    const int64_t length = std::min(chunk, longest - start);
    // Sequence b's tokens in this chunk.
    auto tokensIn = [&](int64_t b) {
      return std::clamp<int64_t>(lengthOf(b) - start, 0, length);
    };
    const int32_t *chunkStart = tokens.data() + start;
    if (copyTokens) {
      for (int64_t b = 0; b < batch; ++b) {
        int32_t *row = chunkTokens.data() + b * length;
        std::copy_n(tokens.data() + b * time + start, tokensIn(b), row);
        std::fill(row + tokensIn(b), row + length, 0);
        if (ragged)
          chunkLengths[b] = static_cast<int32_t>(tokensIn(b));
      }
      chunkStart = chunkTokens.data();
    }
    if (Error err = runChunk(chunkStart, ragged ? chunkLengths.data() : nullptr,
                             length, state, scratch.data(), graphs, lastOnly))
      return restore(std::move(err));
    for (int64_t b = 0; b < batch; ++b) {
      // The sequence's rows of this chunk: all its tokens', or the last's.
      const int64_t rowCount =
          lastOnly ? std::min<int64_t>(tokensIn(b), 1) : tokensIn(b);
      const int64_t firstRow = start + tokensIn(b) - rowCount;
      const float *rows = scratch.data() + b * (lastOnly ? 1 : length) * vocab;
      // Logits that are not finite poison everything after them.
      for (int64_t i = 0; i < rowCount * vocab; ++i)
        if (!std::isfinite(rows[i]))
          return restore(makeError(
              "the logits " +
              (batch == 1 ? std::string()
                          : "of sequence " + std::to_string(b) + " ") +
              "at position " + std::to_string(firstRow + i / vocab) +
              " are not finite (" + std::to_string(rows[i]) +
              "): the weights or the state hold NaN or infinite values, or "
              "the model overflowed"));
      if (options.logits == PromptLogits::All)
        std::copy_n(rows, tokensIn(b) * vocab,
                    result.data() + (b * time + start) * vocab);
      else if (options.logits == PromptLogits::Last && tokensIn(b) > 0 &&
               start + tokensIn(b) == lengthOf(b))
        std::copy_n(rows, vocab, result.data() + b * vocab);
    }
  }
  return result;
}
