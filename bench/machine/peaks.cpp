//===- peaks.cpp - the host's FMA peak and memory bandwidth
//----------------===//
//
// What the CPU path is measured against (bench/cpu_vs_llamacpp.sh, issue
// 15): the f32 FMA throughput of one core and of all cores, and the memory
// bandwidth of a read-only stream (what decode does with the weights) and
// of a copy, over arrays far larger than the last-level cache. Prints one
// JSON object. Build: clang++ -O3 -march=native -fopenmp peaks.cpp.
//
// The FMA loop keeps kChains independent vector accumulators, more than an
// FMA's latency times its throughput on any current x86 or Arm core, so it
// runs at the issue rate; the vector is the widest the build's -march
// allows (the compiled artifacts use the same).
//
//===----------------------------------------------------------------------===//

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
#elif defined(__AVX__)
constexpr int kVectorBytes = 32;
#else
constexpr int kVectorBytes = 16;
#endif
constexpr int kLanes = kVectorBytes / 4;
typedef float Vector __attribute__((vector_size(kVectorBytes)));
constexpr int kChains = 12;

double now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

/// FMAs of kChains accumulators, `steps` rounds; the result is returned so
/// that nothing is optimised away.
__attribute__((noinline)) float fmaLoop(int64_t steps, float seed) {
  Vector acc[kChains], a, b;
  for (int l = 0; l < kLanes; ++l) {
    a[l] = 1.0f + seed * 1e-7f;
    b[l] = 1e-8f;
  }
  for (int c = 0; c < kChains; ++c)
    acc[c] = a * static_cast<float>(c);
  for (int64_t s = 0; s < steps; ++s) {
    // Opaque to the optimiser: the loop cannot be folded into a formula.
    asm volatile("" : "+x"(a));
    for (int c = 0; c < kChains; ++c)
      acc[c] = acc[c] * a + b;
  }
  float sum = 0;
  for (int c = 0; c < kChains; ++c)
    for (int l = 0; l < kLanes; ++l)
      sum += acc[c][l];
  return sum;
}

/// GFLOP/s of `threads` threads running fmaLoop together (best of `reps`).
double fmaPeak(int threads, int reps) {
  const int64_t steps = 20'000'000;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    volatile float sink = 0;
    double start = now();
#pragma omp parallel num_threads(threads)
    {
      float s = fmaLoop(steps, static_cast<float>(omp_get_thread_num()));
#pragma omp atomic
      sink += s;
    }
    double seconds = now() - start;
    best = std::max(best, 2.0 * kChains * kLanes * steps * threads / seconds);
  }
  return best / 1e9;
}

/// Sums src[begin, end) with independent vector accumulators (a plain
/// float sum would be bound by the add's latency, not by memory).
float sumRange(const float *src, int64_t begin, int64_t end) {
  Vector acc[4] = {};
  int64_t i = begin;
  for (; i + 4 * kLanes <= end; i += 4 * kLanes)
    for (int a = 0; a < 4; ++a) {
      Vector v;
      std::memcpy(&v, src + i + a * kLanes, sizeof(v));
      acc[a] += v;
    }
  float sum = 0;
  for (; i < end; ++i)
    sum += src[i];
  for (int a = 0; a < 4; ++a)
    for (int l = 0; l < kLanes; ++l)
      sum += acc[a][l];
  return sum;
}

/// GB/s of all threads summing (read) or copying disjoint parts of an
/// array of `bytes` (best of `reps`).
double bandwidth(bool copy, int64_t bytes, int reps) {
  const int64_t n = bytes / 4;
  std::vector<float> src(n), dst(copy ? n : 0);
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; ++i)
    src[i] = static_cast<float>(i & 1023);
  if (copy)
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; ++i)
      dst[i] = 0;
  double best = 0;
  volatile float sink = 0;
  for (int r = 0; r < reps; ++r) {
    double start = now();
    float total = 0;
#pragma omp parallel reduction(+ : total)
    {
      const int64_t part =
                        (n + omp_get_num_threads() - 1) / omp_get_num_threads(),
                    begin = std::min(n, part * omp_get_thread_num()),
                    end = std::min(n, begin + part);
      if (copy)
        std::memcpy(dst.data() + begin, src.data() + begin,
                    (end - begin) * sizeof(float));
      else
        total += sumRange(src.data(), begin, end);
    }
    double seconds = now() - start;
    sink = sink + total + (copy ? dst[n / 2] : 0);
    // A copy reads and writes each byte.
    best = std::max(best, (copy ? 2.0 : 1.0) * bytes / seconds);
  }
  return best / 1e9;
}

} // namespace

int main(int argc, char **argv) {
  int reps = argc > 1 ? std::atoi(argv[1]) : 5;
  const int threads = omp_get_max_threads();
  const int64_t bytes = int64_t(1) << 30;
  double one = fmaPeak(1, reps), all = fmaPeak(threads, reps);
  double read = bandwidth(false, bytes, reps),
         copy = bandwidth(true, bytes, reps);
  std::printf("{\"threads\": %d, \"vector_bits\": %d, \"fma_gflops_1_thread\": "
              "%.2f, \"fma_gflops\": %.2f, \"read_gbs\": %.2f, \"copy_gbs\": "
              "%.2f}\n",
              threads, kVectorBytes * 8, one, all, read, copy);
  return 0;
}
