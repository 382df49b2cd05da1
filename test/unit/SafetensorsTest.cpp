//===- SafetensorsTest.cpp - safetensors files and checkpoints ------------===//

#include "runtime/Safetensors.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

using namespace mm;
using llvm::StringRef;

namespace {

/// A safetensors file in memory: the 8-byte length `headerLength`, `header`
/// and `data`.
std::string makeFile(uint64_t headerLength, StringRef header, StringRef data) {
  char length[8];
  llvm::support::endian::write64le(length, headerLength);
  return std::string(length, 8) + header.str() + data.str();
}

/// A safetensors file whose length field is right.
std::string makeFile(StringRef header, StringRef data = "") {
  return makeFile(header.size(), header, data);
}

llvm::Expected<std::unique_ptr<SafetensorsFile>> parseBytes(StringRef bytes) {
  return SafetensorsFile::parse(llvm::MemoryBuffer::getMemBufferCopy(bytes),
                                "bad.safetensors");
}

/// The error text of bytes that must not parse.
std::string parseError(StringRef bytes) {
  auto file = parseBytes(bytes);
  if (file) {
    ADD_FAILURE() << "parsed, but should not have";
    return "";
  }
  return llvm::toString(file.takeError());
}

/// The text of an error that must be there.
template <typename T> std::string errorOf(llvm::Expected<T> value) {
  if (value) {
    ADD_FAILURE() << "succeeded, but should not have";
    return "";
  }
  return llvm::toString(value.takeError());
}
std::string errorOf(llvm::Error error) {
  if (!error) {
    ADD_FAILURE() << "succeeded, but should not have";
    return "";
  }
  return llvm::toString(std::move(error));
}

/// Unwraps an Expected, failing the test on error.
template <typename T> T unwrap(llvm::Expected<T> value) {
  if (!value) {
    ADD_FAILURE() << llvm::toString(value.takeError());
    return T();
  }
  return std::move(*value);
}

bool sameBits(float a, float b) {
  uint32_t x, y;
  std::memcpy(&x, &a, 4);
  std::memcpy(&y, &b, 4);
  return x == y;
}

std::vector<float> randomValues(size_t count, uint32_t seed, float scale) {
  std::mt19937 generator(seed);
  std::normal_distribution<float> normal(0.0f, scale);
  std::vector<float> values(count);
  for (float &value : values)
    value = normal(generator);
  return values;
}

/// A fresh temporary folder, removed with everything in it.
class SafetensorsFiles : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(
        llvm::sys::fs::createUniqueDirectory("mm-safetensors-test", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

public:
  std::string path(StringRef name) const {
    llvm::SmallString<256> result(dir);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }

  void writeText(StringRef name, StringRef text) const {
    std::error_code ec;
    llvm::raw_fd_ostream os(path(name), ec);
    ASSERT_FALSE(ec) << ec.message();
    os << text;
  }

  /// The names of the files in the folder, sorted.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (llvm::sys::fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    std::sort(names.begin(), names.end());
    return names;
  }

protected:
  llvm::SmallString<256> dir;
};

//===----------------------------------------------------------------------===//
// Conversions
//===----------------------------------------------------------------------===//

TEST(Conversions, HalfRoundTripsEveryHalf) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = halfToFloat(uint16_t(bits));
    if (std::isnan(value))
      continue;
    ASSERT_EQ(floatToHalf(value), bits) << "half 0x" << std::hex << bits;
  }
}

TEST(Conversions, BfloatRoundTripsEveryBfloat) {
  for (uint32_t bits = 0; bits < 0x10000; ++bits) {
    float value = bfloat16ToFloat(uint16_t(bits));
    ASSERT_TRUE(sameBits(value, llvm::bit_cast<float>(bits << 16)) ||
                std::isnan(value));
    if (std::isnan(value))
      continue;
    ASSERT_EQ(floatToBfloat16(value), bits) << "bf16 0x" << std::hex << bits;
  }
}

/// Checks rounding at, just below and just above the midpoint of every pair of
/// neighbouring finite positive values of a 16-bit format.
template <typename ToFloat, typename FromFloat>
void checkMidpoints(uint16_t largestFinite, ToFloat toFloat,
                    FromFloat fromFloat) {
  for (uint16_t bits = 0; bits < largestFinite; ++bits) {
    float low = toFloat(bits), high = toFloat(uint16_t(bits + 1));
    // The midpoint needs one more significand bit: exact in f32.
    float mid = float((double(low) + double(high)) / 2);
    ASSERT_EQ(double(mid), (double(low) + double(high)) / 2);
    uint16_t even = (bits & 1) ? uint16_t(bits + 1) : bits;
    ASSERT_EQ(fromFloat(mid), even) << "tie above 0x" << std::hex << bits;
    ASSERT_EQ(fromFloat(std::nextafter(mid, 0.0f)), bits);
    ASSERT_EQ(fromFloat(std::nextafter(mid, INFINITY)), bits + 1);
    // And the same with the sign bit.
    ASSERT_EQ(fromFloat(-mid), even | 0x8000);
  }
}

TEST(Conversions, HalfRoundsToNearestEven) {
  checkMidpoints(0x7bff, halfToFloat, floatToHalf);
}

TEST(Conversions, BfloatRoundsToNearestEven) {
  checkMidpoints(0x7f7f, bfloat16ToFloat, floatToBfloat16);
}

TEST(Conversions, HalfSpecialValues) {
  EXPECT_EQ(floatToHalf(0.0f), 0x0000);
  EXPECT_EQ(floatToHalf(-0.0f), 0x8000);
  EXPECT_TRUE(std::signbit(halfToFloat(0x8000)));
  EXPECT_EQ(floatToHalf(INFINITY), 0x7c00);
  EXPECT_EQ(floatToHalf(-INFINITY), 0xfc00);
  EXPECT_EQ(halfToFloat(0x7c00), INFINITY);
  EXPECT_EQ(halfToFloat(0xfc00), -INFINITY);
  EXPECT_EQ(floatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(halfToFloat(0x7bff), 65504.0f);
  EXPECT_EQ(floatToHalf(65519.996f), 0x7bff);
  EXPECT_EQ(floatToHalf(65520.0f), 0x7c00); // overflows to infinity
  EXPECT_EQ(floatToHalf(1e10f), 0x7c00);
  EXPECT_EQ(floatToHalf(-1e10f), 0xfc00);
  // Subnormals: 1e-7 is 1.68 units of 2^-24, so 2 units.
  EXPECT_EQ(floatToHalf(1e-7f), 0x0002);
  EXPECT_EQ(halfToFloat(0x0002), std::ldexp(1.0f, -23));
  EXPECT_EQ(halfToFloat(0x0001), std::ldexp(1.0f, -24));
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -25)), 0x0000); // tie to even zero
  EXPECT_EQ(floatToHalf(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(floatToHalf(1e-30f), 0x0000);
  EXPECT_EQ(floatToHalf(-1e-30f), 0x8000);
  EXPECT_EQ(floatToHalf(std::numeric_limits<float>::denorm_min()), 0x0000);
  EXPECT_EQ(floatToHalf(std::ldexp(1.0f, -14)), 0x0400); // smallest normal
  // NaN stays a quiet NaN with its sign.
  uint16_t nan = floatToHalf(std::numeric_limits<float>::quiet_NaN());
  EXPECT_EQ(nan & 0x7c00, 0x7c00);
  EXPECT_NE(nan & 0x0200, 0);
  EXPECT_TRUE(std::isnan(halfToFloat(nan)));
  EXPECT_TRUE(std::signbit(halfToFloat(floatToHalf(-NAN))));
  // A signalling NaN whose payload is only in the low bits stays a NaN.
  float signalling = llvm::bit_cast<float>(uint32_t(0x7f800001));
  EXPECT_TRUE(std::isnan(halfToFloat(floatToHalf(signalling))));
  EXPECT_TRUE(std::isnan(halfToFloat(0x7c01)));
  EXPECT_NE(llvm::bit_cast<uint32_t>(halfToFloat(0x7c01)) & 0x00400000, 0u);
}

TEST(Conversions, BfloatSpecialValues) {
  EXPECT_EQ(floatToBfloat16(0.0f), 0x0000);
  EXPECT_EQ(floatToBfloat16(-0.0f), 0x8000);
  EXPECT_EQ(floatToBfloat16(INFINITY), 0x7f80);
  EXPECT_EQ(floatToBfloat16(-INFINITY), 0xff80);
  EXPECT_EQ(floatToBfloat16(std::numeric_limits<float>::max()), 0x7f80);
  EXPECT_EQ(floatToBfloat16(1.0f), 0x3f80);
  EXPECT_EQ(floatToBfloat16(65504.0f), 0x4780);
  EXPECT_EQ(bfloat16ToFloat(0x4780), 65536.0f);
  // bf16 keeps f32's exponent range: 1e-7 and f32 subnormals survive.
  EXPECT_NEAR(bfloat16ToFloat(floatToBfloat16(1e-7f)), 1e-7f, 1e-7f / 256);
  uint16_t nan = floatToBfloat16(std::numeric_limits<float>::quiet_NaN());
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(nan)));
  float signalling = llvm::bit_cast<float>(uint32_t(0x7f800001));
  EXPECT_TRUE(std::isnan(bfloat16ToFloat(floatToBfloat16(signalling))));
  EXPECT_TRUE(std::signbit(bfloat16ToFloat(floatToBfloat16(-NAN))));
}

TEST(DTypes, SpellingsAndSizes) {
  for (DType dtype :
       {DType::Bool, DType::U8, DType::I8, DType::U16, DType::I16, DType::F16,
        DType::BF16, DType::U32, DType::I32, DType::F32, DType::U64, DType::I64,
        DType::F64, DType::F8E4M3, DType::F8E5M2})
    EXPECT_EQ(parseDType(stringifyDType(dtype)), dtype);
  EXPECT_EQ(stringifyDType(DType::F8E4M3), "F8_E4M3");
  EXPECT_EQ(stringifyDType(DType::Bool), "BOOL");
  EXPECT_EQ(parseDType("f32"), std::nullopt);
  EXPECT_EQ(dtypeSize(DType::BF16), 2u);
  EXPECT_EQ(dtypeSize(DType::F64), 8u);
  EXPECT_EQ(dtypeSize(DType::F8E5M2), 1u);
}

//===----------------------------------------------------------------------===//
// Round trips
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsFiles, RoundTripF32) {
  std::vector<float> a = randomValues(7 * 13, 1, 3.0f);
  std::vector<float> b = randomValues(5, 2, 1e-3f);
  ASSERT_FALSE(llvm::any_of(a, [](float v) { return v == 0.0f; }));
  ASSERT_FALSE(writeSafetensors(
      path("f32.safetensors"),
      {{"a", DType::F32, {7, 13}, a}, {"b.bias", DType::F32, {5}, b}}));
  auto file = unwrap(SafetensorsFile::open(path("f32.safetensors")));
  ASSERT_TRUE(file);
  ASSERT_EQ(file->tensors().size(), 2u);
  const TensorInfo *info = file->find("a");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->dtype, DType::F32);
  EXPECT_EQ(info->shape, (std::vector<int64_t>{7, 13}));
  EXPECT_EQ(info->numElements(), 91);
  EXPECT_EQ(file->bytes(*info).size(), 91u * 4);
  std::vector<float> readA = unwrap(file->toFloat32(*info));
  ASSERT_EQ(readA.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i)
    EXPECT_TRUE(sameBits(readA[i], a[i])) << i;
  std::vector<float> readB = unwrap(file->toFloat32(*file->find("b.bias")));
  EXPECT_EQ(readB, b);
  EXPECT_EQ(file->find("missing"), nullptr);
  EXPECT_TRUE(file->metadata().empty());
  // Tensors come in the order of their data.
  EXPECT_EQ(file->tensors()[0].name, "a");
  EXPECT_EQ(file->tensors()[1].begin, 91u * 4);
}

/// Writes random values as `dtype` and checks what comes back against the
/// conversion and a relative error bound of `relativeError`.
void checkNarrowRoundTrip(const SafetensorsFiles &test, StringRef file,
                          DType dtype, float (*toFloat)(uint16_t),
                          uint16_t (*fromFloat)(float), float relativeError,
                          float scale) {
  std::vector<float> values = randomValues(4 * 33, 7 + unsigned(dtype), scale);
  ASSERT_FALSE(
      writeSafetensors(test.path(file.str()), {{"w", dtype, {4, 33}, values}}));
  auto opened = unwrap(SafetensorsFile::open(test.path(file.str())));
  ASSERT_TRUE(opened);
  const TensorInfo *info = opened->find("w");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->dtype, dtype);
  EXPECT_EQ(opened->bytes(*info).size(), values.size() * 2);
  std::vector<float> read = unwrap(opened->toFloat32(*info));
  ASSERT_EQ(read.size(), values.size());
  for (size_t i = 0; i < values.size(); ++i) {
    float expected = toFloat(fromFloat(values[i]));
    EXPECT_TRUE(sameBits(read[i], expected)) << i;
    EXPECT_LE(std::fabs(read[i] - values[i]),
              std::fabs(values[i]) * relativeError)
        << values[i];
    // A representable value converts exactly.
    EXPECT_TRUE(sameBits(toFloat(fromFloat(read[i])), read[i]));
  }
}

TEST_F(SafetensorsFiles, RoundTripF16) {
  checkNarrowRoundTrip(*this, "f16.safetensors", DType::F16, halfToFloat,
                       floatToHalf, std::ldexp(1.0f, -11), 100.0f);
}

TEST_F(SafetensorsFiles, RoundTripBF16) {
  checkNarrowRoundTrip(*this, "bf16.safetensors", DType::BF16, bfloat16ToFloat,
                       floatToBfloat16, std::ldexp(1.0f, -8), 1e5f);
}

TEST_F(SafetensorsFiles, RoundTripSpecialValues) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> values = {INFINITY, -INFINITY, nan,   65504.0f,
                               1e-7f,    0.0f,      -0.0f, -2.5f};
  ASSERT_FALSE(writeSafetensors(path("special.safetensors"),
                                {{"f32", DType::F32, {8}, values},
                                 {"f16", DType::F16, {8}, values},
                                 {"bf16", DType::BF16, {2, 4}, values}}));
  auto file = unwrap(SafetensorsFile::open(path("special.safetensors")));
  ASSERT_TRUE(file);
  for (StringRef name : {"f32", "f16", "bf16"}) {
    SCOPED_TRACE(name.str());
    std::vector<float> read = unwrap(file->toFloat32(*file->find(name)));
    ASSERT_EQ(read.size(), 8u);
    EXPECT_EQ(read[0], INFINITY);
    EXPECT_EQ(read[1], -INFINITY);
    EXPECT_TRUE(std::isnan(read[2]));
    EXPECT_EQ(read[5], 0.0f);
    EXPECT_FALSE(std::signbit(read[5]));
    EXPECT_EQ(read[6], 0.0f);
    EXPECT_TRUE(std::signbit(read[6]));
    EXPECT_EQ(read[7], -2.5f);
  }
  std::vector<float> f16 = unwrap(file->toFloat32(*file->find("f16")));
  EXPECT_EQ(f16[3], 65504.0f);
  EXPECT_EQ(f16[4], std::ldexp(1.0f, -23)); // 1e-7 as an f16 subnormal
  std::vector<float> f32 = unwrap(file->toFloat32(*file->find("f32")));
  EXPECT_EQ(f32[3], 65504.0f);
  EXPECT_EQ(f32[4], 1e-7f);
}

TEST_F(SafetensorsFiles, MetadataAndPadding) {
  std::vector<float> values = {1, 2, 3};
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"note", "a \"quoted\" text"}};
  ASSERT_FALSE(writeSafetensors(path("meta.safetensors"),
                                {{"x", DType::F16, {3}, values}}, metadata));
  auto buffer = llvm::MemoryBuffer::getFile(path("meta.safetensors"));
  ASSERT_TRUE(buffer);
  StringRef bytes = (*buffer)->getBuffer();
  uint64_t headerLength = llvm::support::endian::read64le(bytes.data());
  EXPECT_EQ((8 + headerLength) % 8, 0u);
  EXPECT_EQ(bytes.size(), 8 + headerLength + 6);

  auto file = unwrap(SafetensorsFile::open(path("meta.safetensors")));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->metadata(), metadata);
  EXPECT_EQ(unwrap(file->toFloat32(file->tensors()[0])), values);
  // Without metadata, the header has no "__metadata__".
  ASSERT_FALSE(writeSafetensors(path("plain.safetensors"),
                                {{"x", DType::F32, {3}, values}}));
  auto plain = llvm::MemoryBuffer::getFile(path("plain.safetensors"));
  ASSERT_TRUE(plain);
  EXPECT_FALSE((*plain)->getBuffer().contains("__metadata__"));
}

TEST_F(SafetensorsFiles, EmptyFile) {
  ASSERT_FALSE(writeSafetensors(path("empty.safetensors"), {}));
  auto file = unwrap(SafetensorsFile::open(path("empty.safetensors")));
  ASSERT_TRUE(file);
  EXPECT_TRUE(file->tensors().empty());
  EXPECT_TRUE(file->metadata().empty());
}

//===----------------------------------------------------------------------===//
// Reading files written elsewhere
//===----------------------------------------------------------------------===//

TEST(SafetensorsParse, AcceptsValidEdgeCases) {
  // Zero tensors, trailing spaces in the header, no data.
  auto empty = unwrap(parseBytes(makeFile("{}      ")));
  ASSERT_TRUE(empty);
  EXPECT_TRUE(empty->tensors().empty());

  // A zero-element tensor and unaligned F32 data (header of odd length).
  float values[2] = {1.5f, -3.25f};
  std::string data(reinterpret_cast<const char *>(values), 8);
  static_assert(llvm::endianness::native == llvm::endianness::little,
                "the test writes f32 bytes in host order");
  auto file = unwrap(parseBytes(
      makeFile(R"({"e":{"dtype":"F16","shape":[0,4],"data_offsets":[0,0]},)"
               R"("w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}} )",
               data)));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->find("e")->numElements(), 0);
  EXPECT_TRUE(unwrap(file->toFloat32(*file->find("e"))).empty());
  EXPECT_EQ(unwrap(file->toFloat32(*file->find("w"))),
            (std::vector<float>{1.5f, -3.25f}));
  EXPECT_EQ(file->path(), "bad.safetensors");
}

TEST(SafetensorsParse, ConvertsF64AndRejectsIntegers) {
  double value = 0.1;
  std::string f64(reinterpret_cast<const char *>(&value), 8);
  auto file = unwrap(parseBytes(
      makeFile(R"({"d":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},)"
               R"("i":{"dtype":"I64","shape":[],"data_offsets":[8,16]}})",
               f64 + std::string(8, '\0'))));
  ASSERT_TRUE(file);
  EXPECT_EQ(unwrap(file->toFloat32(*file->find("d"))),
            (std::vector<float>{0.1f}));
  EXPECT_EQ(file->find("i")->numElements(), 1); // a scalar
  std::string error = errorOf(file->toFloat32(*file->find("i")));
  EXPECT_EQ(
      error,
      "bad.safetensors: tensor 'i': dtype I64 cannot be converted to f32");
}

TEST(SafetensorsParse, ForeignTensorInfoStaysInBounds) {
  auto file = unwrap(parseBytes(
      makeFile(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})",
               std::string(4, '\0'))));
  ASSERT_TRUE(file);
  TensorInfo foreign{"x", DType::F32, {100}, 0, 400};
  EXPECT_TRUE(file->bytes(foreign).empty());
  EXPECT_NE(errorOf(file->toFloat32(foreign)).find("tensor 'x'"),
            std::string::npos);
}

struct CorruptFile {
  const char *what;
  std::string bytes;
  const char *message; ///< a distinctive part of the error
};

TEST(SafetensorsParse, RejectsCorruptFiles) {
  auto f32 = [](StringRef name, StringRef shape, StringRef offsets) {
    return ("\"" + name + "\":{\"dtype\":\"F32\",\"shape\":" + shape +
            ",\"data_offsets\":" + offsets + "}")
        .str();
  };
  const std::string bytes12(12, '\0'), bytes20(20, '\0');
  const std::vector<CorruptFile> cases = {
      {"truncated length", std::string("\x05\0\0", 3),
       "file is 3 bytes, shorter than the 8-byte header length"},
      {"header past EOF", makeFile(100, "{}", ""),
       "header length 100 runs past the end of the file (2 bytes follow"},
      {"huge header", makeFile(uint64_t(200) << 20, "{}", ""),
       "header length 209715200 exceeds the limit of 104857600 bytes"},
      {"huge header 2^64-1", makeFile(~uint64_t(0), "{}", ""),
       "exceeds the limit"},
      {"bad JSON", makeFile(R"({"a": )"), "header is not valid JSON: [1:"},
      {"not an object", makeFile("[1, 2]"), "header is not a JSON object"},
      {"deep nesting", makeFile(std::string(100, '[') + std::string(100, ']')),
       "bad.safetensors: header is not valid JSON: [1:64, byte=64]: nested "
       "deeper than 64 levels"},
      {"entry not an object", makeFile(R"({"a": 3})"),
       "tensor 'a': entry is not a JSON object"},
      {"missing dtype",
       makeFile(R"({"a": {"shape": [], "data_offsets": [0, 0]}})"),
       "tensor 'a': missing 'dtype'"},
      {"dtype not a string",
       makeFile(R"({"a": {"dtype": 4, "shape": [], "data_offsets": [0, 0]}})"),
       "tensor 'a': 'dtype' is not a string"},
      {"unknown dtype",
       makeFile(
           R"({"a": {"dtype": "F33", "shape": [], "data_offsets": [0, 4]}})",
           "abcd"),
       "tensor 'a': unknown dtype 'F33'"},
      {"missing shape",
       makeFile(R"({"a": {"dtype": "F32", "data_offsets": [0, 4]}})", "abcd"),
       "tensor 'a': missing 'shape'"},
      {"shape not an array",
       makeFile("{" + f32("a", "3", "[0, 12]") + "}", bytes12),
       "tensor 'a': 'shape' is not an array"},
      {"shape/size mismatch",
       makeFile("{" + f32("a", "[2, 3]", "[0, 20]") + "}", bytes20),
       "tensor 'a': shape [2, 3] x F32 needs 24 bytes but data_offsets span "
       "20"},
      {"negative dim", makeFile("{" + f32("a", "[-2, 3]", "[0, 24]") + "}"),
       "tensor 'a': 'shape' has a negative dimension -2"},
      {"fractional dim", makeFile("{" + f32("a", "[1.5]", "[0, 4]") + "}"),
       "tensor 'a': 'shape' dimension 1.5 is not a non-negative integer"},
      {"dim above int64",
       makeFile("{" + f32("a", "[0, 9223372036854775808]", "[0, 0]") + "}"),
       "'shape' dimension 9223372036854775808 is too large"},
      {"shape overflow",
       makeFile("{" + f32("a", "[4294967296, 4294967296]", "[0, 0]") + "}"),
       "tensor 'a': shape [4294967296, 4294967296] has too many elements"},
      {"byte size overflow",
       makeFile("{" + f32("a", "[4611686018427387904]", "[0, 0]") + "}"),
       "needs more than 2^64 bytes"},
      {"missing data_offsets",
       makeFile(R"({"a": {"dtype": "F32", "shape": []}})", "abcd"),
       "tensor 'a': missing 'data_offsets'"},
      {"one offset", makeFile("{" + f32("a", "[1]", "[4]") + "}", "abcd"),
       "tensor 'a': 'data_offsets' must be two non-negative integers, got [4]"},
      {"negative offset", makeFile("{" + f32("a", "[1]", "[-4, 0]") + "}"),
       "'data_offsets' must be two non-negative integers, got [-4,0]"},
      {"begin after end", makeFile("{" + f32("a", "[1]", "[8, 4]") + "}"),
       "tensor 'a': data_offsets [8, 4] begin after they end"},
      {"offsets past the end",
       makeFile("{" + f32("a", "[2, 3]", "[0, 24]") + "}", bytes20),
       "tensor 'a': data_offsets [0, 24] run past the end of the data section "
       "(20 bytes)"},
      {"overlapping tensors",
       makeFile("{" + f32("a", "[2]", "[0, 8]") + "," +
                    f32("b", "[2]", "[4, 12]") + "}",
                bytes12),
       "tensors 'a' (bytes [0, 8)) and 'b' (bytes [4, 12)) overlap"},
      {"zero-size tensor inside another",
       makeFile("{" + f32("a", "[3]", "[0, 12]") + "," +
                    f32("b", "[0]", "[4, 4]") + "}",
                bytes12),
       "tensors 'a' (bytes [0, 12)) and 'b' (bytes [4, 4)) overlap"},
      {"hole between tensors",
       makeFile("{" + f32("a", "[1]", "[0, 4]") + "," +
                    f32("b", "[1]", "[8, 12]") + "}",
                bytes12),
       "tensor 'b': hole before it: bytes [4, 8) of the data section belong "
       "to no tensor"},
      {"hole at the start",
       makeFile("{" + f32("a", "[1]", "[4, 8]") + "}", "abcdefgh"),
       "tensor 'a': hole before it: bytes [0, 4)"},
      {"trailing bytes",
       makeFile("{" + f32("a", "[1]", "[0, 4]") + "}", "abcdefgh"),
       "hole at the end: bytes [4, 8) after the last tensor 'a' belong to no "
       "tensor"},
      {"data but no tensors", makeFile("{}", "abcd"),
       "the data section has 4 bytes but the header lists no tensors"},
      {"metadata not an object", makeFile(R"({"__metadata__": [1]})"),
       "'__metadata__' is not an object"},
      {"metadata with a non-string value",
       makeFile(R"({"__metadata__": {"format": "pt", "k": 1}})"),
       "'__metadata__' entry 'k' is not a string"},
  };

  llvm::StringSet<> messages;
  for (const CorruptFile &corrupt : cases) {
    SCOPED_TRACE(corrupt.what);
    std::string message = parseError(corrupt.bytes);
    EXPECT_EQ(message.rfind("bad.safetensors: ", 0), 0u) << message;
    EXPECT_NE(message.find(corrupt.message), std::string::npos) << message;
    EXPECT_TRUE(messages.insert(message).second)
        << "message not distinct: " << message;
  }
}

TEST(SafetensorsParse, SurvivesEveryTruncation) {
  // Every prefix of a valid file is rejected cleanly (or, for the full file,
  // accepted).
  std::string valid =
      makeFile(R"({"a":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]},)"
               R"("__metadata__":{"k":"v"}})",
               "abcd");
  for (size_t size = 0; size < valid.size(); ++size)
    EXPECT_FALSE(parseError(valid.substr(0, size)).empty());
  EXPECT_TRUE(unwrap(parseBytes(valid)));
}

TEST_F(SafetensorsFiles, OpenNamesThePath) {
  std::string bad = path("broken.safetensors");
  writeText("broken.safetensors", makeFile("{\"a\": 3}"));
  std::string error = errorOf(SafetensorsFile::open(bad));
  EXPECT_EQ(error.rfind(bad + ": tensor 'a': ", 0), 0u) << error;

  std::string missing = path("missing.safetensors");
  error = errorOf(SafetensorsFile::open(missing));
  EXPECT_EQ(error.rfind(missing + ": ", 0), 0u) << error;
}

//===----------------------------------------------------------------------===//
// Writing errors
//===----------------------------------------------------------------------===//

TEST_F(SafetensorsFiles, WriteRejectsBadTensors) {
  std::vector<float> six(6, 1.0f);
  std::string out = path("out.safetensors");
  std::string error =
      errorOf(writeSafetensors(out, {{"w", DType::F32, {2, 2}, six}}));
  EXPECT_EQ(error, out + ": tensor 'w': shape [2, 2] needs 4 values, got 6");
  error = errorOf(writeSafetensors(out, {{"w", DType::I64, {6}, six}}));
  EXPECT_EQ(error, out + ": tensor 'w': cannot write dtype I64 (only F32, "
                         "F16 and BF16)");
  error = errorOf(writeSafetensors(
      out, {{"w", DType::F32, {6}, six}, {"w", DType::F16, {6}, six}}));
  EXPECT_EQ(error, out + ": tensor 'w': duplicate name");
  error = errorOf(writeSafetensors(out, {{"w", DType::F32, {-1, -6}, six}}));
  EXPECT_NE(error.find("tensor 'w': shape [-1, -6] has a negative dimension"),
            std::string::npos)
      << error;
  error =
      errorOf(writeSafetensors(out, {{"__metadata__", DType::F32, {6}, six}}));
  EXPECT_NE(error.find("reserved"), std::string::npos) << error;
  // Nothing was created.
  EXPECT_TRUE(listing().empty());

  // A failed rename (onto a folder) leaves no temporary file behind.
  ASSERT_FALSE(llvm::sys::fs::create_directory(path("taken")));
  error =
      errorOf(writeSafetensors(path("taken"), {{"w", DType::F32, {6}, six}}));
  EXPECT_EQ(error.rfind(path("taken") + ": ", 0), 0u) << error;
  EXPECT_EQ(listing(), std::vector<std::string>{"taken"});

  // An unwritable place names the path.
  std::string nowhere = path("no/such/folder/out.safetensors");
  error = errorOf(writeSafetensors(nowhere, {{"w", DType::F32, {6}, six}}));
  EXPECT_EQ(error.rfind(nowhere + ": ", 0), 0u) << error;
}

TEST_F(SafetensorsFiles, WriteReplacesAtomically) {
  std::vector<float> one = {1.0f}, two = {2.0f, 3.0f};
  std::string out = path("model.safetensors");
  ASSERT_FALSE(writeSafetensors(out, {{"w", DType::F32, {1}, one}}));
  ASSERT_FALSE(writeSafetensors(out, {{"w", DType::F32, {2}, two}}));
  auto file = unwrap(SafetensorsFile::open(out));
  ASSERT_TRUE(file);
  EXPECT_EQ(unwrap(file->toFloat32(*file->find("w"))), two);
  EXPECT_EQ(listing(), std::vector<std::string>{"model.safetensors"});
}

//===----------------------------------------------------------------------===//
// Bounds on memory and on what is opened
//===----------------------------------------------------------------------===//

/// A header of `count` zero-size F32 tensors, named t0, t1, ...
std::string zeroSizeTensors(size_t count) {
  std::string header = "{";
  for (size_t i = 0; i < count; ++i) {
    if (i)
      header += ",";
    header += "\"t" + std::to_string(i) +
              "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[0,0]}";
  }
  return header + "}";
}

TEST(SafetensorsBounds, TensorCountIsBoundedBeforeParsing) {
  // A million zero-size entries: 60 MB of header, under the byte limit, that
  // would take gigabytes to parse. Refused from a scan of the text.
  std::string header = zeroSizeTensors(1000000);
  ASSERT_LT(header.size(), kMaxSafetensorsHeaderBytes);
  EXPECT_EQ(parseError(makeFile(header)),
            "bad.safetensors: header lists 1000000 entries, the limit is "
            "65537");
  // One past the limit, with and without metadata.
  EXPECT_NE(parseError(makeFile(zeroSizeTensors(kMaxSafetensorsTensors + 2)))
                .find("header lists 65538 entries, the limit is 65537"),
            std::string::npos);
  std::string onePast = zeroSizeTensors(kMaxSafetensorsTensors + 1);
  EXPECT_EQ(parseError(makeFile(onePast)),
            "bad.safetensors: header lists 65537 tensors, the limit is 65536");
  // Entries inside strings do not count.
  EXPECT_TRUE(unwrap(parseBytes(makeFile("{\"__metadata__\":{\"k\":\"" +
                                         std::string(200000, ':') + "\"}}"))));
}

TEST(SafetensorsBounds, TheLimitItselfParses) {
  std::string header = zeroSizeTensors(kMaxSafetensorsTensors);
  header.insert(1, "\"__metadata__\":{\"format\":\"pt\"},");
  auto file = unwrap(parseBytes(makeFile(header)));
  ASSERT_TRUE(file);
  EXPECT_EQ(file->tensors().size(), kMaxSafetensorsTensors);
}

TEST(SafetensorsBounds, JsonValuesAreBounded) {
  // One tensor whose shape has 2^20 dimensions (2 MB of header).
  std::string shape = "[";
  for (uint64_t i = 0; i < kMaxSafetensorsJsonValues; ++i)
    shape += "1,";
  shape += "0]";
  std::string error =
      parseError(makeFile("{\"a\":{\"dtype\":\"F32\",\"shape\":" + shape +
                          ",\"data_offsets\":[0,0]}}"));
  EXPECT_EQ(error.rfind("bad.safetensors: header holds up to ", 0), 0u)
      << error;
  EXPECT_NE(error.find("JSON values, the limit is 1048576"), std::string::npos)
      << error;
  // Many metadata entries count too.
  std::string meta = "{\"__metadata__\":{";
  for (uint64_t i = 0; i <= kMaxSafetensorsJsonValues; ++i)
    meta += (i ? ",\"" : "\"") + std::to_string(i) + "\":\"\"";
  meta += "}}";
  EXPECT_NE(parseError(makeFile(meta)).find("JSON values, the limit is"),
            std::string::npos);
}

TEST_F(SafetensorsFiles, OnlyRegularFilesAreOpened) {
  // Weights are mapped: a device would be read without end, a FIFO would
  // block. Both are refused with a message, quickly.
  EXPECT_EQ(errorOf(SafetensorsFile::open("/dev/zero")),
            "/dev/zero: is a character device, not a regular file (weights "
            "are memory-mapped: save them to a file first)");
  EXPECT_EQ(errorOf(Checkpoint::open("/dev/zero")),
            errorOf(SafetensorsFile::open("/dev/zero")));
  std::string fifo = path("fifo.safetensors");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  EXPECT_EQ(errorOf(SafetensorsFile::open(fifo)),
            fifo + ": is a FIFO, not a regular file (weights are "
                   "memory-mapped: save them to a file first)");
  ASSERT_FALSE(llvm::sys::fs::create_directory(path("folder.safetensors")));
  EXPECT_EQ(errorOf(SafetensorsFile::open(path("folder.safetensors"))),
            path("folder.safetensors") + ": is a directory");
  // A symlink to /dev/zero is a device too.
  ASSERT_FALSE(llvm::sys::fs::create_link("/dev/zero", path("zero-link")));
  EXPECT_NE(errorOf(SafetensorsFile::open(path("zero-link")))
                .find("is a character device"),
            std::string::npos);
  // A symlink to a regular file is fine.
  std::vector<float> one = {1.0f};
  ASSERT_FALSE(writeSafetensors(path("real.safetensors"),
                                {{"w", DType::F32, {1}, one}}));
  ASSERT_FALSE(llvm::sys::fs::create_link(path("real.safetensors"),
                                          path("link.safetensors")));
  auto linked = unwrap(SafetensorsFile::open(path("link.safetensors")));
  ASSERT_TRUE(linked);
  EXPECT_EQ(unwrap(linked->toFloat32(*linked->find("w"))), one);
}

TEST_F(SafetensorsFiles, IndexIsReadBounded) {
  // An index that is /dev/zero stops at the limit.
  std::string index = path("model.safetensors.index.json");
  ASSERT_FALSE(llvm::sys::fs::create_link("/dev/zero", index));
  EXPECT_EQ(errorOf(Checkpoint::open(index)),
            index + ": a safetensors index larger than 64 MiB (the limit)");
  ASSERT_FALSE(llvm::sys::fs::remove(index));
  // Deep nesting in an index.
  writeText("model.safetensors.index.json",
            "{\"weight_map\":" + std::string(100000, '['));
  EXPECT_NE(errorOf(Checkpoint::open(index))
                .find("the index is not valid JSON: [1:77, byte=77]: nested "
                      "deeper than 64 levels"),
            std::string::npos);
}

TEST_F(SafetensorsFiles, WritingKeepsDevicesAndLinks) {
  std::vector<float> one = {1.0f};
  // /dev/null is written, not replaced.
  ASSERT_FALSE(writeSafetensors("/dev/null", {{"w", DType::F32, {1}, one}}));
  struct stat status;
  ASSERT_EQ(::lstat("/dev/null", &status), 0);
  EXPECT_TRUE(S_ISCHR(status.st_mode));
  // A symlink to a file: the file is replaced, the link stays.
  ASSERT_FALSE(writeSafetensors(path("target.safetensors"),
                                {{"w", DType::F32, {1}, one}}));
  ASSERT_FALSE(llvm::sys::fs::create_link("target.safetensors",
                                          path("link.safetensors")));
  std::vector<float> two = {2.0f, 3.0f};
  ASSERT_FALSE(writeSafetensors(path("link.safetensors"),
                                {{"w", DType::F32, {2}, two}}));
  ASSERT_EQ(::lstat(path("link.safetensors").c_str(), &status), 0);
  EXPECT_TRUE(S_ISLNK(status.st_mode));
  auto file = unwrap(SafetensorsFile::open(path("target.safetensors")));
  ASSERT_TRUE(file);
  EXPECT_EQ(unwrap(file->toFloat32(*file->find("w"))), two);
  EXPECT_EQ(listing(), (std::vector<std::string>{"link.safetensors",
                                                 "target.safetensors"}));
}

TEST_F(SafetensorsFiles, WriteRefusesMoreTensorsThanReadersAccept) {
  std::vector<std::string> names(kMaxSafetensorsTensors + 1);
  std::vector<TensorToWrite> tensors;
  for (size_t i = 0; i < names.size(); ++i)
    tensors.push_back({"t" + std::to_string(i), DType::F32, {0}, {}});
  std::string out = path("many.safetensors");
  EXPECT_EQ(errorOf(writeSafetensors(out, tensors)),
            out + ": 65537 tensors, the limit is 65536 (readers refuse more)");
  EXPECT_TRUE(listing().empty());
}

//===----------------------------------------------------------------------===//
// Checkpoints
//===----------------------------------------------------------------------===//

class Checkpoints : public SafetensorsFiles {
protected:
  void SetUp() override {
    SafetensorsFiles::SetUp();
    a = randomValues(6, 11, 1.0f);
    b = randomValues(4, 12, 1.0f);
    c = randomValues(3, 13, 1.0f);
    ASSERT_FALSE(writeSafetensors(path("model-00001-of-00002.safetensors"),
                                  {{"a.weight", DType::F32, {2, 3}, a},
                                   {"b.weight", DType::F16, {4}, b}}));
    ASSERT_FALSE(writeSafetensors(path("model-00002-of-00002.safetensors"),
                                  {{"c.weight", DType::BF16, {3}, c}}));
  }

  void writeIndex(StringRef weightMap) {
    writeText("model.safetensors.index.json",
              (R"({"metadata": {"total_size": 26}, "weight_map": {)" +
               weightMap + "}}")
                  .str());
  }

  static constexpr const char *kGoodMap =
      R"("a.weight": "model-00001-of-00002.safetensors",
         "b.weight": "model-00001-of-00002.safetensors",
         "c.weight": "model-00002-of-00002.safetensors")";

  std::vector<float> a, b, c;
};

TEST_F(Checkpoints, ShardedIndex) {
  writeIndex(kGoodMap);
  for (std::string where :
       {path("model.safetensors.index.json"), dir.str().str()}) {
    SCOPED_TRACE(where);
    auto checkpoint = unwrap(Checkpoint::open(where));
    ASSERT_TRUE(checkpoint);
    EXPECT_EQ(checkpoint->names(),
              (std::vector<std::string>{"a.weight", "b.weight", "c.weight"}));
    EXPECT_EQ(checkpoint->files().size(), 2u);
    auto [fileA, infoA] = checkpoint->find("a.weight");
    ASSERT_TRUE(fileA && infoA);
    EXPECT_EQ(fileA->path(), path("model-00001-of-00002.safetensors"));
    EXPECT_EQ(unwrap(fileA->toFloat32(*infoA)), a);
    auto [fileC, infoC] = checkpoint->find("c.weight");
    ASSERT_TRUE(fileC && infoC);
    EXPECT_EQ(fileC->path(), path("model-00002-of-00002.safetensors"));
    EXPECT_EQ(infoC->dtype, DType::BF16);
    std::vector<float> readC = unwrap(fileC->toFloat32(*infoC));
    ASSERT_EQ(readC.size(), 3u);
    for (size_t i = 0; i < 3; ++i)
      EXPECT_EQ(readC[i], bfloat16ToFloat(floatToBfloat16(c[i])));
    auto absent = checkpoint->find("d.weight");
    EXPECT_EQ(absent.first, nullptr);
    EXPECT_EQ(absent.second, nullptr);
  }
}

TEST_F(Checkpoints, SingleFileAndFolder) {
  std::vector<float> w = randomValues(8, 21, 1.0f);
  ASSERT_FALSE(writeSafetensors(path("single.safetensors"),
                                {{"w", DType::F32, {8}, w}}));
  auto checkpoint = unwrap(Checkpoint::open(path("single.safetensors")));
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(checkpoint->names(), std::vector<std::string>{"w"});
  EXPECT_EQ(checkpoint->files().size(), 1u);

  // A folder with both prefers model.safetensors.
  writeIndex(kGoodMap);
  ASSERT_FALSE(
      writeSafetensors(path("model.safetensors"), {{"w", DType::F32, {8}, w}}));
  checkpoint = unwrap(Checkpoint::open(dir));
  ASSERT_TRUE(checkpoint);
  EXPECT_EQ(checkpoint->names(), std::vector<std::string>{"w"});
  auto [file, info] = checkpoint->find("w");
  ASSERT_TRUE(file && info);
  EXPECT_EQ(unwrap(file->toFloat32(*info)), w);
}

TEST_F(Checkpoints, EmptyFolder) {
  std::string empty = path("empty");
  ASSERT_FALSE(llvm::sys::fs::create_directory(empty));
  std::string error = errorOf(Checkpoint::open(empty));
  EXPECT_EQ(error, empty + ": folder holds neither model.safetensors nor "
                           "model.safetensors.index.json");
}

TEST_F(Checkpoints, IndexErrors) {
  std::string index = path("model.safetensors.index.json");
  auto indexError = [&](StringRef weightMap) {
    writeIndex(weightMap);
    std::string error = errorOf(Checkpoint::open(index));
    EXPECT_EQ(error.rfind(index + ": ", 0), 0u) << error;
    return error;
  };
  std::string shard1 = path("model-00001-of-00002.safetensors");
  std::string shard2 = path("model-00002-of-00002.safetensors");

  // A tensor the index places in a shard that lacks it.
  EXPECT_EQ(indexError(R"("a.weight": "model-00001-of-00002.safetensors",
                          "b.weight": "model-00001-of-00002.safetensors",
                          "c.weight": "model-00002-of-00002.safetensors",
                          "d.weight": "model-00002-of-00002.safetensors")"),
            index + ": tensor 'd.weight' is not in shard '" + shard2 + "'");
  // A tensor of a shard that the index leaves out.
  EXPECT_EQ(indexError(R"("a.weight": "model-00001-of-00002.safetensors",
                          "c.weight": "model-00002-of-00002.safetensors")"),
            index + ": tensor 'b.weight' of shard '" + shard1 +
                "' is not listed in the 'weight_map'");
  // A tensor in two shards.
  ASSERT_FALSE(writeSafetensors(shard2, {{"c.weight", DType::BF16, {3}, c},
                                         {"a.weight", DType::F32, {2, 3}, a}}));
  EXPECT_EQ(indexError(kGoodMap), index +
                                      ": tensor 'a.weight' is in two "
                                      "shards, '" +
                                      shard1 + "' and '" + shard2 + "'");
  // A missing shard names the shard.
  writeIndex(R"("a.weight": "model-00003-of-00002.safetensors")");
  std::string error = errorOf(Checkpoint::open(index));
  EXPECT_EQ(error.rfind(path("model-00003-of-00002.safetensors") + ": ", 0), 0u)
      << error;
  // Shards outside the folder, a non-string entry, no weight_map.
  EXPECT_NE(indexError(R"("a.weight": "../elsewhere.safetensors")")
                .find("is not a path inside the index's folder"),
            std::string::npos);
  EXPECT_NE(indexError(R"("a.weight": 3)")
                .find("'weight_map' entry "
                      "'a.weight' is not a string"),
            std::string::npos);
  writeText("model.safetensors.index.json", R"({"metadata": {}})");
  EXPECT_EQ(errorOf(Checkpoint::open(index)), index + ": missing 'weight_map'");
  writeText("model.safetensors.index.json", R"({"weight_map": )");
  EXPECT_NE(errorOf(Checkpoint::open(index)).find("not valid JSON"),
            std::string::npos);
}

} // namespace
