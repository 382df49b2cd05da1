//===- DeviceOptions.h - where the tools run compiled code ------*- C++ -*-===//
//
// The options that say where compiled code runs, shared by mm-run and
// mm-bench (runtime/ModelRunner.h opens and lists the devices).
//
//===----------------------------------------------------------------------===//

#ifndef MM_TOOLS_DEVICEOPTIONS_H
#define MM_TOOLS_DEVICEOPTIONS_H

#include "llvm/Support/CommandLine.h"

#include <string>

namespace mm {

struct DeviceOptions {
  explicit DeviceOptions(llvm::cl::OptionCategory &category)
      : device("device",
               llvm::cl::desc("Where compiled code runs: cpu (default), "
                              "cuda:N or hip:N (an artifact compiled for "
                              "that GPU)"),
               llvm::cl::init("cpu"), llvm::cl::value_desc("cpu|cuda:N|hip:N"),
               llvm::cl::cat(category)),
        listDevices("list-devices", llvm::cl::desc("List the devices and exit"),
                    llvm::cl::cat(category)) {}

  llvm::cl::opt<std::string> device;
  llvm::cl::opt<bool> listDevices;
};

} // namespace mm

#endif // MM_TOOLS_DEVICEOPTIONS_H
