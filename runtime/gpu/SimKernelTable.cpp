//===- SimKernelTable.cpp - the host copies an artifact carries -----------===//

#include "runtime/gpu/SimKernelTable.h"

#include "runtime/gpu/GpuDriver.h"

#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/raw_ostream.h"

#include <dlfcn.h>

using namespace mm::gpu;
using namespace mm::gpu::sim;
using detail::makeError;
using llvm::Error;
using llvm::Expected;
using llvm::StringRef;
namespace json = llvm::json;

namespace mm::gpu::sim {

// The table's entries as llvm::json reads them (fromJSON is found by
// argument-dependent lookup, hence this namespace).

bool fromJSON(const json::Value &value, SimSite &site, json::Path path) {
  json::ObjectMapper mapper(value, path);
  return mapper && mapper.map("kernel", site.kernel) &&
         mapper.map("op", site.op) && mapper.map("loc", site.loc) &&
         mapper.mapOptional("buffer", site.buffer) &&
         mapper.mapOptional("type", site.type);
}

bool fromJSON(const json::Value &value, SimMemrefParam &memref,
              json::Path path) {
  json::ObjectMapper mapper(value, path);
  return mapper && mapper.map("arg", memref.argument) &&
         mapper.map("param", memref.firstParam) &&
         mapper.map("rank", memref.rank) &&
         mapper.map("element_bytes", memref.elementBytes) &&
         mapper.map("space", memref.space);
}

bool fromJSON(const json::Value &value, SimKernel &kernel, json::Path path) {
  json::ObjectMapper mapper(value, path);
  std::optional<std::vector<unsigned>> blockSize;
  if (!mapper || !mapper.map("name", kernel.name) ||
      !mapper.map("kind", kernel.kind) ||
      !mapper.map("symbol", kernel.symbol) ||
      !mapper.map("params", kernel.paramBytes) ||
      !mapper.map("memrefs", kernel.memrefs) ||
      !mapper.map("shared_bytes", kernel.sharedBytes) ||
      !mapper.map("cooperative", kernel.cooperative) ||
      !mapper.mapOptional("known_block_size", blockSize))
    return false;
  if (blockSize) {
    if (blockSize->size() != 3) {
      path.field("known_block_size").report("expected three sizes");
      return false;
    }
    kernel.knownBlockSize = {(*blockSize)[0], (*blockSize)[1], (*blockSize)[2]};
  }
  return true;
}

} // namespace mm::gpu::sim

/// What is wrong with one kernel's entry, or an empty string.
static std::string checkKernel(const SimKernel &kernel) {
  if (kernel.name.empty() || kernel.symbol.empty())
    return "a kernel without a name or symbol";
  for (unsigned bytes : kernel.paramBytes)
    if (bytes == 0 || bytes > 64)
      return "a parameter of " + std::to_string(bytes) + " bytes";
  for (const SimMemrefParam &memref : kernel.memrefs) {
    uint64_t end = uint64_t(memref.firstParam) + 3 + 2 * uint64_t(memref.rank);
    if (end > kernel.paramBytes.size())
      return "argument " + std::to_string(memref.argument) +
             " has a descriptor past its " +
             std::to_string(kernel.paramBytes.size()) + " parameters";
    for (uint64_t param = memref.firstParam; param < end; ++param)
      if (kernel.paramBytes[param] != 8)
        return "argument " + std::to_string(memref.argument) +
               " has a descriptor field of " +
               std::to_string(kernel.paramBytes[param]) + " bytes (they are 8)";
    if (memref.elementBytes == 0)
      return "argument " + std::to_string(memref.argument) +
             " has elements of 0 bytes";
  }
  if (kernel.knownBlockSize)
    for (unsigned size : *kernel.knownBlockSize)
      if (size == 0)
        return "a known block size of 0";
  return "";
}

Expected<std::unique_ptr<SimKernelTable>>
sim::parseSimKernelTable(StringRef text, void *library, StringRef libraryName) {
  auto fail = [&](const llvm::Twine &message) {
    return makeError(libraryName + ": mm_sim_kernels: " + message);
  };
  Expected<json::Value> parsed = json::parse(text);
  if (!parsed)
    return fail(llvm::toString(parsed.takeError()));
  auto table = std::make_unique<SimKernelTable>();
  table->library = libraryName.str();
  std::vector<SimKernel> kernels;
  int64_t version = 0;
  json::Path::Root root("mm_sim_kernels");
  json::ObjectMapper mapper(*parsed, root);
  if (!mapper || !mapper.map("version", version))
    return fail(llvm::toString(root.getError()));
  if (version != MM_SIM_ABI_VERSION)
    return fail("version " + llvm::Twine(version) +
                ", this simulator runs version " +
                llvm::Twine(MM_SIM_ABI_VERSION) +
                " (recompile the artifact with this mm-compile)");
  if (!mapper.map("target", table->target) ||
      !mapper.map("vendor", table->vendor) ||
      !mapper.map("chip", table->chip) ||
      !mapper.map("subgroup_size", table->subgroupSize) ||
      !mapper.map("kernels", kernels) || !mapper.map("sites", table->sites))
    return fail(llvm::toString(root.getError()));
  if (table->vendor != "cuda" && table->vendor != "hip")
    return fail("vendor '" + table->vendor + "' (expected cuda or hip)");
  unsigned subgroup = table->subgroupSize;
  if (subgroup == 0 || subgroup > 64 || (subgroup & (subgroup - 1)))
    return fail("a subgroup of " + llvm::Twine(subgroup) +
                " lanes (expected a power of two up to 64)");
  llvm::StringSet<> names;
  for (SimKernel &kernel : kernels) {
    std::string problem = checkKernel(kernel);
    if (problem.empty() && !names.insert(kernel.name).second)
      problem = "listed twice";
    if (!problem.empty())
      return fail("kernel '" + kernel.name + "': " + problem);
    ::dlerror();
    kernel.function = reinterpret_cast<MMSimKernelFn>(
        ::dlsym(library, kernel.symbol.c_str()));
    if (!kernel.function)
      return fail("kernel '" + kernel.name + "': its host copy " +
                  kernel.symbol + " is not in the library");
    kernel.table = table.get();
    table->kernels.push_back(std::make_unique<SimKernel>(std::move(kernel)));
  }
  return table;
}

const SimKernel *SimKernelTable::find(StringRef name) const {
  for (const std::unique_ptr<SimKernel> &kernel : kernels)
    if (kernel->name == name)
      return kernel.get();
  return nullptr;
}

std::string SimKernelTable::describeSite(int32_t site) const {
  if (site < 0)
    return "no site";
  if (size_t(site) >= sites.size())
    return "site " + std::to_string(site) + " (not in the table)";
  const SimSite &entry = sites[site];
  std::string text =
      "site " + std::to_string(site) + ": " + entry.op + " at " + entry.loc;
  if (!entry.buffer.empty())
    text += ", " + entry.buffer;
  if (!entry.type.empty())
    text += " (" + entry.type + ")";
  return text;
}
