//===- OutputFile.h - Writing files without destroying them -----*- C++ -*-===//
//
// One way for every tool to write a file a user names: complete or not at
// all for regular files, and never replacing what is not a regular file
// (/dev/null, a FIFO, a terminal). MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_OUTPUTFILE_H
#define MM_COMMON_OUTPUTFILE_H

#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

namespace mm {

/// Writes `path` through `write` (called with a stream; return an error to
/// abort, which is passed on unchanged).
///
/// A regular file (or a new path) is written to a temporary file in the same
/// folder, which is removed on failure and on SIGINT/SIGTERM
/// (llvm::sys::RemoveFileOnSignal), then renamed into place, keeping the
/// permissions of the file it replaces. A symlink to a regular file (or a
/// dangling one) replaces the target the symlink names, not the link.
///
/// A path that exists and is not a regular file (a character or block device
/// such as /dev/null, a FIFO, or a symlink to one) is written directly,
/// opened without O_TRUNC or O_CREAT, never renamed over; a FIFO blocks until
/// a reader opens it. A directory or a socket is an error naming the path, as
/// is every failure to write ("out.bin: cannot write: No space left on
/// device").
llvm::Error
writeFileSafely(llvm::StringRef path,
                llvm::function_ref<llvm::Error(llvm::raw_ostream &)> write);

} // namespace mm

#endif // MM_COMMON_OUTPUTFILE_H
