//===- SimFibers.h - the simulated threads of a cooperative block -*- C++ -*-=//
//
// A block whose threads meet at barriers or exchange values by shuffles
// runs each thread as a fiber on one worker thread: a stack of its own and
// a saved register context. A fiber runs until it parks (at a barrier or a
// shuffle) and yields back to its host, the worker, which resumes the
// fibers in turn.
//
// The switch is a few lines of x86-64 assembly (callee-saved registers, the
// stack pointer, and the SSE and x87 control words, which the SysV ABI also
// makes callee-saved); elsewhere it falls back to ucontext. Under
// AddressSanitizer every switch is announced to it
// (__sanitizer_start_switch_fiber / __sanitizer_finish_switch_fiber) so that
// it knows which stack is live.
//
// Private to runtime/gpu.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_GPU_SIMFIBERS_H
#define MM_RUNTIME_GPU_SIMFIBERS_H

#include "llvm/Support/Error.h"

#include <cstddef>

// MM_SIM_UCONTEXT_FIBERS forces the fallback, to test it on x86-64 (define
// it for all of runtime/gpu: it changes SimFiberContext).
#if defined(__x86_64__) && defined(__ELF__) && !defined(MM_SIM_UCONTEXT_FIBERS)
#define MM_SIM_ASSEMBLY_FIBERS 1
#else
#define MM_SIM_ASSEMBLY_FIBERS 0
#include <ucontext.h>
#endif

namespace mm::gpu::sim {

/// A fiber's stack: mapped on first use, with an inaccessible guard page
/// below it so that an overflow faults instead of corrupting memory.
class SimFiberStack {
public:
  /// Usable bytes of each stack.
  static constexpr size_t kSize = 256 * 1024;

  SimFiberStack() = default;
  ~SimFiberStack();
  SimFiberStack(const SimFiberStack &) = delete;
  SimFiberStack &operator=(const SimFiberStack &) = delete;

  /// Maps the stack unless it is mapped.
  llvm::Error map();
  /// The lowest usable byte.
  char *bottom() const { return base ? base + guardBytes : nullptr; }
  /// One past the highest usable byte.
  char *top() const { return bottom() + kSize; }
  /// Tells AddressSanitizer that nothing on the stack is live any more (a
  /// fiber abandoned mid-kernel leaves its frames' poison behind).
  void forget();

private:
  char *base = nullptr;
  size_t guardBytes = 0;
};

/// Where a fiber or its host stopped: enough to resume it.
struct SimFiberContext {
#if MM_SIM_ASSEMBLY_FIBERS
  void *stackPointer = nullptr;
#else
  ucontext_t context;
#endif
  /// The stack it runs on (for AddressSanitizer).
  const void *stackBottom = nullptr;
  size_t stackSize = 0;
};

class SimFiberHost;

/// One fiber: what it runs, on which stack, and where it stopped.
class SimFiber {
public:
  using Entry = void (*)(void *argument);

  /// Sets the fiber up to run entry(argument) from the top of `stack` when
  /// `host` first resumes it. The entry must not return: it ends with
  /// host.exit().
  void prepare(SimFiberHost &host, SimFiberStack &stack, Entry entry,
               void *argument);

  /// The first frame of every fiber (reached from the context switch).
  static void start(void *fiber);

private:
  friend class SimFiberHost;
  /// What prepare() sets up whatever the switch.
  void setUp(SimFiberHost &host, SimFiberStack &stack, Entry entry,
             void *argument);

  SimFiberContext context;
  SimFiberHost *host = nullptr;
  Entry entry = nullptr;
  void *argument = nullptr;
};

/// The worker thread's side: resumes fibers, and takes control back when
/// they yield or exit.
class SimFiberHost {
public:
  /// Runs `fiber` until it yields or exits.
  void resume(SimFiber &fiber);
  /// Called on `fiber` (the running one): back to the host; returns when the
  /// host resumes the fiber again.
  void yield(SimFiber &fiber);
  /// Called on `fiber` (the running one) when it is done: back to the host
  /// for good.
  [[noreturn]] void exit(SimFiber &fiber);

private:
  friend class SimFiber;
  SimFiberContext context;
};

} // namespace mm::gpu::sim

#endif // MM_RUNTIME_GPU_SIMFIBERS_H
