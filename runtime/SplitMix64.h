//===- SplitMix64.h - a seeded generator, the same everywhere ---*- C++ -*-===//
//
// SplitMix64 and the few distributions drawn from it: small, fast, and the
// same sequence on every platform and standard library (unlike
// std::uniform_int_distribution and friends), so a seed names the same
// weights (mm-init-weights) and the same draws (mm-eval fidelity)
// everywhere. Header-only and MLIR-free, like the rest of the runtime.
//
//===----------------------------------------------------------------------===//

#ifndef MM_RUNTIME_SPLITMIX64_H
#define MM_RUNTIME_SPLITMIX64_H

#include <cmath>
#include <cstdint>

namespace mm {

/// SplitMix64 (Steele, Lea and Flood): each call of next() returns the next
/// 64-bit value of the sequence `seed` starts.
class SplitMix64 {
public:
  explicit SplitMix64(uint64_t seed) : state(seed) {}

  uint64_t next() {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }

  /// Uniform in [0, n), n > 0, without modulo bias.
  uint64_t below(uint64_t n) {
    const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
    uint64_t v;
    do
      v = next();
    while (v >= limit);
    return v % n;
  }

  /// Uniform in (0, 1).
  double unit() { return (static_cast<double>(next() >> 11) + 0.5) * 0x1p-53; }

  /// Uniform in (low, high).
  double uniform(double low, double high) {
    return low + (high - low) * unit();
  }

  /// Normal with mean 0 (Box-Muller, two draws per value).
  double normal(double stddev) {
    double u1 = unit(), u2 = unit();
    return stddev * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  }

private:
  uint64_t state;
};

} // namespace mm

#endif // MM_RUNTIME_SPLITMIX64_H
