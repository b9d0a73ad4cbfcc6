//===- CPUPeak.h - The host CPU, its ISA and its measured peaks -*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The benchmarks run on whatever CPU the machine has (AMD Zen 3 with AVX2
// only, Zen 4 with AVX-512 VNNI, Intel Xeons with AVX-512 VNNI, ...), so
// their "% of peak" must use the peak of *this* CPU. A peak here is measured,
// not looked up: the throughput of the instruction an int8 (or f32) kernel is
// built from, with enough independent accumulators to hide its latency,
//
//   peak [GOPS] = 2 ops/MAC x MACs per instruction x instructions per second,
//
// and the core clock from a chain of dependent adds (one per cycle), so that
// MACs/cycle = peak / 2 / clock can be compared with the vendor's figures.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_BENCH_CPUPEAK_H
#define QUANT_OPT_BENCH_CPUPEAK_H

#include <string>
#include <vector>

namespace quant_opt_bench {

/// One measured instruction sequence.
struct PeakKernel {
  std::string name;        // e.g. "vpdpbusd zmm (u8 x s8 -> s32)"
  int macsPerInstruction;  // multiply-adds one instruction does
  double instructionsPerS; // measured throughput
  double gops() const {
    return 2.0 * macsPerInstruction * instructionsPerS * 1e-9;
  }
};

struct HostCPU {
  std::string name; // LLVM's host CPU name (znver3, znver4, sapphirerapids)
  std::string isa;  // "AVX-512 VNNI", "AVX2 (no VNNI)", ...
  bool avx2 = false, avx512 = false, avx512vnni = false, avxvnni = false,
       amx = false;
  double clockGHz = 0; // measured: dependent adds per second
  /// The exact int8 multiply-add quant-opt's kernels may use on this CPU:
  /// vpdpbusd (u8 x s8) with AVX-512 VNNI, else vpmaddwd on i16 operands
  /// (vpmaddubsw saturates its i16 pair sums, so it is not exact).
  PeakKernel int8;
  /// The f32 FMA at the widest vector width.
  PeakKernel f32;
  /// Informational: the saturating AVX2 u8 x s8 sequence that peers use on
  /// CPUs without VNNI (vpmaddubsw + vpmaddwd + vpaddd), where AVX2 exists.
  std::vector<PeakKernel> others;
};

/// Detects the host's features (LLVM's host query) and measures its peaks;
/// takes about a second.
HostCPU measureHostCPU();

} // namespace quant_opt_bench

#endif // QUANT_OPT_BENCH_CPUPEAK_H
