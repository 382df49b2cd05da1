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
// with dynamic sizes, the sizes after a colon (random:4x8). --print prints
// every memref argument after the launch; --counters the simulator's
// counters. A failed check is an error (exit status 1) naming the kernel,
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
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/WithColor.h"

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
cl::opt<unsigned> seed("seed", cl::desc("Seed of the random fills"),
                       cl::init(1), cl::cat(category));

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
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
  if (!element.isF32() && !element.isInteger(32))
    return makeError(where + ": memrefs of f32 or i32 only");
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

  std::vector<uint32_t> host(argument.elements);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (int64_t i = 0; i < argument.elements; ++i) {
    float value = 0;
    if (fill == "iota")
      value = static_cast<float>(i);
    else if (fill == "random")
      value = uniform(rng);
    else if (fill.consume_front("fill=")) {
      double parsed;
      if (fill.getAsDouble(parsed))
        return makeError(where + ": fill=V takes a number");
      value = static_cast<float>(parsed);
    } else if (fill != "zeros") {
      return makeError(where + ": a memref is filled with iota, random, "
                               "zeros or fill=V");
    }
    if (element.isF32())
      std::memcpy(&host[i], &value, 4);
    else
      host[i] = static_cast<uint32_t>(static_cast<int32_t>(value));
  }
  size_t bytes = std::max<size_t>(4, 4 * argument.elements);
  llvm::Expected<void *> buffer = device.allocate(bytes);
  if (!buffer)
    return buffer.takeError();
  argument.buffer = *buffer;
  device.nameAllocation(argument.buffer,
                        "the buffer of --arg #" + std::to_string(index));
  if (argument.elements)
    if (llvm::Error error =
            device.copyToDevice(argument.buffer, host.data(), 4 * host.size()))
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

llvm::Error printArguments(mm::gpu::GpuDevice &device,
                           llvm::ArrayRef<Argument> arguments) {
  for (auto [index, argument] : llvm::enumerate(arguments)) {
    if (!argument.memref)
      continue;
    std::vector<uint32_t> host(argument.elements);
    if (argument.elements)
      if (llvm::Error error = device.copyToHost(host.data(), argument.buffer,
                                                4 * host.size()))
        return error;
    if (llvm::Error error = device.synchronize())
      return error;
    llvm::outs() << "arg " << index << ":";
    for (uint32_t bits : host) {
      if (argument.memref.getElementType().isF32()) {
        float value;
        std::memcpy(&value, &bits, 4);
        llvm::outs() << " " << llvm::format("%g", value);
      } else {
        llvm::outs() << " " << static_cast<int32_t>(bits);
      }
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
