//===- Safetensors.h - safetensors files and checkpoints --------*- C++ -*-===//
//
// Reading and writing the safetensors format (an 8-byte little-endian header
// length, a JSON header, then the tensor bytes), and checkpoints made of one
// such file or of shards listed by a model.safetensors.index.json.
//
// Reading validates everything the format promises before any tensor is
// touched: header length within the file and below a sane bound, well-formed
// JSON, known dtypes, shape x element size == byte range, byte ranges inside
// the data, sorted without overlaps or holes. Every violation is an error
// naming the file and the tensor; nothing reads out of bounds.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_SAFETENSORS_H
#define MM_RUNTIME_SAFETENSORS_H

#include "common/Precision.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mm {

/// The element types of the safetensors format.
enum class DType {
  Bool,
  U8,
  I8,
  U16,
  I16,
  F16,
  BF16,
  U32,
  I32,
  F32,
  U64,
  I64,
  F64,
  F8E4M3,
  F8E5M2
};

/// "F32", "BF16", ... as the format spells them.
llvm::StringRef stringifyDType(DType dtype);
/// Parses a dtype spelling; std::nullopt when unknown.
std::optional<DType> parseDType(llvm::StringRef spelling);
/// Bytes per element.
size_t dtypeSize(DType dtype);

/// "[2, 3]": how errors print a shape.
std::string formatShape(llvm::ArrayRef<int64_t> shape);

/// The largest header accepted (the format's reference reader uses 100 MB).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100u << 20;
/// The most tensors one file may hold (Mamba checkpoints have under 2000; a
/// header of a million zero-size entries would take about 70 times its
/// bytes in memory to parse).
inline constexpr uint64_t kMaxSafetensorsTensors = 65536;
/// The most JSON values a header or an index may hold, which bounds the
/// memory the JSON parse takes (about 100 bytes per value): 65536 tensors of
/// rank 8 need under 2^20.
inline constexpr uint64_t kMaxSafetensorsJsonValues = 1u << 20;
/// The largest model.safetensors.index.json read.
inline constexpr uint64_t kMaxSafetensorsIndexBytes = 64u << 20;

/// One tensor of a safetensors file. Offsets are relative to the start of the
/// data section (right after the header).
struct TensorInfo {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;

  int64_t numElements() const;
};

/// A validated safetensors file, memory-mapped (or held in memory).
class SafetensorsFile {
public:
  /// Maps and validates `path`, which must be a regular file (or a symlink
  /// to one): a device or FIFO is refused with a message.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  open(llvm::StringRef path);

  /// Validates a file already in memory; `name` is used in errors.
  static llvm::Expected<std::unique_ptr<SafetensorsFile>>
  parse(std::unique_ptr<llvm::MemoryBuffer> buffer, llvm::StringRef name);

  llvm::StringRef path() const { return name; }
  /// The tensors, in the order of their data offsets.
  llvm::ArrayRef<TensorInfo> tensors() const { return infos; }
  /// The tensor called `tensorName`, or null.
  const TensorInfo *find(llvm::StringRef tensorName) const;
  /// The "__metadata__" entries.
  const std::map<std::string, std::string> &metadata() const { return meta; }

  /// The raw little-endian bytes of a tensor of this file.
  llvm::ArrayRef<uint8_t> bytes(const TensorInfo &info) const;
  /// The tensor's values converted to f32 (exactly, for F16 and BF16; F64 is
  /// rounded). Other dtypes are an error naming the file and the tensor.
  llvm::Expected<std::vector<float>> toFloat32(const TensorInfo &info) const;

private:
  SafetensorsFile() = default;

  std::string name;
  std::unique_ptr<llvm::MemoryBuffer> buffer;
  const uint8_t *data = nullptr; ///< start of the data section
  uint64_t dataSize = 0;
  std::vector<TensorInfo> infos;
  llvm::StringMap<size_t> byName;
  std::map<std::string, std::string> meta;
};

/// A tensor to write: f32 values, stored as `dtype` (F32, F16 or BF16; the
/// narrow types round to nearest even).
struct TensorToWrite {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  llvm::ArrayRef<float> values;
};

/// Writes a safetensors file (header padded to a multiple of 8 bytes, tensors
/// in the given order) with writeFileSafely: a regular file is replaced
/// atomically, a device or FIFO (/dev/null) is written where it is. At most
/// kMaxSafetensorsTensors tensors.
llvm::Error
writeSafetensors(llvm::StringRef path, llvm::ArrayRef<TensorToWrite> tensors,
                 const std::map<std::string, std::string> &metadata = {});

/// Conversions used by the reader and the writer.
float halfToFloat(uint16_t bits);
float bfloat16ToFloat(uint16_t bits);
uint16_t floatToHalf(float value);     ///< round to nearest even
uint16_t floatToBfloat16(float value); ///< round to nearest even

/// The conversions of a reduced precision (common/Precision.h): `value`
/// rounded to nearest even as the bits of bf16 or f16, those bits' value, and
/// the round trip (f32: the value itself).
uint16_t floatToPrecisionBits(float value, Precision precision);
float precisionBitsToFloat(uint16_t bits, Precision precision);
float roundToPrecision(float value, Precision precision);

/// The tensors of a checkpoint: one safetensors file, or the shards of a
/// model.safetensors.index.json ("weight_map": tensor name -> shard file).
class Checkpoint {
public:
  /// `path` is a .safetensors file, a model.safetensors.index.json, or a
  /// model folder holding model.safetensors or model.safetensors.index.json.
  static llvm::Expected<std::unique_ptr<Checkpoint>> open(llvm::StringRef path);

  /// Every tensor name, sorted.
  std::vector<std::string> names() const;
  /// The tensor and the file holding it, or {nullptr, nullptr}.
  std::pair<const SafetensorsFile *, const TensorInfo *>
  find(llvm::StringRef name) const;
  /// The files (one, or one per shard).
  llvm::ArrayRef<std::unique_ptr<SafetensorsFile>> files() const {
    return shards;
  }

private:
  std::vector<std::unique_ptr<SafetensorsFile>> shards;
  llvm::StringMap<std::pair<size_t, size_t>> index; ///< name -> (shard, tensor)
};

} // namespace mm

#endif // MM_RUNTIME_SAFETENSORS_H
