//===- mm-run.cpp - run a model on token ids ------------------------------===//
//
// mm-run MODEL [--weights FILE] --tokens 1,2,3 | --tokens @ids.txt
//        [--tokens ... (more sequences: a batch)] [-n N]
//        [--logits-out FILE] [--pools-out FILE] [--backend=reference|cpu]
//        [--precision f32|bf16|f16]
//        [--device cpu|cuda:N|hip:N] [--prefill-chunk T]
//        [--allow-nonfinite-weights]
// mm-run --list-devices
//
// MODEL is a config.json, a model folder (config.json with
// model.safetensors or its shards, as Hugging Face saves them), or an
// artifact of mm-compile (run by its compiled code: --backend=cpu; a GPU
// artifact on the GPU --device names). Runs the
// prompt(s), greedy-decodes N tokens, prints them (one line per sequence) and
// llama.cpp-style timings on stderr. Prompts run in chunks of
// --prefill-chunk tokens (memory stays bounded however long they are), and
// only the last position's logits are kept, unless --logits-out asks for
// every prompt position's, written as safetensors: "logits" [T, V], or
// "logits.0", "logits.1", ... for a batch. A file --logits-out names that is
// not a regular file (/dev/null, a FIFO) is written to, never replaced.
//
//===----------------------------------------------------------------------===//

#include "common/InputFiles.h"
#include "common/OutputFile.h"
#include "runtime/ModelRunner.h"
#include "runtime/Safetensors.h"
#include "tools/RunnerFlags.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/WithColor.h"

#include <chrono>

namespace cl = llvm::cl;
using namespace mm;

namespace {
cl::OptionCategory category("mm-run options");
cl::opt<std::string> modelPath(cl::Positional,
                               cl::desc("<config.json, model folder or "
                                        "artifact>"),
                               cl::cat(category));
cl::opt<std::string> weightsPath(
    "weights",
    cl::desc("Checkpoint: .safetensors, shard index, or folder (default: "
             "the model folder)"),
    cl::value_desc("path"), cl::cat(category));
cl::list<std::string> tokenArgs(
    "tokens", cl::ZeroOrMore,
    cl::desc("Prompt token ids, comma-separated, or @FILE of whitespace-"
             "separated ids; repeat for a batch"),
    cl::value_desc("ids|@file"), cl::cat(category));
cl::opt<unsigned> numGenerate("n", cl::desc("Tokens to generate (default 16)"),
                              cl::init(16), cl::cat(category));
cl::opt<std::string>
    logitsOut("logits-out", cl::desc("Write the prompt logits as safetensors"),
              cl::value_desc("file"), cl::cat(category));
cl::opt<std::string> poolsOut(
    "pools-out",
    cl::desc("Write, after the run, the positions of the tokens each layer's "
             "pool holds, per sequence (the memory path's decisions, which "
             "backends must agree on), as text: diff them"),
    cl::value_desc("file"), cl::cat(category));
cl::opt<BackendKind> backend(
    "backend", cl::desc("Which executor runs the model"),
    cl::values(clEnumValN(BackendKind::Reference, "reference",
                          "the reference executor (plain C++ from the spec)"),
               clEnumValN(BackendKind::Cpu, "cpu",
                          "a compiled artifact, on the host CPU (the default "
                          "when MODEL is an artifact)")),
    cl::init(BackendKind::Reference), cl::cat(category));
RunnerFlags runnerFlags(category);

llvm::Error error(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

/// The largest token file (a 400k-token prompt takes about 3 MB).
constexpr uint64_t kMaxTokenFileBytes = uint64_t(256) << 20;

int32_t argmax(const float *logits, int64_t size) {
  return static_cast<int32_t>(std::max_element(logits, logits + size) - logits);
}

double millisecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now() - start)
      .count();
}

/// llama.cpp's timing line.
void printTiming(llvm::StringRef what, double ms, size_t count,
                 llvm::StringRef unit) {
  llvm::errs() << llvm::format("mm_perf: %16s = %10.2f ms", what.str().c_str(),
                               ms);
  if (count)
    llvm::errs() << llvm::format(" / %5zu %-6s (%8.2f ms per token, %8.2f "
                                 "tokens per second)",
                                 count, unit.str().c_str(), ms / count,
                                 1000.0 * count / ms);
  llvm::errs() << "\n";
}

llvm::Error run() {
  auto start = std::chrono::steady_clock::now();
  if (modelPath.empty())
    return error("no model: pass a config, a model folder or an artifact");
  if (tokenArgs.empty())
    return error("no prompt: pass --tokens");
  std::vector<std::vector<int32_t>> prompts;
  for (const std::string &arg : tokenArgs) {
    auto tokens = readTokenArgument(arg, kMaxTokenFileBytes);
    if (!tokens)
      return tokens.takeError();
    prompts.push_back(std::move(*tokens));
  }
  RunnerOptions options;
  options.weightsPath = weightsPath;
  if (backend.getNumOccurrences())
    options.backend = backend.getValue();
  runnerFlags.apply(options);
  auto runner = openModelRunner(modelPath, options);
  if (!runner)
    return runner.takeError();
  const ModelConfig config = (*runner)->config();
  double loadMs = millisecondsSince(start);

  auto promptStart = std::chrono::steady_clock::now();
  auto logits = (*runner)->prefill(
      prompts, logitsOut.empty() ? PromptLogits::Last : PromptLogits::All);
  if (!logits)
    return logits.takeError();
  double promptMs = millisecondsSince(promptStart);
  size_t promptTokens = 0;
  for (const auto &prompt : prompts)
    promptTokens += prompt.size();

  if (!logitsOut.empty()) {
    std::vector<TensorToWrite> tensors;
    for (size_t i = 0; i < prompts.size(); ++i)
      tensors.push_back(
          {prompts.size() == 1 ? "logits" : "logits." + std::to_string(i),
           DType::F32,
           {static_cast<int64_t>(prompts[i].size()), config.vocabSize},
           (*logits)[i]});
    if (llvm::Error err = writeSafetensors(logitsOut, tensors))
      return err;
  }

  // Greedy decoding: the first token comes from the prompt's last logits.
  const int64_t vocab = config.vocabSize;
  auto evalStart = std::chrono::steady_clock::now();
  size_t runs = 0;
  for (size_t i = 0; i < prompts.size(); ++i) {
    std::vector<int32_t> generated;
    const std::vector<float> &last = (*logits)[i];
    if (numGenerate > 0 && !last.empty())
      generated.push_back(argmax(&last[last.size() - vocab], vocab));
    while (generated.size() < numGenerate) {
      auto next = (*runner)->decode(i, generated.back());
      if (!next)
        return next.takeError();
      ++runs;
      generated.push_back(argmax(next->data(), vocab));
    }
    if (prompts.size() > 1)
      llvm::outs() << "sequence " << i << ": ";
    llvm::outs() << llvm::join(llvm::map_range(generated,
                                               [](int32_t token) {
                                                 return std::to_string(token);
                                               }),
                               " ")
                 << "\n";
  }
  double evalMs = millisecondsSince(evalStart);

  if (!poolsOut.empty())
    if (llvm::Error err = writeFileSafely(
            poolsOut, [&](llvm::raw_ostream &os) -> llvm::Error {
              for (size_t i = 0; i < prompts.size(); ++i) {
                auto pools = (*runner)->poolPositions(i);
                if (!pools)
                  return pools.takeError();
                for (auto [layer, positions] : llvm::enumerate(*pools))
                  os << "sequence " << i << " layer " << layer << ": "
                     << llvm::join(llvm::map_range(positions,
                                                   [](int32_t position) {
                                                     return std::to_string(
                                                         position);
                                                   }),
                                   " ")
                     << "\n";
              }
              return llvm::Error::success();
            }))
      return err;

  printTiming("load time", loadMs, 0, "");
  printTiming("prompt eval time", promptMs, promptTokens, "tokens");
  printTiming("eval time", evalMs, runs, "runs");
  printTiming("total time", millisecondsSince(start), 0, "");
  return llvm::Error::success();
}
} // namespace

int main(int argc, char **argv) {
  llvm::InitLLVM init(argc, argv);
  cl::HideUnrelatedOptions(category);
  // "--tokens @ids.txt": the file goes to readTokenArgument, not to
  // llvm::cl.
  std::vector<std::string> joined = joinFileArguments(argc, argv, {"tokens"});
  std::vector<const char *> args;
  for (const std::string &arg : joined)
    args.push_back(arg.c_str());
  cl::ParseCommandLineOptions(static_cast<int>(args.size()), args.data(),
                              "run a MemMamba model on token ids\n");
  if (runnerFlags.listDevices) {
    printDevices(llvm::outs());
    return 0;
  }
  return runTool("mm-run", run);
}
