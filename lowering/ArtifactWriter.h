//===- ArtifactWriter.h - compiled models as shared libraries ---*- C++ -*-===//
//
// The last step of the host target: the LLVM-dialect module goes through
// LLVM's -O3 pipeline and code generation for the host CPU, and is linked
// (ld.lld) into a shared library that embeds its manifest as the
// NUL-terminated JSON string `mm_manifest`. The runtime needs no compiler to
// load it.
//
//===----------------------------------------------------------------------===//

#ifndef MM_LOWERING_ARTIFACTWRITER_H
#define MM_LOWERING_ARTIFACTWRITER_H

#include "lowering/TargetInfo.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/Timing.h"
#include "llvm/ADT/FunctionExtras.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/Error.h"

#include <string>

namespace llvm {
class Module;
} // namespace llvm

namespace mm {

/// The machine code is generated for: the host, with all its CPU features.
struct HostTarget {
  std::string triple, cpu, features;
  static HostTarget detect();
};

/// Registers the translations an LLVM-dialect module needs.
void registerArtifactTranslations(mlir::DialectRegistry &registry);

/// The module (LLVM dialect, after mm-host-pipeline) as LLVM IR text.
llvm::Expected<std::string> translateToLLVMIR(mlir::ModuleOp module);

/// Compiles an LLVM-dialect module for `target` (LLVM -O3, code generation,
/// ld.lld) into a shared library and returns its bytes. `addToModule` may
/// add to the LLVM IR module first (the artifact's manifest). Each stage is
/// timed under `timing` (mm-compile --mlir-timing) when it is enabled.
llvm::Expected<std::string> compileHostLibrary(
    mlir::ModuleOp module, const HostTarget &target,
    llvm::function_ref<void(llvm::Module &)> addToModule = nullptr,
    mlir::TimingScope *timing = nullptr);

/// Compiles the module's host code for `target` and writes the artifact to
/// `path`. With `device` (a GPU target), the module's kernels are already
/// embedded (gpu.binary) and the manifest names the device target too.
llvm::Error writeHostArtifact(mlir::ModuleOp module, const HostTarget &target,
                              llvm::StringRef path,
                              const TargetInfo *device = nullptr,
                              mlir::TimingScope *timing = nullptr);

} // namespace mm

#endif // MM_LOWERING_ARTIFACTWRITER_H
