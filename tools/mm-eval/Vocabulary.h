//===- Vocabulary.h - a word-level vocabulary and its tokenizer -*- C++ -*-===//
//
// vocab.txt (one word per line, the line number from 0 is the token id), the
// word-level tokenizer of docs/passkey-task.md and its inverse, for the
// models trained on the passkey task.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_MMEVAL_VOCABULARY_H
#define MM_TOOLS_MMEVAL_VOCABULARY_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace mm::eval {

/// The largest vocab.txt read (the shipped one is about 150 bytes).
inline constexpr uint64_t kMaxVocabularyBytes = uint64_t(64) << 20;

class Vocabulary {
public:
  /// Reads `path`: one word per line (a final newline optional, "\r\n"
  /// accepted). An empty line, a word holding white space or a word seen
  /// before is an error naming the file, the line and the word.
  static llvm::Expected<Vocabulary> load(llvm::StringRef path);
  /// The vocabulary of `words` (checked as load checks lines); `source`
  /// names it in errors.
  static llvm::Expected<Vocabulary> fromWords(std::vector<std::string> words,
                                              llvm::StringRef source);

  /// Where the words came from (the file), for messages.
  llvm::StringRef source() const { return sourceName; }
  size_t size() const { return words.size(); }
  /// The id of `word`, if the vocabulary holds it (case-sensitive).
  std::optional<int32_t> lookup(llvm::StringRef word) const;
  /// The word of `id`, or null when the id is outside the vocabulary.
  const std::string *word(int32_t id) const;

  /// Splits `text` into words as docs/passkey-task.md says (at white space,
  /// then into maximal runs of ASCII letters, single digits and single other
  /// characters, a UTF-8 sequence counting as one) and maps them to ids. An
  /// unknown word is an error naming `origin` (the file), its line and
  /// column, the word and its index among the words.
  llvm::Expected<std::vector<int32_t>> tokenize(llvm::StringRef text,
                                                llvm::StringRef origin) const;

  /// The words of `ids` as text: separated by a space, except that digits
  /// following digits and single characters that are neither letters nor
  /// digits ("." "?") attach to what precedes them, so a key reads
  /// "12345" and a sentence "The sky is blue." (tokenize gives the ids
  /// back). An id outside the vocabulary prints as "<id N>".
  std::string detokenize(llvm::ArrayRef<int32_t> ids) const;

private:
  std::string sourceName;
  std::vector<std::string> words;
  llvm::StringMap<int32_t> ids;
};

} // namespace mm::eval

#endif // MM_TOOLS_MMEVAL_VOCABULARY_H
