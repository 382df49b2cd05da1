//===- SimFibers.cpp - the simulated threads of a cooperative block -------===//

#include "runtime/gpu/SimFibers.h"

#include "runtime/gpu/GpuDriver.h"

#include "llvm/ADT/Twine.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define MM_SIM_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MM_SIM_ASAN 1
#endif
#endif
#ifndef MM_SIM_ASAN
#define MM_SIM_ASAN 0
#endif

#if MM_SIM_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif

using namespace mm::gpu;
using namespace mm::gpu::sim;
using llvm::Error;

//===----------------------------------------------------------------------===//
// Stacks
//===----------------------------------------------------------------------===//

SimFiberStack::~SimFiberStack() {
  if (base)
    ::munmap(base, guardBytes + kSize);
}

Error SimFiberStack::map() {
  if (base)
    return Error::success();
  const size_t page = size_t(::sysconf(_SC_PAGESIZE));
  // Touched pages only cost memory: most kernels use a few of them.
  void *mapped =
      ::mmap(nullptr, page + kSize, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (mapped == MAP_FAILED)
    return detail::makeError("sim: cannot map a fiber stack of " +
                             llvm::Twine(kSize) +
                             " bytes: " + std::strerror(errno));
  if (::mprotect(mapped, page, PROT_NONE) != 0) {
    int error = errno;
    ::munmap(mapped, page + kSize);
    return detail::makeError(
        "sim: cannot protect a fiber stack's guard page: " +
        llvm::Twine(std::strerror(error)));
  }
  base = static_cast<char *>(mapped);
  guardBytes = page;
  return Error::success();
}

void SimFiberStack::forget() {
#if MM_SIM_ASAN
  if (base)
    __asan_unpoison_memory_region(bottom(), kSize);
#endif
}

//===----------------------------------------------------------------------===//
// The switch
//===----------------------------------------------------------------------===//

void SimFiber::setUp(SimFiberHost &fiberHost, SimFiberStack &stack,
                     Entry fiberEntry, void *fiberArgument) {
  host = &fiberHost;
  entry = fiberEntry;
  argument = fiberArgument;
  context.stackBottom = stack.bottom();
  context.stackSize = SimFiberStack::kSize;
}

#if MM_SIM_ASSEMBLY_FIBERS

extern "C" {
/// Saves the running context's callee-saved state on its stack, stores its
/// stack pointer in *save, and continues the context whose stack pointer is
/// `load`.
void mm_sim_fiber_switch(void **save, void *load);
/// Where a new fiber's first switch returns to: calls r12(r13).
void mm_sim_fiber_trampoline();
}

// The frame a switch leaves on the stack, from the stack pointer up:
//   [0] mxcsr (4 bytes), x87 control word (2 bytes), padding
//   [1] r15  [2] r14  [3] r13  [4] r12  [5] rbx  [6] rbp  [7] return address
asm(R"(
  .text
  .p2align 4
  .globl mm_sim_fiber_switch
  .hidden mm_sim_fiber_switch
  .type mm_sim_fiber_switch, @function
mm_sim_fiber_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  subq $8, %rsp
  stmxcsr (%rsp)
  fnstcw 4(%rsp)
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  ldmxcsr (%rsp)
  fldcw 4(%rsp)
  addq $8, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size mm_sim_fiber_switch, .-mm_sim_fiber_switch

  .p2align 4
  .globl mm_sim_fiber_trampoline
  .hidden mm_sim_fiber_trampoline
  .type mm_sim_fiber_trampoline, @function
mm_sim_fiber_trampoline:
  movq %r13, %rdi
  callq *%r12
  ud2
  .size mm_sim_fiber_trampoline, .-mm_sim_fiber_trampoline
)");

static void switchContext(SimFiberContext &from, SimFiberContext &to) {
  mm_sim_fiber_switch(&from.stackPointer, to.stackPointer);
}

void SimFiber::prepare(SimFiberHost &fiberHost, SimFiberStack &stack,
                       Entry fiberEntry, void *fiberArgument) {
  setUp(fiberHost, stack, fiberEntry, fiberArgument);
  // The top is page aligned, so after the first switch's `ret` the stack
  // pointer is 16-byte aligned, as a call needs.
  auto **frame = reinterpret_cast<void **>(stack.top() - 8 * sizeof(void *));
  std::memset(frame, 0, 8 * sizeof(void *));
  // The fiber starts with the host's floating-point modes (rounding,
  // flush-to-zero), as a thread inherits them.
  uint32_t mxcsr = 0;
  uint16_t x87Control = 0;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  asm volatile("fnstcw %0" : "=m"(x87Control));
  std::memcpy(reinterpret_cast<char *>(frame), &mxcsr, sizeof(mxcsr));
  std::memcpy(reinterpret_cast<char *>(frame) + 4, &x87Control,
              sizeof(x87Control));
  frame[3] = this;                                       // r13
  frame[4] = reinterpret_cast<void *>(&SimFiber::start); // r12
  frame[7] = reinterpret_cast<void *>(&mm_sim_fiber_trampoline);
  context.stackPointer = frame;
}

#else // ucontext

static void switchContext(SimFiberContext &from, SimFiberContext &to) {
  ::swapcontext(&from.context, &to.context);
}

/// makecontext passes ints: the fiber's address in two halves.
static void startFromHalves(unsigned high, unsigned low) {
  uintptr_t address = (uintptr_t(high) << 32) | uintptr_t(low);
  SimFiber::start(reinterpret_cast<void *>(address));
}

void SimFiber::prepare(SimFiberHost &fiberHost, SimFiberStack &stack,
                       Entry fiberEntry, void *fiberArgument) {
  setUp(fiberHost, stack, fiberEntry, fiberArgument);
  ::getcontext(&context.context);
  context.context.uc_stack.ss_sp = stack.bottom();
  context.context.uc_stack.ss_size = SimFiberStack::kSize;
  context.context.uc_link = nullptr;
  uintptr_t address = reinterpret_cast<uintptr_t>(this);
  ::makecontext(&context.context, reinterpret_cast<void (*)()>(startFromHalves),
                2, unsigned(address >> 32), unsigned(address & 0xffffffffu));
}

#endif

//===----------------------------------------------------------------------===//
// Fibers and their host
//===----------------------------------------------------------------------===//

void SimFiber::start(void *opaque) {
  SimFiber &fiber = *static_cast<SimFiber *>(opaque);
#if MM_SIM_ASAN
  // The first switch into this stack: learn the host's stack from it.
  __sanitizer_finish_switch_fiber(nullptr, &fiber.host->context.stackBottom,
                                  &fiber.host->context.stackSize);
#endif
  fiber.entry(fiber.argument);
  __builtin_trap(); // The entry ends with host->exit().
}

void SimFiberHost::resume(SimFiber &fiber) {
#if MM_SIM_ASAN
  void *fakeStack = nullptr;
  __sanitizer_start_switch_fiber(&fakeStack, fiber.context.stackBottom,
                                 fiber.context.stackSize);
#endif
  switchContext(context, fiber.context);
#if MM_SIM_ASAN
  __sanitizer_finish_switch_fiber(fakeStack, nullptr, nullptr);
#endif
}

void SimFiberHost::yield(SimFiber &fiber) {
#if MM_SIM_ASAN
  void *fakeStack = nullptr;
  __sanitizer_start_switch_fiber(&fakeStack, context.stackBottom,
                                 context.stackSize);
#endif
  switchContext(fiber.context, context);
#if MM_SIM_ASAN
  __sanitizer_finish_switch_fiber(fakeStack, &context.stackBottom,
                                  &context.stackSize);
#endif
}

void SimFiberHost::exit(SimFiber &fiber) {
#if MM_SIM_ASAN
  // Null: this fiber's fake stack may go, it never comes back.
  __sanitizer_start_switch_fiber(nullptr, context.stackBottom,
                                 context.stackSize);
#endif
  switchContext(fiber.context, context);
  __builtin_unreachable();
}
