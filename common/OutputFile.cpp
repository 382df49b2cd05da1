//===- OutputFile.cpp - Writing output files without destroying them ------===//
//
// The decision is made on what the path is after following symlinks: a
// regular file (or nothing yet) is replaced atomically by a rename, anything
// else that can be opened for writing is written where it is. Renaming a
// temporary file over /dev/null, as root, would replace the system's
// /dev/null with a regular file.
//
//===----------------------------------------------------------------------===//

#include "common/OutputFile.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Signals.h"

#include <cerrno>
#include <cstring>
#include <optional>
#include <unistd.h>

using namespace mm;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
namespace fs = llvm::sys::fs;

namespace {

using WriteFn = llvm::function_ref<llvm::Error(llvm::raw_ostream &)>;

llvm::Error fileError(StringRef path, const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 Twine(path) + ": " + message);
}

/// The most symlinks followed to find where a dangling link points (Linux's
/// own limit is 40).
constexpr int kMaxSymlinks = 40;

/// Where a path that does not exist should be created: the path itself, or,
/// when it is a dangling symlink (or a chain of them), the file the last link
/// names, so that the link survives.
Expected<std::string> resolveDanglingLink(StringRef path) {
  std::string current = path.str();
  for (int hops = 0; hops < kMaxSymlinks; ++hops) {
    fs::file_status status;
    if (fs::status(current, status, /*Follow=*/false) ||
        status.type() != fs::file_type::symlink_file)
      return current;
    llvm::SmallString<256> target;
    target.resize(4096);
    ssize_t length = ::readlink(current.c_str(), target.data(), target.size());
    if (length < 0)
      return fileError(path, "cannot read the symbolic link '" + current +
                                 "': " + std::strerror(errno));
    target.resize(size_t(length));
    if (llvm::sys::path::is_relative(target)) {
      llvm::SmallString<256> joined(llvm::sys::path::parent_path(current));
      llvm::sys::path::append(joined, target);
      target = joined;
    }
    current = target.str().str();
  }
  return fileError(path, "too many levels of symbolic links");
}

/// Closes `os` and turns a pending stream error into an llvm::Error naming
/// `path` (a raw_fd_ostream destroyed with a pending error aborts).
llvm::Error closeStream(llvm::raw_fd_ostream &os, StringRef path) {
  os.close();
  if (!os.has_error())
    return llvm::Error::success();
  std::error_code ec = os.error();
  os.clear_error();
  return fileError(path, "cannot write: " + ec.message());
}

/// Runs `write` on `os`, then closes it. A stream error is reported in
/// preference to an error of `write`, which is often its consequence.
llvm::Error writeAndClose(llvm::raw_fd_ostream &os, StringRef path,
                          WriteFn write) {
  llvm::Error written = write(os);
  llvm::Error closed = closeStream(os, path);
  if (closed) {
    llvm::consumeError(std::move(written));
    return closed;
  }
  return written;
}

/// Writes a device, FIFO or other non-regular file where it is.
llvm::Error writeInPlace(StringRef path, WriteFn write) {
  int fd;
  // CD_OpenExisting: neither O_CREAT nor O_TRUNC.
  if (std::error_code ec =
          fs::openFileForWrite(path, fd, fs::CD_OpenExisting, fs::OF_None))
    return fileError(path, "cannot open for writing: " + ec.message());
  // Something may have replaced the device with a regular file since it was
  // looked at; writing that in place would leave its old tail behind.
  fs::file_status status;
  if (!fs::status(fd, status) && status.type() == fs::file_type::regular_file) {
    ::close(fd);
    return fileError(path, "was replaced by a regular file while being "
                           "opened; try again");
  }
  llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
  return writeAndClose(os, path, write);
}

/// Writes `target` (a regular file or a new path) through a temporary file
/// beside it. `path` is the name the user gave, for messages; `permissions`
/// are those of the file replaced, if any.
llvm::Error replaceFile(StringRef path, StringRef target,
                        std::optional<fs::perms> permissions, WriteFn write) {
  int fd;
  llvm::SmallString<256> tempPath;
  if (std::error_code ec =
          fs::createUniqueFile(target + ".tmp-%%%%%%%%", fd, tempPath))
    return fileError(path, "cannot create a temporary file beside it: " +
                               ec.message());
  // Removed on SIGINT or SIGTERM until renamed into place.
  llvm::sys::RemoveFileOnSignal(tempPath);
  auto discard = [&](llvm::Error error) {
    fs::remove(tempPath);
    llvm::sys::DontRemoveFileOnSignal(tempPath);
    return error;
  };
  if (permissions)
    if (std::error_code ec = fs::setPermissions(fd, *permissions)) {
      ::close(fd);
      return discard(fileError(path, "cannot set the permissions of '" +
                                         tempPath + "': " + ec.message()));
    }
  {
    llvm::raw_fd_ostream os(fd, /*shouldClose=*/true);
    if (llvm::Error error = writeAndClose(os, path, write))
      return discard(std::move(error));
  }
  if (std::error_code ec = fs::rename(tempPath, target))
    return discard(fileError(path, "cannot rename '" + tempPath +
                                       "' into place: " + ec.message()));
  llvm::sys::DontRemoveFileOnSignal(tempPath);
  return llvm::Error::success();
}

} // namespace

llvm::Error mm::writeFileSafely(StringRef path, WriteFn write) {
  if (path.empty())
    return fileError("<empty path>", "no file name given");
  fs::file_status status;
  std::error_code ec = fs::status(path, status, /*Follow=*/true);
  if (ec == std::errc::no_such_file_or_directory) {
    Expected<std::string> target = resolveDanglingLink(path);
    if (!target)
      return target.takeError();
    return replaceFile(path, *target, std::nullopt, write);
  }
  if (ec)
    return fileError(path, "cannot write: " + ec.message());

  switch (status.type()) {
  case fs::file_type::directory_file:
    return fileError(path, "is a directory");
  case fs::file_type::socket_file:
    return fileError(path, "is a socket; write to a file, a device or a FIFO");
  case fs::file_type::regular_file: {
    // Replace the file the path names after every symlink, not a link.
    llvm::SmallString<256> target;
    if (std::error_code ec = fs::real_path(path, target))
      return fileError(path, "cannot resolve: " + ec.message());
    return replaceFile(path, target, status.permissions(), write);
  }
  default:
    // Character and block devices, FIFOs: written where they are.
    return writeInPlace(path, write);
  }
}
