//===- InputFilesTest.cpp - bounded file reading and JSON -----------------===//

#include "common/InputFiles.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <sys/stat.h>
#include <thread>

using namespace mm;
using llvm::StringRef;

namespace {

template <typename T> std::string errorOf(llvm::Expected<T> value) {
  if (value) {
    ADD_FAILURE() << "succeeded, but should not have";
    return "";
  }
  return llvm::toString(value.takeError());
}

class InputFiles : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("mm-input", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(StringRef name) const {
    llvm::SmallString<128> result(dir);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }
  std::string writeText(StringRef name, StringRef text) {
    std::string file = path(name);
    std::error_code ec;
    llvm::raw_fd_ostream os(file, ec);
    EXPECT_FALSE(ec);
    os << text;
    return file;
  }

  llvm::SmallString<128> dir;
};

TEST_F(InputFiles, ReadsUpToTheLimit) {
  std::string file = writeText("ids.txt", "1 2 3");
  auto buffer = readBoundedFile(file, 5, "a token file");
  ASSERT_TRUE(static_cast<bool>(buffer)) << llvm::toString(buffer.takeError());
  EXPECT_EQ((*buffer)->getBuffer(), "1 2 3");
  EXPECT_EQ((*buffer)->getBufferIdentifier(), file);
  EXPECT_EQ(*(*buffer)->getBufferEnd(), '\0');

  EXPECT_EQ(errorOf(readBoundedFile(file, 4, "a token file")),
            file + ": a token file larger than 4 bytes (the limit)");
  std::string empty = writeText("empty.txt", "");
  auto none = readBoundedFile(empty, 0, "a token file");
  ASSERT_TRUE(static_cast<bool>(none)) << llvm::toString(none.takeError());
  EXPECT_EQ((*none)->getBufferSize(), 0u);
}

TEST_F(InputFiles, NamesThePathOnErrors) {
  std::string missing = path("missing.txt");
  EXPECT_EQ(errorOf(readBoundedFile(missing, 10, "a token file")),
            missing + ": cannot read: No such file or directory");
  EXPECT_EQ(errorOf(readBoundedFile(dir, 10, "a token file")),
            dir.str().str() + ": is a directory");
}

TEST_F(InputFiles, DevicesAndPipesStopAtTheLimit) {
  // /dev/zero never ends: one byte past the limit is read, then refused.
  EXPECT_EQ(errorOf(readBoundedFile("/dev/zero", 256u << 20, "a token file")),
            "/dev/zero: a token file larger than 256 MiB (the limit)");
  EXPECT_EQ(errorOf(readBoundedFile("/dev/zero", 1000, "a config")),
            "/dev/zero: a config larger than 1000 bytes (the limit)");
  auto null = readBoundedFile("/dev/null", 10, "a config");
  ASSERT_TRUE(static_cast<bool>(null)) << llvm::toString(null.takeError());
  EXPECT_EQ((*null)->getBufferSize(), 0u);

  // A FIFO is read to its end, in several reads.
  std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string text(200000, 'x');
  std::thread writer([&] {
    std::error_code ec;
    llvm::raw_fd_ostream os(fifo, ec);
    EXPECT_FALSE(ec);
    os << text;
  });
  auto piped = readBoundedFile(fifo, 1 << 20, "a token file");
  writer.join();
  ASSERT_TRUE(static_cast<bool>(piped)) << llvm::toString(piped.takeError());
  EXPECT_EQ((*piped)->getBuffer(), text);
}

TEST_F(InputFiles, ReadsTokenArguments) {
  auto inline_ = readTokenArgument("5,17, 3", 1 << 20);
  ASSERT_TRUE(static_cast<bool>(inline_))
      << llvm::toString(inline_.takeError());
  EXPECT_EQ(*inline_, (std::vector<int32_t>{5, 17, 3}));
  std::string ids = writeText("ids.txt", "5 17\n3,\t99\n");
  auto file = readTokenArgument("@" + ids, 1 << 20, 100);
  ASSERT_TRUE(static_cast<bool>(file)) << llvm::toString(file.takeError());
  EXPECT_EQ(*file, (std::vector<int32_t>{5, 17, 3, 99}));

  // Errors name the file, line and column, or --tokens.
  std::string bad = writeText("bad.txt", "5 17\n3 x7\n");
  EXPECT_EQ(errorOf(readTokenArgument("@" + bad, 1 << 20)),
            bad + ":2:3: 'x7' (token 3) is not a token id");
  EXPECT_EQ(errorOf(readTokenArgument("@" + ids, 1 << 20, 50)),
            ids + ":2:4: token 99 (token 3) is outside the model's "
                  "vocabulary (0 to 49)");
  EXPECT_EQ(errorOf(readTokenArgument("1,-2", 1 << 20, 50)),
            "--tokens: token -2 (token 1) is outside the model's vocabulary "
            "(0 to 49)");
  // Without a vocabulary size, an id must still fit in 32 bits.
  EXPECT_EQ(errorOf(readTokenArgument("1,3000000000", 1 << 20)),
            "--tokens: '3000000000' (token 1) is not a token id");
  EXPECT_EQ(errorOf(readTokenArgument(" , ", 1 << 20)), "--tokens: no tokens");
  EXPECT_EQ(errorOf(readTokenArgument("@" + ids, 4)),
            ids + ": a token file larger than 4 bytes (the limit)");
}

TEST(DescribeTextPosition, LinesAndColumnsFromOne) {
  EXPECT_EQ(describeTextPosition("f", "ab\ncd", 0), "f:1:1");
  EXPECT_EQ(describeTextPosition("f", "ab\ncd", 1), "f:1:2");
  EXPECT_EQ(describeTextPosition("f", "ab\ncd", 3), "f:2:1");
  EXPECT_EQ(describeTextPosition("f", "ab\ncd", 4), "f:2:2");
}

TEST(FormatByteSize, Units) {
  EXPECT_EQ(formatByteSize(1), "1 byte");
  EXPECT_EQ(formatByteSize(1000), "1000 bytes");
  EXPECT_EQ(formatByteSize(64 << 10), "64 KiB");
  EXPECT_EQ(formatByteSize(256u << 20), "256 MiB");
  EXPECT_EQ(formatByteSize(uint64_t(4) << 30), "4 GiB");
}

TEST(BoundedJson, ParsesWhatIsShallowEnough) {
  std::string ok = std::string(64, '[') + std::string(64, ']');
  auto value = parseBoundedJson(ok);
  ASSERT_TRUE(static_cast<bool>(value)) << llvm::toString(value.takeError());
  // Brackets inside strings do not count.
  auto quoted =
      parseBoundedJson("{\"a\": \"" + std::string(1000, '[') + "\\\"[[\"}");
  ASSERT_TRUE(static_cast<bool>(quoted)) << llvm::toString(quoted.takeError());
}

TEST(BoundedJson, RejectsDeepNestingWithoutRecursion) {
  std::string deep = std::string(65, '[') + std::string(65, ']');
  EXPECT_EQ(errorOf(parseBoundedJson(deep)),
            "[1:64, byte=64]: nested deeper than 64 levels");
  // 100000 levels would overflow the stack of json::parse.
  std::string deeper = "{\"a\":\n" + std::string(100000, '[');
  EXPECT_EQ(errorOf(parseBoundedJson(deeper)),
            "[2:63, byte=69]: nested deeper than 64 levels");
  // Invalid JSON still gets json::parse's own error.
  EXPECT_NE(errorOf(parseBoundedJson("{\"a\": }")).find("[1:"),
            std::string::npos);
}

TEST(BoundedJson, CountsValuesAndMembers) {
  JsonCounts counts = countJson(R"({"a": [1, 2, 3], "b": {"c": "x,y:{"}})");
  EXPECT_EQ(counts.topLevelMembers, 2u);
  // 1 + three brackets and braces + three commas outside the string: the 7
  // values there are.
  EXPECT_EQ(counts.values, 7u);
  EXPECT_EQ(countJson("[1, 2, {\"a\": 1}]").topLevelMembers, 0u);
  EXPECT_EQ(countJson("").values, 1u);
}

} // namespace
