//===- TargetInfo.cpp - what the lowering needs to know of a target -------===//

#include "lowering/TargetInfo.h"

#include "llvm/ADT/STLExtras.h"

using namespace mm;

namespace {

struct KnownChip {
  TargetKind kind;
  const char *chip;
  int64_t sharedMemoryBytes;
};

/// The chips whose code we generate and check (ptxas, ld.lld): NVIDIA Ampere
/// and Hopper, AMD CDNA2 and CDNA3.
constexpr KnownChip kChips[] = {
    {TargetKind::Cuda, "sm_80", 48 * 1024},
    {TargetKind::Cuda, "sm_86", 48 * 1024},
    {TargetKind::Cuda, "sm_89", 48 * 1024},
    {TargetKind::Cuda, "sm_90", 48 * 1024},
    {TargetKind::Hip, "gfx90a", 64 * 1024},
    {TargetKind::Hip, "gfx942", 64 * 1024},
};

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

} // namespace

llvm::StringRef TargetInfo::supportedList() {
  return "cpu, cuda:sm_80, cuda:sm_86, cuda:sm_89, cuda:sm_90, hip:gfx90a, "
         "hip:gfx942";
}

llvm::StringRef TargetInfo::kindName() const {
  switch (kind) {
  case TargetKind::Cpu:
    return "cpu";
  case TargetKind::Cuda:
    return "cuda";
  case TargetKind::Hip:
    return "hip";
  }
  return "?";
}

std::string TargetInfo::spec() const {
  return isGpu() ? (kindName() + ":" + chip).str() : "cpu";
}

llvm::StringRef TargetInfo::exp2Intrinsic() const {
  // ex2.approx (NVIDIA) and v_exp_f32 (AMD): 2 ulp, no device library.
  return kind == TargetKind::Cuda ? "llvm.nvvm.ex2.approx.ftz.f"
                                  : "llvm.amdgcn.exp2.f32";
}

llvm::StringRef TargetInfo::log2Intrinsic() const {
  return kind == TargetKind::Cuda ? "llvm.nvvm.lg2.approx.ftz.f"
                                  : "llvm.amdgcn.log.f32";
}

llvm::Expected<TargetInfo> TargetInfo::parse(llvm::StringRef spec) {
  TargetInfo info;
  if (spec == "cpu" || spec == "host")
    return info;
  auto [vendor, chip] = spec.split(':');
  if (vendor == "cuda")
    info.kind = TargetKind::Cuda;
  else if (vendor == "hip" || vendor == "rocm")
    info.kind = TargetKind::Hip;
  else
    return makeError("unknown target '" + spec +
                     "' (supported: " + supportedList() + ")");
  const KnownChip *known = llvm::find_if(kChips, [&](const KnownChip &c) {
    return c.kind == info.kind && chip == c.chip;
  });
  if (known == std::end(kChips))
    return makeError("target '" + spec + "': " +
                     (chip.empty() ? llvm::Twine("no chip given")
                                   : "unsupported chip '" + chip + "'") +
                     " (supported: " + supportedList() + ")");
  info.chip = chip.str();
  info.sharedMemoryBytes = known->sharedMemoryBytes;
  if (info.kind == TargetKind::Cuda) {
    info.triple = "nvptx64-nvidia-cuda";
    info.subgroupWidth = 32;
  } else {
    info.triple = "amdgcn-amd-amdhsa";
    info.subgroupWidth = 64;
  }
  // Four warps, or two wavefronts, per block: enough to hide latency in the
  // loop kernels, small enough for their registers.
  info.threadsPerBlock = 128;
  info.defaultGemmRows = 4;
  info.defaultGemmTokens = 8;
  info.defaultGemmRowsAtOnce = 4;
  info.defaultScanChannels = 1;
  return info;
}
