//===- CPUPeak.cpp - The host CPU, its ISA and its measured peaks ---------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "CPUPeak.h"

#include "llvm/ADT/StringMap.h"
#include "llvm/TargetParser/Host.h"

#include <algorithm>
#include <chrono>
#include <immintrin.h>

namespace quant_opt_bench {
namespace {

// Enough independent accumulators to cover latency x throughput of every
// instruction measured here (e.g. vpdpbusd: latency 5, two ports on Intel).
constexpr int kChains = 12;
constexpr long kIterations = 1'000'000;
// Shared VMs slow a run now and then (neighbours, frequency changes); the
// best of many short runs is the peak.
constexpr int kTrials = 30;

/// Best of kTrials: seconds per iteration of `body(kIterations)`.
template <typename Fn> double secondsPerIteration(Fn body) {
  double best = 1e30;
  for (int trial = 0; trial < kTrials; ++trial) {
    auto start = std::chrono::steady_clock::now();
    body(kIterations);
    std::chrono::duration<double> elapsed =
        std::chrono::steady_clock::now() - start;
    best = std::min(best, elapsed.count() / kIterations);
  }
  return best;
}

// Inputs come through a volatile so that nothing is constant-folded; an
// empty asm that "modifies" an operand keeps a loop-invariant multiply from
// being hoisted out of the loop.
volatile int kSeed = 0x01020304;
volatile int kSink;

double clockHz() {
  double perIteration = secondsPerIteration([](long n) {
    // Register operands: some cores (Intel's Golden Cove) execute an add of
    // an immediate at rename, in zero cycles.
    long x = kSeed, step = kSeed;
    for (long i = 0; i < n; ++i)
      asm volatile("add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                   "add %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\tadd %1, %0\n\t"
                   "add %1, %0\n\tadd %1, %0"
                   : "+r"(x)
                   : "r"(step));
    kSink = static_cast<int>(x);
  });
  return 10.0 / perIteration; // ten dependent one-cycle adds
}

__attribute__((target("avx512f,avx512vnni"))) void vpdpbusdLoop(long n) {
  __m512i a = _mm512_set1_epi32(kSeed), b = _mm512_set1_epi32(kSeed);
  __m512i acc[kChains];
  for (auto &v : acc)
    v = _mm512_setzero_si512();
  for (long i = 0; i < n; ++i)
    for (auto &v : acc)
      v = _mm512_dpbusd_epi32(v, a, b);
  __m512i sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm512_add_epi32(sum, acc[c]);
  alignas(64) int lanes[16];
  _mm512_store_si512(lanes, sum);
  kSink = lanes[0] + lanes[15];
}

// Sixteen ymm registers: six accumulators, three + two distinct operands (a
// multiply of equal operands in every chain would be computed once), and
// temporaries. The loop-carried chain is the one-cycle vpaddd, so six chains
// keep two multiply pipes busy.
constexpr int kAVX2Chains = 6;

/// Two lanes of the sum of six accumulators.
__attribute__((target("avx2"), always_inline)) inline int
reduceAVX2(__m256i a0, __m256i a1, __m256i a2, __m256i a3, __m256i a4,
           __m256i a5) {
  __m256i sum = _mm256_add_epi32(
      _mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
      _mm256_add_epi32(a4, a5));
  return _mm256_extract_epi32(sum, 0) + _mm256_extract_epi32(sum, 7);
}

// The accumulators are named variables, not an array: GCC keeps an array of
// vectors in memory, and the loop would measure loads and stores.
#define QUANT_OPT_AVX2_CHAINS(STEP)                                            \
  __m256i a0 = _mm256_set1_epi32(kSeed), a1 = _mm256_set1_epi32(kSeed + 1),    \
          a2 = _mm256_set1_epi32(kSeed + 2);                                   \
  __m256i b0 = _mm256_set1_epi32(kSeed - 1),                                   \
          b1 = _mm256_set1_epi32(kSeed - 2);                                   \
  __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0,     \
          c5 = c0;                                                             \
  for (long i = 0; i < n; ++i) {                                               \
    asm volatile("" : "+x"(a0), "+x"(a1), "+x"(a2));                           \
    c0 = STEP(c0, a0, b0);                                                     \
    c1 = STEP(c1, a1, b0);                                                     \
    c2 = STEP(c2, a2, b0);                                                     \
    c3 = STEP(c3, a0, b1);                                                     \
    c4 = STEP(c4, a1, b1);                                                     \
    c5 = STEP(c5, a2, b1);                                                     \
  }                                                                            \
  kSink = reduceAVX2(c0, c1, c2, c3, c4, c5);

/// The exact AVX2 int8 path: i16 operands, vpmaddwd (16 MACs) + vpaddd.
__attribute__((target("avx2"))) void vpmaddwdLoop(long n) {
#define STEP(acc, a, b) _mm256_add_epi32(acc, _mm256_madd_epi16(a, b))
  QUANT_OPT_AVX2_CHAINS(STEP)
#undef STEP
}

/// The saturating AVX2 u8 x s8 path (vpmaddubsw 32 MACs into i16 pairs, then
/// vpmaddwd by ones and vpaddd), as ONNX Runtime and oneDNN use without VNNI.
__attribute__((target("avx2"))) void vpmaddubswLoop(long n) {
  __m256i ones = _mm256_set1_epi16(1);
#define STEP(acc, a, b)                                                        \
  _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones))
  QUANT_OPT_AVX2_CHAINS(STEP)
#undef STEP
}

__attribute__((target("avx512f"))) void fma512Loop(long n) {
  __m512 a = _mm512_set1_ps(kSeed * 1e-9f), b = _mm512_set1_ps(0.5f);
  __m512 acc[kChains];
  for (auto &v : acc)
    v = _mm512_setzero_ps();
  for (long i = 0; i < n; ++i)
    for (auto &v : acc)
      v = _mm512_fmadd_ps(a, b, v);
  __m512 sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm512_add_ps(sum, acc[c]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, sum);
  kSink = static_cast<int>(lanes[0] + lanes[15]);
}

__attribute__((target("avx2,fma"))) void fma256Loop(long n) {
  __m256 a = _mm256_set1_ps(kSeed * 1e-9f), b = _mm256_set1_ps(0.5f);
  __m256 acc[kChains];
  for (auto &v : acc)
    v = _mm256_setzero_ps();
  for (long i = 0; i < n; ++i)
    for (auto &v : acc)
      v = _mm256_fmadd_ps(a, b, v);
  __m256 sum = acc[0];
  for (int c = 1; c < kChains; ++c)
    sum = _mm256_add_ps(sum, acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, sum);
  kSink = static_cast<int>(lanes[0]);
}

PeakKernel measure(std::string name, int macsPerSequence, void (*loop)(long),
                   int chains = kChains) {
  return {std::move(name), macsPerSequence, chains / secondsPerIteration(loop)};
}

} // namespace

HostCPU measureHostCPU() {
  HostCPU cpu;
  cpu.name = llvm::sys::getHostCPUName().str();
  llvm::StringMap<bool> features = llvm::sys::getHostCPUFeatures();
  auto has = [&](const char *feature) { return features.lookup(feature); };
  cpu.avx2 = has("avx2") && has("fma");
  cpu.avx512 = has("avx512f") && has("avx512bw");
  cpu.avx512vnni = cpu.avx512 && has("avx512vnni");
  cpu.avxvnni = has("avxvnni");
  cpu.amx = has("amx-int8");
  cpu.isa = cpu.avx512vnni ? "AVX-512 with VNNI"
            : cpu.avx512   ? "AVX-512 without VNNI"
            : cpu.avx2     ? "AVX2 + FMA (no AVX-512, no VNNI)"
                           : "no AVX2";
  if (cpu.avxvnni)
    cpu.isa += ", AVX-VNNI";
  if (cpu.amx)
    cpu.isa += ", AMX-INT8 (not used)";
  cpu.clockGHz = clockHz() * 1e-9;

  if (cpu.avx512vnni)
    cpu.int8 = measure("vpdpbusd zmm (u8 x s8 -> s32)", 64, vpdpbusdLoop);
  else if (cpu.avx2)
    cpu.int8 = measure("vpmaddwd ymm on i16 + vpaddd (exact)", 16, vpmaddwdLoop,
                       kAVX2Chains);
  if (cpu.avx512)
    cpu.f32 = measure("vfmadd zmm (f32)", 16, fma512Loop);
  else if (cpu.avx2)
    cpu.f32 = measure("vfmadd ymm (f32)", 8, fma256Loop);
  if (cpu.avx2) {
    if (cpu.avx512vnni)
      cpu.others.push_back(measure("vpmaddwd ymm on i16 + vpaddd (exact)", 16,
                                   vpmaddwdLoop, kAVX2Chains));
    cpu.others.push_back(
        measure("vpmaddubsw + vpmaddwd + vpaddd ymm (saturating)", 32,
                vpmaddubswLoop, kAVX2Chains));
  }
  return cpu;
}

} // namespace quant_opt_bench
