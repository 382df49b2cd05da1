//===- RealGpuTest.cpp - the GPU layer on a real driver, when present -----===//
//
// These tests use the machine's own drivers (libcuda.so.1, libamdhip64.so)
// and skip when there is no driver or no device.
//
//===----------------------------------------------------------------------===//

#include "GpuTestUtil.h"

#include "llvm/ADT/StringRef.h"

#include <iostream>
#include <vector>

using namespace mm::gpu;
using namespace mm::testing;

namespace {

/// add_one(float *data, unsigned n): data[i] += 1 for i < n (PTX for sm_75
/// and newer; the driver compiles it for the device).
const char *const kAddOnePtx = R"(
.version 7.0
.target sm_75
.address_size 64

.visible .entry add_one(
	.param .u64 add_one_param_0,
	.param .u32 add_one_param_1
)
{
	.reg .pred 	%p<2>;
	.reg .b32 	%r<6>;
	.reg .f32 	%f<3>;
	.reg .b64 	%rd<5>;

	ld.param.u64 	%rd1, [add_one_param_0];
	ld.param.u32 	%r2, [add_one_param_1];
	mov.u32 	%r3, %ctaid.x;
	mov.u32 	%r4, %ntid.x;
	mov.u32 	%r5, %tid.x;
	mad.lo.s32 	%r1, %r3, %r4, %r5;
	setp.ge.u32 	%p1, %r1, %r2;
	@%p1 bra 	$L__BB0_2;
	cvta.to.global.u64 	%rd2, %rd1;
	mul.wide.u32 	%rd3, %r1, 4;
	add.s64 	%rd4, %rd2, %rd3;
	ld.global.f32 	%f1, [%rd4];
	add.f32 	%f2, %f1, 0f3F800000;
	st.global.f32 	[%rd4], %f2;
$L__BB0_2:
	ret;
}
)";

/// Opens device 0 of `vendor` on the machine's driver, or says why not.
std::unique_ptr<GpuDevice> openReal(Vendor vendor, std::string &why) {
  llvm::Expected<int> count = GpuDevice::countDevices(vendor);
  if (!count) {
    why = llvm::toString(count.takeError());
    return nullptr;
  }
  if (*count == 0) {
    why = getVendorName(vendor).str() + ": the driver sees no device";
    return nullptr;
  }
  llvm::Expected<std::unique_ptr<GpuDevice>> device =
      GpuDevice::open(vendor, 0);
  if (!device) {
    why = llvm::toString(device.takeError());
    return nullptr;
  }
  std::cout << (*device)->getSpec() << ": " << (*device)->getInfo().describe()
            << "\n";
  return std::move(*device);
}

TEST(RealGpuTest, CudaRunsAndReplaysAPtxKernel) {
  ScopedEnv driver("MM_CUDA_DRIVER", std::nullopt);
  std::string why;
  std::unique_ptr<GpuDevice> device = openReal(Vendor::Cuda, why);
  if (!device)
    GTEST_SKIP() << "no CUDA device: " << why;
  EXPECT_TRUE(device->getArch().starts_with("sm_"));
  EXPECT_EQ(device->getSubgroupWidth(), 32u);

  llvm::Expected<GpuModule> module = device->loadModule(kAddOnePtx);
  ASSERT_TRUE(bool(module)) << message(module.takeError());
  llvm::Expected<GpuFunction> function =
      device->getFunction(*module, "add_one");
  ASSERT_TRUE(bool(function)) << message(function.takeError());

  constexpr unsigned n = 1000;
  std::vector<float> values(n, 0.5f);
  llvm::Expected<void *> data = device->allocate(n * sizeof(float));
  llvm::Expected<GpuStream> stream = device->createStream();
  ASSERT_TRUE(data && stream);
  ASSERT_EQ(message(device->copyToDevice(*data, values.data(),
                                         n * sizeof(float), *stream)),
            "");
  void *pointer = *data;
  unsigned count = n;
  void *params[] = {&pointer, &count};
  Dim3 grid{(n + 255) / 256, 1, 1}, block{256, 1, 1};
  ASSERT_EQ(message(device->launch(*function, grid, block, 0, *stream, params)),
            "");

  // Two more launches, captured once and replayed three times.
  ASSERT_EQ(message(device->beginCapture(*stream)), "");
  for (int i = 0; i < 2; ++i)
    ASSERT_EQ(
        message(device->launch(*function, grid, block, 0, *stream, params)),
        "");
  llvm::Expected<std::unique_ptr<GpuGraph>> graph = device->endCapture(*stream);
  ASSERT_TRUE(bool(graph)) << message(graph.takeError());
  for (int replay = 0; replay < 3; ++replay)
    ASSERT_EQ(message((*graph)->launch(*stream)), "");

  ASSERT_EQ(message(device->copyToHost(values.data(), *data, n * sizeof(float),
                                       *stream)),
            "");
  ASSERT_EQ(message(device->synchronize(*stream)), "");
  EXPECT_EQ(values, std::vector<float>(n, 7.5f));

  graph->reset();
  EXPECT_EQ(message(device->free(*data)), "");
  EXPECT_EQ(message(device->destroyStream(*stream)), "");
  EXPECT_EQ(message(device->unloadModule(*module)), "");
}

TEST(RealGpuTest, HipCopiesRoundTrip) {
  ScopedEnv driver("MM_HIP_DRIVER", std::nullopt);
  std::string why;
  std::unique_ptr<GpuDevice> device = openReal(Vendor::Hip, why);
  if (!device)
    GTEST_SKIP() << "no HIP device: " << why;
  EXPECT_TRUE(device->getArch().starts_with("gfx"));

  std::vector<uint32_t> values(256, 7), back(256);
  llvm::Expected<void *> data = device->allocate(values.size() * 4);
  ASSERT_TRUE(bool(data)) << message(data.takeError());
  ASSERT_EQ(message(device->copyToDevice(*data, values.data(), 1024)), "");
  ASSERT_EQ(message(device->fill32(*data, 9, 128)), "");
  ASSERT_EQ(message(device->copyToHost(back.data(), *data, 1024)), "");
  ASSERT_EQ(message(device->synchronize(GpuStream())), "");
  for (size_t i = 0; i < back.size(); ++i)
    EXPECT_EQ(back[i], i < 128 ? 9u : 7u) << i;
  EXPECT_EQ(message(device->free(*data)), "");
}

} // namespace
