//===- mm-sim-kernel.cpp - run one GPU kernel on the simulator ------------===//
//
// Runs one kernel of an MLIR file's gpu.module on the simulator device, as
// GPU artifacts run there: the host copy mm-simulator-pipeline builds (the
// same passes mm-compile uses for artifacts), compiled and loaded, then
// launched with buffers this tool makes. For kernel authors, and for the
// tests that prove each of the simulator's checks fires on a broken kernel.
//
//   mm-sim-kernel kernels.mlir --target=cuda:sm_90 --kernel=block_sum \
//       --grid=1 --block=64 --arg=iota --arg=zeros --print
//
// One --arg per kernel argument, in order: a number for a scalar; for a
// memref, how to fill it (iota, random, zeros or fill=V) and, for a memref
// with dynamic sizes, the sizes after a colon (random:4x8); memrefs of f32,
// i32, bf16 and f16 (the fills rounded to nearest even). --print prints
// every memref argument after the launch; --counters the simulator's
// counters. --check-gemm=A,W,C compares memref C with the product
// A * W^T computed on the host in double from the same (rounded) inputs. A failed check is an error (exit status 1) naming the kernel,
// block, thread, buffer and index.
//
//===----------------------------------------------------------------------===//

#include "lowering/ArtifactWriter.h"
#include "lowering/Pipelines.h"
#include "runtime/MemoryLoadedLibrary.h"
#include "runtime/gpu/SimDevice.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/bit.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

#include <cmath>
#include <cstring>
#include <random>

using namespace mlir;
namespace cl = llvm::cl;

namespace {

cl::OptionCategory category("mm-sim-kernel options");
cl::opt<std::string> inputPath(cl::Positional, cl::Required,
                               cl::desc("<kernels.mlir>"), cl::cat(category));
cl::opt<std::string> target("target",
                            cl::desc("The GPU target the kernels are for "
                                     "(cuda:sm_90, hip:gfx942, ...)"),
                            cl::init("cuda:sm_90"), cl::cat(category));
cl::opt<std::string> kernelName("kernel", cl::Required,
                                cl::desc("The kernel to launch"),
                                cl::cat(category));
cl::opt<std::string> gridFlag("grid", cl::desc("Blocks: X[,Y[,Z]]"),
                              cl::init("1"), cl::cat(category));
cl::opt<std::string> blockFlag("block", cl::desc("Threads per block: X[,Y[,Z]]"),
                               cl::init("1"), cl::cat(category));
cl::opt<unsigned> sharedBytes("shared-bytes",
                              cl::desc("Dynamic shared memory per block"),
                              cl::init(0), cl::cat(category));
cl::list<std::string> argFlags("arg",
                               cl::desc("One per kernel argument, in order"),
                               cl::cat(category));
cl::opt<bool> print("print",
                    cl::desc("Print the memref arguments after the launch"),
                    cl::cat(category));
cl::opt<bool> counters("counters", cl::desc("Print the simulator's counters"),
                       cl::cat(category));
cl::opt<std::string> checkGemm(
    "check-gemm",
    cl::desc("A,W,C: argument numbers of a GEMM C[M,N] = A[M,K] * W[N,K]^T; "
             "after the launch C is compared with the product in double"),
    cl::cat(category));
cl::opt<std::string> gemmRound(
    "gemm-round",
    cl::desc("none, bf16 or f16: the type the kernel rounds A and W to "
             "before multiplying (the host product rounds them too)"),
    cl::init("none"), cl::cat(category));
cl::opt<double> tolerance(
    "tolerance",
    cl::desc("--check-gemm: the largest error allowed, relative to "
             "sum |a| |w| of each element"),
    cl::init(1e-5), cl::cat(category));
cl::opt<unsigned> seed("seed", cl::desc("Seed of the random fills"),
                       cl::init(1), cl::cat(category));

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// Bytes of one element of a memref the tool fills.
size_t elementBytes(Type element) {
  return element.isF32() || element.isInteger(32) ? 4 : 2;
}

/// `value` rounded to bf16 (nearest even), as its 16 bits.
uint16_t toBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fff + ((bits >> 16) & 1);
  return static_cast<uint16_t>(bits >> 16);
}

float fromBF16(uint16_t half) {
  uint32_t bits = uint32_t(half) << 16;
  float value;
  std::memcpy(&value, &bits, 4);
  return value;
}

/// `value` rounded to f16 (nearest even) and back.
float roundF16(float value) {
  return static_cast<float>(static_cast<_Float16>(value));
}

/// One element of a buffer as a float (f32, i32, bf16 or f16).
float elementAt(Type element, const std::vector<uint8_t> &bytes, int64_t i) {
  if (element.isF32()) {
    float value;
    std::memcpy(&value, &bytes[4 * i], 4);
    return value;
  }
  if (element.isInteger(32)) {
    int32_t value;
    std::memcpy(&value, &bytes[4 * i], 4);
    return static_cast<float>(value);
  }
  uint16_t half;
  std::memcpy(&half, &bytes[2 * i], 2);
  if (element.isBF16())
    return fromBF16(half);
  return static_cast<float>(llvm::bit_cast<_Float16>(half));
}

llvm::Expected<mm::gpu::Dim3> parseDim3(llvm::StringRef flag,
                                        llvm::StringRef text) {
  llvm::SmallVector<llvm::StringRef> parts;
  text.split(parts, ',');
  unsigned values[3] = {1, 1, 1};
  if (parts.size() > 3)
    return makeError("--" + flag + "=" + text + ": at most three sizes");
  for (auto [i, part] : llvm::enumerate(parts))
    if (part.trim().getAsInteger(10, values[i]) || values[i] == 0)
      return makeError("--" + flag + "=" + text +
                       ": sizes are positive integers (X[,Y[,Z]])");
  return mm::gpu::Dim3{values[0], values[1], values[2]};
}

/// One kernel argument as the launch passes it: its storage, and for a
/// memref its device buffer.
struct Argument {
  std::string spec;
  MemRefType memref;
  /// The memref's sizes, elements and device buffer.
  llvm::SmallVector<int64_t> sizes;
  int64_t elements = 0;
  void *buffer = nullptr;
  /// The expanded parameters' values (a memref: allocated, aligned,
  /// offset, sizes, strides; a scalar: one value), 8 bytes each.
  llvm::SmallVector<uint64_t> fields;
};

/// Builds argument `index` of type `type` from its --arg text.
llvm::Expected<Argument> makeArgument(mm::gpu::GpuDevice &device,
                                      unsigned index, Type type,
                                      llvm::StringRef spec, std::mt19937 &rng) {
  Argument argument;
  argument.spec = spec.str();
  std::string where = "--arg #" + std::to_string(index) + " (" + spec.str() +
                      ")";
  auto memref = dyn_cast<MemRefType>(type);
  if (!memref) {
    uint64_t bits = 0;
    if (type.isIndex() || type.isInteger()) {
      int64_t value;
      if (spec.getAsInteger(10, value))
        return makeError(where + ": the kernel takes an integer here");
      bits = static_cast<uint64_t>(value);
    } else if (type.isF32() || type.isF64()) {
      double value;
      if (spec.getAsDouble(value))
        return makeError(where + ": the kernel takes a number here");
      if (type.isF32()) {
        float single = static_cast<float>(value);
        std::memcpy(&bits, &single, sizeof(single));
      } else {
        std::memcpy(&bits, &value, sizeof(value));
      }
    } else {
      std::string name;
      llvm::raw_string_ostream(name) << type;
      return makeError(where + ": arguments of type " + name +
                       " are not supported");
    }
    argument.fields.push_back(bits);
    return argument;
  }

  argument.memref = memref;
  Type element = memref.getElementType();
  if (!element.isF32() && !element.isInteger(32) && !element.isBF16() &&
      !element.isF16())
    return makeError(where + ": memrefs of f32, i32, bf16 or f16 only");
  auto [fill, dims] = spec.split(':');
  llvm::SmallVector<llvm::StringRef> dimTexts;
  if (!dims.empty())
    dims.split(dimTexts, 'x');
  if (memref.hasStaticShape() && dimTexts.empty()) {
    argument.sizes.assign(memref.getShape().begin(), memref.getShape().end());
  } else {
    if (dimTexts.size() != static_cast<size_t>(memref.getRank()))
      return makeError(where + ": give the " +
                       std::to_string(memref.getRank()) +
                       " sizes of this memref after a colon (random:4x8)");
    for (auto [i, text] : llvm::enumerate(dimTexts)) {
      int64_t size;
      if (text.getAsInteger(10, size) || size < 0 ||
          (!ShapedType::isDynamic(memref.getDimSize(i)) &&
           size != memref.getDimSize(i)))
        return makeError(where + ": size " + text +
                         " does not fit the memref's shape");
      argument.sizes.push_back(size);
    }
  }
  argument.elements = 1;
  for (int64_t size : argument.sizes)
    argument.elements *= size;

  size_t width = elementBytes(element);
  std::vector<uint8_t> host(width * argument.elements);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int64_t i = 0; i < argument.elements; ++i) {
    float value = 0;
    if (fill == "iota")
      value = static_cast<float>(i);
    else if (fill == "random")
      value = uniform(rng);
    else if (fill.starts_with("fill=")) {
      // (Each element parses the text again: fill keeps its prefix.)
      double parsed;
      if (fill.drop_front(5).getAsDouble(parsed))
        return makeError(where + ": fill=V takes a number");
      value = static_cast<float>(parsed);
    } else if (fill != "zeros") {
      return makeError(where + ": a memref is filled with iota, random, "
                               "zeros or fill=V");
    }
    if (element.isF32()) {
      std::memcpy(&host[4 * i], &value, 4);
    } else if (element.isInteger(32)) {
      int32_t integer = static_cast<int32_t>(value);
      std::memcpy(&host[4 * i], &integer, 4);
    } else {
      uint16_t half = element.isBF16()
                          ? toBF16(value)
                          : llvm::bit_cast<uint16_t>(static_cast<_Float16>(value));
      std::memcpy(&host[2 * i], &half, 2);
    }
  }
  size_t bytes = std::max<size_t>(4, host.size());
  llvm::Expected<void *> buffer = device.allocate(bytes);
  if (!buffer)
    return buffer.takeError();
  argument.buffer = *buffer;
  device.nameAllocation(argument.buffer,
                        "the buffer of --arg #" + std::to_string(index));
  if (argument.elements)
    if (llvm::Error error =
            device.copyToDevice(argument.buffer, host.data(), host.size()))
      return std::move(error);

  auto pointer = reinterpret_cast<uint64_t>(argument.buffer);
  argument.fields = {pointer, pointer, 0};
  argument.fields.append(argument.sizes.begin(), argument.sizes.end());
  llvm::SmallVector<uint64_t> strides(argument.sizes.size(), 1);
  for (int64_t i = static_cast<int64_t>(strides.size()) - 2; i >= 0; --i)
    strides[i] = strides[i + 1] * argument.sizes[i + 1];
  argument.fields.append(strides.begin(), strides.end());
  return argument;
}

/// The bytes of a memref argument's device buffer.
llvm::Expected<std::vector<uint8_t>> readBack(mm::gpu::GpuDevice &device,
                                              const Argument &argument) {
  std::vector<uint8_t> host(elementBytes(argument.memref.getElementType()) *
                            argument.elements);
  if (!host.empty())
    if (llvm::Error error =
            device.copyToHost(host.data(), argument.buffer, host.size()))
      return std::move(error);
  if (llvm::Error error = device.synchronize())
    return std::move(error);
  return host;
}

/// --check-gemm: C against A * W^T in double, on the inputs rounded as the
/// kernel rounds them; the error of each element relative to the sum of
/// |a| |w| over k (what the f32 sums' rounding scales with).
llvm::Error checkGemmResult(mm::gpu::GpuDevice &device,
                            llvm::ArrayRef<Argument> arguments) {
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(checkGemm).split(parts, ',');
  unsigned numbers[3] = {0, 0, 0};
  bool bad = parts.size() != 3;
  for (size_t i = 0; !bad && i < 3; ++i)
    bad = parts[i].getAsInteger(10, numbers[i]) ||
          numbers[i] >= arguments.size() || !arguments[numbers[i]].memref ||
          arguments[numbers[i]].sizes.size() != 2;
  if (bad)
    return makeError("--check-gemm=" + checkGemm +
                     ": give A,W,C as the numbers of three 2-D memref "
                     "arguments");
  const Argument &a = arguments[numbers[0]], &w = arguments[numbers[1]],
                 &c = arguments[numbers[2]];
  int64_t m = a.sizes[0], k = a.sizes[1], n = w.sizes[0];
  if (w.sizes[1] != k || c.sizes[0] != m || c.sizes[1] != n ||
      !c.memref.getElementType().isF32())
    return makeError("--check-gemm: sizes A " + llvm::Twine(m) + "x" +
                     llvm::Twine(k) + ", W " + llvm::Twine(w.sizes[0]) + "x" +
                     llvm::Twine(w.sizes[1]) + ", C " +
                     llvm::Twine(c.sizes[0]) + "x" + llvm::Twine(c.sizes[1]) +
                     " (f32) do not make C = A W^T");
  if (gemmRound != "none" && gemmRound != "bf16" && gemmRound != "f16")
    return makeError("--gemm-round=" + gemmRound +
                     ": expected none, bf16 or f16");
  auto round = [](float value) -> double {
    if (gemmRound == "bf16")
      return fromBF16(toBF16(value));
    if (gemmRound == "f16")
      return roundF16(value);
    return value;
  };
  auto values = [&](const Argument &argument,
                    bool rounded) -> llvm::Expected<std::vector<double>> {
    llvm::Expected<std::vector<uint8_t>> bytes = readBack(device, argument);
    if (!bytes)
      return bytes.takeError();
    std::vector<double> result(argument.elements);
    Type element = argument.memref.getElementType();
    for (int64_t i = 0; i < argument.elements; ++i) {
      float value = elementAt(element, *bytes, i);
      result[i] = rounded ? round(value) : value;
    }
    return result;
  };
  auto av = values(a, true);
  if (!av)
    return av.takeError();
  auto wv = values(w, true);
  if (!wv)
    return wv.takeError();
  auto cv = values(c, false);
  if (!cv)
    return cv.takeError();
  double worst = 0;
  int64_t worstIndex = 0;
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double sum = 0, scale = 0;
      for (int64_t x = 0; x < k; ++x) {
        double product = (*av)[i * k + x] * (*wv)[j * k + x];
        sum += product;
        scale += std::fabs(product);
      }
      double got = (*cv)[i * n + j];
      double error = std::fabs(got - sum) / std::max(scale, 1e-30);
      if (!(error <= worst)) { // a NaN is the worst
        worst = std::isnan(error) ? INFINITY : error;
        worstIndex = i * n + j;
      }
    }
  llvm::outs() << llvm::formatv("gemm check M={0} N={1} K={2}: max relative "
                                "error {3:e2} (tolerance {4:e2})\n",
                                m, n, k, worst, tolerance.getValue());
  if (worst > tolerance)
    return makeError(llvm::formatv("C[{0}][{1}] = {2} is off the host "
                                   "product by {3:e2} relative, more than "
                                   "{4:e2}",
                                   worstIndex / n, worstIndex % n,
                                   (*cv)[worstIndex], worst,
                                   tolerance.getValue())
                         .str());
  return llvm::Error::success();
}

llvm::Error printArguments(mm::gpu::GpuDevice &device,
                           llvm::ArrayRef<Argument> arguments) {
  for (auto [index, argument] : llvm::enumerate(arguments)) {
    if (!argument.memref)
      continue;
    llvm::Expected<std::vector<uint8_t>> host = readBack(device, argument);
    if (!host)
      return host.takeError();
    Type element = argument.memref.getElementType();
    llvm::outs() << "arg " << index << ":";
    for (int64_t i = 0; i < argument.elements; ++i) {
      if (element.isInteger(32))
        llvm::outs() << " "
                     << static_cast<int32_t>(elementAt(element, *host, i));
      else
        llvm::outs() << " " << llvm::format("%g", elementAt(element, *host, i));
    }
    llvm::outs() << "\n";
  }
  return llvm::Error::success();
}

llvm::Error run() {
  DialectRegistry registry;
  registry.insert<amdgpu::AMDGPUDialect, arith::ArithDialect,
                  func::FuncDialect, gpu::GPUDialect, LLVM::LLVMDialect,
                  math::MathDialect, memref::MemRefDialect,
                  nvgpu::NVGPUDialect, scf::SCFDialect,
                  vector::VectorDialect>();
  mm::registerArtifactTranslations(registry);
  mm::registerLoweringInterfaces(registry);
  MLIRContext context(registry);
  llvm::SourceMgr sources;
  auto file = llvm::MemoryBuffer::getFileOrSTDIN(inputPath);
  if (!file)
    return makeError(inputPath + ": " + file.getError().message());
  sources.AddNewSourceBuffer(std::move(*file), llvm::SMLoc());
  SourceMgrDiagnosticHandler diagnostics(sources, &context);
  OwningOpRef<ModuleOp> module = parseSourceFile<ModuleOp>(sources, &context);
  if (!module)
    return makeError(inputPath + ": cannot parse it");

  gpu::GPUFuncOp kernel;
  module->walk([&](gpu::GPUFuncOp function) {
    if (function.isKernel() && function.getName() == kernelName)
      kernel = function;
  });
  if (!kernel)
    return makeError(inputPath + " has no kernel named '" + kernelName + "'");
  llvm::SmallVector<Type> types(kernel.getFunctionType().getInputs());
  if (argFlags.size() != types.size())
    return makeError("kernel " + kernelName + " takes " +
                     std::to_string(types.size()) + " arguments; " +
                     std::to_string(argFlags.size()) + " --arg given");

  PassManager pm(&context);
  mm::CompilePipelineOptions options;
  options.target = target;
  if (llvm::Error error = mm::buildSimulatorPipeline(pm, options))
    return error;
  if (failed(pm.run(*module)))
    return makeError(inputPath + ": compiling the kernels' host copies failed");
  llvm::Expected<std::string> library =
      mm::compileHostLibrary(*module, mm::HostTarget::detect());
  if (!library)
    return library.takeError();
  mm::MemoryLoadedLibrary loaded;
  if (llvm::Error error = loaded.load(*library, "mm-sim-kernel"))
    return error;

  mm::gpu::SimDevice device;
  auto gpuModule = device.loadHostKernels(loaded.handle());
  if (!gpuModule)
    return gpuModule.takeError();
  auto function = device.getFunction(*gpuModule, kernelName);
  if (!function)
    return function.takeError();
  llvm::Expected<mm::gpu::Dim3> grid = parseDim3("grid", gridFlag);
  if (!grid)
    return grid.takeError();
  llvm::Expected<mm::gpu::Dim3> block = parseDim3("block", blockFlag);
  if (!block)
    return block.takeError();

  std::mt19937 rng(seed);
  llvm::SmallVector<Argument> arguments;
  for (auto [index, type] : llvm::enumerate(types)) {
    llvm::Expected<Argument> argument =
        makeArgument(device, index, type, argFlags[index], rng);
    if (!argument)
      return argument.takeError();
    arguments.push_back(std::move(*argument));
  }
  // kernelParams: a pointer to each expanded parameter (an i32 or f32
  // scalar is read from the low 4 bytes of its slot: little-endian).
  llvm::SmallVector<void *> params;
  for (Argument &argument : arguments)
    for (uint64_t &field : argument.fields)
      params.push_back(&field);
  llvm::Error launched = device.launch(*function, *grid, *block, sharedBytes,
                                       nullptr, params.data());
  if (launched)
    return launched;
  llvm::outs() << "kernel " << kernelName << " ran on the simulator ("
               << target << ")\n";
  if (print)
    if (llvm::Error error = printArguments(device, arguments))
      return error;
  if (!checkGemm.empty())
    if (llvm::Error error = checkGemmResult(device, arguments))
      return error;
  if (counters)
    for (const mm::gpu::SimKernelCounters &kernelCounters :
         device.getCounters())
      llvm::outs() << "counters " << kernelCounters.name << ": launches "
                   << kernelCounters.launches << ", threads "
                   << kernelCounters.threads << ", global bytes read "
                   << kernelCounters.globalLoadBytes << ", written "
                   << kernelCounters.globalStoreBytes
                   << ", shared bytes read " << kernelCounters.sharedLoadBytes
                   << ", written " << kernelCounters.sharedStoreBytes
                   << ", barriers " << kernelCounters.barriers
                   << ", shuffles " << kernelCounters.shuffles << ", flops "
                   << kernelCounters.flops << "\n";
  for (Argument &argument : arguments)
    if (argument.buffer)
      if (llvm::Error error = device.free(argument.buffer))
        return error;
  if (llvm::Error error = device.unloadModule(*gpuModule))
    return error;
  return llvm::Error::success();
}

} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  cl::ParseCommandLineOptions(argc, argv,
                              "Runs one GPU kernel on the simulator device\n");
  if (llvm::Error error = run()) {
    llvm::WithColor::error(llvm::errs(), "mm-sim-kernel")
        << llvm::toString(std::move(error)) << "\n";
    return 1;
  }
  return 0;
}
