//===- StateLayout.h - the per-sequence state of a config -------*- C++ -*-===//
//
// The fields of the recurrent state a config implies (spec section 2), in
// the order and layout every backend uses: for each layer its conv window
// and SSM state (and, with memory, its previous mixer output and its pool:
// slots, priorities, positions, count), then (with memory) the token
// position. The importer builds mm.state_layout from it, the runtime checks
// an artifact's manifest and validates restored states against it. MLIR-free.
//
//===----------------------------------------------------------------------===//

#ifndef MM_COMMON_STATELAYOUT_H
#define MM_COMMON_STATELAYOUT_H

#include "common/ModelConfig.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mm {

/// One field of the state of one sequence.
struct StateField {
  /// "layers.{l}.{kind}", or the kind for a model-level field.
  std::string name;
  /// conv_window, ssm_state, previous_mixer, pool_slots, pool_priorities,
  /// pool_positions, pool_count or position (the mm dialect's StateKind).
  std::string kind;
  /// The layer, or -1 for a model-level field.
  int64_t layer = -1;
  /// f32, or i32 (positions and counts); 4 bytes either way.
  bool isFloat = true;
  std::vector<int64_t> shape;
  /// Elements of one sequence.
  int64_t elements = 0;
  /// Bytes of one sequence before this field.
  int64_t offset = 0;
};

/// The name of the field of `kind` of `layer`: "layers.{layer}.{kind}", or
/// the kind for a model-level field (layer -1).
std::string stateFieldName(llvm::StringRef kind, int64_t layer);

/// The state fields of `config`, laid end to end (the last one ends at
/// config.stateBytesPerSequence()).
std::vector<StateField> stateLayout(const ModelConfig &config);

} // namespace mm

#endif // MM_COMMON_STATELAYOUT_H
