//===- quant-opt-fuzz.cpp - libFuzzer target: parse, verify, run passes ---===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: one byte choosing a pass or pipeline, then MLIR module text. The
// module is parsed with every dialect quant-opt registers, verified, and the
// chosen qnn pass or pipeline runs on it, as `quant-opt` would. Invalid input
// must give diagnostics, never a crash; the diagnostics are swallowed so that
// the fuzzer's output stays readable.
//
// Why one pass per input rather than all of them: a pipeline down to LLVM
// costs milliseconds, so running every one on every input would make each
// execution ten times slower while libFuzzer learns the same coverage. The
// selector byte lets it mutate towards whichever pass a module reaches
// deepest in.
//
// qnn-insert-qdq and qnn-quantize-pipeline need calibration statistics with
// one entry per observer id. The target writes them per input for the ids the
// module will have (after qnn-insert-observers), so that those passes get past
// their "missing id" check into weight and activation quantization.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Dialect/QNN/IR/QNNOps.h"
#include "quant-opt/InitAll.h"

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/OwningOpRef.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Parser/Parser.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace mlir;

// Larger inputs only slow the fuzzer down (parse and passes are at least
// linear): every bug found so far needs a few lines.
static constexpr size_t kMaxInputSize = 64 * 1024;

namespace {
/// What a selector byte runs. `{stats}`/`{recipe}` in a pipeline are replaced
/// by the per-input statistics file and a fixed recipe file.
struct Job {
  const char *pipeline;
  bool needsStatistics;
};
} // namespace

// The qnn passes and pipelines `quant-opt --help | grep qnn` lists, each with
// the option sets that take different code paths, plus canonicalize (the qnn
// folders and canonicalization patterns).
static const Job kJobs[] = {
    {"builtin.module(canonicalize)", false},
    {"builtin.module(qnn-verify-no-quant-types)", false},
    {"builtin.module(qnn-insert-observers)", false},
    {"builtin.module(qnn-expose-activations)", false},
    {"builtin.module(qnn-expose-activations{cut=true})", false},
    {"builtin.module(qnn-insert-qdq{weight-only=true})", false},
    {"builtin.module(qnn-insert-observers,qnn-insert-qdq{statistics={stats} "
     "recipe={recipe}})",
     true},
    {"builtin.module(qnn-insert-observers,qnn-insert-qdq{statistics={stats} "
     "activation-method=entropy activation-signed=true activation-bits=16 "
     "weight-granularity=per_group weight-group-size=2 weight-bits=4})",
     true},
    {"builtin.module(qnn-insert-observers,qnn-insert-qdq{statistics={stats} "
     "activation-method=percentile weight-granularity=per_tensor "
     "weight-symmetric=false weight-narrow-range=false})",
     true},
    {"builtin.module(qnn-fuse-quantized-ops)", false},
    {"builtin.module(qnn-cluster-weights{bits=1})", false},
    {"builtin.module(qnn-cluster-weights{bits=3},qnn-fuse-quantized-ops,"
     "convert-qnn-to-linalg)",
     false},
    {"builtin.module(convert-qnn-to-linalg)", false},
    {"builtin.module(qnn-approximate-math)", false},
    {"builtin.module(func.func(qnn-tile-and-vectorize-cpu))", false},
    {"builtin.module(func.func(qnn-tile-and-vectorize-cpu{rows=3 "
     "vector-width=5 reduction-tile=7}))",
     false},
    {"builtin.module(qnn-quantize-pipeline{statistics={stats} "
     "recipe={recipe}})",
     true},
    {"builtin.module(qnn-quantize-pipeline{statistics={stats} "
     "activation-method=mse lower-to-integers=false})",
     true},
    {"builtin.module(qnn-quantize-pipeline{weight-only=true "
     "weight-granularity=per_group weight-group-size=4 weight-bits=4})",
     false},
    {"builtin.module(qnn-reference-cpu-pipeline)", false},
    {"builtin.module(qnn-reference-cpu-pipeline{lower-to-llvm=false})", false},
    {"builtin.module(qnn-cpu-pipeline)", false},
    {"builtin.module(qnn-cpu-pipeline{strategy=scalar})", false},
    {"builtin.module(qnn-cpu-pipeline{strategy=generic})", false},
    {"builtin.module(qnn-microkernel-cpu{cpu=znver4})", false},
    {"builtin.module(qnn-microkernel-cpu{cpu=znver3})", false},
    {"builtin.module(qnn-microkernel-cpu{cpu=x86-64-v4})", false},
    {"builtin.module(func.func(qnn-convolutions-to-nhwc))", false},
    {"builtin.module(func.func(qnn-simplify-data-movement))", false},
    {"builtin.module(func.func(qnn-strided-copies-to-loops))", false},
};
static constexpr size_t kNumJobs = sizeof(kJobs) / sizeof(kJobs[0]);

static DialectRegistry *registry;
static std::string statisticsPath, recipePath;

// A recipe that matches layers by op only (a rule naming an id the module
// lacks is an error) and takes each weight setting somewhere.
static const char kRecipe[] = R"({
  "format": "quant-opt-recipe", "version": 1,
  "activations": {"method": "percentile", "percentile": 99.0},
  "weights": {"granularity": "per_channel"},
  "layers": [
    {"op": "linalg.matmul", "weights": {"granularity": "per_group", "group_size": 2, "bits": 4}},
    {"op": "linalg.batch_matmul", "activations": {"bits": 16, "signed": true, "symmetric": true}},
    {"op": "linalg.conv_2d_nhwc_hwcf", "weights": {"granularity": "per_tensor", "symmetric": false}},
    {"op": "linalg.depthwise_conv_2d_nhwc_hwc", "skip": true}
  ]
})";

static void writeFile(const std::string &path, llvm::StringRef text) {
  std::error_code error;
  llvm::raw_fd_ostream os(path, error);
  if (error) {
    llvm::errs() << "quant-opt-fuzz: cannot write " << path << ": "
                 << error.message() << "\n";
    std::abort();
  }
  os << text;
}

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  registry = new DialectRegistry();
  qnn::registerQuantOptAndUpstreamDialects(*registry);
  // Upstream passes too: the qnn pipelines nest canonicalize, cse and the
  // bufferization and LLVM lowerings by name.
  qnn::registerQuantOptAndUpstreamPasses();

  llvm::SmallString<128> dir;
  llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, dir);
  std::string prefix =
      (dir + "/quant-opt-fuzz-" + llvm::Twine(::getpid())).str();
  statisticsPath = prefix + "-stats.json";
  recipePath = prefix + "-recipe.json";
  writeFile(recipePath, kRecipe);
  return 0;
}

/// Statistics with one entry per id: a range and a 16-bin histogram, so that
/// every range method (min/max, percentile, MSE, entropy) has what it needs.
static void writeStatistics(llvm::ArrayRef<std::string> ids) {
  std::string text = R"({"format": "quant-opt-calibration-statistics", )"
                     R"("version": 1, "tensors": {)";
  llvm::raw_string_ostream os(text);
  for (auto [i, id] : llvm::enumerate(ids)) {
    if (i)
      os << ", ";
    // Ranges differ per id (some negative-only, some positive-only, some
    // across zero) to reach the zero-point corner cases.
    double lo = -4.0 + double(i % 5), hi = lo + 0.5 + double(i % 3);
    os << "\"";
    os.write_escaped(id);
    os << "\": {\"min\": " << lo << ", \"max\": " << hi
       << ", \"count\": 160, \"histogram\": {\"min\": " << lo
       << ", \"max\": " << hi << ", \"bins\": [";
    for (int b = 0; b < 16; ++b)
      os << (b ? ", " : "") << (b * 7 + i) % 23;
    os << "]}}";
  }
  os << "}}";
  writeFile(statisticsPath, text);
}

static std::string substitute(std::string text, llvm::StringRef key,
                              llvm::StringRef value) {
  for (size_t at; (at = text.find(key.str())) != std::string::npos;)
    text.replace(at, key.size(), value.str());
  return text;
}

/// Whether `text` holds one of the upstream MLIR 22 parser/verifier crashes
/// docs/Testing.md lists ("Upstream MLIR 22 bugs"; mlir-opt crashes on them
/// too): a `permutation = [...]` or `dimensions = [...]` that is not a
/// list of integers (linalg.transpose's and linalg.broadcast's parsers set a
/// null attribute and segfault), a
/// negative `tensor.concat dim(...)`, or a `{-# ... #-}` resource section
/// with an unterminated string (the lexer reads past the end of the
/// buffer). Such inputs are skipped, so that the fuzzer looks for
/// quant-opt's crashes.
static bool hitsKnownUpstreamCrash(llvm::StringRef text) {
  // linalg.transpose's `permutation` and linalg.broadcast's (and reduce's)
  // `dimensions` share the parser that crashes.
  for (llvm::StringRef keyword : {"permutation", "dimensions"})
    for (size_t at = text.find(keyword); at != llvm::StringRef::npos;
         at = text.find(keyword, at + 1)) {
      llvm::StringRef rest = text.drop_front(at + keyword.size()).ltrim();
      // Only the `permutation = ...` of linalg.transpose, not
      // `permutation_map`.
      if (!rest.consume_front("="))
        continue;
      rest = rest.ltrim();
      size_t close = rest.find(']');
      if (!rest.consume_front("[") || close == llvm::StringRef::npos)
        return true;
      // Anything but integers separated by single commas (`[0, 2,,1]`, say)
      // reaches the crash.
      llvm::StringRef list = rest.take_front(close - 1);
      if (list.trim().empty())
        continue;
      llvm::SmallVector<llvm::StringRef> items;
      list.split(items, ',');
      for (llvm::StringRef item : items) {
        item = item.trim();
        item.consume_front("-");
        if (item.empty() ||
            item.find_first_not_of("0123456789") != llvm::StringRef::npos)
          return true;
      }
    }
  size_t resources = text.find("{-#");
  if (resources != llvm::StringRef::npos &&
      text.drop_front(resources).count('"') % 2 != 0)
    return true;
  return text.contains("dim(-");
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1 || size > kMaxInputSize)
    return -1; // not added to the corpus
  const Job &job = kJobs[data[0] % kNumJobs];
  // A copy ending in NUL, as every MemoryBuffer quant-opt parses from does:
  // MLIR's lexer relies on the terminator and reads one identifier past the
  // end of a buffer without one (an ASan heap-buffer-overflow in
  // OperationName's constructor, from the fuzzer's unterminated bytes).
  std::string text(reinterpret_cast<const char *>(data + 1), size - 1);
  if (hitsKnownUpstreamCrash(text))
    return -1;

  // A fresh context per input: a crash then depends on this input alone, and
  // uniqued types and attributes do not pile up over millions of inputs.
  MLIRContext context(*registry, MLIRContext::Threading::DISABLED);
  ScopedDiagnosticHandler swallow(&context,
                                  [](Diagnostic &) { return success(); });

  ParserConfig config(&context);
  OwningOpRef<ModuleOp> module = parseSourceString<ModuleOp>(text, config);
  if (!module || failed(verify(*module)))
    return 0;

  std::string pipeline = job.pipeline;
  if (job.needsStatistics) {
    // The ids the module has once observers are in (as the pipelines insert
    // them), from a clone through qnn-insert-observers.
    OwningOpRef<ModuleOp> observed = module->clone();
    PassManager pm(&context);
    if (failed(parsePassPipeline("builtin.module(qnn-insert-observers)", pm)))
      std::abort();
    SmallVector<std::string> ids;
    if (succeeded(pm.run(*observed)))
      observed->walk(
          [&](qnn::ObserveOp op) { ids.push_back(op.getId().str()); });
    writeStatistics(ids);
    pipeline = substitute(pipeline, "{stats}", statisticsPath);
  }
  pipeline = substitute(pipeline, "{recipe}", recipePath);

  PassManager pm(&context);
  // The pipeline strings are ours: one that does not parse is a bug here.
  if (failed(parsePassPipeline(pipeline, pm))) {
    llvm::errs() << "quant-opt-fuzz: bad pipeline " << pipeline << "\n";
    std::abort();
  }
  OwningOpRef<ModuleOp> clone = module->clone();
  (void)pm.run(*clone);
  return 0;
}
