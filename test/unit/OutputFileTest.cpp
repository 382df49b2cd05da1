//===- OutputFileTest.cpp - writing files without destroying them ---------===//

#include "common/OutputFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <thread>
#include <unistd.h>

using namespace mm;
using llvm::StringRef;
namespace fs = llvm::sys::fs;

namespace {

std::string errorOf(llvm::Error error) {
  if (!error) {
    ADD_FAILURE() << "succeeded, but should not have";
    return "";
  }
  return llvm::toString(std::move(error));
}

/// A writer of fixed text.
auto writes(std::string text) {
  return [text](llvm::raw_ostream &os) {
    os << text;
    return llvm::Error::success();
  };
}

class OutputFiles : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(fs::createUniqueDirectory("mm-output", dir));
  }
  void TearDown() override { fs::remove_directories(dir); }

  std::string path(StringRef name) const {
    llvm::SmallString<128> result(dir);
    llvm::sys::path::append(result, name);
    return std::string(result);
  }
  std::string read(StringRef file) const {
    auto buffer = llvm::MemoryBuffer::getFile(file);
    if (!buffer) {
      ADD_FAILURE() << file.str() << ": " << buffer.getError().message();
      return "";
    }
    return (*buffer)->getBuffer().str();
  }
  /// The names in the test folder, sorted.
  std::vector<std::string> listing() const {
    std::vector<std::string> names;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; it != end && !ec;
         it.increment(ec))
      names.push_back(llvm::sys::path::filename(it->path()).str());
    llvm::sort(names);
    return names;
  }
  fs::file_type typeOf(StringRef file, bool follow = false) const {
    fs::file_status status;
    if (fs::status(file, status, follow))
      return fs::file_type::file_not_found;
    return status.type();
  }

  llvm::SmallString<128> dir;
};

TEST_F(OutputFiles, WritesAndReplacesARegularFile) {
  std::string out = path("out.bin");
  ASSERT_FALSE(writeFileSafely(out, writes("first")));
  EXPECT_EQ(read(out), "first");
  ASSERT_EQ(::chmod(out.c_str(), 0640), 0);
  ASSERT_FALSE(writeFileSafely(out, writes("second, longer")));
  EXPECT_EQ(read(out), "second, longer");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});
  // The replaced file's permissions are kept.
  fs::file_status status;
  ASSERT_FALSE(fs::status(out, status));
  EXPECT_EQ(status.permissions(), fs::perms(0640));
}

TEST_F(OutputFiles, SymlinkToAFileReplacesTheTarget) {
  std::string target = path("target.bin"), link = path("link.bin");
  ASSERT_FALSE(writeFileSafely(target, writes("old")));
  ASSERT_FALSE(fs::create_link("target.bin", link)); // relative link
  ASSERT_FALSE(writeFileSafely(link, writes("new")));
  EXPECT_EQ(typeOf(link), fs::file_type::symlink_file);
  EXPECT_EQ(read(target), "new");
  EXPECT_EQ(listing(), (std::vector<std::string>{"link.bin", "target.bin"}));

  // A dangling link: the file it names is created, the link stays.
  std::string dangling = path("dangling.bin");
  ASSERT_FALSE(fs::create_link(path("created.bin"), dangling));
  ASSERT_FALSE(writeFileSafely(dangling, writes("made")));
  EXPECT_EQ(typeOf(dangling), fs::file_type::symlink_file);
  EXPECT_EQ(read(path("created.bin")), "made");

  // A loop of links is an error, not a hang.
  ASSERT_FALSE(fs::create_link(path("loop-a"), path("loop-b")));
  ASSERT_FALSE(fs::create_link(path("loop-b"), path("loop-a")));
  std::string error = errorOf(writeFileSafely(path("loop-a"), writes("x")));
  EXPECT_EQ(error.rfind(path("loop-a") + ": ", 0), 0u) << error;
  EXPECT_EQ(typeOf(path("loop-a")), fs::file_type::symlink_file);
}

TEST_F(OutputFiles, DevNullSurvivesAsACharacterDevice) {
  ASSERT_EQ(typeOf("/dev/null", true), fs::file_type::character_file);
  ASSERT_FALSE(writeFileSafely("/dev/null", writes("discarded")));
  EXPECT_EQ(typeOf("/dev/null"), fs::file_type::character_file);
  // Through a symlink too: the link and the device both stay.
  std::string link = path("null-link");
  ASSERT_FALSE(fs::create_link("/dev/null", link));
  ASSERT_FALSE(writeFileSafely(link, writes("discarded")));
  EXPECT_EQ(typeOf(link), fs::file_type::symlink_file);
  EXPECT_EQ(typeOf("/dev/null"), fs::file_type::character_file);
  EXPECT_EQ(listing(), std::vector<std::string>{"null-link"});
}

TEST_F(OutputFiles, FifoIsWrittenNotReplaced) {
  std::string fifo = path("fifo");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string text(300000, 'y'); // more than a pipe buffer
  std::string received;
  std::thread reader([&] {
    auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(fifo);
    ASSERT_TRUE(static_cast<bool>(buffer)) << buffer.getError().message();
    received = (*buffer)->getBuffer().str();
  });
  llvm::Error error = writeFileSafely(fifo, writes(text));
  reader.join();
  ASSERT_FALSE(error) << llvm::toString(std::move(error));
  EXPECT_EQ(received, text);
  EXPECT_EQ(typeOf(fifo), fs::file_type::fifo_file);
  EXPECT_EQ(listing(), std::vector<std::string>{"fifo"});
}

TEST_F(OutputFiles, DirectoriesAndSocketsAreErrors) {
  EXPECT_EQ(errorOf(writeFileSafely(dir, writes("x"))),
            dir.str().str() + ": is a directory");
  std::string socketPath = path("sock");
  int sock = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(sock, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  ASSERT_LT(socketPath.size(), sizeof(address.sun_path));
  std::copy(socketPath.begin(), socketPath.end(), address.sun_path);
  ASSERT_EQ(
      ::bind(sock, reinterpret_cast<sockaddr *>(&address), sizeof(address)), 0);
  std::string error = errorOf(writeFileSafely(socketPath, writes("x")));
  EXPECT_EQ(error.rfind(socketPath + ": is a socket", 0), 0u) << error;
  EXPECT_EQ(typeOf(socketPath), fs::file_type::socket_file);
  ::close(sock);
}

TEST_F(OutputFiles, FailedWritesLeaveNoTemporaryFile) {
  // The writer's own error is passed on; the old file stays as it was.
  std::string out = path("out.bin");
  ASSERT_FALSE(writeFileSafely(out, writes("kept")));
  std::string error = errorOf(writeFileSafely(out, [](llvm::raw_ostream &os) {
    os << "half";
    return llvm::createStringError(llvm::inconvertibleErrorCode(), "stopped");
  }));
  EXPECT_EQ(error, "stopped");
  EXPECT_EQ(read(out), "kept");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});

  // A new file that fails is not created at all.
  EXPECT_EQ(errorOf(writeFileSafely(path("new.bin"),
                                    [](llvm::raw_ostream &) {
                                      return llvm::createStringError(
                                          llvm::inconvertibleErrorCode(),
                                          "stopped");
                                    })),
            "stopped");
  EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});

  // A folder that does not exist names the path.
  std::string nowhere = path("no/such/out.bin");
  error = errorOf(writeFileSafely(nowhere, writes("x")));
  EXPECT_EQ(error.rfind(nowhere + ": ", 0), 0u) << error;
}

/// A runner may start tests with SIGINT ignored (lit does); a user's shell
/// does not. LLVM's handlers, registered by the first write of the process,
/// remove the temporary files and then restore the disposition they found,
/// so it must be the default one before any test runs.
const bool defaultSignalDispositions = [] {
  ::signal(SIGINT, SIG_DFL);
  ::signal(SIGTERM, SIG_DFL);
  return true;
}();

TEST_F(OutputFiles, InterruptedWritesLeaveNoTemporaryFile) {
  // SIGINT or SIGTERM in the middle of a write: LLVM's handler removes the
  // temporary file, then the signal ends the process as it would have.
  // "fast": the child is a fork that shares this test's folder ("threadsafe"
  // would run the test again in a new process, with a folder of its own).
  GTEST_FLAG_SET(death_test_style, "fast");
  std::string out = path("out.bin");
  ASSERT_FALSE(writeFileSafely(out, writes("kept")));
  for (int signal : {SIGINT, SIGTERM}) {
    EXPECT_EXIT(
        {
          llvm::Error error = writeFileSafely(out, [&](llvm::raw_ostream &os) {
            os << std::string(100000, 'x');
            os.flush();
            ::raise(signal);
            return llvm::Error::success();
          });
          llvm::consumeError(std::move(error));
          std::exit(0); // not reached
        },
        ::testing::KilledBySignal(signal), "");
    EXPECT_EQ(listing(), std::vector<std::string>{"out.bin"});
    EXPECT_EQ(read(out), "kept");
  }
}

TEST_F(OutputFiles, DeviceWriteErrorsAreReported) {
  // /dev/full takes no bytes: the error names the path and the cause, and the
  // device stays a device.
  if (typeOf("/dev/full", true) != fs::file_type::character_file)
    GTEST_SKIP() << "no /dev/full";
  std::string error =
      errorOf(writeFileSafely("/dev/full", writes(std::string(100000, 'z'))));
  EXPECT_EQ(error, "/dev/full: cannot write: No space left on device");
  EXPECT_EQ(typeOf("/dev/full"), fs::file_type::character_file);
}

} // namespace
