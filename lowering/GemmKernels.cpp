//===- GemmKernels.cpp - matrix-product kernels for the GPU targets -------===//
//
// Builds the kernels GemmKernels.h describes. Each block computes a
// blockM x blockN tile of C, walking K in steps of blockK: both operands'
// tiles are staged into shared memory (zero-filled outside the matrices, so
// no tile size need divide M, N or K), then multiplied out of shared memory
// by the strategy's instruction. What lies past M or N is never stored.
//
// Staging copies chunks of `vec` consecutive elements of a row (16 bytes of
// the shared type): a chunk wholly inside the matrix is one vector load (an
// asynchronous copy for MmaSync when the operand already has the shared
// type and K keeps rows 16-byte aligned), an edge chunk loads element by
// element under guards and fills zeros.
//
//===----------------------------------------------------------------------===//

#include "lowering/GemmKernels.h"

#include "lowering/DeviceKernels.h"

#include "mlir/Dialect/AMDGPU/IR/AMDGPUDialect.h"
#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/NVGPU/IR/NVGPUDialect.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "mlir/IR/Builders.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MathExtras.h"

using namespace mlir;
using namespace mm;

llvm::StringRef mm::gemmStrategyName(GemmStrategy strategy) {
  switch (strategy) {
  case GemmStrategy::Simt:
    return "simt";
  case GemmStrategy::MmaSync:
    return "mma";
  case GemmStrategy::Mfma:
    return "mfma";
  case GemmStrategy::Gemv:
    return "gemv";
  }
  return "";
}

namespace {

int64_t bytesOf(Type type) { return (type.getIntOrFloatBitWidth() + 7) / 8; }

/// Elements of padding after each shared-memory row: it spreads the rows of
/// a fragment load over the banks and keeps rows 16-byte (MmaSync: ldmatrix
/// and cp.async) or 8-byte (Mfma) aligned.
int64_t rowPadding(GemmStrategy strategy) {
  switch (strategy) {
  case GemmStrategy::MmaSync:
    return 8;
  case GemmStrategy::Mfma:
    return 4;
  case GemmStrategy::Simt:
  case GemmStrategy::Gemv:
    return 0;
  }
  return 0;
}

/// Elements per staging chunk: 16 bytes of what shared memory holds (for
/// Simt, of f32); for Gemv, 16 bytes of W.
int64_t chunkElements(const GemmConfig &config) {
  if (config.strategy == GemmStrategy::Gemv)
    return 16 / bytesOf(config.wType);
  return 16 / bytesOf(config.computeType);
}

} // namespace

llvm::Expected<GemmConfig> mm::resolveGemmConfig(const GemmKernelSpec &spec,
                                                 const TargetInfo &target) {
  if (!target.isGpu())
    return kernelError("GEMM kernels are built for GPU targets (" +
                     TargetInfo::supportedList() + "), not '" + target.spec() +
                     "'");
  if (spec.n <= 0 || spec.k <= 0)
    return kernelError("GEMM sizes must be positive: n = " + Twine(spec.n) +
                     ", k = " + Twine(spec.k));
  auto checkType = [](Type type, StringRef operand) -> llvm::Error {
    if (type && (type.isF32() || type.isBF16() || type.isF16()))
      return llvm::Error::success();
    std::string name = "(none)";
    if (type)
      llvm::raw_string_ostream(name) << type;
    return kernelError("GEMM operand " + operand +
                     " must be f32, bf16 or f16, not " + name);
  };
  if (llvm::Error error = checkType(spec.aType, "A"))
    return std::move(error);
  if (llvm::Error error = checkType(spec.wType, "W"))
    return std::move(error);

  GemmConfig config;
  config.n = spec.n;
  config.k = spec.k;
  config.aType = spec.aType;
  config.wType = spec.wType;
  bool sixteenBit = !spec.aType.isF32() || !spec.wType.isF32();
  GemmStrategy tensorCores = target.kind == TargetKind::Cuda
                                 ? GemmStrategy::MmaSync
                                 : GemmStrategy::Mfma;
  config.strategy = spec.strategy.value_or(
      spec.fewRows ? GemmStrategy::Gemv
                   : (sixteenBit ? tensorCores : GemmStrategy::Simt));
  if (config.strategy != GemmStrategy::Simt &&
      config.strategy != GemmStrategy::Gemv && config.strategy != tensorCores)
    return kernelError("GEMM strategy '" + gemmStrategyName(config.strategy) +
                     "' does not run on " + target.spec() + " (it has '" +
                     gemmStrategyName(tensorCores) + "', 'simt' and 'gemv')");
  if (config.strategy == GemmStrategy::MmaSync) {
    // mma.sync m16n8k16 with bf16 inputs needs sm_80.
    int sm = 0;
    if (StringRef(target.chip).drop_front(3).getAsInteger(10, sm) || sm < 80)
      return kernelError("GEMM strategy 'mma' (mma.sync m16n8k16) needs sm_80 "
                       "or newer, not " +
                       target.chip);
  }
  if (config.strategy == GemmStrategy::Simt ||
      (config.strategy == GemmStrategy::Gemv && !sixteenBit)) {
    config.computeType = Float32Type::get(spec.aType.getContext());
  } else {
    if (!spec.aType.isF32() && !spec.wType.isF32() &&
        spec.aType != spec.wType)
      return kernelError("GEMM operands A and W must share their 16-bit type "
                       "for the tensor cores (bf16 with bf16, f16 with f16)");
    if (!sixteenBit && config.strategy != GemmStrategy::Gemv)
      return kernelError("GEMM strategy '" + gemmStrategyName(config.strategy) +
                       "' multiplies bf16 or f16: give A or W in one of "
                       "them, or use 'simt' for f32");
    config.computeType = spec.aType.isF32() ? spec.wType : spec.aType;
  }

  // The defaults per strategy: 64 x 64 blocks of four warps (wavefronts),
  // 32 deep for the 16-bit instructions, 3 stages of cp.async on NVIDIA;
  // SIMT threads of 4 x 4 outputs (256 threads). For few rows, blocks of
  // one instruction's rows (16) with the warps side by side along N, or
  // one SIMT thread's rows (4, 16 threads). Gemv: 32 columns of 4 lanes
  // (128 threads; each lane loads 16 bytes of W at a time, 64 contiguous
  // bytes of a row of W per column), and as many rows as keep a thread's
  // sums at 16 f32 (4 rows for f32 W, 2 for 16-bit: ptxas spills beyond).
  GemmTiles defaults;
  switch (config.strategy) {
  case GemmStrategy::Gemv: {
    int64_t vec = 16 / bytesOf(spec.wType);
    defaults = GemmTiles{16 / vec, 32, vec, 0, 0, 0, 0, 1, 4};
    break;
  }
  case GemmStrategy::MmaSync:
    defaults = spec.fewRows ? GemmTiles{16, 64, 32, 1, 4, 0, 0, 3}
                            : GemmTiles{64, 64, 32, 2, 2, 0, 0, 3};
    break;
  case GemmStrategy::Mfma:
    defaults = spec.fewRows ? GemmTiles{16, 64, 32, 1, 4, 0, 0, 1}
                            : GemmTiles{64, 64, 32, 2, 2, 0, 0, 1};
    break;
  case GemmStrategy::Simt:
    defaults = spec.fewRows ? GemmTiles{4, 64, 16, 0, 0, 4, 4, 1}
                            : GemmTiles{64, 64, 16, 0, 0, 4, 4, 1};
    break;
  }
  GemmTiles tiles = spec.tiles;
  for (auto [value, fallback] :
       {std::pair<int64_t &, int64_t>{tiles.blockM, defaults.blockM},
        {tiles.blockN, defaults.blockN},
        {tiles.blockK, defaults.blockK},
        {tiles.warpsM, defaults.warpsM},
        {tiles.warpsN, defaults.warpsN},
        {tiles.threadM, defaults.threadM},
        {tiles.threadN, defaults.threadN},
        {tiles.stages, defaults.stages},
        {tiles.lanes, defaults.lanes}})
    if (value == 0)
      value = fallback;
  int64_t warpWidth = target.subgroupWidth;
  config.warpWidth = warpWidth;
  for (auto [name, value] :
       {std::pair<StringRef, int64_t>{"block-m", tiles.blockM},
        {"block-n", tiles.blockN},
        {"block-k", tiles.blockK},
        {"stages", tiles.stages}})
    if (value < 1 || value > 1024)
      return kernelError("GEMM tile parameter " + name + " = " + Twine(value) +
                       " is outside [1, 1024]");
  std::string where = ("GEMM strategy '" + gemmStrategyName(config.strategy) +
                       "': ")
                          .str();
  if (config.strategy == GemmStrategy::Simt) {
    if (tiles.threadM < 1 || tiles.threadM > 8 || tiles.threadN < 1 ||
        tiles.threadN > 8)
      return kernelError(where + "thread-m and thread-n must be in [1, 8], not " +
                       Twine(tiles.threadM) + " and " + Twine(tiles.threadN));
    if (tiles.blockM % tiles.threadM || tiles.blockN % tiles.threadN)
      return kernelError(where + "block-m (" + Twine(tiles.blockM) +
                       ") must be a multiple of thread-m (" +
                       Twine(tiles.threadM) + ") and block-n (" +
                       Twine(tiles.blockN) + ") of thread-n (" +
                       Twine(tiles.threadN) + ")");
    if (tiles.blockK % 4)
      return kernelError(where + "block-k (" + Twine(tiles.blockK) +
                       ") must be a multiple of 4 (vector loads of 4 f32)");
    if (tiles.stages != 1)
      return kernelError(where + "stages must be 1 (no multi-stage staging "
                               "yet), not " +
                       Twine(tiles.stages));
    config.threadsPerBlock =
        (tiles.blockM / tiles.threadM) * (tiles.blockN / tiles.threadN);
  } else if (config.strategy == GemmStrategy::Gemv) {
    if (tiles.blockM > 8)
      return kernelError(where + "block-m (" + Twine(tiles.blockM) +
                       ", rows of A each thread sums) must be at most 8");
    if (tiles.lanes < 1 || tiles.lanes > warpWidth ||
        !llvm::isPowerOf2_64(tiles.lanes))
      return kernelError(where + "lanes (" + Twine(tiles.lanes) +
                       ") must be a power of two up to the warp width (" +
                       Twine(warpWidth) + ")");
    if (tiles.stages != 1)
      return kernelError(where + "stages must be 1 (it stages nothing), not " +
                       Twine(tiles.stages));
    config.threadsPerBlock = tiles.blockN * tiles.lanes;
    // Whole warps: every lane of a warp takes part in the shuffles.
    if (config.threadsPerBlock % warpWidth)
      return kernelError(where + "block-n x lanes (" + Twine(tiles.blockN) +
                       " x " + Twine(tiles.lanes) +
                       ") must be a multiple of the warp width (" +
                       Twine(warpWidth) + ")");
  } else {
    int64_t instrM = 16;
    int64_t instrN = config.strategy == GemmStrategy::MmaSync ? 8 : 16;
    if (tiles.warpsM < 1 || tiles.warpsN < 1)
      return kernelError(where + "warps-m and warps-n must be positive");
    if (tiles.blockM % (tiles.warpsM * instrM) ||
        tiles.blockN % (tiles.warpsN * instrN))
      return kernelError(where + "block-m (" + Twine(tiles.blockM) +
                       ") must be a multiple of 16 x warps-m (" +
                       Twine(tiles.warpsM) + ") and block-n (" +
                       Twine(tiles.blockN) + ") of " + Twine(instrN) +
                       " x warps-n (" + Twine(tiles.warpsN) + ")");
    if (tiles.blockK % 16)
      return kernelError(where + "block-k (" + Twine(tiles.blockK) +
                       ") must be a multiple of 16 (the instruction's k)");
    if (config.strategy == GemmStrategy::MmaSync &&
        (tiles.stages < 2 || tiles.stages > 8))
      return kernelError(where + "stages must be in [2, 8] (buffers of the "
                               "asynchronous copies), not " +
                       Twine(tiles.stages));
    if (config.strategy == GemmStrategy::Mfma && tiles.stages != 1)
      return kernelError(where + "stages must be 1 (no multi-stage staging "
                               "yet), not " +
                       Twine(tiles.stages));
    config.threadsPerBlock = tiles.warpsM * tiles.warpsN * warpWidth;
  }
  if (config.threadsPerBlock > 1024)
    return kernelError(where + Twine(config.threadsPerBlock) +
                     " threads per block; at most 1024");
  config.tiles = tiles;
  int64_t rowElements = tiles.blockK + rowPadding(config.strategy);
  config.sharedBytes = config.strategy == GemmStrategy::Gemv
                           ? 0
                           : tiles.stages * (tiles.blockM + tiles.blockN) *
                                 rowElements * bytesOf(config.computeType);
  if (config.sharedBytes > target.sharedMemoryBytes)
    return kernelError(where + "the tiles need " + Twine(config.sharedBytes) +
                     " bytes of shared memory; " + target.spec() +
                     " gives a block " + Twine(target.sharedMemoryBytes));
  return config;
}

GemmLaunch mm::gemmLaunch(const GemmConfig &config, int64_t m) {
  GemmLaunch launch;
  launch.grid = {ceilDiv(config.n, config.tiles.blockN),
                 std::max<int64_t>(1, ceilDiv(m, config.tiles.blockM)), 1};
  launch.block = {config.threadsPerBlock, 1, 1};
  launch.sharedBytes = config.sharedBytes;
  return launch;
}

std::pair<int64_t, int64_t> mm::gemmMinimumBytes(const GemmConfig &config,
                                                 int64_t m) {
  GemmLaunch launch = gemmLaunch(config, m);
  int64_t read = launch.grid[0] * m * config.k * bytesOf(config.aType) +
                 launch.grid[1] * config.n * config.k * bytesOf(config.wType);
  return {read, m * config.n * 4};
}

namespace {

/// Emits one kernel's body.
class GemmEmitter {
public:
  GemmEmitter(const GemmConfig &config, gpu::GPUFuncOp function)
      : config(config), tiles(config.tiles), function(function),
        b(function.getContext()), loc(function.getLoc()) {}

  void emit();

private:
  Value index(int64_t value) {
    return arith::ConstantIndexOp::create(b, loc, value);
  }
  Value add(Value x, Value y) { return arith::AddIOp::create(b, loc, x, y); }
  Value mul(Value x, Value y) { return arith::MulIOp::create(b, loc, x, y); }
  Value div(Value x, int64_t y) {
    return arith::DivUIOp::create(b, loc, x, index(y));
  }
  Value rem(Value x, int64_t y) {
    return arith::RemUIOp::create(b, loc, x, index(y));
  }
  Value less(Value x, Value y) {
    return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ult, x, y);
  }
  Value both(Value x, Value y) { return arith::AndIOp::create(b, loc, x, y); }
  Value zero(Type type) {
    return arith::ConstantOp::create(b, loc, type, b.getZeroAttr(type));
  }
  /// `value` (a scalar or vector) converted to element type `to`.
  Value convert(Value value, Type to);

  /// Shared memory: `stages` tiles of A then of W, [stage][row][column].
  void allocateShared();
  /// Stages the K columns [k0, k0 + blockK) of rows [row0, row0 + rows)
  /// of `source` (valid below `rowLimit`) into `tile`[stage]. Simt stores
  /// the tile transposed ([stage][column][row]). Returns the tokens of the
  /// asynchronous copies it issued (none when it staged through
  /// registers).
  SmallVector<Value> stageTile(Value source, Value row0, int64_t rows,
                               Value rowLimit, Value k0, Value tile,
                               Value stage);
  /// Whether stageTile copies `rows` rows of `source` asynchronously:
  /// MmaSync, the operand already in the shared type, K keeping rows
  /// 16-byte aligned, and the chunks an exact number per thread (each
  /// thread issues the same copies, unrolled, so that their tokens join
  /// one group).
  bool copiesAsync(Value source, int64_t rows) const;
  SmallVector<Value> stageBoth(Value kTile, Value stage) {
    Value k0 = mul(kTile, index(tiles.blockK));
    SmallVector<Value> tokens =
        stageTile(a, blockRow0, tiles.blockM, m, k0, sharedA, stage);
    llvm::append_range(tokens, stageTile(w, blockCol0, tiles.blockN,
                                         index(config.n), k0, sharedW, stage));
    return tokens;
  }
  /// Stores C[row][col] = value when row < M and col < N.
  void storeGuarded(Value value, Value row, Value col);
  /// Elements [k, k + vec) of row `row` of `source` as a vector of its
  /// element type: one wide load when the chunk lies inside the matrix
  /// (`rowInside` and k + vec <= K), else element by element under guards,
  /// zeros outside.
  Value loadChunk(Value source, Value row, Value rowInside, Value k,
                  int64_t vec);

  void emitMmaSync();
  void emitMfma();
  void emitSimt();
  void emitGemv();

  const GemmConfig &config;
  const GemmTiles &tiles;
  gpu::GPUFuncOp function;
  OpBuilder b;
  Location loc;
  Value a, w, c, m, thread, blockRow0, blockCol0;
  Value sharedA, sharedW;
};

Value GemmEmitter::convert(Value value, Type to) {
  Type from = getElementTypeOrSelf(value.getType());
  if (from == to)
    return value;
  Type type = to;
  if (auto vector = dyn_cast<VectorType>(value.getType()))
    type = VectorType::get(vector.getShape(), to);
  if (from.getIntOrFloatBitWidth() > to.getIntOrFloatBitWidth())
    return arith::TruncFOp::create(b, loc, type, value);
  return arith::ExtFOp::create(b, loc, type, value);
}

void GemmEmitter::allocateShared() {
  MLIRContext *context = b.getContext();
  auto workgroup =
      gpu::AddressSpaceAttr::get(context, gpu::AddressSpace::Workgroup);
  Value bytes = dynamicSharedBytes(b, loc);
  int64_t rowElements = tiles.blockK + rowPadding(config.strategy);
  bool transposed = config.strategy == GemmStrategy::Simt;
  auto tileType = [&](int64_t rows) {
    SmallVector<int64_t> shape =
        transposed ? SmallVector<int64_t>{tiles.stages, tiles.blockK, rows}
                   : SmallVector<int64_t>{tiles.stages, rows, rowElements};
    return MemRefType::get(shape, config.computeType, nullptr, workgroup);
  };
  int64_t bytesA =
      tiles.stages * tiles.blockM * rowElements * bytesOf(config.computeType);
  sharedA = memref::ViewOp::create(b, loc, tileType(tiles.blockM), bytes,
                                   index(0), ValueRange());
  sharedW = memref::ViewOp::create(b, loc, tileType(tiles.blockN), bytes,
                                   index(bytesA), ValueRange());
}

bool GemmEmitter::copiesAsync(Value source, int64_t rows) const {
  Type sourceType = cast<MemRefType>(source.getType()).getElementType();
  int64_t vec = chunkElements(config);
  return config.strategy == GemmStrategy::MmaSync &&
         sourceType == config.computeType && config.k % vec == 0 &&
         (rows * tiles.blockK / vec) % config.threadsPerBlock == 0;
}

SmallVector<Value> GemmEmitter::stageTile(Value source, Value row0,
                                          int64_t rows, Value rowLimit,
                                          Value k0, Value tile, Value stage) {
  Type sharedType = config.computeType;
  int64_t vec = chunkElements(config);
  int64_t chunksPerRow = tiles.blockK / vec;
  int64_t chunks = rows * chunksPerRow;
  bool transposed = config.strategy == GemmStrategy::Simt;
  auto chunkPlace = [&](Value chunk) {
    Value row = div(chunk, chunksPerRow);
    Value column = mul(rem(chunk, chunksPerRow), index(vec));
    return std::make_tuple(row, column, add(row0, row), add(k0, column));
  };

  if (copiesAsync(source, rows)) {
    // cp.async moves 16 aligned bytes unchanged (the views' offsets and
    // A's row stride must be multiples of 8 elements, which the callers
    // guarantee). With K a multiple of 8 a chunk lies wholly inside or
    // outside the matrix; outside, the copy reads nothing (source size 0)
    // and fills zeros, from a clamped address.
    SmallVector<Value> tokens;
    auto tokenType = nvgpu::DeviceAsyncTokenType::get(b.getContext());
    for (int64_t i = 0; i < chunks / config.threadsPerBlock; ++i) {
      auto [row, column, globalRow, globalK] = chunkPlace(
          add(thread, index(i * config.threadsPerBlock)));
      Value rowInside = less(globalRow, rowLimit);
      Value kInside = less(globalK, index(config.k));
      Value inside = both(rowInside, kInside);
      Value zeroIndex = index(0);
      Value sourceRow =
          arith::SelectOp::create(b, loc, rowInside, globalRow, zeroIndex);
      Value sourceK =
          arith::SelectOp::create(b, loc, kInside, globalK, zeroIndex);
      Value sourceElements =
          arith::SelectOp::create(b, loc, inside, index(vec), zeroIndex);
      tokens.push_back(nvgpu::DeviceAsyncCopyOp::create(
          b, loc, tokenType, tile, ValueRange{stage, row, column}, source,
          ValueRange{sourceRow, sourceK}, b.getIndexAttr(vec), sourceElements,
          /*bypassL1=*/b.getUnitAttr()));
    }
    return tokens;
  }

  auto loop = scf::ForOp::create(b, loc, thread, index(chunks),
                                 index(config.threadsPerBlock));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loop.getBody());
  auto [row, column, globalRow, globalK] = chunkPlace(loop.getInductionVar());
  Value value = convert(
      loadChunk(source, globalRow, less(globalRow, rowLimit), globalK, vec),
      sharedType);
  if (!transposed) {
    vector::StoreOp::create(b, loc, value, tile,
                            ValueRange{stage, row, column});
    return {};
  }
  for (int64_t i = 0; i < vec; ++i) {
    Value x = vector::ExtractOp::create(b, loc, value, i);
    memref::StoreOp::create(b, loc, x, tile,
                            ValueRange{stage, add(column, index(i)), row});
  }
  return {};
}

Value GemmEmitter::loadChunk(Value source, Value row, Value rowInside,
                             Value k, int64_t vec) {
  Type sourceType = cast<MemRefType>(source.getType()).getElementType();
  auto vectorType = VectorType::get({vec}, sourceType);
  Value whole = both(rowInside,
                     arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                                           add(k, index(vec)),
                                           index(config.k)));
  auto loaded = scf::IfOp::create(b, loc, TypeRange{vectorType}, whole,
                                  /*withElseRegion=*/true);
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(loaded.thenBlock());
  // Rows of a whole number of 16-byte chunks start 16-byte aligned (the
  // callers keep the views' offsets and row strides so), and chunks start
  // at multiples of `vec` elements: one wide load.
  llvm::MaybeAlign alignment;
  if ((config.k * bytesOf(sourceType)) % 16 == 0)
    alignment = llvm::Align(std::min<int64_t>(16, vec * bytesOf(sourceType)));
  Value x = vector::LoadOp::create(b, loc, vectorType, source,
                                   ValueRange{row, k},
                                   /*nontemporal=*/false, alignment);
  scf::YieldOp::create(b, loc, x);
  // An edge chunk, element by element; zeros outside the matrix.
  b.setInsertionPointToStart(loaded.elseBlock());
  SmallVector<Value> elements;
  for (int64_t i = 0; i < vec; ++i) {
    Value ki = add(k, index(i));
    auto inside = scf::IfOp::create(b, loc, TypeRange{sourceType},
                                    both(rowInside, less(ki, index(config.k))),
                                    /*withElseRegion=*/true);
    OpBuilder::InsertionGuard inner(b);
    b.setInsertionPointToStart(inside.thenBlock());
    Value element = memref::LoadOp::create(b, loc, source, ValueRange{row, ki});
    scf::YieldOp::create(b, loc, element);
    b.setInsertionPointToStart(inside.elseBlock());
    scf::YieldOp::create(b, loc, zero(sourceType));
    elements.push_back(inside.getResult(0));
  }
  Value edge = vector::FromElementsOp::create(b, loc, vectorType, elements);
  scf::YieldOp::create(b, loc, edge);
  return loaded.getResult(0);
}

void GemmEmitter::storeGuarded(Value value, Value row, Value col) {
  auto inside = scf::IfOp::create(
      b, loc, both(less(row, m), less(col, index(config.n))));
  OpBuilder::InsertionGuard guard(b);
  b.setInsertionPointToStart(inside.thenBlock());
  memref::StoreOp::create(b, loc, value, c, ValueRange{row, col});
}

void GemmEmitter::emit() {
  Block &entry = function.getBody().front();
  b.setInsertionPointToStart(&entry);
  a = function.getArgument(0);
  w = function.getArgument(1);
  c = function.getArgument(2);
  m = memref::DimOp::create(b, loc, a, 0);
  thread = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
  blockCol0 = mul(gpu::BlockIdOp::create(b, loc, gpu::Dimension::x),
                  index(tiles.blockN));
  blockRow0 = mul(gpu::BlockIdOp::create(b, loc, gpu::Dimension::y),
                  index(tiles.blockM));
  if (config.sharedBytes)
    allocateShared();
  switch (config.strategy) {
  case GemmStrategy::MmaSync:
    emitMmaSync();
    break;
  case GemmStrategy::Mfma:
    emitMfma();
    break;
  case GemmStrategy::Simt:
    emitSimt();
    break;
  case GemmStrategy::Gemv:
    emitGemv();
    break;
  }
  gpu::ReturnOp::create(b, loc);
}

void GemmEmitter::emitMmaSync() {
  MLIRContext *context = b.getContext();
  Type element = config.computeType;
  int64_t stages = tiles.stages;
  int64_t kTiles = ceilDiv(config.k, tiles.blockK);
  int64_t warpM = tiles.blockM / tiles.warpsM, warpN = tiles.blockN / tiles.warpsN;
  int64_t mTiles = warpM / 16, nTiles = warpN / 8;
  Value warp = div(thread, 32), lane = rem(thread, 32);
  Value warpRow0 = mul(div(warp, tiles.warpsN), index(warpM));
  Value warpCol0 = mul(rem(warp, tiles.warpsN), index(warpN));
  auto tokenType = nvgpu::DeviceAsyncTokenType::get(context);

  // Prologue: tiles 0 .. stages-2 in flight, one commit group each (a
  // tile past K is all zeros, which keeps the group count regular).
  for (int64_t s = 0; s + 1 < stages; ++s) {
    SmallVector<Value> tokens = stageBoth(index(s), index(s));
    if (!tokens.empty())
      nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType, tokens);
  }

  auto accType = VectorType::get({2, 2}, b.getF32Type());
  SmallVector<Value> init(mTiles * nTiles, zero(accType));
  auto loop = scf::ForOp::create(b, loc, index(0), index(kTiles), index(1),
                                 init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    Value kt = loop.getInductionVar();
    // Issue tile kt + stages - 1 into the buffer tile kt - 1 used (every
    // warp left it at the barrier ending the last step), commit it as one
    // group, then wait until at most stages - 1 groups are pending: tile
    // kt's has landed.
    // When neither operand copies asynchronously, the staging is
    // synchronous and the barrier alone orders it.
    Value next = add(kt, index(stages - 1));
    SmallVector<Value> tokens = stageBoth(next, rem(next, stages));
    if (!tokens.empty()) {
      Value group =
          nvgpu::DeviceAsyncCreateGroupOp::create(b, loc, tokenType, tokens);
      nvgpu::DeviceAsyncWaitOp::create(b, loc, group,
                                       b.getI32IntegerAttr(stages - 1));
    }
    gpu::BarrierOp::create(b, loc);

    Value stage = rem(kt, stages);
    SmallVector<Value> acc(loop.getRegionIterArgs());
    auto aFragType = VectorType::get({4, 2}, element);
    auto bFragType = VectorType::get({2, 2}, element);
    for (int64_t kk = 0; kk < tiles.blockK / 16; ++kk) {
      // A (x4): lane l gives row l % 16 at column 8 (l / 16) of the 16x16
      // tile. W (x2), [n][k] in shared memory is B column-major: lane l
      // gives row l % 8 at column 8 ((l / 8) % 2) of the 8x16 tile.
      SmallVector<Value> aFrags, bFrags;
      for (int64_t mt = 0; mt < mTiles; ++mt)
        aFrags.push_back(nvgpu::LdMatrixOp::create(
            b, loc, aFragType, sharedA,
            ValueRange{stage, add(warpRow0, add(index(mt * 16), rem(lane, 16))),
                       add(index(kk * 16), mul(div(lane, 16), index(8)))},
            /*transpose=*/false, /*numTiles=*/4));
      for (int64_t nt = 0; nt < nTiles; ++nt)
        bFrags.push_back(nvgpu::LdMatrixOp::create(
            b, loc, bFragType, sharedW,
            ValueRange{stage, add(warpCol0, add(index(nt * 8), rem(lane, 8))),
                       add(index(kk * 16), mul(rem(div(lane, 8), 2), index(8)))},
            /*transpose=*/false, /*numTiles=*/2));
      for (int64_t mt = 0; mt < mTiles; ++mt)
        for (int64_t nt = 0; nt < nTiles; ++nt) {
          Value &sum = acc[mt * nTiles + nt];
          sum = nvgpu::MmaSyncOp::create(b, loc, aFrags[mt], bFrags[nt], sum,
                                         ArrayRef<int64_t>{16, 8, 16});
        }
    }
    // Every warp is done with this buffer before it is refilled.
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, acc);
  }
  // The groups still pending hold tiles past K: nothing reads them.

  // D fragment: lane l holds rows l / 4 and l / 4 + 8, columns
  // 2 (l % 4) + {0, 1}.
  Value fragRow = div(lane, 4), fragCol = mul(rem(lane, 4), index(2));
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t nt = 0; nt < nTiles; ++nt) {
      Value sum = loop.getResult(mt * nTiles + nt);
      for (int64_t i = 0; i < 2; ++i)
        for (int64_t j = 0; j < 2; ++j) {
          Value row = add(add(blockRow0, warpRow0),
                          add(index(mt * 16 + 8 * i), fragRow));
          Value col = add(add(blockCol0, warpCol0),
                          add(index(nt * 8 + j), fragCol));
          storeGuarded(vector::ExtractOp::create(b, loc, sum,
                                                 ArrayRef<int64_t>{i, j}),
                       row, col);
        }
    }
}

void GemmEmitter::emitMfma() {
  Type element = config.computeType;
  int64_t kTiles = ceilDiv(config.k, tiles.blockK);
  int64_t waveM = tiles.blockM / tiles.warpsM, waveN = tiles.blockN / tiles.warpsN;
  int64_t mTiles = waveM / 16, nTiles = waveN / 16;
  Value wave = div(thread, 64), lane = rem(thread, 64);
  Value waveRow0 = mul(div(wave, tiles.warpsN), index(waveM));
  Value waveCol0 = mul(rem(wave, tiles.warpsN), index(waveN));
  Value stage = index(0);

  auto accType = VectorType::get({4}, b.getF32Type());
  SmallVector<Value> init(mTiles * nTiles, zero(accType));
  auto loop = scf::ForOp::create(b, loc, index(0), index(kTiles), index(1),
                                 init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    stageBoth(loop.getInductionVar(), stage);
    gpu::BarrierOp::create(b, loc);
    SmallVector<Value> acc(loop.getRegionIterArgs());
    auto fragType = VectorType::get({4}, element);
    // Lane l: row l % 16 of A's tile and of W's (B's column), k from
    // 4 (l / 16) to 4 (l / 16) + 3.
    Value fragRow = rem(lane, 16), fragK = mul(div(lane, 16), index(4));
    for (int64_t kk = 0; kk < tiles.blockK / 16; ++kk) {
      Value k = add(index(kk * 16), fragK);
      SmallVector<Value> aFrags, bFrags;
      for (int64_t mt = 0; mt < mTiles; ++mt)
        aFrags.push_back(vector::LoadOp::create(
            b, loc, fragType, sharedA,
            ValueRange{stage, add(waveRow0, add(index(mt * 16), fragRow)),
                       k}));
      for (int64_t nt = 0; nt < nTiles; ++nt)
        bFrags.push_back(vector::LoadOp::create(
            b, loc, fragType, sharedW,
            ValueRange{stage, add(waveCol0, add(index(nt * 16), fragRow)),
                       k}));
      for (int64_t mt = 0; mt < mTiles; ++mt)
        for (int64_t nt = 0; nt < nTiles; ++nt) {
          Value &sum = acc[mt * nTiles + nt];
          sum = amdgpu::MFMAOp::create(b, loc, accType, 16, 16, 16, 1,
                                       aFrags[mt], bFrags[nt], sum);
        }
    }
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, acc);
  }
  // D: lane l holds column l % 16, rows 4 (l / 16) to 4 (l / 16) + 3.
  Value fragCol = rem(lane, 16), fragRow = mul(div(lane, 16), index(4));
  for (int64_t mt = 0; mt < mTiles; ++mt)
    for (int64_t nt = 0; nt < nTiles; ++nt) {
      Value sum = loop.getResult(mt * nTiles + nt);
      for (int64_t i = 0; i < 4; ++i) {
        Value row = add(add(blockRow0, waveRow0),
                        add(index(mt * 16 + i), fragRow));
        Value col = add(add(blockCol0, waveCol0), add(index(nt * 16), fragCol));
        storeGuarded(vector::ExtractOp::create(b, loc, sum, i), row, col);
      }
    }
}

void GemmEmitter::emitSimt() {
  int64_t kTiles = ceilDiv(config.k, tiles.blockK);
  int64_t threadsN = tiles.blockN / tiles.threadN;
  Value threadCol0 = mul(rem(thread, threadsN), index(tiles.threadN));
  Value threadRow0 = mul(div(thread, threadsN), index(tiles.threadM));
  Value stage = index(0);
  auto rowType = VectorType::get({tiles.threadN}, b.getF32Type());
  auto columnType = VectorType::get({tiles.threadM}, b.getF32Type());

  SmallVector<Value> init(tiles.threadM, zero(rowType));
  auto loop = scf::ForOp::create(b, loc, index(0), index(kTiles), index(1),
                                 init);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(loop.getBody());
    stageBoth(loop.getInductionVar(), stage);
    gpu::BarrierOp::create(b, loc);
    // The tiles are k-major in shared memory: a thread's column of A and
    // row of W at one k are each one vector load.
    auto inner = scf::ForOp::create(b, loc, index(0), index(tiles.blockK),
                                    index(1), loop.getRegionIterArgs());
    {
      OpBuilder::InsertionGuard innerGuard(b);
      b.setInsertionPointToStart(inner.getBody());
      Value k = inner.getInductionVar();
      Value column = vector::LoadOp::create(b, loc, columnType, sharedA,
                                            ValueRange{stage, k, threadRow0});
      Value row = vector::LoadOp::create(b, loc, rowType, sharedW,
                                         ValueRange{stage, k, threadCol0});
      SmallVector<Value> acc(inner.getRegionIterArgs());
      for (int64_t i = 0; i < tiles.threadM; ++i) {
        Value x = vector::BroadcastOp::create(
            b, loc, rowType, vector::ExtractOp::create(b, loc, column, i));
        acc[i] = vector::FMAOp::create(b, loc, x, row, acc[i]);
      }
      scf::YieldOp::create(b, loc, acc);
    }
    gpu::BarrierOp::create(b, loc);
    scf::YieldOp::create(b, loc, inner.getResults());
  }
  for (int64_t i = 0; i < tiles.threadM; ++i) {
    Value row = add(add(blockRow0, threadRow0), index(i));
    Value col0 = add(blockCol0, threadCol0);
    Value sum = loop.getResult(i);
    // A whole row block is one vector store; at the right edge, element by
    // element.
    auto whole = scf::IfOp::create(
        b, loc,
        both(less(row, m),
             arith::CmpIOp::create(b, loc, arith::CmpIPredicate::ule,
                                   add(col0, index(tiles.threadN)),
                                   index(config.n))),
        /*withElseRegion=*/true);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(whole.thenBlock());
    vector::StoreOp::create(b, loc, sum, c, ValueRange{row, col0});
    b.setInsertionPointToStart(whole.elseBlock());
    for (int64_t j = 0; j < tiles.threadN; ++j)
      storeGuarded(vector::ExtractOp::create(b, loc, sum, j), row,
                   add(col0, index(j)));
  }
}

void GemmEmitter::emitGemv() {
  // Thread t of the block: column blockCol0 + t / lanes of C, lane
  // t % lanes of that column's group; rows blockRow0 .. + blockM - 1 of A
  // (those below M: `rows`, the same for the whole block).
  int64_t lanes = tiles.lanes, vec = chunkElements(config);
  int64_t chunks = ceilDiv(config.k, vec);
  Type f32 = b.getF32Type();
  auto sumType = VectorType::get({vec}, f32);
  Value column = add(blockCol0, div(thread, lanes));
  Value lane = rem(thread, lanes);
  Value rows = arith::MinUIOp::create(
      b, loc, index(tiles.blockM), arith::SubIOp::create(b, loc, m, blockRow0));
  Value columnInside = less(column, index(config.n));
  Value yes = arith::ConstantIntOp::create(b, loc, b.getI1Type(), 1);

  // Each lane sums its chunks k = lane, lane + lanes, ... of the column's
  // row of W against the same chunks of each row of A, in f32 vectors.
  SmallVector<Value> init(tiles.blockM, zero(sumType));
  auto inside = scf::IfOp::create(b, loc, TypeRange(ValueRange(init)),
                                  columnInside, /*withElseRegion=*/true);
  {
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(inside.elseBlock());
    scf::YieldOp::create(b, loc, init);
    b.setInsertionPointToStart(inside.thenBlock());
    auto loop = scf::ForOp::create(b, loc, lane, index(chunks), index(lanes),
                                   init);
    {
      OpBuilder::InsertionGuard loopGuard(b);
      b.setInsertionPointToStart(loop.getBody());
      Value k = mul(loop.getInductionVar(), index(vec));
      // Both operands rounded to the 16-bit type of the two, as the tensor
      // cores (and mm.linear) multiply; the products and sums in f32.
      auto widened = [&](Value chunk) {
        return convert(convert(chunk, config.computeType), f32);
      };
      Value weights = widened(loadChunk(w, column, yes, k, vec));
      SmallVector<Value> sums(loop.getRegionIterArgs());
      for (int64_t r = 0; r < tiles.blockM; ++r) {
        // Rows past M: not there (the condition is the same for the whole
        // block).
        auto row = scf::IfOp::create(b, loc, TypeRange{sumType},
                                     less(index(r), rows),
                                     /*withElseRegion=*/true);
        OpBuilder::InsertionGuard rowGuard(b);
        b.setInsertionPointToStart(row.thenBlock());
        Value x = widened(loadChunk(a, add(blockRow0, index(r)), yes, k, vec));
        scf::YieldOp::create(b, loc,
                             ValueRange{vector::FMAOp::create(
                                 b, loc, x, weights, sums[r])});
        b.setInsertionPointToStart(row.elseBlock());
        scf::YieldOp::create(b, loc, sums[r]);
        sums[r] = row.getResult(0);
      }
      scf::YieldOp::create(b, loc, sums);
    }
    scf::YieldOp::create(b, loc, loop.getResults());
  }

  // The group's sums meet by xor shuffles within the group (every lane of
  // the block takes part: the condition is block-uniform); its first lane
  // stores them.
  for (int64_t r = 0; r < tiles.blockM; ++r) {
    auto present = scf::IfOp::create(b, loc, less(index(r), rows));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPointToStart(present.thenBlock());
    Value sum = vector::ReductionOp::create(b, loc, vector::CombiningKind::ADD,
                                            inside.getResult(r));
    for (int64_t offset = 1; offset < lanes; offset *= 2) {
      auto shuffle =
          gpu::ShuffleOp::create(b, loc, sum, int32_t(offset),
                                 int32_t(config.warpWidth),
                                 gpu::ShuffleMode::XOR);
      sum = arith::AddFOp::create(b, loc, sum, shuffle.getShuffleResult());
    }
    auto first = scf::IfOp::create(
        b, loc,
        both(columnInside, arith::CmpIOp::create(b, loc,
                                                 arith::CmpIPredicate::eq,
                                                 lane, index(0))));
    b.setInsertionPointToStart(first.thenBlock());
    memref::StoreOp::create(b, loc, sum, c,
                            ValueRange{add(blockRow0, index(r)), column});
  }
}

} // namespace

llvm::Expected<GemmKernel> mm::buildGemmKernel(gpu::GPUModuleOp module,
                                               const GemmKernelSpec &spec,
                                               const TargetInfo &target) {
  llvm::Expected<GemmConfig> config = resolveGemmConfig(spec, target);
  if (!config)
    return config.takeError();
  MLIRContext *context = module.getContext();
  context->loadDialect<amdgpu::AMDGPUDialect, arith::ArithDialect,
                       memref::MemRefDialect, nvgpu::NVGPUDialect,
                       scf::SCFDialect, vector::VectorDialect>();
  int64_t dynamic = ShapedType::kDynamic;
  auto rowMajor = [&](int64_t stride) {
    return StridedLayoutAttr::get(context, dynamic, {stride, 1});
  };
  auto f32 = Float32Type::get(context);
  SmallVector<Type> inputs = {
      MemRefType::get({dynamic, spec.k}, spec.aType, rowMajor(dynamic)),
      MemRefType::get({spec.n, spec.k}, spec.wType, rowMajor(spec.k)),
      MemRefType::get({dynamic, spec.n}, f32, rowMajor(dynamic))};

  llvm::Expected<gpu::GPUFuncOp> function =
      createDeviceKernel(module, spec.name, inputs, config->threadsPerBlock);
  if (!function)
    return function.takeError();
  GemmEmitter(*config, *function).emit();
  return GemmKernel{*function, *config};
}
