//===- Safetensors.cpp - safetensors files and checkpoints ----------------===//
//
// The reader trusts nothing in the file: every length and offset is checked
// with overflow-free arithmetic before it is used, the JSON nesting depth and
// the number of entries and values are bounded before the (recursive) JSON
// parser sees the header, so that its memory stays a small multiple of the
// tensors a real checkpoint has, and the tensors must tile the data section
// exactly. Only regular files are opened: they are memory-mapped. Element reads
// go through llvm::support::endian, so unaligned data and big-endian hosts are
// fine.
//
//===----------------------------------------------------------------------===//

#include "runtime/Safetensors.h"
#include "common/InputFiles.h"
#include "common/OutputFile.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <tuple>

using namespace mm;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
namespace endian = llvm::support::endian;
namespace json = llvm::json;

namespace {

/// The name of the optional string -> string entry of a header.
constexpr const char *kMetadataKey = "__metadata__";

llvm::Error makeError(const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// "FILE: MESSAGE".
llvm::Error fileError(StringRef file, const Twine &message) {
  return makeError(Twine(file) + ": " + message);
}

/// "FILE: tensor 'NAME': MESSAGE".
llvm::Error tensorError(StringRef file, StringRef tensor,
                        const Twine &message) {
  return makeError(Twine(file) + ": tensor '" + tensor + "': " + message);
}

/// The number of elements of `shape`; std::nullopt when a dimension is
/// negative or the product does not fit in int64_t.
std::optional<int64_t> checkedNumElements(llvm::ArrayRef<int64_t> shape) {
  int64_t count = 1;
  for (int64_t dim : shape)
    if (dim < 0 || __builtin_mul_overflow(count, dim, &count))
      return std::nullopt;
  return count;
}

/// A JSON number that is a non-negative integer written without fraction or
/// exponent (llvm::json keeps those as integers). Doubles are rejected, which
/// also keeps clear of the int64 conversion in json::Value::getAsInteger.
std::optional<uint64_t> getUnsigned(const json::Value &value) {
  return value.getAsUINT64();
}

/// Whether `value` is a negative integral number (for a precise message).
bool isNegativeInteger(const json::Value &value) {
  std::optional<double> number = value.getAsNumber();
  if (!number || !(*number < 0))
    return false;
  double integral;
  return std::modf(*number, &integral) == 0.0;
}

/// Parses header or index JSON after bounding what the parse would allocate:
/// the top-level entries (`maxEntries`, named `entries` in the message) and
/// all values (kMaxSafetensorsJsonValues); the depth is bounded by
/// parseBoundedJson. `what` starts the message, e.g. "header".
Expected<json::Value> parseBoundedHeader(StringRef text, StringRef file,
                                         StringRef what, uint64_t maxEntries,
                                         StringRef entries) {
  JsonCounts counts = countJson(text);
  if (counts.topLevelMembers > maxEntries)
    return fileError(file, llvm::formatv("{0} lists {1} {2}, the limit is {3}",
                                         what, counts.topLevelMembers, entries,
                                         maxEntries));
  if (counts.values > kMaxSafetensorsJsonValues)
    return fileError(
        file, llvm::formatv("{0} holds up to {1} JSON values, the limit "
                            "is {2} (parsing takes about 100 bytes per "
                            "value)",
                            what, counts.values, kMaxSafetensorsJsonValues));
  Expected<json::Value> root = parseBoundedJson(text);
  if (!root)
    return fileError(
        file, what + " is not valid JSON: " + llvm::toString(root.takeError()));
  return root;
}

/// Reads the "__metadata__" object.
llvm::Error parseMetadata(const json::Value &value, StringRef file,
                          std::map<std::string, std::string> &meta) {
  const json::Object *object = value.getAsObject();
  if (!object)
    return fileError(file, Twine("'") + kMetadataKey + "' is not an object");
  for (const auto &[key, entry] : *object) {
    std::optional<StringRef> text = entry.getAsString();
    if (!text)
      return fileError(file, Twine("'") + kMetadataKey + "' entry '" +
                                 StringRef(key) + "' is not a string");
    meta[std::string(StringRef(key))] = text->str();
  }
  return llvm::Error::success();
}

/// Reads and checks one tensor entry against a data section of `dataSize`
/// bytes.
Expected<TensorInfo> parseTensor(StringRef tensorName, const json::Value &value,
                                 StringRef file, uint64_t dataSize) {
  auto error = [&](const Twine &message) {
    return tensorError(file, tensorName, message);
  };
  const json::Object *entry = value.getAsObject();
  if (!entry)
    return error("entry is not a JSON object");

  TensorInfo info;
  info.name = tensorName.str();

  // dtype.
  const json::Value *dtypeValue = entry->get("dtype");
  if (!dtypeValue)
    return error("missing 'dtype'");
  std::optional<StringRef> dtypeText = dtypeValue->getAsString();
  if (!dtypeText)
    return error("'dtype' is not a string");
  std::optional<DType> dtype = parseDType(*dtypeText);
  if (!dtype)
    return error("unknown dtype '" + *dtypeText + "'");
  info.dtype = *dtype;

  // shape.
  const json::Value *shapeValue = entry->get("shape");
  if (!shapeValue)
    return error("missing 'shape'");
  const json::Array *shape = shapeValue->getAsArray();
  if (!shape)
    return error("'shape' is not an array");
  info.shape.reserve(shape->size());
  for (const json::Value &dimValue : *shape) {
    std::optional<uint64_t> dim = getUnsigned(dimValue);
    if (!dim) {
      if (isNegativeInteger(dimValue))
        return error(
            llvm::formatv("'shape' has a negative dimension {0}", dimValue));
      return error(llvm::formatv(
          "'shape' dimension {0} is not a non-negative integer", dimValue));
    }
    if (*dim > uint64_t(std::numeric_limits<int64_t>::max()))
      return error(llvm::formatv("'shape' dimension {0} is too large", *dim));
    info.shape.push_back(int64_t(*dim));
  }
  std::optional<int64_t> numElements = checkedNumElements(info.shape);
  if (!numElements)
    return error("shape " + formatShape(info.shape) +
                 " has too many elements (the product overflows)");

  // data_offsets.
  const json::Value *offsetsValue = entry->get("data_offsets");
  if (!offsetsValue)
    return error("missing 'data_offsets'");
  const json::Array *offsets = offsetsValue->getAsArray();
  std::optional<uint64_t> begin, end;
  if (offsets && offsets->size() == 2) {
    begin = getUnsigned((*offsets)[0]);
    end = getUnsigned((*offsets)[1]);
  }
  if (!begin || !end)
    return error(llvm::formatv(
        "'data_offsets' must be two non-negative integers, got {0}",
        *offsetsValue));
  if (*begin > *end)
    return error(llvm::formatv("data_offsets [{0}, {1}] begin after they end",
                               *begin, *end));
  info.begin = *begin;
  info.end = *end;

  uint64_t bytes;
  if (__builtin_mul_overflow(uint64_t(*numElements),
                             uint64_t(dtypeSize(info.dtype)), &bytes))
    return error(llvm::formatv("shape {0} x {1} needs more than 2^64 bytes",
                               formatShape(info.shape),
                               stringifyDType(info.dtype)));
  if (bytes != info.end - info.begin)
    return error(llvm::formatv(
        "shape {0} x {1} needs {2} bytes but data_offsets span {3}",
        formatShape(info.shape), stringifyDType(info.dtype), bytes,
        info.end - info.begin));
  if (info.end > dataSize)
    return error(llvm::formatv("data_offsets [{0}, {1}] run past the end of "
                               "the data section ({2} bytes)",
                               info.begin, info.end, dataSize));
  return info;
}

/// Checks that `infos`, sorted by offsets, cover [0, dataSize) exactly.
llvm::Error checkCoverage(llvm::ArrayRef<TensorInfo> infos, uint64_t dataSize,
                          StringRef file) {
  uint64_t covered = 0;             // bytes [0, covered) belong to tensors
  const TensorInfo *last = nullptr; // the tensor ending at `covered`
  for (const TensorInfo &info : infos) {
    if (info.begin < covered)
      return fileError(file, llvm::formatv("tensors '{0}' (bytes [{1}, {2})) "
                                           "and '{3}' (bytes [{4}, {5})) "
                                           "overlap",
                                           last->name, last->begin, last->end,
                                           info.name, info.begin, info.end));
    if (info.begin > covered)
      return tensorError(file, info.name,
                         llvm::formatv("hole before it: bytes [{0}, {1}) of "
                                       "the data section belong to no tensor",
                                       covered, info.begin));
    if (!last || info.end > covered)
      last = &info;
    covered = info.end;
  }
  if (covered == dataSize)
    return llvm::Error::success();
  if (!last)
    return fileError(file, llvm::formatv("the data section has {0} bytes but "
                                         "the header lists no tensors",
                                         dataSize));
  return fileError(file, llvm::formatv("hole at the end: bytes [{0}, {1}) "
                                       "after the last tensor '{2}' belong to "
                                       "no tensor",
                                       covered, dataSize, last->name));
}

} // namespace

std::string mm::formatShape(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  llvm::raw_string_ostream os(text);
  llvm::interleave(shape, os, ", ");
  os << "]";
  return text;
}

//===----------------------------------------------------------------------===//
// DType
//===----------------------------------------------------------------------===//

namespace {
struct DTypeEntry {
  DType dtype;
  const char *spelling;
  size_t size;
};
constexpr DTypeEntry kDTypes[] = {
    {DType::Bool, "BOOL", 1},      {DType::U8, "U8", 1},
    {DType::I8, "I8", 1},          {DType::U16, "U16", 2},
    {DType::I16, "I16", 2},        {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2},      {DType::U32, "U32", 4},
    {DType::I32, "I32", 4},        {DType::F32, "F32", 4},
    {DType::U64, "U64", 8},        {DType::I64, "I64", 8},
    {DType::F64, "F64", 8},        {DType::F8E4M3, "F8_E4M3", 1},
    {DType::F8E5M2, "F8_E5M2", 1},
};

const DTypeEntry &lookup(DType dtype) {
  for (const DTypeEntry &entry : kDTypes)
    if (entry.dtype == dtype)
      return entry;
  llvm_unreachable("unknown DType");
}
} // namespace

StringRef mm::stringifyDType(DType dtype) { return lookup(dtype).spelling; }

std::optional<DType> mm::parseDType(StringRef spelling) {
  for (const DTypeEntry &entry : kDTypes)
    if (spelling == entry.spelling)
      return entry.dtype;
  return std::nullopt;
}

size_t mm::dtypeSize(DType dtype) { return lookup(dtype).size; }

int64_t TensorInfo::numElements() const {
  // Parsed tensors always fit; -1 marks a hand-made, invalid shape.
  return checkedNumElements(shape).value_or(-1);
}

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

float mm::halfToFloat(uint16_t bits) {
  uint32_t sign = uint32_t(bits & 0x8000) << 16;
  uint32_t exponent = (bits >> 10) & 0x1f;
  uint32_t mantissa = bits & 0x3ff;
  if (exponent == 0x1f) {
    // Infinity, or NaN with its payload kept and made quiet.
    uint32_t result = sign | 0x7f800000 | (mantissa << 13);
    if (mantissa)
      result |= 0x00400000;
    return llvm::bit_cast<float>(result);
  }
  if (exponent == 0) {
    // Zero or subnormal: mantissa x 2^-24, exact in f32.
    float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  return llvm::bit_cast<float>(sign | ((exponent + 127 - 15) << 23) |
                               (mantissa << 13));
}

float mm::bfloat16ToFloat(uint16_t bits) {
  uint32_t result = uint32_t(bits) << 16;
  if ((result & 0x7fffffff) > 0x7f800000)
    result |= 0x00400000; // quiet NaN
  return llvm::bit_cast<float>(result);
}

uint16_t mm::floatToHalf(float value) {
  uint32_t bits = llvm::bit_cast<uint32_t>(value);
  uint16_t sign = (bits >> 16) & 0x8000;
  uint32_t magnitude = bits & 0x7fffffff;
  if (magnitude > 0x7f800000) // NaN: quiet, keeping the top payload bits
    return sign | 0x7e00 | ((magnitude >> 13) & 0x3ff);
  // 65520 = 65504 + half an ulp rounds (to even) to infinity.
  if (magnitude >= 0x477ff000)
    return sign | 0x7c00;
  if (magnitude >= 0x38800000) { // 2^-14: a normal half
    uint32_t odd = (magnitude >> 13) & 1;
    magnitude -= (127 - 15) << 23;
    magnitude += 0xfff + odd; // round to nearest even; may carry into exponent
    return sign | uint16_t(magnitude >> 13);
  }
  // A half subnormal (or zero): count units of 2^-24.
  uint32_t exponent = magnitude >> 23;
  if (exponent < 102) // below 2^-25: rounds to zero
    return sign;
  uint32_t significand = (magnitude & 0x7fffff) | 0x800000;
  uint32_t shift = 126 - exponent; // in [14, 24]
  uint32_t quotient = significand >> shift;
  uint32_t remainder = significand & ((1u << shift) - 1);
  uint32_t halfway = 1u << (shift - 1);
  if (remainder > halfway || (remainder == halfway && (quotient & 1)))
    ++quotient; // may become 0x400, the smallest normal: still correct
  return sign | uint16_t(quotient);
}

uint16_t mm::floatToBfloat16(float value) {
  uint32_t bits = llvm::bit_cast<uint32_t>(value);
  if ((bits & 0x7fffffff) > 0x7f800000) // NaN: quiet, keeping the sign
    return uint16_t(bits >> 16) | 0x0040;
  // Round to nearest even; overflow carries into infinity.
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

uint16_t mm::floatToPrecisionBits(float value, Precision precision) {
  return precision == Precision::F16 ? floatToHalf(value)
                                     : floatToBfloat16(value);
}

float mm::precisionBitsToFloat(uint16_t bits, Precision precision) {
  return precision == Precision::F16 ? halfToFloat(bits)
                                     : bfloat16ToFloat(bits);
}

float mm::roundToPrecision(float value, Precision precision) {
  if (precision == Precision::F32)
    return value;
  return precisionBitsToFloat(floatToPrecisionBits(value, precision),
                              precision);
}

//===----------------------------------------------------------------------===//
// SafetensorsFile
//===----------------------------------------------------------------------===//

namespace {

/// "a character device", ...: what a path is, for messages.
StringRef describeFileType(llvm::sys::fs::file_type type) {
  using llvm::sys::fs::file_type;
  switch (type) {
  case file_type::directory_file:
    return "a directory";
  case file_type::character_file:
    return "a character device";
  case file_type::block_file:
    return "a block device";
  case file_type::fifo_file:
    return "a FIFO";
  case file_type::socket_file:
    return "a socket";
  default:
    return "not a regular file";
  }
}

/// The error for a path that is not a regular file.
llvm::Error notRegular(StringRef path, llvm::sys::fs::file_type type) {
  if (type == llvm::sys::fs::file_type::directory_file)
    return fileError(path, "is a directory");
  return fileError(path, "is " + describeFileType(type) +
                             ", not a regular file (weights are "
                             "memory-mapped: save them to a file first)");
}

} // namespace

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::open(StringRef path) {
  namespace fs = llvm::sys::fs;
  // Only a regular file can be mapped: a device (/dev/zero) or a FIFO would
  // be read without end, and opening a FIFO blocks. Looked at before opening,
  // and again on the open file in case the path changed in between.
  fs::file_status status;
  if (std::error_code ec = fs::status(path, status))
    return fileError(path, "cannot read: " + ec.message());
  if (status.type() != fs::file_type::regular_file)
    return notRegular(path, status.type());
  Expected<fs::file_t> file = fs::openNativeFileForRead(path);
  if (!file)
    return fileError(path, "cannot read: " + llvm::toString(file.takeError()));
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      std::make_error_code(std::errc::invalid_argument);
  std::error_code ec = fs::status(*file, status);
  if (!ec && status.type() == fs::file_type::regular_file)
    buffer = llvm::MemoryBuffer::getOpenFile(*file, path, status.getSize(),
                                             /*RequiresNullTerminator=*/false,
                                             /*IsVolatile=*/false);
  fs::closeFile(*file); // a mapping outlives the descriptor
  if (ec)
    return fileError(path, "cannot read: " + ec.message());
  if (status.type() != fs::file_type::regular_file)
    return notRegular(path, status.type());
  if (!buffer)
    return fileError(path, "cannot read: " + buffer.getError().message());
  return parse(std::move(*buffer), path);
}

Expected<std::unique_ptr<SafetensorsFile>>
SafetensorsFile::parse(std::unique_ptr<llvm::MemoryBuffer> buffer,
                       StringRef name) {
  if (!buffer)
    return fileError(name, "no data");
  StringRef contents = buffer->getBuffer();
  uint64_t size = contents.size();
  if (size < 8)
    return fileError(name, llvm::formatv("file is {0} bytes, shorter than the "
                                         "8-byte header length",
                                         size));
  uint64_t headerSize = endian::read64le(contents.data());
  if (headerSize > kMaxSafetensorsHeaderBytes)
    return fileError(name,
                     llvm::formatv("header length {0} exceeds the limit "
                                   "of {1} bytes",
                                   headerSize, kMaxSafetensorsHeaderBytes));
  if (headerSize > size - 8)
    return fileError(name, llvm::formatv("header length {0} runs past the end "
                                         "of the file ({1} bytes follow the "
                                         "length)",
                                         headerSize, size - 8));
  StringRef header = contents.substr(8, headerSize);
  // One entry more than the tensors for "__metadata__".
  Expected<json::Value> root = parseBoundedHeader(
      header, name, "header", kMaxSafetensorsTensors + 1, "entries");
  if (!root)
    return root.takeError();
  const json::Object *object = root->getAsObject();
  if (!object)
    return fileError(name, "header is not a JSON object");

  std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
  file->name = name.str();
  file->data =
      reinterpret_cast<const uint8_t *>(contents.data()) + 8 + headerSize;
  file->dataSize = size - 8 - headerSize;

  // Visit the keys sorted, so that the first error reported does not depend
  // on hashing.
  std::vector<StringRef> keys;
  keys.reserve(object->size());
  for (const auto &entry : *object)
    keys.push_back(entry.first);
  llvm::sort(keys);
  for (StringRef key : keys) {
    const json::Value &value = *object->get(key);
    if (key == kMetadataKey) {
      if (llvm::Error error = parseMetadata(value, name, file->meta))
        return std::move(error);
      continue;
    }
    Expected<TensorInfo> info = parseTensor(key, value, name, file->dataSize);
    if (!info)
      return info.takeError();
    file->infos.push_back(std::move(*info));
  }
  if (file->infos.size() > kMaxSafetensorsTensors)
    return fileError(name,
                     llvm::formatv("header lists {0} tensors, the "
                                   "limit is {1}",
                                   file->infos.size(), kMaxSafetensorsTensors));

  // Names are unique, so the order is total.
  llvm::sort(file->infos, [](const TensorInfo &a, const TensorInfo &b) {
    return std::tie(a.begin, a.end, a.name) < std::tie(b.begin, b.end, b.name);
  });
  if (llvm::Error error = checkCoverage(file->infos, file->dataSize, name))
    return std::move(error);
  for (auto [index, info] : llvm::enumerate(file->infos))
    file->byName[info.name] = index;
  file->buffer = std::move(buffer);
  return file;
}

const TensorInfo *SafetensorsFile::find(StringRef tensorName) const {
  auto it = byName.find(tensorName);
  return it == byName.end() ? nullptr : &infos[it->second];
}

llvm::ArrayRef<uint8_t> SafetensorsFile::bytes(const TensorInfo &info) const {
  // A TensorInfo from elsewhere must not lead outside the data section.
  if (info.begin > info.end || info.end > dataSize)
    return {};
  return llvm::ArrayRef<uint8_t>(data + info.begin, info.end - info.begin);
}

Expected<std::vector<float>>
SafetensorsFile::toFloat32(const TensorInfo &info) const {
  if (info.dtype != DType::F32 && info.dtype != DType::F16 &&
      info.dtype != DType::BF16 && info.dtype != DType::F64)
    return tensorError(name, info.name,
                       "dtype " + stringifyDType(info.dtype) +
                           " cannot be converted to f32");
  llvm::ArrayRef<uint8_t> raw = bytes(info);
  size_t elementSize = dtypeSize(info.dtype);
  int64_t count = info.numElements();
  if (count < 0 || raw.size() != info.end - info.begin ||
      raw.size() / elementSize != uint64_t(count) ||
      raw.size() % elementSize != 0)
    return tensorError(name, info.name,
                       "shape and byte range do not describe a tensor of "
                       "this file");

  std::vector<float> values(count);
  const uint8_t *in = raw.data();
  switch (info.dtype) {
  case DType::F32:
    for (int64_t i = 0; i < count; ++i)
      values[i] = llvm::bit_cast<float>(endian::read32le(in + 4 * i));
    break;
  case DType::F16:
    for (int64_t i = 0; i < count; ++i)
      values[i] = halfToFloat(endian::read16le(in + 2 * i));
    break;
  case DType::BF16:
    for (int64_t i = 0; i < count; ++i)
      values[i] = bfloat16ToFloat(endian::read16le(in + 2 * i));
    break;
  case DType::F64:
    for (int64_t i = 0; i < count; ++i)
      values[i] = float(llvm::bit_cast<double>(endian::read64le(in + 8 * i)));
    break;
  default:
    llvm_unreachable("dtype checked above");
  }
  return values;
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

llvm::Error
mm::writeSafetensors(StringRef path, llvm::ArrayRef<TensorToWrite> tensors,
                     const std::map<std::string, std::string> &metadata) {
  // Check everything and lay the tensors out before creating any file.
  if (tensors.size() > kMaxSafetensorsTensors)
    return fileError(path,
                     llvm::formatv("{0} tensors, the limit is {1} "
                                   "(readers refuse more)",
                                   tensors.size(), kMaxSafetensorsTensors));
  json::Object header;
  llvm::StringSet<> seen;
  uint64_t offset = 0;
  for (const TensorToWrite &tensor : tensors) {
    auto error = [&](const Twine &message) {
      return tensorError(path, tensor.name, message);
    };
    if (tensor.name.empty())
      return fileError(path, "a tensor has an empty name");
    if (!json::isUTF8(tensor.name))
      return error("the name is not valid UTF-8");
    if (tensor.name == kMetadataKey)
      return error("the name is reserved for metadata");
    if (!seen.insert(tensor.name).second)
      return error("duplicate name");
    if (tensor.dtype != DType::F32 && tensor.dtype != DType::F16 &&
        tensor.dtype != DType::BF16)
      return error("cannot write dtype " + stringifyDType(tensor.dtype) +
                   " (only F32, F16 and BF16)");
    std::optional<int64_t> count = checkedNumElements(tensor.shape);
    if (!count)
      return error("shape " + formatShape(tensor.shape) +
                   " has a negative dimension or too many elements");
    if (uint64_t(*count) != tensor.values.size())
      return error(llvm::formatv("shape {0} needs {1} values, got {2}",
                                 formatShape(tensor.shape), *count,
                                 tensor.values.size()));
    uint64_t bytes;
    if (__builtin_mul_overflow(uint64_t(*count),
                               uint64_t(dtypeSize(tensor.dtype)), &bytes) ||
        __builtin_add_overflow(offset, bytes, &bytes))
      return error("the file would exceed 2^64 bytes");
    header[tensor.name] = json::Object{
        {"dtype", stringifyDType(tensor.dtype)},
        {"shape", json::Array(tensor.shape)},
        {"data_offsets", json::Array{offset, bytes}},
    };
    offset = bytes;
  }
  if (!metadata.empty()) {
    json::Object meta;
    for (const auto &[key, value] : metadata) {
      if (!json::isUTF8(key) || !json::isUTF8(value))
        return fileError(path,
                         "metadata entry '" + key + "' is not valid UTF-8");
      meta[key] = value;
    }
    header[kMetadataKey] = std::move(meta);
  }
  std::string headerText;
  llvm::raw_string_ostream(headerText) << json::Value(std::move(header));
  // Pad so that the data section starts 8-byte aligned.
  headerText.append((8 - headerText.size() % 8) % 8, ' ');

  // A regular file is replaced atomically; /dev/null or a FIFO is written
  // where it is (writeFileSafely).
  return writeFileSafely(path, [&](llvm::raw_ostream &os) {
    char word[8];
    endian::write64le(word, headerText.size());
    os.write(word, 8);
    os << headerText;
    std::vector<char> chunk;
    for (const TensorToWrite &tensor : tensors) {
      size_t size = dtypeSize(tensor.dtype);
      chunk.resize(tensor.values.size() * size);
      char *out = chunk.data();
      for (float value : tensor.values) {
        if (tensor.dtype == DType::F32)
          endian::write32le(out, llvm::bit_cast<uint32_t>(value));
        else if (tensor.dtype == DType::F16)
          endian::write16le(out, floatToHalf(value));
        else
          endian::write16le(out, floatToBfloat16(value));
        out += size;
      }
      if (!chunk.empty())
        os.write(chunk.data(), chunk.size());
    }
    return llvm::Error::success();
  });
}

//===----------------------------------------------------------------------===//
// Checkpoint
//===----------------------------------------------------------------------===//

namespace {

/// Opens the shards listed by a model.safetensors.index.json and checks that
/// its weight_map and the shards agree exactly.
llvm::Error openIndex(StringRef indexPath,
                      std::vector<std::unique_ptr<SafetensorsFile>> &shards,
                      llvm::StringMap<std::pair<size_t, size_t>> &index) {
  Expected<std::unique_ptr<llvm::MemoryBuffer>> buffer = readBoundedFile(
      indexPath, kMaxSafetensorsIndexBytes, "a safetensors index");
  if (!buffer)
    return buffer.takeError();
  // The index's entries are "metadata" and "weight_map"; the values bound
  // the tensors it lists.
  Expected<json::Value> root =
      parseBoundedHeader((*buffer)->getBuffer(), indexPath, "the index",
                         kMaxSafetensorsJsonValues, "entries");
  if (!root)
    return root.takeError();
  const json::Object *object = root->getAsObject();
  if (!object)
    return fileError(indexPath, "not a JSON object");
  if (const json::Value *meta = object->get("metadata");
      meta && !meta->getAsObject())
    return fileError(indexPath, "'metadata' is not an object");
  const json::Value *weightMapValue = object->get("weight_map");
  if (!weightMapValue)
    return fileError(indexPath, "missing 'weight_map'");
  const json::Object *weightMap = weightMapValue->getAsObject();
  if (!weightMap)
    return fileError(indexPath, "'weight_map' is not an object");

  // tensor -> shard file name, sorted; each shard name once.
  std::map<std::string, std::string> wanted;
  std::map<std::string, size_t> shardIndex;
  for (const auto &[key, value] : *weightMap) {
    StringRef tensor = key;
    std::optional<StringRef> shard = value.getAsString();
    if (!shard)
      return fileError(indexPath,
                       "'weight_map' entry '" + tensor + "' is not a string");
    if (shard->empty() || llvm::sys::path::is_absolute(*shard) ||
        llvm::is_contained(llvm::make_range(llvm::sys::path::begin(*shard),
                                            llvm::sys::path::end(*shard)),
                           ".."))
      return fileError(indexPath, "'weight_map' entry '" + tensor +
                                      "': shard '" + *shard +
                                      "' is not a path inside the index's "
                                      "folder");
    wanted[tensor.str()] = shard->str();
    shardIndex.emplace(shard->str(), 0);
  }

  StringRef folder = llvm::sys::path::parent_path(indexPath);
  for (auto &[shardName, position] : shardIndex) {
    llvm::SmallString<256> shardPath(folder);
    llvm::sys::path::append(shardPath, shardName);
    Expected<std::unique_ptr<SafetensorsFile>> shard =
        SafetensorsFile::open(shardPath);
    if (!shard)
      return shard.takeError();
    position = shards.size();
    shards.push_back(std::move(*shard));
  }

  for (auto [shardNumber, shard] : llvm::enumerate(shards)) {
    for (auto [tensorNumber, info] : llvm::enumerate(shard->tensors())) {
      auto [it, inserted] =
          index.try_emplace(info.name, shardNumber, tensorNumber);
      if (!inserted)
        return fileError(indexPath,
                         llvm::formatv("tensor '{0}' is in two shards, '{1}' "
                                       "and '{2}'",
                                       info.name,
                                       shards[it->second.first]->path(),
                                       shard->path()));
    }
  }
  for (const auto &[tensor, shardName] : wanted) {
    const SafetensorsFile &shard = *shards[shardIndex[shardName]];
    if (!shard.find(tensor))
      return fileError(indexPath,
                       llvm::formatv("tensor '{0}' is not in shard '{1}'",
                                     tensor, shard.path()));
  }
  std::vector<StringRef> present(index.keys().begin(), index.keys().end());
  llvm::sort(present);
  for (StringRef tensor : present)
    if (!wanted.count(tensor.str()))
      return fileError(
          indexPath,
          llvm::formatv("tensor '{0}' of shard '{1}' is not listed in the "
                        "'weight_map'",
                        tensor, shards[index.lookup(tensor).first]->path()));
  return llvm::Error::success();
}

} // namespace

Expected<std::unique_ptr<Checkpoint>> Checkpoint::open(StringRef path) {
  auto checkpoint = std::make_unique<Checkpoint>();
  llvm::SmallString<256> file(path);
  if (llvm::sys::fs::is_directory(path)) {
    llvm::SmallString<256> single(path), sharded(path);
    llvm::sys::path::append(single, "model.safetensors");
    llvm::sys::path::append(sharded, "model.safetensors.index.json");
    if (llvm::sys::fs::exists(single))
      file = single;
    else if (llvm::sys::fs::exists(sharded))
      file = sharded;
    else
      return fileError(path, "folder holds neither model.safetensors nor "
                             "model.safetensors.index.json");
  }

  if (StringRef(file).ends_with(".json")) {
    if (llvm::Error error =
            openIndex(file, checkpoint->shards, checkpoint->index))
      return std::move(error);
    return checkpoint;
  }

  Expected<std::unique_ptr<SafetensorsFile>> single =
      SafetensorsFile::open(file);
  if (!single)
    return single.takeError();
  for (auto [number, info] : llvm::enumerate((*single)->tensors()))
    checkpoint->index.try_emplace(info.name, 0, number);
  checkpoint->shards.push_back(std::move(*single));
  return checkpoint;
}

std::vector<std::string> Checkpoint::names() const {
  std::vector<std::string> result;
  result.reserve(index.size());
  for (const auto &entry : index)
    result.push_back(entry.getKey().str());
  llvm::sort(result);
  return result;
}

std::pair<const SafetensorsFile *, const TensorInfo *>
Checkpoint::find(StringRef name) const {
  auto it = index.find(name);
  if (it == index.end())
    return {nullptr, nullptr};
  const SafetensorsFile *file = shards[it->second.first].get();
  return {file, &file->tensors()[it->second.second]};
}
