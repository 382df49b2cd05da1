//===- ArtifactIntegrityTest.cpp - the runtime loads what it checked ------===//
//
// Artifacts are native code: the runtime verifies each file's checksum seal,
// reads its manifest from the verified bytes, and loads those same bytes
// (common/ArtifactSeal.h). Damaged, cut, unsealed and edited files are clear
// errors; a manifest edited and sealed again is checked against its config;
// a bare file name, a library path and a file replaced on disk cannot make it
// run other code than the file it checked.
//
//===----------------------------------------------------------------------===//

#include "RuntimeTestUtil.h"

#include "common/ArtifactSeal.h"
#include "runtime/CompiledModel.h"
#include "runtime/reference/ReferenceExecutor.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <gmock/gmock.h>

#include <cctype>
#include <cstdlib>
#include <unistd.h>

using namespace mm;
using namespace mm::testing;
using ::testing::HasSubstr;

namespace {

std::string artifact(const char *name) {
  return std::string(MM_TEST_ARTIFACTS) + "/" + name + ".mmx";
}

std::string readFile(const std::string &path) {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  EXPECT_TRUE(static_cast<bool>(buffer)) << path;
  return buffer ? (*buffer)->getBuffer().str() : std::string();
}

void writeFile(const std::string &path, llvm::StringRef bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream out(path, ec);
  ASSERT_FALSE(ec) << path;
  out << bytes;
}

/// A folder of its own per test, removed after it.
class ArtifactIntegrityTest : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_FALSE(llvm::sys::fs::createUniqueDirectory("mm-integrity", dir));
  }
  void TearDown() override { llvm::sys::fs::remove_directories(dir); }

  std::string path(llvm::StringRef name) {
    llvm::SmallString<128> p(dir);
    llvm::sys::path::append(p, name);
    return std::string(p);
  }

  /// The library bytes of memmamba-tiny's artifact with `from` replaced by
  /// `to` of the same length (so the library stays valid), sealed again (as
  /// a user with a hex editor and our seal could). An empty `to` replaces
  /// the number after `from` by 1 followed by zeros.
  std::string resealedWith(llvm::StringRef from, std::string to) {
    std::string bytes = readFile(artifact("memmamba-tiny"));
    auto library = checkArtifactSeal(bytes);
    EXPECT_TRUE(static_cast<bool>(library));
    if (!library)
      return {};
    std::string code = library->str();
    size_t at = code.find(from.str());
    EXPECT_NE(at, std::string::npos) << from.str();
    if (at == std::string::npos)
      return {};
    if (to.empty()) {
      size_t digits = 0;
      while (std::isdigit(code[at + from.size() + digits]))
        ++digits;
      to = from.str() + "1" + std::string(digits - 1, '0');
      from = llvm::StringRef(code).substr(at, from.size() + digits);
    }
    EXPECT_EQ(from.size(), to.size());
    code.replace(at, from.size(), to);
    return sealArtifact(code);
  }

  std::string openError(const std::string &file) {
    return message(CompiledModel::open(file));
  }

  /// Prefill logits of `model` on `weights` for a fixed prompt, against the
  /// reference: the relative error.
  double errorAgainstReference(const CompiledModel &model,
                               const ModelWeights &weights) {
    std::vector<int32_t> tokens =
        randomTokens(20, weights.config().vocabSize, 2);
    auto state = model.createState(1);
    EXPECT_TRUE(static_cast<bool>(state));
    auto ours = model.prefill(tokens, 20, *state, {PromptLogits::All});
    EXPECT_TRUE(static_cast<bool>(ours));
    ReferenceExecutor reference(weights);
    SequenceState expectedState = reference.createState();
    auto expected = reference.prefill(tokens, expectedState);
    if (!ours || !expected || ours->size() != expected->size())
      return 1e9;
    return relativeError(ours->data(), expected->data(), ours->size());
  }

  llvm::SmallString<128> dir;
};

TEST_F(ArtifactIntegrityTest, SealedArtifactsOpenAndReportTheirDigest) {
  auto model = CompiledModel::open(artifact("memmamba-tiny"));
  ASSERT_TRUE(static_cast<bool>(model)) << message(model.takeError());
  EXPECT_EQ((*model)->digest().size(), 64u);
  EXPECT_THAT(message(checkArtifactSeal(readFile(artifact("memmamba-tiny")))),
              "");
}

TEST_F(ArtifactIntegrityTest, DamagedCutAndUnsealedFilesAreRefused) {
  std::string good = readFile(artifact("memmamba-tiny"));
  // One byte of code changed.
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x40;
  writeFile(path("flipped.mmx"), flipped);
  EXPECT_THAT(openError(path("flipped.mmx")),
              HasSubstr("flipped.mmx: damaged: its SHA-256 checksum does not "
                        "match its contents"));
  // Cut short: the seal is gone.
  writeFile(path("cut.mmx"), llvm::StringRef(good).take_front(good.size() / 3));
  EXPECT_THAT(openError(path("cut.mmx")),
              HasSubstr("cut.mmx: not a sealed artifact"));
  // Something appended after the seal.
  writeFile(path("appended.mmx"), good + "tail");
  EXPECT_THAT(openError(path("appended.mmx")),
              HasSubstr("not a sealed artifact"));
  // The library alone, as a linker writes it.
  writeFile(path("unsealed.mmx"),
            llvm::StringRef(good).drop_back(kArtifactSealBytes));
  EXPECT_THAT(openError(path("unsealed.mmx")),
              HasSubstr("not a sealed artifact"));
  // A seal whose length disagrees.
  std::string shifted = good;
  shifted[good.size() - 16] ^= 1;
  writeFile(path("length.mmx"), shifted);
  EXPECT_THAT(openError(path("length.mmx")), HasSubstr("damaged: its seal"));
  // Text and an empty file.
  writeFile(path("text.mmx"), "{\"hidden_size\": 64}\n");
  EXPECT_THAT(openError(path("text.mmx")), HasSubstr("not a sealed artifact"));
  writeFile(path("empty.mmx"), "");
  EXPECT_THAT(openError(path("empty.mmx")), HasSubstr("not a sealed artifact"));
  // Sealed, but not a shared library.
  writeFile(path("sealed-text.mmx"), sealArtifact("not an ELF file at all"));
  EXPECT_THAT(openError(path("sealed-text.mmx")),
              HasSubstr("not a shared library"));
}

TEST_F(ArtifactIntegrityTest, ResealedManifestEditsAreCheckedAgainstTheConfig) {
  struct Edit {
    const char *from, *to, *error;
  };
  for (const Edit &edit : {
           // A weight buffer too small for the weights.
           Edit{"\"floats\":", "", "lies outside the weight buffer of 1"},
           // A name the config does not have (same length).
           Edit{"backbone.norm_f.weight", "backbone.norm_g.weight",
                "weight 'backbone.norm_g.weight' is not a tensor of its "
                "config"},
           // A shape changed.
           Edit{"\"shape\":[256,64]", "\"shape\":[255,64]",
                "has another shape than its config implies"},
           // The state layout.
           Edit{"\"kind\":\"pool_count\"", "\"kind\":\"pool_slots\"",
                "corrupt manifest: state field"},
           Edit{"\"bytes_per_sequence\":", "",
                "bytes per sequence, but its config needs"},
       }) {
    writeFile(path("edited.mmx"), resealedWith(edit.from, edit.to));
    EXPECT_THAT(openError(path("edited.mmx")), HasSubstr(edit.error))
        << edit.from;
  }
}

TEST_F(ArtifactIntegrityTest,
       ABareFileNameLoadsThatFileNotOneOnTheLibraryPath) {
  // The folder holds memmamba-tiny as model.mmx; a library folder holds
  // another artifact under the same name.
  ASSERT_FALSE(llvm::sys::fs::create_directory(path("lib")));
  writeFile(path("model.mmx"), readFile(artifact("memmamba-tiny")));
  writeFile(path("lib/model.mmx"), readFile(artifact("memmamba-fifo-p2")));
  const char *oldPath = std::getenv("LD_LIBRARY_PATH");
  std::string saved = oldPath ? oldPath : "";
  setenv("LD_LIBRARY_PATH", path("lib").c_str(), 1);
  llvm::SmallString<128> cwd;
  ASSERT_FALSE(llvm::sys::fs::current_path(cwd));
  ASSERT_EQ(chdir(dir.c_str()), 0);
  auto model = CompiledModel::open("model.mmx");
  ASSERT_EQ(chdir(cwd.c_str()), 0);
  if (oldPath)
    setenv("LD_LIBRARY_PATH", saved.c_str(), 1);
  else
    unsetenv("LD_LIBRARY_PATH");
  ASSERT_TRUE(static_cast<bool>(model)) << message(model.takeError());
  EXPECT_EQ((*model)->config().memory->eviction, Eviction::Priority);
  ModelWeights weights = randomWeights((*model)->config(), 4);
  ASSERT_EQ(message((*model)->bindWeights(weights)), "");
  EXPECT_LT(errorAgainstReference(**model, weights), 1e-4);
}

TEST_F(ArtifactIntegrityTest, AFileReplacedOnDiskOpensAsTheNewFile) {
  // One path, two artifacts in turn, written in place (not renamed): the
  // first model keeps the code it checked, the second runs the new file.
  const std::string file = path("model.mmx");
  writeFile(file, readFile(artifact("memmamba-tiny")));
  auto first = CompiledModel::open(file);
  ASSERT_TRUE(static_cast<bool>(first)) << message(first.takeError());
  writeFile(file, readFile(artifact("memmamba-fifo-p2")));
  auto second = CompiledModel::open(file);
  ASSERT_TRUE(static_cast<bool>(second)) << message(second.takeError());
  EXPECT_EQ((*second)->config().memory->eviction, Eviction::Fifo);
  EXPECT_NE((*first)->digest(), (*second)->digest());

  ModelWeights firstWeights = randomWeights((*first)->config(), 6);
  ModelWeights secondWeights = randomWeights((*second)->config(), 7);
  ASSERT_EQ(message((*first)->bindWeights(firstWeights)), "");
  ASSERT_EQ(message((*second)->bindWeights(secondWeights)), "");
  EXPECT_LT(errorAgainstReference(**second, secondWeights), 1e-4);
  EXPECT_LT(errorAgainstReference(**first, firstWeights), 1e-4);
  // The file deleted while both are loaded: neither needs it.
  ASSERT_FALSE(llvm::sys::fs::remove(file));
  EXPECT_LT(errorAgainstReference(**first, firstWeights), 1e-4);
}

} // namespace
