//===- SimKernelAbi.h - GPU kernels' host copies, the simulator ---*- C -*-===//
//
// The contract between the compiler and the simulator device (`--device
// sim`, runtime/gpu/SimDevice.h): every GPU artifact carries, beside its PTX
// or hsaco, a host copy of each kernel, compiled from the same gpu.module
// taken just before the vendor conversion (lowering/SimulatorKernels.cpp).
// The simulator runs those host copies on the CPU, at the target's warp
// width.
//
// What the artifact holds (docs/artifact.md, "Host copies of the kernels"):
//   - for each kernel K of its gpu.module, an exported function
//       void __mmsim_K(void **params, MMSimThread *thread);
//     that runs K for one thread: `params` is exactly the kernelParams array
//     of the launch (mgpuLaunchKernel's `params`: one pointer per expanded
//     kernel argument, a memref being its descriptor's fields: allocated
//     pointer, aligned pointer, offset, sizes[rank], strides[rank]), and
//     `thread` says which thread of which block it is;
//   - the exported NUL-terminated JSON string `mm_sim_kernels`, describing the
//     kernels (params, memrefs, shared memory, whether threads must run
//     cooperatively) and the check sites (MM_SIM_ABI_VERSION, below).
//
// The host copies call back into the simulator through the mmsim_* functions
// below (exported by every executable that runs GPU artifacts, like the mgpu*
// ABI), and read ids and sizes straight from MMSimThread: its layout is part
// of the ABI (the compiler emits loads at these offsets).
//
// Plain C, no MLIR: included by the runtime and the compiler.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_SIMKERNELABI_H
#define MM_COMMON_SIMKERNELABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The version of this contract; `mm_sim_kernels` says which it follows and
/// the simulator refuses any other.
#define MM_SIM_ABI_VERSION 1

/// Per-worker counters. The host copies add to the first three inline (the
/// bytes of every global load and store, the floating-point operations:
/// each add, sub, mul, div, compare, min/max, negation, and math function
/// counts 1, an fma 2, an atomic float update 1, vectors per element); the
/// simulator adds the rest.
typedef struct MMSimCounters {
  uint64_t globalLoadBytes;  // offset 0
  uint64_t globalStoreBytes; // offset 8
  uint64_t flops;            // offset 16
  uint64_t sharedLoadBytes;  // offset 24
  uint64_t sharedStoreBytes; // offset 32
  uint64_t barriers;         // offset 40: barriers each thread passed
  uint64_t shuffles;         // offset 48: shuffles each lane made
  uint64_t atomics;          // offset 56
} MMSimCounters;

/// One simulated thread, as the host copy of a kernel sees it.
typedef struct MMSimThread {
  uint32_t threadId[3];    // offset 0:  gpu.thread_id x, y, z
  uint32_t blockId[3];     // offset 12: gpu.block_id
  uint32_t blockDim[3];    // offset 24: gpu.block_dim
  uint32_t gridDim[3];     // offset 36: gpu.grid_dim
  uint32_t laneId;         // offset 48: gpu.lane_id (linear id % width)
  uint32_t subgroupSize;   // offset 52: 32 (NVIDIA) or 64 (AMD)
  uint8_t *shared;         // offset 56: the block's shared memory
  MMSimCounters *counters; // offset 64: the worker's counters
  void *simulator;         // offset 72: the simulator's own (opaque)
} MMSimThread;

/// gpu.shuffle modes, as mmsim_shuffle takes them.
enum MMSimShuffleMode {
  MMSIM_SHUFFLE_XOR = 0,
  MMSIM_SHUFFLE_DOWN = 1,
  MMSIM_SHUFFLE_UP = 2,
  MMSIM_SHUFFLE_IDX = 3,
};

/// Flags of a shared-memory access.
enum MMSimAccessFlags {
  MMSIM_ACCESS_WRITE = 1,
  MMSIM_ACCESS_ATOMIC = 2,
};

/// The functions host copies call. `site` indexes the `sites` array of
/// `mm_sim_kernels` (what op, where in the source, which buffer), so that a
/// failure names them.

/// gpu.barrier: waits until every thread of the block arrives at a barrier.
void mmsim_barrier(MMSimThread *thread, int32_t site);
/// gpu.shuffle of a 32-bit value within the thread's subgroup of `width`
/// lanes (a 64-bit shuffle is two of these): returns the value in the low 32
/// bits and whether the source lane was valid in bit 32. Every lane of the
/// subgroup must take part.
uint64_t mmsim_shuffle(MMSimThread *thread, uint32_t value, int32_t offset,
                       int32_t width, int32_t mode, int32_t site);
/// Before each access of shared (workgroup) memory: `bytes` at `offset` from
/// the block's shared memory. Checks bounds, races and reads of bytes never
/// written, and counts the traffic. The access happens only if this returns
/// non-zero.
int32_t mmsim_shared_access(MMSimThread *thread, uint64_t offset,
                            uint32_t bytes, uint32_t flags, int32_t site);
/// An index out of a memref's bounds at `site`: `index` in dimension `dim`
/// of size `size`. The access is skipped (a load gives zero) and the launch
/// fails with an error naming the kernel, block, thread, buffer and index.
void mmsim_out_of_bounds(MMSimThread *thread, int32_t site, int32_t dim,
                         int64_t index, int64_t size);

/// The warp-level matrix operations mmsim_matrix_multiply computes: NVIDIA
/// mma.sync (warps of 32; nvgpu.mma_sync) and AMD MFMA (wavefronts of 64;
/// amdgpu.mfma). Each lane's fragments are flat arrays, in the row-major
/// order of the MLIR vector the op takes (the counts per lane are after
/// each name: A, B, C/D); runtime/gpu/SimMatrix.cpp says which lane holds
/// which element, and from which section of which document.
enum MMSimMatrixShape {
  /// mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32: A 4x2 f16, B 2x2
  /// f16, C/D 2x2 f32.
  MMSIM_MMA_M16N8K16_F16_F32 = 1,
  /// mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32: A 4x2 bf16, B 2x2
  /// bf16, C/D 2x2 f32.
  MMSIM_MMA_M16N8K16_BF16_F32 = 2,
  /// mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32: A 2x2 f16, B 1x2
  /// f16, C/D 2x2 f32.
  MMSIM_MMA_M16N8K8_F16_F32 = 3,
  /// mma.sync.aligned.m16n8k8.row.col.f32.tf32.tf32.f32: A 4x1, B 2x1, C/D
  /// 2x2, all f32; A and B are read as tf32 (the low 13 bits of each f32's
  /// mantissa ignored, as the hardware does).
  MMSIM_MMA_M16N8K8_TF32_F32 = 4,
  /// mma.sync.aligned.m16n8k4.row.col.f32.tf32.tf32.f32: A 2x1, B 1x1, C/D
  /// 2x2, all f32; A and B are read as tf32.
  MMSIM_MMA_M16N8K4_TF32_F32 = 5,
  /// v_mfma_f32_32x32x8_f16: A 4 f16, B 4 f16, C/D 16 f32.
  MMSIM_MFMA_F32_32X32X8_F16 = 6,
  /// v_mfma_f32_16x16x16_f16: A 4 f16, B 4 f16, C/D 4 f32.
  MMSIM_MFMA_F32_16X16X16_F16 = 7,
  /// v_mfma_f32_32x32x8_bf16 (the bf16_1k variant): A 4 bf16, B 4 bf16, C/D
  /// 16 f32.
  MMSIM_MFMA_F32_32X32X8_BF16 = 8,
  /// v_mfma_f32_16x16x16_bf16 (the bf16_1k variant): A 4 bf16, B 4 bf16,
  /// C/D 4 f32.
  MMSIM_MFMA_F32_16X16X16_BF16 = 9,
  /// v_mfma_f32_16x16x4_f32 (one block): A 1 f32, B 1 f32, C/D 4 f32.
  MMSIM_MFMA_F32_16X16X4_F32 = 10,
  /// v_mfma_f32_32x32x2_f32 (one block): A 1 f32, B 1 f32, C/D 16 f32.
  MMSIM_MFMA_F32_32X32X2_F32 = 11,
};

/// Warp-level matrix multiply-accumulate, D = A * B + C, products and sums
/// in f32 (inputs are the instruction's types, converted exactly). Every
/// lane of the warp calls it with pointers to ITS fragments, each a flat
/// array of elements in the row-major order of the MLIR vector the op
/// takes (e.g. nvgpu.mma_sync m16n8k16 f16: A is vector<4x2xf16>, element
/// [i][j] at index 2*i+j; f16 and bf16 elements are 16-bit), and `d` where
/// its D fragment goes. The lanes' fragments are laid out as the PTX ISA
/// (mma.sync) or the AMD CDNA3 ISA (MFMA) says. `shape` is an
/// MMSimMatrixShape, the same in every lane; every lane of the warp must
/// take part (a warp collective, like mmsim_shuffle); `d` may be `c`.
/// Counts 2*M*N*K FLOPs per warp.
void mmsim_matrix_multiply(MMSimThread *thread, int32_t shape, const void *a,
                           const void *b, const void *c, void *d, int32_t site);
/// nvgpu.ldmatrix (ldmatrix.sync.aligned.m8n8.x{1,2,4}[.trans].shared.b16):
/// lane l gives the shared-memory byte offset of row (l % 8) of matrix
/// (l / 8) (lanes beyond 8*count are ignored as the PTX ISA says); each lane
/// receives its fragment (count 32-bit registers, 2 b16 elements each) in
/// `result`. The reads go through the shared-memory checks (bounds, races,
/// unwritten bytes) as the lane that gave the row address. Warps of 32
/// only; every lane must take part, with the same count and transpose.
void mmsim_load_matrix(MMSimThread *thread, uint64_t rowOffset, int32_t count,
                       int32_t transpose, void *result, int32_t site);

/// The host copy of one kernel.
typedef void (*MMSimKernelFn)(void **params, MMSimThread *thread);

#ifdef __cplusplus
} // extern "C"
#endif

#endif // MM_COMMON_SIMKERNELABI_H
