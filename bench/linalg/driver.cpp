//===- driver.cpp - loop kernels against linalg kernels, on the CPU -------===//
//
// Calls each kernel of kernels.mlir compiled twice (prefix loops_: the loop
// emitters; linalg_: the linalg emitters under the default schedules) on the
// same random inputs, and
//   check:  compares them (and the GEMMs with a double-precision host
//           product) by relative error, max|a - b| / max|b|;
//   bench:  times the four mamba-130m GEMMs at M = T tokens and its causal
//           conv over T steps, both variants in the same run,
//           alternating, median of the repetitions.
//
//===----------------------------------------------------------------------===//

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace {

/// MLIR's ranked memref descriptor.
template <typename T, int Rank> struct Memref {
  T *allocated, *aligned;
  int64_t offset, sizes[Rank], strides[Rank];
};

/// A buffer with its descriptor: row-major, `offset` elements in (weights
/// are views into one buffer at an offset).
template <typename T, int Rank> struct Buffer {
  std::vector<T> data;
  Memref<T, Rank> ref;
  Buffer(std::vector<int64_t> shape, int64_t offset = 0) {
    int64_t count = 1;
    for (int d = Rank - 1; d >= 0; --d) {
      ref.sizes[d] = shape[d];
      ref.strides[d] = count;
      count *= shape[d];
    }
    data.assign(count + offset, T());
    ref.allocated = ref.aligned = data.data();
    ref.offset = offset;
  }
  T *begin() { return data.data() + ref.offset; }
  int64_t size() const { return data.size() - ref.offset; }
};

using A3 = Memref<float, 3>;
using W2 = Memref<float, 2>;
using W1 = Memref<float, 1>;

#define KERNELS(PREFIX)                                                        \
  void _mlir_ciface_##PREFIX##in_proj(int64_t, int64_t, A3 *, W2 *, A3 *);     \
  void _mlir_ciface_##PREFIX##x_proj(int64_t, int64_t, A3 *, W2 *, A3 *);      \
  void _mlir_ciface_##PREFIX##dt_proj(int64_t, int64_t, A3 *, W2 *, W1 *,      \
                                      A3 *);                                   \
  void _mlir_ciface_##PREFIX##out_proj(int64_t, int64_t, A3 *, W2 *, A3 *);    \
  void _mlir_ciface_##PREFIX##lm_head(int64_t, int64_t, A3 *, W2 *, A3 *);     \
  void _mlir_ciface_##PREFIX##odd_proj(int64_t, int64_t, A3 *, W2 *, W1 *,     \
                                       A3 *);                                  \
  void _mlir_ciface_##PREFIX##tiny_dt_proj(int64_t, int64_t, A3 *, W2 *,      \
                                           W1 *, A3 *);                        \
  void _mlir_ciface_##PREFIX##bf16_proj(int64_t, int64_t, A3 *,                \
                                        Memref<uint16_t, 2> *, A3 *);          \
  void _mlir_ciface_##PREFIX##rms_norm(int64_t, int64_t, A3 *, W1 *, A3 *);    \
  void _mlir_ciface_##PREFIX##gate(int64_t, int64_t, A3 *, A3 *, A3 *);        \
  void _mlir_ciface_##PREFIX##residual(int64_t, int64_t, A3 *, A3 *, A3 *,     \
                                       W1 *, A3 *, W1 *, A3 *);                \
  void _mlir_ciface_##PREFIX##embed(int64_t, int64_t, Memref<int32_t, 2> *,    \
                                    W2 *, A3 *);                               \
  void _mlir_ciface_##PREFIX##conv(int64_t, int64_t, A3 *, A3 *, W1 *, A3 *,   \
                                   A3 *, A3 *);                                \
  void _mlir_ciface_##PREFIX##odd_conv(int64_t, int64_t, A3 *, A3 *, A3 *,     \
                                       A3 *, A3 *);
extern "C" {
KERNELS(loops_)
KERNELS(linalg_)
}

std::mt19937_64 rng(12);

template <typename B> void fill(B &buffer, float scale = 1.0f) {
  std::uniform_real_distribution<float> dist(-scale, scale);
  for (float *p = buffer.begin(), *e = p + buffer.size(); p != e; ++p)
    *p = dist(rng);
}

double relativeError(Buffer<float, 3> &a, Buffer<float, 3> &b) {
  double diff = 0, norm = 0;
  for (int64_t i = 0; i < a.size(); ++i) {
    diff = std::max(diff, std::fabs(double(a.begin()[i]) - b.begin()[i]));
    norm = std::max(norm, std::fabs(double(b.begin()[i])));
  }
  return norm == 0 ? diff : diff / norm;
}

/// A GEMM kernel: (batch, time, x, w, [bias], out).
struct Gemm {
  const char *name;
  int64_t n, k;
  bool bias;
  void (*loops)(int64_t, int64_t, A3 *, W2 *, A3 *);
  void (*linalg)(int64_t, int64_t, A3 *, W2 *, A3 *);
  void (*loopsBias)(int64_t, int64_t, A3 *, W2 *, W1 *, A3 *);
  void (*linalgBias)(int64_t, int64_t, A3 *, W2 *, W1 *, A3 *);
};

const Gemm kGemms[] = {
    {"in_proj", 3072, 768, false, _mlir_ciface_loops_in_proj,
     _mlir_ciface_linalg_in_proj, nullptr, nullptr},
    {"x_proj", 80, 1536, false, _mlir_ciface_loops_x_proj,
     _mlir_ciface_linalg_x_proj, nullptr, nullptr},
    {"dt_proj", 1536, 48, true, nullptr, nullptr, _mlir_ciface_loops_dt_proj,
     _mlir_ciface_linalg_dt_proj},
    {"out_proj", 768, 1536, false, _mlir_ciface_loops_out_proj,
     _mlir_ciface_linalg_out_proj, nullptr, nullptr},
    {"lm_head", 100, 64, false, _mlir_ciface_loops_lm_head,
     _mlir_ciface_linalg_lm_head, nullptr, nullptr},
    {"odd_proj", 37, 40, true, nullptr, nullptr, _mlir_ciface_loops_odd_proj,
     _mlir_ciface_linalg_odd_proj},
    {"tiny_dt_proj", 128, 4, true, nullptr, nullptr,
     _mlir_ciface_loops_tiny_dt_proj, _mlir_ciface_linalg_tiny_dt_proj},
};

int failures = 0;

void report(const char *what, double error, double bound) {
  bool ok = error <= bound && std::isfinite(error);
  std::printf("%-28s rel-error %.3g (bound %.0e) %s\n", what, error, bound,
              ok ? "ok" : "FAIL");
  failures += !ok;
}

/// The bf16 nearest to `value` (ties to even), as its bits.
uint16_t toBF16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, 4);
  bits += 0x7fff + ((bits >> 16) & 1);
  return uint16_t(bits >> 16);
}

float fromBF16(uint16_t value) {
  uint32_t bits = uint32_t(value) << 16;
  float result;
  std::memcpy(&result, &bits, 4);
  return result;
}

/// bf16_proj (N = 50, K = 24, bf16 weights) against the host product of x
/// rounded to bf16 and the weights, in double.
void checkBF16(int64_t batch, int64_t time) {
  const int64_t n = 50, k = 24;
  Buffer<float, 3> x({batch, time, k}), loops({batch, time, n}),
      linalg({batch, time, n});
  Buffer<uint16_t, 2> w({n, k}, 3);
  fill(x);
  std::uniform_real_distribution<float> dist(-0.2f, 0.2f);
  for (int64_t i = 0; i < w.size(); ++i)
    w.begin()[i] = toBF16(dist(rng));
  _mlir_ciface_loops_bf16_proj(batch, time, &x.ref, &w.ref, &loops.ref);
  _mlir_ciface_linalg_bf16_proj(batch, time, &x.ref, &w.ref, &linalg.ref);
  for (auto [what, out] : {std::pair("bf16_proj linalg vs host", &linalg),
                           std::pair("bf16_proj loops vs host", &loops)}) {
    double diff = 0, norm = 0;
    for (int64_t r = 0; r < batch * time; ++r)
      for (int64_t j = 0; j < n; ++j) {
        double sum = 0;
        for (int64_t i = 0; i < k; ++i)
          sum += double(fromBF16(toBF16(x.begin()[r * k + i]))) *
                 fromBF16(w.begin()[j * k + i]);
        diff = std::max(diff, std::fabs(sum - out->begin()[r * n + j]));
        norm = std::max(norm, std::fabs(sum));
      }
    report(what, diff / norm, 1e-5);
  }
}

struct GemmData {
  int64_t batch, time;
  Buffer<float, 3> x, outLoops, outLinalg;
  Buffer<float, 2> w;
  Buffer<float, 1> bias;
  GemmData(const Gemm &g, int64_t batch, int64_t time)
      : batch(batch), time(time), x({batch, time, g.k}),
        outLoops({batch, time, g.n}), outLinalg({batch, time, g.n}),
        w({g.n, g.k}, 13), bias({g.n}, 5) {
    fill(x);
    fill(w, 1.0f / std::sqrt(float(g.k)));
    fill(bias);
  }
  void run(const Gemm &g, bool linalg) {
    Buffer<float, 3> &out = linalg ? outLinalg : outLoops;
    if (g.bias)
      (linalg ? g.linalgBias : g.loopsBias)(batch, time, &x.ref, &w.ref,
                                            &bias.ref, &out.ref);
    else
      (linalg ? g.linalg : g.loops)(batch, time, &x.ref, &w.ref, &out.ref);
  }
  /// max |host - out| / max |host| with the host product in double.
  double hostError(const Gemm &g, Buffer<float, 3> &out) {
    double diff = 0, norm = 0;
    for (int64_t r = 0; r < batch * time; ++r)
      for (int64_t n = 0; n < g.n; ++n) {
        double sum = g.bias ? bias.begin()[n] : 0.0;
        for (int64_t k = 0; k < g.k; ++k)
          sum += double(x.begin()[r * g.k + k]) * w.begin()[n * g.k + k];
        diff = std::max(diff, std::fabs(sum - out.begin()[r * g.n + n]));
        norm = std::max(norm, std::fabs(sum));
      }
    return diff / norm;
  }
};

void check(int64_t batch, int64_t time) {
  checkBF16(batch, time);
  for (const Gemm &g : kGemms) {
    GemmData data(g, batch, time);
    data.run(g, false);
    data.run(g, true);
    std::string name = g.name;
    report((name + " linalg vs host").c_str(),
           data.hostError(g, data.outLinalg), 1e-5);
    report((name + " loops vs host").c_str(), data.hostError(g, data.outLoops),
           1e-5);
  }
  {
    Buffer<float, 3> x({batch, time, 768}), a({batch, time, 768}),
        b({batch, time, 768});
    Buffer<float, 1> w({768}, 7);
    fill(x, 3.0f);
    fill(w);
    _mlir_ciface_loops_rms_norm(batch, time, &x.ref, &w.ref, &a.ref);
    _mlir_ciface_linalg_rms_norm(batch, time, &x.ref, &w.ref, &b.ref);
    report("rms_norm linalg vs loops", relativeError(b, a), 1e-6);
  }
  {
    Buffer<float, 3> y({batch, time, 1536}), z({batch, time, 1536}),
        a({batch, time, 1536}), b({batch, time, 1536});
    fill(y, 2.0f);
    fill(z, 4.0f);
    _mlir_ciface_loops_gate(batch, time, &y.ref, &z.ref, &a.ref);
    _mlir_ciface_linalg_gate(batch, time, &y.ref, &z.ref, &b.ref);
    report("gate linalg vs loops", relativeError(b, a), 1e-6);
  }
  {
    std::vector<int64_t> shape = {batch, time, 768};
    Buffer<float, 3> x(shape), m(shape), c(shape), c2(shape), a(shape),
        b(shape);
    Buffer<float, 1> g({768}, 3), g2({768}, 9);
    for (auto *buffer : {&x, &m, &c, &c2})
      fill(*buffer);
    fill(g, 3.0f);
    fill(g2, 3.0f);
    _mlir_ciface_loops_residual(batch, time, &x.ref, &m.ref, &c.ref, &g.ref,
                                &c2.ref, &g2.ref, &a.ref);
    _mlir_ciface_linalg_residual(batch, time, &x.ref, &m.ref, &c.ref, &g.ref,
                                 &c2.ref, &g2.ref, &b.ref);
    report("residual linalg vs loops", relativeError(b, a), 1e-6);
  }
  {
    Buffer<int32_t, 2> tokens({batch, time});
    for (int64_t i = 0; i < tokens.size(); ++i)
      tokens.begin()[i] = int32_t(rng() % 1000);
    Buffer<float, 2> table({1000, 768}, 11);
    Buffer<float, 3> a({batch, time, 768}), b({batch, time, 768});
    fill(table);
    _mlir_ciface_loops_embed(batch, time, &tokens.ref, &table.ref, &a.ref);
    _mlir_ciface_linalg_embed(batch, time, &tokens.ref, &table.ref, &b.ref);
    report("embed linalg vs loops", relativeError(b, a), 0.0);
  }
}

/// A causal conv (E channels, width K, with or without bias): the linalg
/// kernel against the loop kernel on the same inputs, the outputs by
/// relative error and the new windows exactly; then the linalg kernel again
/// with the window updated in place (window and window_out the same buffer,
/// as the runtime calls it), against the loop kernel's results.
void checkConv(const char *name, int64_t e, int64_t k, bool hasBias,
               int64_t batch, int64_t time) {
  auto run = [&](bool linalg, Buffer<float, 3> &x, Buffer<float, 3> &w,
                 Buffer<float, 1> &bias, Buffer<float, 3> &window,
                 Buffer<float, 3> &out, Buffer<float, 3> &windowOut) {
    if (hasBias)
      (linalg ? _mlir_ciface_linalg_conv : _mlir_ciface_loops_conv)(
          batch, time, &x.ref, &w.ref, &bias.ref, &window.ref, &out.ref,
          &windowOut.ref);
    else
      (linalg ? _mlir_ciface_linalg_odd_conv : _mlir_ciface_loops_odd_conv)(
          batch, time, &x.ref, &w.ref, &window.ref, &out.ref, &windowOut.ref);
  };
  Buffer<float, 3> x({batch, time, e}), w({e, 1, k}, 3),
      window({batch, e, k - 1});
  Buffer<float, 1> bias({e}, 5);
  fill(x, 2.0f);
  fill(w);
  fill(bias);
  fill(window, 2.0f);
  Buffer<float, 3> out[2] = {Buffer<float, 3>({batch, time, e}),
                             Buffer<float, 3>({batch, time, e})};
  Buffer<float, 3> next[2] = {Buffer<float, 3>({batch, e, k - 1}),
                              Buffer<float, 3>({batch, e, k - 1})};
  // A copy of the window (its descriptor pointed at the copy's data).
  Buffer<float, 3> inPlace = window;
  inPlace.ref.allocated = inPlace.ref.aligned = inPlace.data.data();
  Buffer<float, 3> outInPlace({batch, time, e});
  for (int variant = 0; variant < 2; ++variant)
    run(variant == 1, x, w, bias, window, out[variant], next[variant]);
  std::string what = std::string(name) + " T=" + std::to_string(time);
  report((what + " linalg vs loops").c_str(), relativeError(out[1], out[0]),
         1e-6);
  report((what + " window").c_str(), relativeError(next[1], next[0]), 0.0);
  run(true, x, w, bias, inPlace, outInPlace, inPlace);
  report((what + " in place").c_str(), relativeError(outInPlace, out[0]),
         1e-6);
  report((what + " in-place window").c_str(),
         relativeError(inPlace, next[0]), 0.0);
}

/// Times `run(linalg)` for both variants, alternating, and prints the
/// medians of `reps` repetitions (after two unmeasured ones) as a row of
/// `flops` operations.
template <typename Run>
void benchRow(const char *name, int64_t m, int64_t n, int64_t k, double flops,
              int reps, Run run) {
  std::vector<double> t[2];
  for (int rep = -2; rep < reps; ++rep)
    for (int variant = 0; variant < 2; ++variant) {
      auto start = std::chrono::steady_clock::now();
      run(variant == 1);
      double seconds = std::chrono::duration<double>(
                           std::chrono::steady_clock::now() - start)
                           .count();
      if (rep >= 0)
        t[variant].push_back(seconds);
    }
  double median[2];
  for (int v = 0; v < 2; ++v) {
    std::sort(t[v].begin(), t[v].end());
    median[v] = t[v][t[v].size() / 2];
  }
  std::printf("%-9s %5lld %5lld %5lld %12.3f %12.3f %9.1f %9.1f %7.2f\n",
              name, (long long)m, (long long)n, (long long)k, median[0] * 1e3,
              median[1] * 1e3, flops / median[0] * 1e-9,
              flops / median[1] * 1e-9, median[0] / median[1]);
}

void bench(int64_t time, int reps) {
  std::printf("%-9s %5s %5s %5s %12s %12s %9s %9s %7s\n", "kernel", "M", "N",
              "K", "loops ms", "linalg ms", "loops GF", "linalg GF",
              "speedup");
  for (const Gemm &g : kGemms) {
    // The mamba-130m shapes only.
    std::string name = g.name;
    if (name == "lm_head" || name == "odd_proj" || name == "tiny_dt_proj")
      continue;
    GemmData data(g, 1, time);
    benchRow(g.name, time, g.n, g.k, 2.0 * time * g.n * g.k, reps,
             [&](bool linalg) { data.run(g, linalg); });
  }
  // mamba-130m's causal conv (E = 1536, K = 4, SiLU): N = E, K = taps.
  const int64_t e = 1536, k = 4;
  Buffer<float, 3> x({1, time, e}), w({e, 1, k}, 3), window({1, e, k - 1}),
      out({1, time, e}), next({1, e, k - 1});
  Buffer<float, 1> bias({e}, 5);
  fill(x);
  fill(w);
  fill(bias);
  fill(window);
  benchRow("conv", time, e, k, 2.0 * time * e * k, reps, [&](bool linalg) {
    (linalg ? _mlir_ciface_linalg_conv : _mlir_ciface_loops_conv)(
        1, time, &x.ref, &w.ref, &bias.ref, &window.ref, &out.ref, &next.ref);
  });
}

} // namespace

int main(int argc, char **argv) {
  if (argc >= 2 && std::strcmp(argv[1], "check") == 0) {
    // Odd sizes: no tile divides them.
    check(2, 37);
    check(1, 1);
    // Fewer steps than the window (T < K-1), as many, more.
    for (int64_t time : {1, 2, 3, 37}) {
      checkConv("conv", 1536, 4, true, 2, time);
      checkConv("odd_conv", 40, 3, false, 3, time);
    }
    return failures ? 1 : 0;
  }
  if (argc >= 2 && std::strcmp(argv[1], "bench") == 0) {
    bench(argc >= 3 ? std::atoll(argv[2]) : 512,
          argc >= 4 ? std::atoi(argv[3]) : 20);
    return 0;
  }
  std::fprintf(stderr, "usage: %s check | bench [TOKENS [REPS]]\n", argv[0]);
  return 2;
}
