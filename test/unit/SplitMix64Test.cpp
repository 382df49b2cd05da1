//===- SplitMix64Test.cpp - the seeded generator --------------------------===//
//
// The sequence is SplitMix64's own (Vigna's reference implementation), so
// a seed names the same weights and draws on every platform.
//
//===----------------------------------------------------------------------===//

#include "runtime/SplitMix64.h"

#include <gtest/gtest.h>

using namespace mm;

namespace {

TEST(SplitMix64, TheReferenceSequence) {
  SplitMix64 zero(0);
  EXPECT_EQ(zero.next(), 0xe220a8397b1dcdafull);
  EXPECT_EQ(zero.next(), 0x6e789e6aa1b965f4ull);
  SplitMix64 other(1234567);
  EXPECT_EQ(other.next(), 6457827717110365317ull);
  EXPECT_EQ(other.next(), 3203168211198807973ull);
  EXPECT_EQ(other.next(), 9817491932198370423ull);
}

TEST(SplitMix64, DistributionsStayInRange) {
  SplitMix64 random(7);
  for (int i = 0; i < 10000; ++i) {
    EXPECT_LT(random.below(3), 3u);
    double u = random.unit();
    EXPECT_GT(u, 0.0);
    EXPECT_LT(u, 1.0);
    double x = random.uniform(-2.0, 5.0);
    EXPECT_GT(x, -2.0);
    EXPECT_LT(x, 5.0);
  }
  EXPECT_EQ(random.below(1), 0u);
}

} // namespace
