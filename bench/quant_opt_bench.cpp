//===- quant_opt_bench.cpp - quant-opt vs oneDNN, same shapes, one run ----===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Google Benchmark suite: the int8 and float matmuls and the 3x3 convolution
// of docs/Performance.md, compiled by quant-opt's qnn-cpu-pipeline and JIT-run
// through the quant-run library, next to oneDNN (Debian's libdnnl) on the
// same shapes in the same process. Counters: GOPS (2 ops per multiply-add)
// and its share of this CPU's peak for the data type (pct_peak), measured at
// start-up (CPUPeak.h) and written into the JSON context with the CPU's name
// and ISA. Run single-threaded (OMP_NUM_THREADS=1; scripts/bench.sh does).
//
// QUANT_OPT_BENCH_CPU (an LLVM CPU name, e.g. x86-64-v3) makes quant-opt
// generate code for that CPU instead of the host's, and oneDNN reads
// ONEDNN_MAX_CPU_ISA (e.g. AVX2) itself: together they time the AVX2 kernels
// of both on an AVX-512 host.
//
//===----------------------------------------------------------------------===//

#include "CPUPeak.h"

#include "quant-opt/InitAll.h"
#include "quant-opt/Runner/Npy.h"
#include "quant-opt/Runner/Runner.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/Parser/Parser.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FormatVariadic.h"

#include <benchmark/benchmark.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <random>

using namespace mlir;

namespace {

/// This CPU's measured int8 and f32 peaks (GOPS), set in main.
double int8PeakGOPS = 0, f32PeakGOPS = 0;

/// The CPU quant-opt generates code for (QUANT_OPT_BENCH_CPU; empty: the
/// host).
std::string targetCPU() {
  const char *cpu = std::getenv("QUANT_OPT_BENCH_CPU");
  return cpu ? cpu : "";
}

void setCounters(benchmark::State &state, double ops, bool int8) {
  double peak = int8 ? int8PeakGOPS : f32PeakGOPS;
  state.counters["GOPS"] = benchmark::Counter(
      ops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  if (peak > 0)
    state.counters["pct_peak"] =
        benchmark::Counter(ops * 1e-9 / peak * 100.0,
                           benchmark::Counter::kIsIterationInvariantRate);
}

qnn::NpyArray randomArray(StringRef dtype, ArrayRef<int64_t> shape) {
  qnn::NpyArray array;
  array.dtype = dtype.str();
  array.shape.assign(shape.begin(), shape.end());
  array.data.resize(array.getNumElements() * qnn::getNpyElementSize(dtype));
  std::mt19937 rng(42);
  if (dtype == "<f4") {
    std::uniform_real_distribution<float> uniform(-1, 1);
    auto *values = reinterpret_cast<float *>(array.data.data());
    for (int64_t i = 0; i < array.getNumElements(); ++i)
      values[i] = uniform(rng);
  } else {
    std::uniform_int_distribution<int> uniform(-128, 127);
    for (char &byte : array.data)
      byte = static_cast<char>(uniform(rng));
  }
  return array;
}

/// Compiles `source` with qnn-cpu-pipeline, runs it once on random inputs and
/// times further calls on the same buffers.
void runQuantOpt(benchmark::State &state, const std::string &source,
                 ArrayRef<qnn::NpyArray> inputs, double ops, bool int8) {
  DialectRegistry registry;
  qnn::registerQuantOptAndUpstreamDialects(registry);
  MLIRContext context(registry);
  OwningOpRef<ModuleOp> module =
      parseSourceString<ModuleOp>(source, ParserConfig(&context));
  if (!module) {
    state.SkipWithError("cannot parse the benchmark program");
    return;
  }
  qnn::CompileOptions options;
  options.function = "kernel";
  options.cpu = targetCPU();
  auto compiled = qnn::CompiledFunction::compile(*module, options);
  if (!compiled) {
    state.SkipWithError(llvm::toString(compiled.takeError()).c_str());
    return;
  }
  SmallVector<std::string> names(inputs.size(), "random");
  auto results = (*compiled)->run(inputs, names);
  if (!results) {
    state.SkipWithError(llvm::toString(results.takeError()).c_str());
    return;
  }
  for (auto _ : state)
    if (llvm::Error error = (*compiled)->rerun()) {
      state.SkipWithError(llvm::toString(std::move(error)).c_str());
      return;
    }
  setCounters(state, ops, int8);
}

/// The body of the contractions: u8 activations times s8 weights into i32
/// (the fused integer layers, oneDNN's int8 path), or f32.
std::string macBody(bool int8) {
  return int8 ? "    %xe = arith.extui %x : i8 to i32\n"
                "    %ye = arith.extsi %y : i8 to i32\n"
                "    %p = arith.muli %xe, %ye : i32\n"
                "    %s = arith.addi %acc, %p : i32\n"
              : "    %p = arith.mulf %x, %y : f32\n"
                "    %s = arith.addf %acc, %p : f32\n";
}

/// `array` as an MLIR dense literal (hex, little-endian, as stored).
std::string denseLiteral(const qnn::NpyArray &array) {
  return "dense<\"0x" +
         llvm::toHex(llvm::arrayRefFromStringRef(
             StringRef(array.data.data(), array.data.size()))) +
         "\">";
}

/// A matmul of `a` (an argument) by constant weights, as the fused integer
/// layers are: u8 activations times s8 weights into i32 (oneDNN's int8
/// path), or f32.
std::string matmulSource(int64_t m, int64_t k, int64_t n, bool int8,
                         const qnn::NpyArray &weights) {
  StringRef in = int8 ? "i8" : "f32", acc = int8 ? "i32" : "f32";
  std::string body = macBody(int8);
  return llvm::formatv(
      R"(func.func @kernel(%a: tensor<{0}x{1}x{3}>) -> tensor<{0}x{2}x{4}> {{
  %b = arith.constant {7} : tensor<{1}x{2}x{3}>
  %zero = arith.constant {6} : {4}
  %e = tensor.empty() : tensor<{0}x{2}x{4}>
  %i = linalg.fill ins(%zero : {4}) outs(%e : tensor<{0}x{2}x{4}>) -> tensor<{0}x{2}x{4}>
  %r = linalg.generic {{indexing_maps = [affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (k, n)>, affine_map<(m, n, k) -> (m, n)>], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<{0}x{1}x{3}>, tensor<{1}x{2}x{3}>) outs(%i : tensor<{0}x{2}x{4}>) {{
  ^bb0(%x: {3}, %y: {3}, %acc: {4}):
{5}    linalg.yield %s : {4}
  } -> tensor<{0}x{2}x{4}>
  return %r : tensor<{0}x{2}x{4}>
})",
      m, k, n, in, acc, body, int8 ? "0" : "0.0", denseLiteral(weights));
}

void BM_QuantOptMatmul(benchmark::State &state, bool int8) {
  int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  StringRef dtype = int8 ? "|i1" : "<f4";
  runQuantOpt(state, matmulSource(m, k, n, int8, randomArray(dtype, {k, n})),
              {randomArray(dtype, {m, k})}, 2.0 * m * k * n, int8);
}

// 3x3 convolution, NHWC/HWCF, 56x56x64 -> 56x56x64 (input pre-padded to 58),
// constant weights; int8: u8 activations, s8 weights.
constexpr int64_t kConvHW = 56, kConvC = 64, kConvF = 64;
constexpr double kConvOps = 2.0 * kConvHW * kConvHW * kConvC * kConvF * 9;

void BM_QuantOptConv(benchmark::State &state, bool int8) {
  StringRef in = int8 ? "i8" : "f32", acc = int8 ? "i32" : "f32";
  StringRef dtype = int8 ? "|i1" : "<f4";
  std::string body = macBody(int8);
  std::string source = llvm::formatv(
      R"(func.func @kernel(%image: tensor<1x58x58x64x{0}>) -> tensor<1x56x56x64x{1}> {{
  %w = arith.constant {3} : tensor<3x3x64x64x{0}>
  %zero = arith.constant {2} : {1}
  %e = tensor.empty() : tensor<1x56x56x64x{1}>
  %i = linalg.fill ins(%zero : {1}) outs(%e : tensor<1x56x56x64x{1}>) -> tensor<1x56x56x64x{1}>
  %r = linalg.generic {{indexing_maps = [affine_map<(n, h, w, f, kh, kw, c) -> (n, h + kh, w + kw, c)>, affine_map<(n, h, w, f, kh, kw, c) -> (kh, kw, c, f)>, affine_map<(n, h, w, f, kh, kw, c) -> (n, h, w, f)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%image, %w : tensor<1x58x58x64x{0}>, tensor<3x3x64x64x{0}>) outs(%i : tensor<1x56x56x64x{1}>) {{
  ^bb0(%x: {0}, %y: {0}, %acc: {1}):
{4}    linalg.yield %s : {1}
  } -> tensor<1x56x56x64x{1}>
  return %r : tensor<1x56x56x64x{1}>
})",
      in, acc, int8 ? "0" : "0.0",
      denseLiteral(randomArray(dtype, {3, 3, 64, 64})), body);
  runQuantOpt(state, source, {randomArray(dtype, {1, 58, 58, 64})}, kConvOps,
              int8);
}

// The same convolution in NCHW / FCHW, as torch-mlir imports it:
// qnn-cpu-pipeline runs it as the NHWC micro-kernel between transposes
// (qnn-convolutions-to-nhwc), and the transposes are timed with it.
void BM_QuantOptConvNCHW(benchmark::State &state, bool int8) {
  StringRef in = int8 ? "i8" : "f32", acc = int8 ? "i32" : "f32";
  StringRef dtype = int8 ? "|i1" : "<f4";
  std::string body = macBody(int8);
  std::string source = llvm::formatv(
      R"(func.func @kernel(%image: tensor<1x64x58x58x{0}>) -> tensor<1x64x56x56x{1}> {{
  %w = arith.constant {3} : tensor<64x64x3x3x{0}>
  %zero = arith.constant {2} : {1}
  %e = tensor.empty() : tensor<1x64x56x56x{1}>
  %i = linalg.fill ins(%zero : {1}) outs(%e : tensor<1x64x56x56x{1}>) -> tensor<1x64x56x56x{1}>
  %r = linalg.generic {{indexing_maps = [affine_map<(n, f, h, w, c, kh, kw) -> (n, c, h + kh, w + kw)>, affine_map<(n, f, h, w, c, kh, kw) -> (f, c, kh, kw)>, affine_map<(n, f, h, w, c, kh, kw) -> (n, f, h, w)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction", "reduction"]}
      ins(%image, %w : tensor<1x64x58x58x{0}>, tensor<64x64x3x3x{0}>) outs(%i : tensor<1x64x56x56x{1}>) {{
  ^bb0(%x: {0}, %y: {0}, %acc: {1}):
{4}    linalg.yield %s : {1}
  } -> tensor<1x64x56x56x{1}>
  return %r : tensor<1x64x56x56x{1}>
})",
      in, acc, int8 ? "0" : "0.0",
      denseLiteral(randomArray(dtype, {64, 64, 3, 3})), body);
  runQuantOpt(state, source, {randomArray(dtype, {1, 64, 58, 58})}, kConvOps,
              int8);
}

// Depthwise 3x3 convolution, NHWC / HWC, 112x112x32 (input pre-padded to
// 114), constant weights: the generic strategy's channel-vectorized code.
constexpr int64_t kDepthwiseHW = 112, kDepthwiseC = 32;
constexpr double kDepthwiseOps =
    2.0 * kDepthwiseHW * kDepthwiseHW * kDepthwiseC * 9;

void BM_QuantOptDepthwise(benchmark::State &state, bool int8) {
  StringRef in = int8 ? "i8" : "f32", acc = int8 ? "i32" : "f32";
  StringRef dtype = int8 ? "|i1" : "<f4";
  std::string body = macBody(int8);
  std::string source = llvm::formatv(
      R"(func.func @kernel(%image: tensor<1x114x114x32x{0}>) -> tensor<1x112x112x32x{1}> {{
  %w = arith.constant {3} : tensor<3x3x32x{0}>
  %zero = arith.constant {2} : {1}
  %e = tensor.empty() : tensor<1x112x112x32x{1}>
  %i = linalg.fill ins(%zero : {1}) outs(%e : tensor<1x112x112x32x{1}>) -> tensor<1x112x112x32x{1}>
  %r = linalg.generic {{indexing_maps = [affine_map<(n, h, w, c, kh, kw) -> (n, h + kh, w + kw, c)>, affine_map<(n, h, w, c, kh, kw) -> (kh, kw, c)>, affine_map<(n, h, w, c, kh, kw) -> (n, h, w, c)>], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction", "reduction"]}
      ins(%image, %w : tensor<1x114x114x32x{0}>, tensor<3x3x32x{0}>) outs(%i : tensor<1x112x112x32x{1}>) {{
  ^bb0(%x: {0}, %y: {0}, %acc: {1}):
{4}    linalg.yield %s : {1}
  } -> tensor<1x112x112x32x{1}>
  return %r : tensor<1x112x112x32x{1}>
})",
      in, acc, int8 ? "0" : "0.0", denseLiteral(randomArray(dtype, {3, 3, 32})),
      body);
  runQuantOpt(state, source, {randomArray(dtype, {1, 114, 114, 32})},
              kDepthwiseOps, int8);
}

//===----------------------------------------------------------------------===//
// oneDNN, the peer: u8 x s8 -> s32 (its int8 path) and f32.
//===----------------------------------------------------------------------===//

using dnnl::memory;
using dt = memory::data_type;
using tag = memory::format_tag;

/// Executes `primitive` with `arguments` in a timing loop.
void runDNNL(benchmark::State &state, dnnl::stream &stream,
             dnnl::primitive primitive,
             const std::unordered_map<int, memory> &arguments, double ops,
             bool int8) {
  primitive.execute(stream, arguments);
  stream.wait();
  for (auto _ : state) {
    primitive.execute(stream, arguments);
    stream.wait();
  }
  setCounters(state, ops, int8);
}

void BM_OneDNNMatmul(benchmark::State &state, bool int8) {
  int64_t m = state.range(0), k = state.range(1), n = state.range(2);
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  memory::desc a({m, k}, int8 ? dt::u8 : dt::f32, tag::ab);
  memory::desc bAny({k, n}, int8 ? dt::s8 : dt::f32, tag::any);
  memory::desc c({m, n}, int8 ? dt::s32 : dt::f32, tag::ab);
  dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a, bAny, c), engine);
  // Weights in oneDNN's preferred layout, as a compiler would prepack them.
  memory aMem(a, engine), bMem(pd.weights_desc(), engine), cMem(c, engine);
  std::memset(aMem.get_data_handle(), 1, a.get_size());
  std::memset(bMem.get_data_handle(), 1, pd.weights_desc().get_size());
  runDNNL(
      state, stream, dnnl::matmul(pd),
      {{DNNL_ARG_SRC, aMem}, {DNNL_ARG_WEIGHTS, bMem}, {DNNL_ARG_DST, cMem}},
      2.0 * m * k * n, int8);
}

/// A direct 3x3 convolution (stride 1, no padding) of oneDNN on `src`,
/// `weights` and `dst` (activations in `layout`, tag::any: of its choice;
/// weights of its choice), timed.
void runDNNLConv(benchmark::State &state, memory::dims src,
                 memory::dims weights, memory::dims dst, double ops, bool int8,
                 tag layout = tag::any) {
  dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  memory::desc srcDesc(src, int8 ? dt::u8 : dt::f32, layout);
  memory::desc weightsDesc(weights, int8 ? dt::s8 : dt::f32, tag::any);
  memory::desc dstDesc(dst, int8 ? dt::s32 : dt::f32, layout);
  dnnl::convolution_forward::primitive_desc pd(
      dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                      dnnl::algorithm::convolution_direct,
                                      srcDesc, weightsDesc, dstDesc, {1, 1},
                                      {0, 0}, {0, 0}),
      engine);
  memory srcMem(pd.src_desc(), engine), weightsMem(pd.weights_desc(), engine),
      dstMem(pd.dst_desc(), engine);
  std::memset(srcMem.get_data_handle(), 1, pd.src_desc().get_size());
  std::memset(weightsMem.get_data_handle(), 1, pd.weights_desc().get_size());
  runDNNL(state, stream, dnnl::convolution_forward(pd),
          {{DNNL_ARG_SRC, srcMem},
           {DNNL_ARG_WEIGHTS, weightsMem},
           {DNNL_ARG_DST, dstMem}},
          ops, int8);
}

void BM_OneDNNConv(benchmark::State &state, bool int8) {
  runDNNLConv(state, {1, kConvC, 58, 58}, {kConvF, kConvC, 3, 3},
              {1, kConvF, kConvHW, kConvHW}, kConvOps, int8);
}

// Activations fixed to NCHW, as the peer of BM_QuantOptConvNCHW.
void BM_OneDNNConvNCHW(benchmark::State &state, bool int8) {
  runDNNLConv(state, {1, kConvC, 58, 58}, {kConvF, kConvC, 3, 3},
              {1, kConvF, kConvHW, kConvHW}, kConvOps, int8, tag::nchw);
}

void BM_OneDNNDepthwise(benchmark::State &state, bool int8) {
  // Grouped weights: one group per channel, 1 x 1 channels each.
  runDNNLConv(state, {1, kDepthwiseC, 114, 114}, {kDepthwiseC, 1, 1, 3, 3},
              {1, kDepthwiseC, kDepthwiseHW, kDepthwiseHW}, kDepthwiseOps,
              int8);
}

void matmulShapes(benchmark::internal::Benchmark *benchmark) {
  benchmark->Args({1024, 1024, 1024})
      ->Args({128, 4096, 4096})
      ->Args({1, 4096, 4096})
      ->Unit(benchmark::kMillisecond)
      ->MeasureProcessCPUTime()
      ->UseRealTime();
}

void convShape(benchmark::internal::Benchmark *benchmark) {
  benchmark->Unit(benchmark::kMillisecond)
      ->MeasureProcessCPUTime()
      ->UseRealTime();
}

} // namespace

BENCHMARK_CAPTURE(BM_QuantOptMatmul, int8, true)->Apply(matmulShapes);
BENCHMARK_CAPTURE(BM_OneDNNMatmul, int8, true)->Apply(matmulShapes);
BENCHMARK_CAPTURE(BM_QuantOptMatmul, f32, false)->Apply(matmulShapes);
BENCHMARK_CAPTURE(BM_OneDNNMatmul, f32, false)->Apply(matmulShapes);
BENCHMARK_CAPTURE(BM_QuantOptConv, int8, true)->Apply(convShape);
BENCHMARK_CAPTURE(BM_OneDNNConv, int8, true)->Apply(convShape);
BENCHMARK_CAPTURE(BM_QuantOptConv, f32, false)->Apply(convShape);
BENCHMARK_CAPTURE(BM_OneDNNConv, f32, false)->Apply(convShape);
BENCHMARK_CAPTURE(BM_QuantOptConvNCHW, int8, true)->Apply(convShape);
BENCHMARK_CAPTURE(BM_OneDNNConvNCHW, int8, true)->Apply(convShape);
BENCHMARK_CAPTURE(BM_QuantOptConvNCHW, f32, false)->Apply(convShape);
BENCHMARK_CAPTURE(BM_OneDNNConvNCHW, f32, false)->Apply(convShape);
BENCHMARK_CAPTURE(BM_QuantOptDepthwise, int8, true)->Apply(convShape);
BENCHMARK_CAPTURE(BM_OneDNNDepthwise, int8, true)->Apply(convShape);
BENCHMARK_CAPTURE(BM_QuantOptDepthwise, f32, false)->Apply(convShape);
BENCHMARK_CAPTURE(BM_OneDNNDepthwise, f32, false)->Apply(convShape);

/// Measures the host CPU's peaks first, records them in the benchmark
/// context (the JSON output's "context") and on stderr, then runs.
int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv))
    return 1;
  // As quant-run: freed intermediate buffers are reused, not unmapped.
  mlir::qnn::keepFreedMemoryForReuse();
  quant_opt_bench::HostCPU cpu = quant_opt_bench::measureHostCPU();
  int8PeakGOPS = cpu.int8.gops();
  f32PeakGOPS = cpu.f32.gops();
  auto describe = [&](const quant_opt_bench::PeakKernel &kernel) {
    return llvm::formatv("{0:f1} GOPS = 2 x {1} MAC x {2:f3} G/s ({3}; "
                         "{4:f1} MAC/cycle at {5:f2} GHz)",
                         kernel.gops(), kernel.macsPerInstruction,
                         kernel.instructionsPerS * 1e-9, kernel.name,
                         kernel.gops() / 2 / cpu.clockGHz, cpu.clockGHz)
        .str();
  };
  benchmark::AddCustomContext("host_cpu", cpu.name);
  benchmark::AddCustomContext("host_isa", cpu.isa);
  std::string target = targetCPU();
  const char *dnnlISA = std::getenv("ONEDNN_MAX_CPU_ISA");
  benchmark::AddCustomContext(
      "target", llvm::formatv("quant-opt for {0}, oneDNN ISA {1}",
                              target.empty() ? "the host" : target,
                              dnnlISA ? dnnlISA : "the host's")
                    .str());
  benchmark::AddCustomContext("clock_ghz",
                              llvm::formatv("{0:f2}", cpu.clockGHz));
  benchmark::AddCustomContext("int8_peak_gops",
                              llvm::formatv("{0:f1}", int8PeakGOPS));
  benchmark::AddCustomContext("int8_peak", describe(cpu.int8));
  benchmark::AddCustomContext("f32_peak_gflops",
                              llvm::formatv("{0:f1}", f32PeakGOPS));
  benchmark::AddCustomContext("f32_peak", describe(cpu.f32));
  for (const auto &other : cpu.others)
    benchmark::AddCustomContext("also_" + other.name, describe(other));
  llvm::errs() << "host CPU: " << cpu.name << ", " << cpu.isa
               << "\nint8 peak: " << describe(cpu.int8)
               << "\nf32 peak: " << describe(cpu.f32) << "\n";
  for (const auto &other : cpu.others)
    llvm::errs() << "also measured: " << describe(other) << "\n";
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
