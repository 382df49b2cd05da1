//===- ConfigImporter.h - config.json to an mm module -----------*- C++ -*-===//
//
// Builds the model-level module of a config: the state layout, the entry
// points (init_state, prefill, decode) and, inside them, one mm.layer per
// layer, wired in the spec's order.
//
//===----------------------------------------------------------------------===//

#ifndef MM_IMPORTER_CONFIGIMPORTER_H
#define MM_IMPORTER_CONFIGIMPORTER_H

#include "common/ModelConfig.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

namespace mm {

/// The module of `config`, named `name` (a symbol name; may be empty).
mlir::OwningOpRef<mlir::ModuleOp> importModelConfig(mlir::MLIRContext *context,
                                                    const ModelConfig &config,
                                                    llvm::StringRef name);

/// Reads the config at `path` (a config.json or a model folder) and imports
/// it; the module is named after the file. Errors name the file and the key.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
importModelConfigFile(mlir::MLIRContext *context, llvm::StringRef path);

} // namespace mm

#endif // MM_IMPORTER_CONFIGIMPORTER_H
