//===- EvalCommands.h - the subcommands of mm-eval --------------*- C++ -*-===//
//
// mm-eval passkey | perplexity | fidelity: each subcommand registers its
// options under its llvm::cl::SubCommand and runs through its run function.
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_MMEVAL_EVALCOMMANDS_H
#define MM_TOOLS_MMEVAL_EVALCOMMANDS_H

#include "llvm/Support/CommandLine.h"
#include "llvm/Support/Error.h"

namespace mm::eval {

extern llvm::cl::SubCommand passkeyCommand;
extern llvm::cl::SubCommand perplexityCommand;
extern llvm::cl::SubCommand fidelityCommand;

llvm::Error runPasskey();
llvm::Error runPerplexity();
llvm::Error runFidelity();

} // namespace mm::eval

#endif // MM_TOOLS_MMEVAL_EVALCOMMANDS_H
