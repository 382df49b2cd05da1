//===- ToolMain.h - how every tool runs its work ----------------*- C++ -*-===//
//
// The guard each tool's main runs its work in: an error is printed as
// "TOOL: error: ...", and memory that cannot be allocated is an error too,
// not an abort with a stack dump.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_TOOLMAIN_H
#define MM_TOOLS_TOOLMAIN_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/STLFunctionalExtras.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/WithColor.h"
#include "llvm/Support/raw_ostream.h"

#include <new>
#include <string>
#include <vector>

namespace mm {

/// Runs `work` and prints its error. Call it after llvm::InitLLVM, whose
/// out-of-memory handler ("LLVM ERROR: out of memory" and an abort) it
/// replaces so that allocations throw std::bad_alloc, which becomes an
/// error here.
inline int runTool(const char *tool, llvm::function_ref<llvm::Error()> work) {
  std::set_new_handler(nullptr);
  llvm::Error error = llvm::Error::success();
  try {
    error = work();
  } catch (const std::bad_alloc &) {
    llvm::consumeError(std::move(error));
    error = llvm::createStringError(
        llvm::inconvertibleErrorCode(),
        "out of memory (a smaller prompt, batch, model or --prefill-chunk "
        "needs less)");
  }
  if (!error)
    return 0;
  llvm::WithColor::error(llvm::errs(), tool)
      << llvm::toString(std::move(error)) << "\n";
  return 1;
}

/// The command line with "FLAG @FILE" joined into "FLAG=@FILE" for each of
/// `flags` (spelled "--flag" or "-flag"): llvm::cl expands every argument
/// that starts with '@' as a response file, and these flags read the file
/// themselves.
inline std::vector<std::string>
joinFileArguments(int argc, char **argv,
                  llvm::ArrayRef<llvm::StringRef> flags) {
  std::vector<std::string> joined;
  for (int i = 0; i < argc; ++i) {
    llvm::StringRef arg(argv[i]);
    llvm::StringRef name =
        arg.starts_with("--") ? arg.drop_front(2) : arg.drop_front(1);
    if (arg.starts_with("-") && llvm::is_contained(flags, name) &&
        i + 1 < argc && argv[i + 1][0] == '@')
      joined.push_back((arg + "=" + argv[++i]).str());
    else
      joined.push_back(arg.str());
  }
  return joined;
}

} // namespace mm

#endif // MM_TOOLS_TOOLMAIN_H
