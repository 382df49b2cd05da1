//===- PasskeyPrompt.cpp - the prompts of the passkey task ----------------===//

#include "tools/mm-eval/PasskeyPrompt.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Format.h"

#include <cmath>

using namespace mm::eval;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

// The words of docs/passkey-task.md.
constexpr const char *kFiller = "The grass is green . The sky is blue . The "
                                "sun is yellow . Here we go . There and back "
                                "again .";
constexpr const char *kKeyOpening = "The pass key is";
constexpr const char *kKeyMiddle = ". Remember it .";
constexpr const char *kKeyClosing = "is the pass key .";
constexpr const char *kQuestion = "What is the pass key ? The pass key is";

/// The ids of the space-separated `words`; the ones `vocabulary` lacks are
/// added to `missing`.
std::vector<int32_t> lookUp(const Vocabulary &vocabulary, llvm::StringRef words,
                            llvm::SmallVectorImpl<std::string> &missing) {
  llvm::SmallVector<llvm::StringRef> pieces;
  llvm::SplitString(words, pieces);
  std::vector<int32_t> ids;
  for (llvm::StringRef word : pieces) {
    if (std::optional<int32_t> id = vocabulary.lookup(word))
      ids.push_back(*id);
    else if (!llvm::is_contained(missing, word))
      missing.push_back(word.str());
  }
  return ids;
}

} // namespace

llvm::Expected<PasskeyWords>
PasskeyWords::fromVocabulary(const Vocabulary &vocabulary) {
  PasskeyWords words;
  llvm::SmallVector<std::string> missing;
  words.filler = lookUp(vocabulary, kFiller, missing);
  words.keyOpening = lookUp(vocabulary, kKeyOpening, missing);
  words.keyMiddle = lookUp(vocabulary, kKeyMiddle, missing);
  words.keyClosing = lookUp(vocabulary, kKeyClosing, missing);
  words.question = lookUp(vocabulary, kQuestion, missing);
  for (int value = 0; value < 10; ++value) {
    std::vector<int32_t> id =
        lookUp(vocabulary, std::to_string(value), missing);
    if (!id.empty())
      words.digits[value] = id.front();
  }
  if (!missing.empty())
    return makeError(
        vocabulary.source() + ": not the passkey task's vocabulary: " +
        (missing.size() == 1
             ? "the word '" + missing.front() + "' is"
             : "the words '" + llvm::join(missing, "', '") + "' are") +
        " missing (docs/passkey-task.md lists the 33 words)");
  words.period = *vocabulary.lookup(".");
  return words;
}

std::vector<int32_t> PasskeyWords::keySentence(int32_t key) const {
  std::vector<int32_t> keyDigits;
  std::string text = std::to_string(key);
  for (char c : text)
    keyDigits.push_back(digits[c - '0']);
  std::vector<int32_t> sentence = keyOpening;
  llvm::append_range(sentence, keyDigits);
  llvm::append_range(sentence, keyMiddle);
  llvm::append_range(sentence, keyDigits);
  llvm::append_range(sentence, keyClosing);
  return sentence;
}

std::string mm::eval::formatDepth(double depth) {
  std::string text;
  llvm::raw_string_ostream(text) << llvm::format("%g", depth);
  return text;
}

int64_t mm::eval::passkeyInsertionPoint(const PasskeyWords &words,
                                        int64_t fillerWords, double depth) {
  const double target = depth * double(fillerWords);
  // Boundaries in increasing order: a later one wins only when strictly
  // closer, so ties go to the smaller.
  int64_t best = 0;
  auto consider = [&](int64_t boundary) {
    if (std::fabs(double(boundary) - target) < std::fabs(double(best) - target))
      best = boundary;
  };
  for (int64_t i = 1; i < fillerWords; ++i)
    if (words.endsSentence(i - 1))
      consider(i);
  consider(fillerWords);
  return best;
}

llvm::Expected<PasskeyPrompt>
mm::eval::buildPasskeyPrompt(const PasskeyWords &words, int64_t length,
                             double depth, int32_t key) {
  if (length < kPasskeyFixedWords)
    return makeError("a passkey prompt of " + llvm::Twine(length) +
                     " tokens: the key sentence and the question alone take " +
                     llvm::Twine(kPasskeyFixedWords) +
                     " tokens (--lengths must be 33 or more)");
  if (!(depth >= 0 && depth <= 1))
    return makeError("depth " + formatDepth(depth) +
                     ": depths are fractions of the filler, 0 to 1");
  if (key < kMinPasskey || key > kMaxPasskey)
    return makeError("key " + llvm::Twine(key) + ": keys have five digits, " +
                     llvm::Twine(kMinPasskey) + " to " +
                     llvm::Twine(kMaxPasskey));
  const int64_t fillerWords = length - kPasskeyFixedWords;
  PasskeyPrompt prompt;
  prompt.keyPosition = passkeyInsertionPoint(words, fillerWords, depth);
  prompt.tokens.reserve(length);
  for (int64_t i = 0; i < prompt.keyPosition; ++i)
    prompt.tokens.push_back(words.fillerWord(i));
  llvm::append_range(prompt.tokens, words.keySentence(key));
  for (int64_t i = prompt.keyPosition; i < fillerWords; ++i)
    prompt.tokens.push_back(words.fillerWord(i));
  llvm::append_range(prompt.tokens, words.questionWords());
  std::string digits = std::to_string(key);
  for (int64_t i = 0; i < kPasskeyDigits; ++i)
    prompt.answer[i] = words.digit(digits[i] - '0');
  return prompt;
}
