//===- ArtifactManifest.cpp - what an artifact says about itself ----------===//

#include "common/ArtifactManifest.h"

#include "common/InputFiles.h"
#include "common/WeightNames.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

using namespace mm;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;

namespace {

Error makeError(const llvm::Twine &message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), message);
}

Error fail(const llvm::Twine &message) {
  return makeError("corrupt manifest: " + message);
}

/// The integer `key` of `object`, or nullopt.
std::optional<int64_t> getInt(const llvm::json::Object *object, StringRef key) {
  return object ? object->getInteger(key) : std::nullopt;
}

} // namespace

ManifestStateField mm::toManifestStateField(const StateField &field) {
  return {field.name,  field.kind,  field.isFloat ? "f32" : "i32",
          field.layer, field.shape, field.offset};
}

const ManifestWeight *ManifestContents::findWeight(StringRef name) const {
  for (const ManifestWeight &weight : weights)
    if (weight.name == name)
      return &weight;
  return nullptr;
}

const ManifestStateField *ManifestContents::findField(StringRef name) const {
  for (const ManifestStateField &field : state)
    if (field.name == name)
      return &field;
  return nullptr;
}

llvm::json::Value ManifestContents::toJSON() const {
  llvm::json::Array weightArray, fieldArray;
  for (const ManifestWeight &weight : weights) {
    llvm::json::Object entry{{"name", weight.name},
                             {"shape", llvm::json::Array(weight.shape)},
                             {"offset", weight.offset},
                             {"dtype", stringifyPrecision(weight.dtype)}};
    if (!weight.fallback.empty())
      entry["fallback"] = weight.fallback;
    weightArray.push_back(std::move(entry));
  }
  for (const ManifestStateField &field : state)
    fieldArray.push_back(
        llvm::json::Object{{"name", field.name},
                           {"kind", field.kind},
                           {"layer", field.layer},
                           {"dtype", field.dtype},
                           {"shape", llvm::json::Array(field.shape)},
                           {"offset", field.offset}});
  return llvm::json::Object{
      {"abi_version", kArtifactAbiVersion},
      {"compiler_version", compilerVersion},
      {"config", config},
      {"fusion", fusion},
      {"precision", stringifyPrecision(precision)},
      {"weights", llvm::json::Object{{"floats", weightFloats},
                                     {"tensors", std::move(weightArray)}}},
      {"state",
       llvm::json::Object{{"bytes_per_sequence", stateBytesPerSequence},
                          {"fields", std::move(fieldArray)}}},
      {"entries", llvm::json::Object{{"prefill", "mm_prefill"},
                                     {"decode", "mm_decode"},
                                     {"init_state", "mm_init_state"},
                                     {"prefill_last", "mm_prefill_last"}}},
  };
}

Expected<ArtifactManifest> mm::parseArtifactManifest(StringRef text,
                                                     StringRef origin) {
  Expected<llvm::json::Value> parsed = parseBoundedJson(text);
  if (!parsed)
    return fail(llvm::toString(parsed.takeError()));
  if (!parsed->getAsObject())
    return fail("not an object");
  ArtifactManifest result;
  result.object = std::move(*parsed->getAsObject());
  const llvm::json::Object &manifest = result.object;
  std::optional<int64_t> abi = manifest.getInteger("abi_version");
  if (abi != kArtifactAbiVersion)
    return makeError("artifact ABI version " +
                     (abi ? std::to_string(*abi) : std::string("?")) +
                     (abi == 1 ? " (GPU kernels loaded by global "
                                 "constructors, entry points without a "
                                 "kernel context)"
                               : "") +
                     ", this runtime runs version " +
                     std::to_string(kArtifactAbiVersion) +
                     " (recompile it with this version's mm-compile)");
  const llvm::json::Object *target = manifest.getObject("target");
  result.kind =
      (target ? target->getString("kind") : std::nullopt).value_or("?").str();
  const llvm::json::Value *configValue = manifest.get("config");
  if (!configValue)
    return fail("no config");
  std::string configText;
  llvm::raw_string_ostream(configText) << *configValue;
  Expected<ModelConfig> config = parseModelConfig(configText, origin);
  if (!config)
    return config.takeError();
  result.config = *config;
  const ModelConfig &modelConfig = result.config;

  std::optional<StringRef> precisionName = manifest.getString("precision");
  std::optional<Precision> precision =
      precisionName ? parsePrecision(*precisionName) : std::nullopt;
  if (!precision)
    return fail("precision '" + precisionName.value_or("") +
                "' (this runtime runs f32, bf16 and f16)");
  result.precision = *precision;

  const llvm::json::Object *weights = manifest.getObject("weights");
  const llvm::json::Object *state = manifest.getObject("state");
  const llvm::json::Array *tensors =
      weights ? weights->getArray("tensors") : nullptr;
  const llvm::json::Array *fieldList =
      state ? state->getArray("fields") : nullptr;
  std::optional<int64_t> floats = getInt(weights, "floats");
  std::optional<int64_t> bytes = getInt(state, "bytes_per_sequence");
  if (!tensors || !fieldList || !floats || !bytes)
    return fail("no weight list or state layout");

  // The weights: exactly the tensors the config implies, with their shapes,
  // each inside the buffer and none overlapping another.
  llvm::StringMap<const WeightSpec *> expected;
  std::vector<WeightSpec> specs = modelWeights(modelConfig);
  for (const WeightSpec &spec : specs)
    expected[spec.name] = &spec;
  std::vector<std::pair<int64_t, int64_t>> ranges; // [offset, end)
  llvm::StringSet<> seen;
  for (const llvm::json::Value &entry : *tensors) {
    const llvm::json::Object *tensor = entry.getAsObject();
    std::optional<StringRef> name =
        tensor ? tensor->getString("name") : std::nullopt;
    std::optional<int64_t> offset = getInt(tensor, "offset");
    const llvm::json::Array *shape =
        tensor ? tensor->getArray("shape") : nullptr;
    std::optional<StringRef> dtypeName =
        tensor ? tensor->getString("dtype") : std::nullopt;
    if (!name || !offset || !shape || !dtypeName)
      return fail("a weight entry without name, offset, shape or dtype");
    // A weight is f32 or in the artifact's reduced precision.
    std::optional<Precision> dtype = parsePrecision(*dtypeName);
    if (!dtype || (*dtype != Precision::F32 && *dtype != *precision))
      return fail("weight '" + *name + "' has dtype '" + *dtypeName +
                  "' in an artifact of precision " +
                  stringifyPrecision(*precision));
    auto spec = expected.find(*name);
    if (spec == expected.end())
      return fail("weight '" + *name + "' is not a tensor of its config");
    if (!seen.insert(*name).second)
      return fail("weight '" + *name + "' is listed twice");
    std::vector<int64_t> dims;
    for (const llvm::json::Value &dim : *shape)
      dims.push_back(dim.getAsInteger().value_or(-1));
    if (dims != spec->second->shape)
      return fail("weight '" + *name +
                  "' has another shape than its config implies");
    int64_t elements = 1;
    for (int64_t dim : dims)
      elements *= dim; // bounded: the config's sizes are
    int64_t count = weightWords(elements, *dtype);
    if (*offset < 0 || *offset > *floats || count > *floats - *offset)
      return fail("weight '" + *name + "' at offset " +
                  std::to_string(*offset) + " (" + std::to_string(count) +
                  " floats) lies outside the weight buffer of " +
                  std::to_string(*floats) + " floats");
    ranges.push_back({*offset, *offset + count});
    result.weights.push_back({name->str(), *offset, *dtype});
  }
  for (const WeightSpec &spec : specs)
    if (!seen.contains(spec.name))
      return fail("weight '" + spec.name +
                  "' of its config is missing from its weight list");
  llvm::sort(ranges);
  for (size_t i = 1; i < ranges.size(); ++i)
    if (ranges[i].first < ranges[i - 1].second)
      return fail("weights overlap at offset " +
                  std::to_string(ranges[i].first));
  // Nothing past the last tensor but its alignment padding.
  if (*floats > (ranges.empty() ? 0 : ranges.back().second) + 64)
    return fail("a weight buffer of " + std::to_string(*floats) +
                " floats, larger than its tensors");
  result.weightFloats = *floats;

  // The state: fields laid end to end, as many bytes as the config needs.
  if (*bytes != modelConfig.stateBytesPerSequence())
    return fail("its state layout has " + std::to_string(*bytes) +
                " bytes per sequence, but its config needs " +
                std::to_string(modelConfig.stateBytesPerSequence()));
  result.stateBytes = *bytes;
  // Compiled code and checkState() index the state by this layout.
  result.fields = stateLayout(modelConfig);
  const std::vector<StateField> &fields = result.fields;
  bool same = fields.size() == fieldList->size();
  for (size_t i = 0; same && i < fields.size(); ++i) {
    const llvm::json::Object *object = (*fieldList)[i].getAsObject();
    const llvm::json::Array *shape =
        object ? object->getArray("shape") : nullptr;
    std::vector<int64_t> dims;
    if (shape)
      for (const llvm::json::Value &dim : *shape)
        dims.push_back(dim.getAsInteger().value_or(-1));
    ManifestStateField field = toManifestStateField(fields[i]);
    same = object && object->getString("name") == StringRef(field.name) &&
           object->getString("kind") == StringRef(field.kind) &&
           getInt(object, "layer") == field.layer &&
           object->getString("dtype") == StringRef(field.dtype) &&
           dims == field.shape && getInt(object, "offset") == field.offset;
    if (!same)
      return fail("state field " + std::to_string(i) + " is not " + field.name +
                  " as its config lays it out");
  }
  if (!same)
    return fail(std::to_string(fieldList->size()) +
                " state fields, its config has " +
                std::to_string(fields.size()));
  return result;
}
