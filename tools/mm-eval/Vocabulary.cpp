//===- Vocabulary.cpp - a word-level vocabulary and its tokenizer ---------===//

#include "tools/mm-eval/Vocabulary.h"

#include "common/InputFiles.h"

#include "llvm/ADT/StringExtras.h"

using namespace mm::eval;

namespace {

llvm::Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The bytes of the word that starts `text` (not white space): a maximal run
/// of ASCII letters, one digit, or one other character (one UTF-8 sequence).
size_t wordLength(llvm::StringRef text) {
  unsigned char first = text.front();
  if (llvm::isAlpha(first))
    return std::min(text.find_if_not(llvm::isAlpha), text.size());
  if (first < 0x80)
    return 1;
  // A UTF-8 lead byte and its continuation bytes (10xxxxxx).
  size_t length = 1;
  while (length < text.size() &&
         (static_cast<unsigned char>(text[length]) & 0xC0) == 0x80)
    ++length;
  return length;
}

/// What detokenize does with a word: letters (and anything else of more than
/// one character) stand apart; digits join digits; single punctuation joins
/// the word before it.
enum class WordKind { Word, Digit, Punctuation };

WordKind kindOf(llvm::StringRef word) {
  if (word.size() == 1 && llvm::isDigit(word[0]))
    return WordKind::Digit;
  if (word.size() == 1 && !llvm::isAlpha(word[0]))
    return WordKind::Punctuation;
  return WordKind::Word;
}

} // namespace

llvm::Expected<Vocabulary> Vocabulary::load(llvm::StringRef path) {
  auto buffer = readBoundedFile(path, kMaxVocabularyBytes, "a vocabulary");
  if (!buffer)
    return buffer.takeError();
  llvm::StringRef text = (*buffer)->getBuffer();
  if (text.empty())
    return makeError(path + ": an empty vocabulary (one word per line "
                            "expected)");
  // A final newline ends the last line; it does not start an empty one.
  if (text.ends_with("\n"))
    text = text.drop_back();
  std::vector<std::string> words;
  llvm::SmallVector<llvm::StringRef> lines;
  text.split(lines, '\n');
  for (llvm::StringRef line : lines)
    words.push_back(line.ends_with("\r") ? line.drop_back().str() : line.str());
  return fromWords(std::move(words), path);
}

llvm::Expected<Vocabulary> Vocabulary::fromWords(std::vector<std::string> words,
                                                 llvm::StringRef source) {
  Vocabulary vocabulary;
  vocabulary.sourceName = source.str();
  if (words.empty())
    return makeError(source + ": an empty vocabulary (one word per line "
                              "expected)");
  if (words.size() > size_t(INT32_MAX))
    return makeError(source + ": more than " + llvm::Twine(INT32_MAX) +
                     " words");
  for (size_t i = 0; i < words.size(); ++i) {
    llvm::StringRef word = words[i];
    std::string where = (source + ":" + llvm::Twine(i + 1) + ": ").str();
    if (word.empty())
      return makeError(where + "an empty line (each line holds one word; "
                               "its line number from 0 is the token id)");
    if (word.find_first_of(kWhiteSpace) != llvm::StringRef::npos)
      return makeError(where + "'" + word +
                       "' holds white space (one word per line)");
    auto [it, inserted] = vocabulary.ids.try_emplace(word, int32_t(i));
    if (!inserted)
      return makeError(where + "'" + word + "' is already token " +
                       llvm::Twine(it->second) + " (line " +
                       llvm::Twine(it->second + 1) + ")");
  }
  vocabulary.words = std::move(words);
  return vocabulary;
}

std::optional<int32_t> Vocabulary::lookup(llvm::StringRef word) const {
  auto it = ids.find(word);
  if (it == ids.end())
    return std::nullopt;
  return it->second;
}

const std::string *Vocabulary::word(int32_t id) const {
  if (id < 0 || size_t(id) >= words.size())
    return nullptr;
  return &words[id];
}

llvm::Expected<std::vector<int32_t>>
Vocabulary::tokenize(llvm::StringRef text, llvm::StringRef origin) const {
  std::vector<int32_t> tokens;
  for (size_t offset = text.find_first_not_of(kWhiteSpace);
       offset < text.size();
       offset = text.find_first_not_of(kWhiteSpace, offset)) {
    llvm::StringRef word = text.substr(offset, wordLength(text.substr(offset)));
    std::optional<int32_t> id = lookup(word);
    if (!id)
      return makeError(describeTextPosition(origin, text, offset) + ": '" +
                       word + "' (word " + llvm::Twine(tokens.size()) +
                       ") is not in the vocabulary " + sourceName);
    tokens.push_back(*id);
    offset += word.size();
  }
  return tokens;
}

std::string Vocabulary::detokenize(llvm::ArrayRef<int32_t> tokens) const {
  std::string text;
  std::optional<WordKind> previous;
  for (int32_t token : tokens) {
    const std::string *known = word(token);
    std::string piece = known ? *known : "<id " + std::to_string(token) + ">";
    WordKind kind = known ? kindOf(piece) : WordKind::Word;
    bool attach = previous &&
                  ((kind == WordKind::Digit && *previous == WordKind::Digit) ||
                   kind == WordKind::Punctuation);
    if (previous && !attach)
      text += ' ';
    text += piece;
    previous = kind;
  }
  return text;
}
