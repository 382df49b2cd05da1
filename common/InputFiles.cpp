//===- InputFiles.cpp - Bounded reading of input files and JSON -----------===//
//
// A file is read with read(2) in a loop that stops one byte past the limit,
// never with a size taken from stat: a device or a pipe has none, and a
// regular file may grow while it is read. JSON text is scanned once, without
// recursion, before json::parse sees it.
//
//===----------------------------------------------------------------------===//

#include "common/InputFiles.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/FileSystem.h"

#include <algorithm>
#include <cstring>
#include <optional>

using namespace mm;
using llvm::Expected;
using llvm::StringRef;
using llvm::Twine;
namespace fs = llvm::sys::fs;
namespace json = llvm::json;

namespace {

llvm::Error fileError(StringRef path, const Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 Twine(path) + ": " + message);
}

/// Reads from `file` until end of file or until `data` holds more than
/// `maxBytes` bytes. `sizeHint` (a regular file's size) sets the first
/// allocation; a pipe starts small and grows.
llvm::Error readUpTo(fs::file_t file, uint64_t maxBytes, uint64_t sizeHint,
                     llvm::SmallVectorImpl<char> &data) {
  // One byte past the limit tells "exactly at the limit" from "over it".
  uint64_t cap = maxBytes == UINT64_MAX ? maxBytes : maxBytes + 1;
  uint64_t first = std::min<uint64_t>(
      cap, std::max<uint64_t>(sizeHint + 1, uint64_t(1) << 16));
  data.reserve(first);
  while (data.size() < cap) {
    if (data.size() == data.capacity())
      data.reserve(std::min<uint64_t>(cap, uint64_t(data.capacity()) * 2));
    size_t room =
        std::min<uint64_t>(cap - data.size(), data.capacity() - data.size());
    size_t old = data.size();
    data.resize_for_overwrite(old + room);
    Expected<size_t> got = fs::readNativeFile(
        file, llvm::MutableArrayRef<char>(data.data() + old, room));
    if (!got) {
      data.truncate(old);
      return got.takeError();
    }
    data.truncate(old + *got);
    if (*got == 0)
      break; // end of file
  }
  return llvm::Error::success();
}

} // namespace

std::string mm::describeTextPosition(StringRef origin, StringRef text,
                                     size_t offset) {
  StringRef before = text.take_front(offset);
  size_t lineStart = before.rfind('\n');
  size_t column =
      lineStart == StringRef::npos ? offset + 1 : offset - lineStart;
  return (origin + ":" + Twine(before.count('\n') + 1) + ":" + Twine(column))
      .str();
}

Expected<std::vector<int32_t>>
mm::readTokenArgument(StringRef arg, uint64_t maxFileBytes,
                      std::optional<int64_t> vocabSize) {
  auto error = [](const Twine &message) {
    return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
  };
  std::string origin = "--tokens";
  std::unique_ptr<llvm::MemoryBuffer> file;
  StringRef text = arg;
  if (arg.consume_front("@")) {
    auto buffer = readBoundedFile(arg, maxFileBytes, "a token file");
    if (!buffer)
      return buffer.takeError();
    file = std::move(*buffer);
    text = file->getBuffer();
    origin = arg.str();
  }
  // Ids are separated by white space or commas.
  const std::string separators = (kWhiteSpace + ",").str();
  std::vector<int32_t> tokens;
  for (size_t offset = text.find_first_not_of(separators); offset < text.size();
       offset = text.find_first_not_of(separators, offset)) {
    StringRef piece =
        text.slice(offset, text.find_first_of(separators, offset));
    std::string where =
        file ? describeTextPosition(origin, text, offset) : origin;
    auto notAnId = [&] {
      return error(where + ": '" + piece + "' (token " + Twine(tokens.size()) +
                   ") is not a token id");
    };
    int64_t id;
    if (piece.getAsInteger(10, id))
      return notAnId();
    if (vocabSize && (id < 0 || id >= *vocabSize))
      return error(where + ": token " + Twine(id) + " (token " +
                   Twine(tokens.size()) +
                   ") is outside the model's vocabulary (0 to " +
                   Twine(*vocabSize - 1) + ")");
    if (id < INT32_MIN || id > INT32_MAX)
      return notAnId();
    tokens.push_back(static_cast<int32_t>(id));
    offset += piece.size();
  }
  if (tokens.empty())
    return error(origin + ": no tokens");
  return tokens;
}

std::string mm::formatByteSize(uint64_t bytes) {
  constexpr uint64_t kKiB = 1024, kMiB = kKiB << 10, kGiB = kMiB << 10;
  if (bytes >= kGiB && bytes % kGiB == 0)
    return std::to_string(bytes / kGiB) + " GiB";
  if (bytes >= kMiB && bytes % kMiB == 0)
    return std::to_string(bytes / kMiB) + " MiB";
  if (bytes >= kKiB && bytes % kKiB == 0)
    return std::to_string(bytes / kKiB) + " KiB";
  return std::to_string(bytes) + (bytes == 1 ? " byte" : " bytes");
}

Expected<std::unique_ptr<llvm::MemoryBuffer>>
mm::readBoundedFile(StringRef path, uint64_t maxBytes, StringRef what) {
  auto tooLarge = [&] {
    return fileError(path, what + " larger than " + formatByteSize(maxBytes) +
                               " (the limit)");
  };
  // Refuse a directory before opening it: open(2) succeeds on one, and the
  // read error (EISDIR) would come later and say less.
  fs::file_status status;
  if (std::error_code ec = fs::status(path, status))
    return fileError(path, "cannot read: " + ec.message());
  if (status.type() == fs::file_type::directory_file)
    return fileError(path, "is a directory");
  // A regular file too large is refused without reading it.
  if (status.type() == fs::file_type::regular_file &&
      status.getSize() > maxBytes)
    return tooLarge();

  Expected<fs::file_t> file = fs::openNativeFileForRead(path);
  if (!file)
    return fileError(path, "cannot read: " + llvm::toString(file.takeError()));
  llvm::SmallVector<char, 0> data;
  uint64_t sizeHint =
      status.type() == fs::file_type::regular_file ? status.getSize() : 0;
  llvm::Error error = readUpTo(*file, maxBytes, sizeHint, data);
  fs::closeFile(*file);
  if (error)
    return fileError(path, "cannot read: " + llvm::toString(std::move(error)));
  if (data.size() > maxBytes)
    return tooLarge();

  std::unique_ptr<llvm::WritableMemoryBuffer> buffer =
      llvm::WritableMemoryBuffer::getNewUninitMemBuffer(data.size(), path);
  if (!buffer)
    return fileError(path, "cannot read: out of memory");
  if (!data.empty())
    std::memcpy(buffer->getBufferStart(), data.data(), data.size());
  return std::unique_ptr<llvm::MemoryBuffer>(std::move(buffer));
}

namespace {

/// Scans JSON text, calling `visit(offset, character, depth)` for each
/// bracket, brace, comma or colon outside strings, with the depth before it.
/// Strings are skipped the way JSON lexes them, so that nothing inside one
/// counts. Stops early when `visit` returns false.
template <typename Visit> void scanJson(StringRef text, Visit visit) {
  unsigned depth = 0;
  bool inString = false;
  for (size_t i = 0, e = text.size(); i < e; ++i) {
    char c = text[i];
    if (inString) {
      if (c == '\\')
        ++i; // the escaped character cannot end the string
      else if (c == '"')
        inString = false;
      continue;
    }
    switch (c) {
    case '"':
      inString = true;
      break;
    case '[':
    case '{':
      if (!visit(i, c, depth))
        return;
      ++depth;
      break;
    case ']':
    case '}':
      if (!visit(i, c, depth))
        return;
      if (depth > 0)
        --depth;
      break;
    case ',':
    case ':':
      if (!visit(i, c, depth))
        return;
      break;
    default:
      break;
    }
  }
}

} // namespace

Expected<json::Value> mm::parseBoundedJson(StringRef text) {
  std::optional<size_t> tooDeep;
  scanJson(text, [&](size_t offset, char c, unsigned depth) {
    if ((c == '[' || c == '{') && depth + 1 > kMaxJsonDepth) {
      tooDeep = offset;
      return false;
    }
    return true;
  });
  if (tooDeep) {
    // Place the error as json::parse places its own (1-based line, 0-based
    // column), so that readers print every JSON error the same way.
    StringRef before = text.take_front(*tooDeep);
    unsigned line = 1 + before.count('\n');
    size_t lineStart = before.rfind('\n');
    unsigned column =
        lineStart == StringRef::npos ? *tooDeep : *tooDeep - (lineStart + 1);
    static_assert(kMaxJsonDepth == 64, "update the message below");
    return llvm::make_error<json::ParseError>("nested deeper than 64 levels",
                                              line, column, unsigned(*tooDeep));
  }
  return json::parse(text);
}

JsonCounts mm::countJson(StringRef text) {
  JsonCounts counts;
  counts.values = 1;
  bool objectAtTop = false;
  bool sawTop = false;
  scanJson(text, [&](size_t, char c, unsigned depth) {
    if (!sawTop && depth == 0 && (c == '[' || c == '{')) {
      sawTop = true;
      objectAtTop = c == '{';
    }
    if (c == '[' || c == '{' || c == ',')
      ++counts.values;
    else if (c == ':' && depth == 1 && objectAtTop)
      ++counts.topLevelMembers;
    return true;
  });
  return counts;
}
