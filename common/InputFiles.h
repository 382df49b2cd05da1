//===- InputFiles.h - Bounded reading of input files and JSON ---*- C++ -*-===//
//
// Reading what a user names on the command line without trusting it: a file
// read whole is read up to a limit, whatever it is (a regular file, a pipe,
// /dev/zero), and JSON is checked for nesting depth and size before LLVM's
// recursive parser builds it; token ids on the command line or in a file
// (mm-run and mm-eval --tokens) are read with errors that name the file, line
// and column. MLIR-free: the compiler and the runtime read configs and
// manifests through it.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_INPUTFILES_H
#define MM_COMMON_INPUTFILES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mm {

/// The deepest nesting parseBoundedJson accepts. Configs, manifests and
/// safetensors headers need 3 or 4; the bound keeps the stack use of LLVM's
/// recursive JSON parser (and of json::Value's destructor) small.
inline constexpr unsigned kMaxJsonDepth = 64;

/// Reads a whole file of at most `maxBytes` bytes. Works for regular files and
/// for pipes/devices (reads at most maxBytes+1 bytes then stops), so /dev/zero
/// or a FIFO never runs out of memory. Errors name the path and say what
/// `what` is: "ids.txt: a token file larger than 256 MiB (the limit)",
/// "ids.txt: cannot read: No such file or directory", "ids: is a directory".
/// The buffer is null-terminated and named after `path`.
llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readBoundedFile(llvm::StringRef path, uint64_t maxBytes, llvm::StringRef what);

/// llvm::json::parse after rejecting text nested deeper than kMaxJsonDepth,
/// checked without recursion. Errors are json::ParseError, as json::parse's
/// are ("[1:64, byte=64]: nested deeper than 64 levels"); callers add the
/// file name.
llvm::Expected<llvm::json::Value> parseBoundedJson(llvm::StringRef text);

/// What a linear scan of JSON text finds without parsing it, so that a reader
/// can bound the memory a parse would take before parsing.
struct JsonCounts {
  /// An upper bound on the number of values (scalars, arrays and objects)
  /// json::parse would build: 1 + commas + brackets and braces, outside
  /// strings.
  uint64_t values = 0;
  /// Members of the top-level object (colons at depth 1); 0 for other texts.
  uint64_t topLevelMembers = 0;
};

/// Counts `text` as above, in one pass and constant memory.
JsonCounts countJson(llvm::StringRef text);

/// The white space that separates words and ids (isspace in the C locale).
inline constexpr llvm::StringLiteral kWhiteSpace = " \t\n\v\f\r";

/// "ORIGIN:LINE:COLUMN" (both from 1) of byte `offset` of `text`, for
/// errors.
std::string describeTextPosition(llvm::StringRef origin, llvm::StringRef text,
                                 size_t offset);

/// Reads the token ids a --tokens argument gives: "1,2,3", or "@FILE" (of at
/// most `maxFileBytes` bytes) of ids separated by white space or commas. A
/// piece that is not a number, or, when `vocabSize` is given, an id outside
/// [0, vocabSize), is an error naming the file, line and column (or
/// --tokens) and the token's index; so is an empty list.
llvm::Expected<std::vector<int32_t>>
readTokenArgument(llvm::StringRef arg, uint64_t maxFileBytes,
                  std::optional<int64_t> vocabSize = std::nullopt);

/// "256 MiB", "64 KiB" or "1000 bytes": how limits on sizes are printed.
std::string formatByteSize(uint64_t bytes);

} // namespace mm

#endif // MM_COMMON_INPUTFILES_H
