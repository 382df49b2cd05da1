//===- SimBuiltins.cpp - compiler builtins the host copies call -----------===//
//
// The simulator runs the host copies of GPU kernels, compiled for this CPU.
// Where the CPU lacks an instruction, LLVM calls a compiler-rt builtin, which
// the artifact (a shared library nothing links builtins into) resolves
// against the process at load time, like the mgpu* and mmsim_* functions.
// Host copies that build bf16 vectors from scalars (the tensor-core GEMM
// kernels' fragments) round f32 to bf16 through __truncsfbf2 on CPUs without
// AVX512-BF16; GCC 12's libgcc does not have it, so the runtime does.
//
//===----------------------------------------------------------------------===//

#include <cstdint>
#include <cstring>

/// f32 to bf16, rounded to nearest even; NaN stays NaN (quiet). The result
/// is returned as compiler-rt's is: its 16 bits in the low half of %xmm0,
/// the register of a 16-bit float (_Float16 here, the same class as __bf16
/// in the x86-64 psABI).
extern "C" __attribute__((visibility("default"))) _Float16
__truncsfbf2(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  uint16_t rounded;
  if ((bits & 0x7fffffffu) > 0x7f800000u)
    rounded = uint16_t((bits >> 16) | 0x0040u);
  else
    rounded = uint16_t((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
  _Float16 result;
  std::memcpy(&result, &rounded, sizeof(result));
  return result;
}
