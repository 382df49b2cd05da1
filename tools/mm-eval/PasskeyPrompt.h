//===- PasskeyPrompt.h - the prompts of the passkey task --------*- C++ -*-===//
//
// The passkey prompt exactly as docs/passkey-task.md fixes it (filler
// stream, key sentence at the sentence boundary closest to the depth,
// question), in the ids of a word-level vocabulary.
// python/memmamba/passkey.py builds the same prompts
// (test/python/passkey-prompts.test).
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_MMEVAL_PASSKEYPROMPT_H
#define MM_TOOLS_MMEVAL_PASSKEYPROMPT_H

#include "tools/mm-eval/Vocabulary.h"

#include "llvm/Support/Error.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace mm::eval {

/// Words of a prompt besides the filler: key sentence (23) and question (10).
inline constexpr int64_t kPasskeyFixedWords = 33;
/// Keys have five digits.
inline constexpr int64_t kPasskeyDigits = 5;
inline constexpr int32_t kMinPasskey = 10000, kMaxPasskey = 99999;

/// The ids of the words a passkey prompt is made of.
class PasskeyWords {
public:
  /// Looks the task's words up in `vocabulary`; the words it lacks are one
  /// error naming its file.
  static llvm::Expected<PasskeyWords> fromVocabulary(const Vocabulary &);

  /// The filler stream's period (24 words) and its word at `index`.
  size_t fillerPeriod() const { return filler.size(); }
  int32_t fillerWord(int64_t index) const {
    return filler[index % filler.size()];
  }
  /// Whether filler word `index` ends a sentence (".").
  bool endsSentence(int64_t index) const { return fillerWord(index) == period; }
  int32_t digit(int value) const { return digits[value]; }

  /// The key sentence of `key` (23 words) and the question (10 words).
  std::vector<int32_t> keySentence(int32_t key) const;
  const std::vector<int32_t> &questionWords() const { return question; }

private:
  std::vector<int32_t> filler, question;
  /// The key sentence around the two copies of the key: "The pass key is",
  /// ". Remember it .", "is the pass key .".
  std::vector<int32_t> keyOpening, keyMiddle, keyClosing;
  std::array<int32_t, 10> digits{};
  int32_t period = -1;
};

/// A prompt and what it asks for.
struct PasskeyPrompt {
  /// Exactly `length` ids.
  std::vector<int32_t> tokens;
  /// p: where the key sentence starts (its first token's position).
  int64_t keyPosition = 0;
  /// The digit tokens a correct answer decodes: d1..d5.
  std::array<int32_t, kPasskeyDigits> answer{};
};

/// A depth as a person writes it: "0", "0.25", "1".
std::string formatDepth(double depth);

/// p: the sentence boundary of the first `fillerWords` filler words closest
/// to depth * fillerWords (ties: the smaller).
int64_t passkeyInsertionPoint(const PasskeyWords &words, int64_t fillerWords,
                              double depth);

/// The prompt of `length` tokens with `key` at `depth`. A length below the
/// fixed part (33), a depth outside [0, 1] or a key outside 10000..99999 is
/// an error saying so.
llvm::Expected<PasskeyPrompt> buildPasskeyPrompt(const PasskeyWords &words,
                                                 int64_t length, double depth,
                                                 int32_t key);

} // namespace mm::eval

#endif // MM_TOOLS_MMEVAL_PASSKEYPROMPT_H
