//===- TargetInfo.h - what the lowering needs to know of a target -*- C++ -*-===//
//
// The one place that knows targets (ARCHITECTURE.md section 1): the spec
// strings mm-compile accepts (`cpu`, `cuda:sm_90`, `hip:gfx942`, ...), and per
// target the facts kernels are shaped by: vendor, chip, LLVM triple and
// features, subgroup width, threads per block, shared memory, and the
// intrinsics that replace math library calls on the device.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_TARGETINFO_H
#define MM_LOWERING_TARGETINFO_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace mm {

enum class TargetKind { Cpu, Cuda, Hip };

struct TargetInfo {
  TargetKind kind = TargetKind::Cpu;
  /// "sm_90", "gfx942"; empty for the CPU (the host CPU is detected).
  std::string chip;
  /// The device triple ("nvptx64-nvidia-cuda", "amdgcn-amd-amdhsa").
  std::string triple;
  /// LLVM target features of the device code ("" = the chip's default).
  std::string features;
  /// Threads that execute in lock step: a warp (32) or a wavefront (64).
  int64_t subgroupWidth = 1;
  /// Threads per block of the generated kernels.
  int64_t threadsPerBlock = 1;
  /// Shared (workgroup) memory a block may use without opting in, bytes.
  int64_t sharedMemoryBytes = 0;
  /// The default weight rows per task of a matrix product: a CPU core takes
  /// a block of 64 (its L2 holds them), a GPU thread 4 (one pass over an
  /// input row), so the outputs spread over thousands of threads.
  int64_t defaultGemmRows = 64;
  /// The default input rows per tile of a matrix product: on the CPU the
  /// register tile of the GEMM schedule (4 tokens x 3 channels), on a GPU
  /// the loop emitters' tile of 8.
  int64_t defaultGemmTokens = 4;
  /// The default weight rows sharing each load of an input row: on the CPU
  /// 3, the register tile's channels (4 x 3 accumulators of 8 lanes and the
  /// 3 rows' vectors fill AVX2's 16 registers without spilling), on a GPU
  /// the loop emitters' 4.
  int64_t defaultGemmRowsAtOnce = 3;
  /// The default channels per task of the selective scan: 16 on a CPU (the
  /// channels of one cache line advance through time together), 1 on a GPU
  /// (neighbouring threads already share the lines).
  int64_t defaultScanChannels = 16;

  bool isGpu() const { return kind != TargetKind::Cpu; }
  /// "cpu", "cuda" or "hip" (the manifest's target kind).
  llvm::StringRef kindName() const;
  /// The spec string: "cpu", "cuda:sm_90".
  std::string spec() const;
  /// The LLVM intrinsic computing 2^x (f32) on the device.
  llvm::StringRef exp2Intrinsic() const;
  /// The LLVM intrinsic computing log2(x) (f32) on the device.
  llvm::StringRef log2Intrinsic() const;

  /// Parses a --target value; the error lists what is supported.
  static llvm::Expected<TargetInfo> parse(llvm::StringRef spec);
  /// The targets parse() accepts, for help texts and errors.
  static llvm::StringRef supportedList();
};

} // namespace mm

#endif // MM_LOWERING_TARGETINFO_H
