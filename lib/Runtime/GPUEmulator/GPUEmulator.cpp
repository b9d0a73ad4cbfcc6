//===- GPUEmulator.cpp - qnn-gpu-pipeline's kernels run on the CPU --------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// libquant_opt_gpu_emulator.so: the mgpu* functions of MLIR's gpu-to-llvm
// lowering (the same ones lib/Runtime/CUDA implements on the CUDA driver),
// with the kernels run on this CPU. It lets the GPU pipeline's numerics be
// tested where there is no GPU (docs/GPU.md, "The GPU emulator"):
//
// - Kernels come as LLVM bitcode (qnn-gpu-pipeline format=llvm: NVVM IR
//   after libdevice linking and optimization). mgpuModuleLoad retargets the
//   IR to the host and JIT-compiles it with ORC: the `llvm.nvvm.*`
//   intrinsics become calls into this library, and every kernel gets an
//   entry `void(void **params)` that unpacks the launch's parameters.
// - Device memory is host memory; copies are memcpy; streams and events do
//   nothing (everything runs at once, in program order).
// - A launch runs the grid's blocks one after another. Within a block each
//   thread is a fiber (ucontext) with its own stack; a thread runs until it
//   reaches a barrier (bar.sync) or a warp-collective mma.sync, where it
//   waits for the others; warps run one at a time between barriers, so a
//   missing barrier shows as wrong results. Kernels that use neither run
//   thread by thread with no fibers.
// - mma.sync m16n8k32 (u8/s8 multiplicands, s32 accumulators) is computed
//   from the fragments as the PTX ISA defines them (section "Matrix
//   Fragments for mma.m16n8k32"), written out below from the ISA's tables,
//   not shared with the code generator.
// - cp.async (global to shared, 4, 8 or 16 bytes, with or without the
//   zero-filling source size) is queued per thread in its open group;
//   commit.group closes the group, and wait.group N performs the thread's
//   oldest committed groups until N are left (wait.all: all of them, the
//   open one too). A copy is thus done as late as PTX allows, so a wait
//   too weak or missing, or a barrier missing after it, shows as wrong
//   results. Copies never waited for are dropped when the block ends.
//
// What it cannot show: the NVPTX back end, ptxas and the driver (the device
// check's), memory-model effects between threads other than those ordered
// by barriers, and timing. An intrinsic or inline PTX it does not emulate
// is an error that names it when the module's first kernel is looked up;
// a block whose threads do not all reach the same barrier or mma.sync is
// an error that names the kernel.
//
//===----------------------------------------------------------------------===//

#include "llvm/Bitcode/BitcodeReader.h"
#include "llvm/ExecutionEngine/Orc/ExecutionUtils.h"
#include "llvm/ExecutionEngine/Orc/LLJIT.h"
#include "llvm/ExecutionEngine/Orc/ThreadSafeModule.h"
#include "llvm/IR/IRBuilder.h"
#include "llvm/IR/InlineAsm.h"
#include "llvm/IR/InstIterator.h"
#include "llvm/IR/Intrinsics.h"
#include "llvm/IR/Module.h"
#include "llvm/IR/Verifier.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/Support/raw_ostream.h"
#include "llvm/Transforms/Utils/BasicBlockUtils.h"

#include <algorithm>
#include <atomic>
#include <cfenv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <sys/mman.h>
#include <ucontext.h>
#include <vector>

#define QNN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

/// Stops the program with exit status 1: a kernel the emulator cannot run
/// (or that would hang or misbehave on a GPU) is the program's error, not a
/// crash of the caller.
[[noreturn]] void fatal(const std::string &message) {
  std::fprintf(stderr, "quant-opt GPU emulator: %s\n", message.c_str());
  std::fflush(nullptr);
  std::_Exit(1);
}

//===----------------------------------------------------------------------===//
// The running block: its threads, barrier and warps
//===----------------------------------------------------------------------===//

/// Special registers, in the order emulatedSreg's codes use.
enum Sreg : int32_t {
  TidX,
  TidY,
  TidZ,
  NtidX,
  NtidY,
  NtidZ,
  CtaidX,
  CtaidY,
  CtaidZ,
  NctaidX,
  NctaidY,
  NctaidZ,
  LaneId,
  WarpId,
  NWarpId,
};

/// The mma.sync operand kinds: bit 0 A signed, bit 1 B signed, bit 2
/// .satfinite.
enum MmaKind : int32_t { ASigned = 1, BSigned = 2, Satfinite = 4 };

constexpr int kWarpSize = 32;
constexpr size_t kStackBytes = 256 * 1024;

struct Warp {
  int arrived = 0;
  uint64_t generation = 0;
  int32_t kind[kWarpSize];
  uint32_t in[kWarpSize][10]; // a0..a3, b0, b1, c0..c3
  uint32_t out[kWarpSize][4]; // d0..d3
};

/// One cp.async: `bytes` written at `dst`, the first `srcBytes` of them
/// read from `src`, the rest zero.
struct AsyncCopy {
  char *dst;
  const char *src;
  uint32_t bytes, srcBytes;
};

/// A thread's cp.async copies not yet performed: those issued since the
/// last commit.group, and the committed groups, oldest first.
struct AsyncCopies {
  std::vector<AsyncCopy> open;
  std::deque<std::vector<AsyncCopy>> committed;
};

struct Block {
  const char *kernel = "";
  unsigned grid[3] = {1, 1, 1}, block[3] = {1, 1, 1}, ctaid[3] = {0, 0, 0};
  unsigned threads = 1;
  unsigned current = 0; // the running thread's linear index
  bool fibers = false;
  // Fibers: each thread's context and stack, and the scheduler's.
  ucontext_t scheduler;
  std::vector<ucontext_t> contexts;
  std::vector<char *> stacks;
  std::vector<bool> done;
  unsigned live = 0;
  // bar.sync: threads arrived at the current barrier.
  unsigned arrived = 0;
  uint64_t barrierGeneration = 0;
  std::vector<Warp> warps;
  std::vector<AsyncCopies> asyncCopies; // per thread
  uint64_t progress = 0; // arrivals and exits, to tell a deadlock
  // For QUANT_OPT_GPU_EMULATOR_LOG: warp mma.sync and block barriers done.
  uint64_t mmas = 0, barriers = 0;
};

// Launches run one at a time, on the calling thread.
std::mutex launchMutex;
Block *running = nullptr;

void yieldToScheduler() {
  Block &b = *running;
  swapcontext(&b.contexts[b.current], &b.scheduler);
}

//===----------------------------------------------------------------------===//
// What the kernels' intrinsics call
//===----------------------------------------------------------------------===//

extern "C" int32_t emulatedSreg(int32_t code) {
  Block &b = *running;
  unsigned t = b.current;
  unsigned x = t % b.block[0], y = t / b.block[0] % b.block[1],
           z = t / (b.block[0] * b.block[1]);
  switch (code) {
  case TidX:
    return int32_t(x);
  case TidY:
    return int32_t(y);
  case TidZ:
    return int32_t(z);
  case NtidX:
  case NtidY:
  case NtidZ:
    return int32_t(b.block[code - NtidX]);
  case CtaidX:
  case CtaidY:
  case CtaidZ:
    return int32_t(b.ctaid[code - CtaidX]);
  case NctaidX:
  case NctaidY:
  case NctaidZ:
    return int32_t(b.grid[code - NctaidX]);
  case LaneId:
    return int32_t(t % kWarpSize);
  case WarpId:
    return int32_t(t / kWarpSize);
  case NWarpId:
    return int32_t((b.threads + kWarpSize - 1) / kWarpSize);
  }
  fatal("unknown special register " + std::to_string(code));
}

/// A load or store at `address` that claims an alignment of `alignment`
/// bytes it does not have: a GPU stops the kernel ("misaligned address"),
/// where the host would carry on.
extern "C" void emulatedMisaligned(uint64_t address, uint64_t alignment) {
  char text[96];
  std::snprintf(text, sizeof text,
                ": a %llu-byte aligned access at the misaligned address 0x%llx",
                static_cast<unsigned long long>(alignment),
                static_cast<unsigned long long>(address));
  fatal(std::string("kernel ") + (running ? running->kernel : "?") + text);
}

/// bar.sync 0 with every thread of the block (.aligned.all).
extern "C" void emulatedBarrier() {
  Block &b = *running;
  if (!b.fibers)
    fatal(std::string("kernel ") + b.kernel + ": a barrier outside a fiber");
  ++b.progress;
  uint64_t generation = b.barrierGeneration;
  if (++b.arrived == b.live) {
    b.arrived = 0;
    ++b.barrierGeneration;
    ++b.barriers;
    return;
  }
  while (b.barrierGeneration == generation)
    yieldToScheduler();
}

/// cp.async.{ca,cg}.shared.global of `bytes` (4, 8 or 16) bytes, the first
/// `srcBytes` from `src` (the rest zero): queued in the thread's open group.
extern "C" void emulatedCpAsync(char *dst, const char *src, int32_t bytes,
                                int32_t srcBytes) {
  Block &b = *running;
  auto misaligned = [&](const void *address) {
    return reinterpret_cast<uintptr_t>(address) % uint32_t(bytes) != 0;
  };
  if (misaligned(dst) || misaligned(src))
    fatal(std::string("kernel ") + b.kernel + ": a " + std::to_string(bytes) +
          "-byte cp.async at a misaligned address");
  if (srcBytes < 0 || srcBytes > bytes)
    fatal(std::string("kernel ") + b.kernel + ": a " + std::to_string(bytes) +
          "-byte cp.async with source size " + std::to_string(srcBytes));
  b.asyncCopies[b.current].open.push_back(
      {dst, src, uint32_t(bytes), uint32_t(srcBytes)});
}

extern "C" void emulatedCpAsyncCommit() {
  AsyncCopies &copies = running->asyncCopies[running->current];
  copies.committed.push_back(std::move(copies.open));
  copies.open.clear();
}

/// cp.async.wait_group `pending`; a negative `pending` is cp.async.wait_all.
extern "C" void emulatedCpAsyncWait(int32_t pending) {
  AsyncCopies &copies = running->asyncCopies[running->current];
  if (pending < 0) {
    emulatedCpAsyncCommit();
    pending = 0;
  }
  while (copies.committed.size() > size_t(pending)) {
    for (const AsyncCopy &copy : copies.committed.front()) {
      std::memcpy(copy.dst, copy.src, copy.srcBytes);
      std::memset(copy.dst + copy.srcBytes, 0, copy.bytes - copy.srcBytes);
    }
    copies.committed.pop_front();
  }
}

/// The multiplicand `index` (0-based, of 16 for A and 8 for B) of a lane's
/// registers: four 8-bit elements per 32-bit register, the lower-numbered
/// element in the lower byte.
int32_t element(const uint32_t *registers, int index, bool isSigned) {
  uint32_t byte = (registers[index / 4] >> (8 * (index % 4))) & 0xffu;
  return isSigned ? int32_t(int8_t(uint8_t(byte))) : int32_t(byte);
}

/// D = A x B + C for one warp, m16n8k32, A row-major 16x32, B column-major
/// 32x8, from the PTX ISA's fragment tables (groupID = lane / 4,
/// threadID_in_group = lane % 4):
///   A (a0..a15): row = groupID for i < 4 or 8 <= i < 12, else groupID + 8;
///                col = threadID_in_group * 4 + (i & 3), + 16 for i >= 8.
///   B (b0..b7):  row = threadID_in_group * 4 + (i & 3), + 16 for i >= 4;
///                col = groupID.
///   C, D (c0..c3): row = groupID for i < 2, else groupID + 8;
///                  col = threadID_in_group * 2 + (i & 1).
void computeMma(Warp &w, int32_t kind) {
  int32_t a[16][32], bm[32][8];
  int64_t c[16][8];
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int group = lane / 4, inGroup = lane % 4;
    const uint32_t *regs = w.in[lane];
    for (int i = 0; i < 16; ++i) {
      int row = (i < 4 || (i >= 8 && i < 12)) ? group : group + 8;
      int col = inGroup * 4 + (i & 3) + (i >= 8 ? 16 : 0);
      a[row][col] = element(regs, i, kind & ASigned);
    }
    for (int i = 0; i < 8; ++i) {
      int row = inGroup * 4 + (i & 3) + (i >= 4 ? 16 : 0);
      bm[row][group] = element(regs + 4, i, kind & BSigned);
    }
    for (int i = 0; i < 4; ++i) {
      int row = i < 2 ? group : group + 8;
      int col = inGroup * 2 + (i & 1);
      c[row][col] = int32_t(regs[6 + i]);
    }
  }
  for (int lane = 0; lane < kWarpSize; ++lane) {
    int group = lane / 4, inGroup = lane % 4;
    for (int i = 0; i < 4; ++i) {
      int row = i < 2 ? group : group + 8;
      int col = inGroup * 2 + (i & 1);
      int64_t sum = c[row][col];
      for (int k = 0; k < 32; ++k)
        sum += int64_t(a[row][k]) * bm[k][col];
      int32_t result;
      if (kind & Satfinite)
        result = int32_t(sum > INT32_MAX   ? INT32_MAX
                         : sum < INT32_MIN ? INT32_MIN
                                           : sum);
      else
        result = int32_t(uint32_t(uint64_t(sum))); // wraps, like add.s32
      w.out[lane][i] = uint32_t(result);
    }
  }
}

/// mma.sync.aligned.m16n8k32: `io` holds a0..a3, b0, b1, c0..c3 and
/// receives d0..d3; every lane of the warp must arrive with the same kind.
extern "C" void emulatedMmaM16N8K32(uint32_t *io, int32_t kind) {
  Block &b = *running;
  unsigned warpIndex = b.current / kWarpSize, lane = b.current % kWarpSize;
  unsigned warpThreads =
      std::min<unsigned>(kWarpSize, b.threads - warpIndex * kWarpSize);
  if (!b.fibers || warpThreads != kWarpSize)
    fatal(std::string("kernel ") + b.kernel + ": mma.sync in a warp of " +
          std::to_string(warpThreads) + " threads (it needs 32)");
  Warp &w = b.warps[warpIndex];
  ++b.progress;
  std::memcpy(w.in[lane], io, sizeof(w.in[lane]));
  w.kind[lane] = kind;
  uint64_t generation = w.generation;
  if (++w.arrived == kWarpSize) {
    for (int other = 0; other < kWarpSize; ++other)
      if (w.kind[other] != kind)
        fatal(std::string("kernel ") + b.kernel +
              ": the lanes of a warp reached different mma.sync forms");
    computeMma(w, kind);
    ++b.mmas;
    w.arrived = 0;
    ++w.generation;
  } else {
    while (w.generation == generation)
      yieldToScheduler();
  }
  std::memcpy(io + 10, w.out[lane], sizeof(w.out[lane]));
}

//===----------------------------------------------------------------------===//
// Kernel modules: NVVM IR retargeted to the host and JIT-compiled
//===----------------------------------------------------------------------===//

using Entry = void (*)(void **params);

struct Kernel {
  std::string name;
  Entry entry = nullptr;
  bool collective = false; // calls a barrier or mma.sync: needs fibers
};

struct EmulatedModule {
  std::unique_ptr<llvm::orc::LLJIT> jit;
  std::vector<std::unique_ptr<Kernel>> kernels;
  std::vector<std::string> collectiveKernels;
};

/// What mgpuModuleLoad returns: the bitcode (a global of the program, which
/// outlives the module) compiled at the first kernel lookup, so a program
/// starts, and runs the kernels the emulator can run, whatever its other
/// modules hold (as the CUDA runtime loads lazily too).
struct LazyModule {
  const void *data;
  size_t size;
  std::unique_ptr<EmulatedModule> loaded;
};

std::optional<int32_t> sregCode(llvm::StringRef name) {
  if (!name.consume_front("llvm.nvvm.read.ptx.sreg."))
    return std::nullopt;
  static const std::pair<const char *, int32_t> table[] = {
      {"tid.x", TidX},       {"tid.y", TidY},       {"tid.z", TidZ},
      {"ntid.x", NtidX},     {"ntid.y", NtidY},     {"ntid.z", NtidZ},
      {"ctaid.x", CtaidX},   {"ctaid.y", CtaidY},   {"ctaid.z", CtaidZ},
      {"nctaid.x", NctaidX}, {"nctaid.y", NctaidY}, {"nctaid.z", NctaidZ},
      {"laneid", LaneId},    {"warpid", WarpId},    {"nwarpid", NWarpId}};
  for (auto [suffix, code] : table)
    if (name == suffix)
      return code;
  return std::nullopt;
}

/// `llvm.nvvm.mma.m16n8k32.row.col[.satfinite].<a>[.<b>]` on u8/s8: its
/// kind, or nothing for another shape, layout or type.
std::optional<int32_t> mmaKind(llvm::StringRef name) {
  if (!name.consume_front("llvm.nvvm.mma.m16n8k32.row.col."))
    return std::nullopt;
  int32_t kind = 0;
  if (name.consume_front("satfinite."))
    kind |= Satfinite;
  llvm::SmallVector<llvm::StringRef> types;
  name.split(types, '.');
  if (types.size() == 1)
    types.push_back(types[0]);
  if (types.size() != 2)
    return std::nullopt;
  for (int i = 0; i < 2; ++i) {
    if (types[i] == "s8")
      kind |= i == 0 ? ASigned : BSigned;
    else if (types[i] != "u8")
      return std::nullopt;
  }
  return kind;
}

/// NVVM intrinsics with the semantics of a target-independent one (PTX ISA:
/// cvt.rni/rzi/rmi/rpi, abs, min/max (the non-NaN operand), fma.rn,
/// sqrt.rn, and the .approx functions, computed exactly here).
/// An NVVM intrinsic's name after "llvm.nvvm.", with the newer type
/// suffixes (.f32, .f64) spelled as the older ones (.f, .d).
std::string normalizedIntrinsic(llvm::StringRef name) {
  if (!name.consume_front("llvm.nvvm."))
    return "";
  std::string normal = name.str();
  if (name.ends_with(".f32"))
    normal = name.drop_back(4).str() + ".f";
  else if (name.ends_with(".f64"))
    normal = name.drop_back(4).str() + ".d";
  return normal;
}

std::optional<llvm::Intrinsic::ID> genericIntrinsic(llvm::StringRef fullName) {
  std::string normal = normalizedIntrinsic(fullName);
  llvm::StringRef name = normal;
  if (name.empty())
    return std::nullopt;
  static const std::pair<const char *, llvm::Intrinsic::ID> table[] = {
      {"round.f", llvm::Intrinsic::roundeven},
      {"round.d", llvm::Intrinsic::roundeven},
      {"trunc.f", llvm::Intrinsic::trunc},
      {"trunc.d", llvm::Intrinsic::trunc},
      {"floor.f", llvm::Intrinsic::floor},
      {"floor.d", llvm::Intrinsic::floor},
      {"ceil.f", llvm::Intrinsic::ceil},
      {"ceil.d", llvm::Intrinsic::ceil},
      {"fabs.f", llvm::Intrinsic::fabs},
      {"fabs.d", llvm::Intrinsic::fabs},
      {"fabs", llvm::Intrinsic::fabs},
      {"fmin.f", llvm::Intrinsic::minnum},
      {"fmin.d", llvm::Intrinsic::minnum},
      {"fmax.f", llvm::Intrinsic::maxnum},
      {"fmax.d", llvm::Intrinsic::maxnum},
      {"fabs.ftz.f", llvm::Intrinsic::fabs},
      {"fmin.ftz.f", llvm::Intrinsic::minnum},
      {"fmax.ftz.f", llvm::Intrinsic::maxnum},
      {"fma.rn.f", llvm::Intrinsic::fma},
      {"fma.rn.d", llvm::Intrinsic::fma},
      {"sqrt.rn.f", llvm::Intrinsic::sqrt},
      {"sqrt.rn.d", llvm::Intrinsic::sqrt},
      {"sqrt.f", llvm::Intrinsic::sqrt},
      {"sqrt.approx.f", llvm::Intrinsic::sqrt},
      {"sqrt.approx.ftz.f", llvm::Intrinsic::sqrt},
      {"ex2.approx.f", llvm::Intrinsic::exp2},
      {"ex2.approx.ftz.f", llvm::Intrinsic::exp2},
      {"ex2.approx.d", llvm::Intrinsic::exp2},
      {"lg2.approx.f", llvm::Intrinsic::log2},
      {"lg2.approx.ftz.f", llvm::Intrinsic::log2},
      {"lg2.approx.d", llvm::Intrinsic::log2},
      {"sin.approx.f", llvm::Intrinsic::sin},
      {"sin.approx.ftz.f", llvm::Intrinsic::sin},
      {"cos.approx.f", llvm::Intrinsic::cos},
      {"cos.approx.ftz.f", llvm::Intrinsic::cos}};
  for (auto [suffix, id] : table)
    if (name == suffix)
      return id;
  return std::nullopt;
}

/// libdevice functions left as declarations (the kernels were compiled
/// where no CUDA toolkit was found, so libdevice was not linked in): those
/// with an LLVM intrinsic of the same meaning. `exact` is false where the
/// GPU's libdevice approximates and its last bits may differ.
std::optional<llvm::Intrinsic::ID> libdeviceIntrinsic(llvm::StringRef name,
                                                      bool &exact) {
  if (!name.consume_front("__nv_"))
    return std::nullopt;
  name.consume_back("f"); // the f32 form
  static const std::tuple<const char *, llvm::Intrinsic::ID, bool> table[] = {
      {"rint", llvm::Intrinsic::roundeven, true},
      {"nearbyint", llvm::Intrinsic::roundeven, true},
      {"round", llvm::Intrinsic::round, true},
      {"trunc", llvm::Intrinsic::trunc, true},
      {"floor", llvm::Intrinsic::floor, true},
      {"ceil", llvm::Intrinsic::ceil, true},
      {"fabs", llvm::Intrinsic::fabs, true},
      {"fma", llvm::Intrinsic::fma, true},
      {"fmin", llvm::Intrinsic::minnum, true},
      {"fmax", llvm::Intrinsic::maxnum, true},
      {"copysign", llvm::Intrinsic::copysign, true},
      {"sqrt", llvm::Intrinsic::sqrt, false},
      {"exp", llvm::Intrinsic::exp, false},
      {"exp2", llvm::Intrinsic::exp2, false},
      {"log", llvm::Intrinsic::log, false},
      {"log2", llvm::Intrinsic::log2, false},
      {"log10", llvm::Intrinsic::log10, false},
      {"sin", llvm::Intrinsic::sin, false},
      {"cos", llvm::Intrinsic::cos, false},
      {"tanh", llvm::Intrinsic::tanh, false},
      {"pow", llvm::Intrinsic::pow, false}};
  for (auto [base, id, isExact] : table)
    if (name == base) {
      exact = isExact;
      return id;
    }
  return std::nullopt;
}

/// The arithmetic with a rounding mode, `<op>.<rn|rz|rm|rp>[.ftz].<f|d>`
/// (add, sub, mul, div, fma, sqrt, rcp), and the conversions to integers,
/// `<f|d>2<i|ui|ll|ull>.<rn|rz|rm|rp>[.ftz]`: computed by
/// emulatedFloatOp / emulatedConvert with the host's rounding mode set.
enum FloatOpCode : int32_t { OpAdd, OpSub, OpMul, OpDiv, OpFma, OpSqrt, OpRcp };
enum ConvertCode : int32_t { ToI32, ToU32, ToI64, ToU64 };

int32_t roundingMode(llvm::StringRef mode) {
  if (mode == "rn")
    return FE_TONEAREST;
  if (mode == "rz")
    return FE_TOWARDZERO;
  if (mode == "rm")
    return FE_DOWNWARD;
  if (mode == "rp")
    return FE_UPWARD;
  return -1;
}

struct RoundedOp {
  bool isConvert = false;
  int32_t op = 0, mode = 0;
  bool ftz = false, isDouble = false;
};

std::optional<RoundedOp> roundedOp(llvm::StringRef fullName) {
  std::string normal = normalizedIntrinsic(fullName);
  if (normal.empty())
    return std::nullopt;
  llvm::SmallVector<llvm::StringRef> parts;
  llvm::StringRef(normal).split(parts, '.');
  RoundedOp result;
  static const std::pair<const char *, int32_t> ops[] = {
      {"add", OpAdd}, {"sub", OpSub},   {"mul", OpMul}, {"div", OpDiv},
      {"fma", OpFma}, {"sqrt", OpSqrt}, {"rcp", OpRcp}};
  static const std::pair<const char *, int32_t> converts[] = {
      {"2i", ToI32}, {"2ui", ToU32}, {"2ll", ToI64}, {"2ull", ToU64}};
  if (parts.size() < 2)
    return std::nullopt;
  result.mode = roundingMode(parts[1]);
  if (result.mode < 0)
    return std::nullopt;
  llvm::StringRef head = parts[0];
  if ((head.starts_with("f2") || head.starts_with("d2")) &&
      (parts.size() == 2 || (parts.size() == 3 && parts[2] == "ftz"))) {
    result.isConvert = true;
    result.isDouble = head[0] == 'd';
    result.ftz = parts.size() == 3;
    for (auto [suffix, code] : converts)
      if (head.drop_front(1) == suffix) {
        result.op = code;
        return result;
      }
    return std::nullopt;
  }
  llvm::StringRef type = parts.back();
  if (type != "f" && type != "d")
    return std::nullopt;
  result.isDouble = type == "d";
  if (parts.size() == 4 && parts[2] == "ftz")
    result.ftz = true;
  else if (parts.size() != 3)
    return std::nullopt;
  for (auto [opName, code] : ops)
    if (head == opName) {
      result.op = code;
      return result;
    }
  return std::nullopt;
}

/// A subnormal as a zero of its sign (.ftz).
template <typename T> T flushed(T x, bool ftz) {
  return ftz && std::fpclassify(x) == FP_SUBNORMAL ? std::copysign(T(0), x) : x;
}

template <typename T>
T floatOp(int32_t op, int32_t mode, bool ftz, T a, T b, T c) {
  a = flushed(a, ftz), b = flushed(b, ftz), c = flushed(c, ftz);
  int saved = std::fegetround();
  std::fesetround(mode);
  volatile T x = a, y = b, z = c;
  volatile T r;
  switch (op) {
  case OpAdd:
    r = x + y;
    break;
  case OpSub:
    r = x - y;
    break;
  case OpMul:
    r = x * y;
    break;
  case OpDiv:
    r = x / y;
    break;
  case OpFma:
    r = std::fma(T(x), T(y), T(z));
    break;
  case OpSqrt:
    r = std::sqrt(T(x));
    break;
  default:
    r = T(1) / x;
    break;
  }
  std::fesetround(saved);
  return flushed(T(r), ftz);
}

extern "C" float emulatedFloatOpF32(int32_t op, int32_t mode, int32_t ftz,
                                    float a, float b, float c) {
  return floatOp<float>(op, mode, ftz, a, b, c);
}
extern "C" double emulatedFloatOpF64(int32_t op, int32_t mode, double a,
                                     double b, double c) {
  return floatOp<double>(op, mode, false, a, b, c);
}

/// cvt.<rni|rzi|rmi|rpi>.<s32|u32|s64|u64>.<f32|f64>: rounded, saturated to
/// the integer type, NaN to 0 (PTX ISA, cvt).
extern "C" int64_t emulatedConvert(int32_t to, int32_t mode, int32_t ftz,
                                   double x) {
  if (std::isnan(x))
    return 0;
  x = flushed(x, ftz);
  int saved = std::fegetround();
  std::fesetround(mode);
  volatile double v = x;
  double rounded = std::nearbyint(double(v));
  std::fesetround(saved);
  auto clamp = [&](double low, double high) {
    return rounded < low ? low : rounded > high ? high : rounded;
  };
  switch (to) {
  case ToI32:
    return int64_t(clamp(INT32_MIN, INT32_MAX));
  case ToU32:
    return int64_t(clamp(0, UINT32_MAX));
  case ToI64:
    return rounded >= 9223372036854775808.0   ? INT64_MAX
           : rounded < -9223372036854775808.0 ? INT64_MIN
                                              : int64_t(rounded);
  default:
    return rounded >= 18446744073709551616.0 ? int64_t(UINT64_MAX)
           : rounded <= 0                    ? 0
                                             : int64_t(uint64_t(rounded));
  }
}

/// rsqrt and rcp .approx, computed exactly: 1 / sqrt(x) and 1 / x.
bool isReciprocal(llvm::StringRef name, bool &ofSqrt) {
  std::string normal = normalizedIntrinsic(name);
  llvm::StringRef rest = normal;
  for (const char *prefix : {"rsqrt.", "rcp."}) {
    if (!rest.consume_front(prefix))
      continue;
    ofSqrt = llvm::StringRef(prefix) == "rsqrt.";
    return rest == "approx.f" || rest == "approx.ftz.f" || rest == "approx.d" ||
           rest == "approx.ftz.d";
  }
  return false;
}

/// `llvm.nvvm.cp.async.{ca,cg}.shared.global.{4,8,16}[.s]`: its size in
/// bytes and whether it takes a source size.
std::optional<std::pair<int32_t, bool>> cpAsyncForm(llvm::StringRef name) {
  if (!name.consume_front("llvm.nvvm.cp.async.") ||
      !(name.consume_front("ca.") || name.consume_front("cg.")) ||
      !name.consume_front("shared.global."))
    return std::nullopt;
  bool withSourceSize = name.consume_back(".s");
  for (int32_t bytes : {4, 8, 16})
    if (name == std::to_string(bytes))
      return std::make_pair(bytes, withSourceSize);
  return std::nullopt;
}

bool isBarrier(llvm::StringRef name) {
  return name == "llvm.nvvm.barrier0" ||
         name == "llvm.nvvm.barrier.cta.sync.aligned.all" ||
         name == "llvm.nvvm.barrier.cta.sync.all";
}

/// Replaces each call of an `llvm.nvvm.*` intrinsic by a call into this
/// library; returns the names of those it cannot emulate, and adds to
/// `approximate` those it computes exactly where a GPU approximates.
/// Every load and store that claims an alignment above 1 byte checks it
/// first (emulatedMisaligned): the kernels' vector accesses rely on the
/// buffers' and tiles' alignment, and the host's would not fault.
void checkAlignment(llvm::Module &module) {
  llvm::LLVMContext &ctx = module.getContext();
  llvm::Type *i64 = llvm::Type::getInt64Ty(ctx);
  llvm::FunctionCallee report = module.getOrInsertFunction(
      "__qnn_emu_misaligned", llvm::Type::getVoidTy(ctx), i64, i64);
  std::vector<llvm::Instruction *> accesses;
  for (llvm::Function &function : module)
    for (llvm::Instruction &instruction : llvm::instructions(function))
      if (llvm::isa<llvm::LoadInst, llvm::StoreInst>(instruction) &&
          llvm::getLoadStoreAlignment(&instruction).value() > 1)
        accesses.push_back(&instruction);
  for (llvm::Instruction *access : accesses) {
    uint64_t alignment = llvm::getLoadStoreAlignment(access).value();
    llvm::IRBuilder<> b(access);
    llvm::Value *address =
        b.CreatePtrToInt(llvm::getLoadStorePointerOperand(access), i64);
    llvm::Value *misaligned = b.CreateICmpNE(
        b.CreateAnd(address, alignment - 1), llvm::ConstantInt::get(i64, 0));
    llvm::Instruction *reportAt =
        llvm::SplitBlockAndInsertIfThen(misaligned, access, false);
    b.SetInsertPoint(reportAt);
    b.CreateCall(report, {address, llvm::ConstantInt::get(i64, alignment)});
  }
}

std::vector<std::string> replaceIntrinsics(llvm::Module &module,
                                           std::string &approximate) {
  llvm::LLVMContext &context = module.getContext();
  llvm::Type *i32 = llvm::Type::getInt32Ty(context);
  llvm::Type *ptr = llvm::PointerType::getUnqual(context);
  llvm::Type *voidTy = llvm::Type::getVoidTy(context);
  llvm::FunctionCallee sreg = module.getOrInsertFunction(
      "__qnn_emu_sreg", llvm::FunctionType::get(i32, {i32}, false));
  llvm::FunctionCallee barrier = module.getOrInsertFunction(
      "__qnn_emu_barrier", llvm::FunctionType::get(voidTy, {}, false));
  llvm::Type *f32 = llvm::Type::getFloatTy(context);
  llvm::Type *f64 = llvm::Type::getDoubleTy(context);
  llvm::Type *i64 = llvm::Type::getInt64Ty(context);
  llvm::FunctionCallee floatOpF32 = module.getOrInsertFunction(
      "__qnn_emu_float_op_f32",
      llvm::FunctionType::get(f32, {i32, i32, i32, f32, f32, f32}, false));
  llvm::FunctionCallee floatOpF64 = module.getOrInsertFunction(
      "__qnn_emu_float_op_f64",
      llvm::FunctionType::get(f64, {i32, i32, f64, f64, f64}, false));
  llvm::FunctionCallee convert = module.getOrInsertFunction(
      "__qnn_emu_convert",
      llvm::FunctionType::get(i64, {i32, i32, i32, f64}, false));
  llvm::FunctionCallee mma = module.getOrInsertFunction(
      "__qnn_emu_mma_m16n8k32",
      llvm::FunctionType::get(voidTy, {ptr, i32}, false));
  llvm::FunctionCallee cpAsync = module.getOrInsertFunction(
      "__qnn_emu_cp_async",
      llvm::FunctionType::get(voidTy, {ptr, ptr, i32, i32}, false));
  llvm::FunctionCallee cpAsyncCommit = module.getOrInsertFunction(
      "__qnn_emu_cp_async_commit", llvm::FunctionType::get(voidTy, {}, false));
  llvm::FunctionCallee cpAsyncWait = module.getOrInsertFunction(
      "__qnn_emu_cp_async_wait", llvm::FunctionType::get(voidTy, {i32}, false));
  std::vector<std::string> unsupported;
  // Inline PTX (libdevice has some): the one form it uses for reciprocals
  // is computed here; any other is named as unsupported.
  std::vector<llvm::CallInst *> asmCalls;
  for (llvm::Function &function : module)
    for (llvm::Instruction &instruction : llvm::instructions(function))
      if (auto *call = llvm::dyn_cast<llvm::CallInst>(&instruction))
        if (call->isInlineAsm())
          asmCalls.push_back(call);
  for (llvm::CallInst *call : asmCalls) {
    auto *inlineAsm = llvm::cast<llvm::InlineAsm>(call->getCalledOperand());
    llvm::StringRef text = llvm::StringRef(inlineAsm->getAsmString()).trim();
    if ((text == "rcp.approx.ftz.f32 $0,$1;" ||
         text == "rcp.approx.ftz.f32 $0, $1;") &&
        call->arg_size() == 1 && call->getType()->isFloatTy()) {
      llvm::IRBuilder<> builder(call);
      call->replaceAllUsesWith(builder.CreateFDiv(
          llvm::ConstantFP::get(call->getType(), 1.0), call->getArgOperand(0)));
      call->eraseFromParent();
      if (approximate.find("rcp.approx") == std::string::npos)
        approximate += (approximate.empty() ? "" : ", ") +
                       std::string("rcp.approx.ftz.f32 (inline PTX)");
      continue;
    }
    std::string shown = text.str();
    std::replace(shown.begin(), shown.end(), '\n', ' ');
    std::replace(shown.begin(), shown.end(), '\t', ' ');
    unsupported.push_back("inline PTX \"" + shown + "\"");
  }
  std::vector<llvm::Function *> intrinsics;
  for (llvm::Function &function : module) {
    bool exact = true;
    if (function.isDeclaration() &&
        libdeviceIntrinsic(function.getName(), exact)) {
      intrinsics.push_back(&function);
      if (!exact && !function.use_empty())
        approximate +=
            (approximate.empty() ? "" : ", ") + function.getName().str();
    } else if (function.getName().starts_with("llvm.nvvm.")) {
      intrinsics.push_back(&function);
    }
  }
  for (llvm::Function *intrinsic : intrinsics) {
    llvm::StringRef name = intrinsic->getName();
    std::optional<int32_t> code = sregCode(name);
    std::optional<int32_t> kind = mmaKind(name);
    bool isBarrierCall = isBarrier(name);
    std::optional<std::pair<int32_t, bool>> copyForm = cpAsyncForm(name);
    bool isCommit = name == "llvm.nvvm.cp.async.commit.group";
    bool isWait = name == "llvm.nvvm.cp.async.wait.group" ||
                  name == "llvm.nvvm.cp.async.wait.all";
    bool exact = true;
    std::optional<llvm::Intrinsic::ID> generic = genericIntrinsic(name);
    if (!generic)
      generic = libdeviceIntrinsic(name, exact);
    bool ofSqrt = false;
    bool reciprocal = isReciprocal(name, ofSqrt);
    std::optional<RoundedOp> rounded =
        generic || reciprocal ? std::nullopt : roundedOp(name);
    if (!code && !kind && !isBarrierCall && !generic && !reciprocal &&
        !rounded && !copyForm && !isCommit && !isWait &&
        name != "llvm.nvvm.read.ptx.sreg.warpsize") {
      if (!intrinsic->use_empty())
        unsupported.push_back(name.str());
      continue;
    }
    if (name.contains(".approx") && !intrinsic->use_empty())
      approximate += (approximate.empty() ? "" : ", ") +
                     name.drop_front(strlen("llvm.nvvm.")).str();
    for (llvm::User *user : llvm::make_early_inc_range(intrinsic->users())) {
      auto *call = llvm::dyn_cast<llvm::CallInst>(user);
      if (!call) {
        unsupported.push_back(name.str() + " (not called)");
        continue;
      }
      llvm::IRBuilder<> builder(call);
      llvm::Value *replacement = nullptr;
      if (code) {
        replacement = builder.CreateCall(sreg, {builder.getInt32(*code)});
      } else if (rounded && rounded->isConvert) {
        llvm::Value *x = call->getArgOperand(0);
        if (!rounded->isDouble)
          x = builder.CreateFPExt(x, f64);
        llvm::Value *wide =
            builder.CreateCall(convert, {builder.getInt32(rounded->op),
                                         builder.getInt32(rounded->mode),
                                         builder.getInt32(rounded->ftz), x});
        replacement = builder.CreateTrunc(wide, call->getType());
      } else if (rounded) {
        llvm::Type *type = call->getType();
        llvm::SmallVector<llvm::Value *> operands(call->args());
        while (operands.size() < 3)
          operands.push_back(llvm::ConstantFP::get(type, 0.0));
        if (rounded->isDouble)
          replacement = builder.CreateCall(
              floatOpF64,
              {builder.getInt32(rounded->op), builder.getInt32(rounded->mode),
               operands[0], operands[1], operands[2]});
        else
          replacement = builder.CreateCall(
              floatOpF32,
              {builder.getInt32(rounded->op), builder.getInt32(rounded->mode),
               builder.getInt32(rounded->ftz), operands[0], operands[1],
               operands[2]});
      } else if (reciprocal) {
        llvm::Value *x = call->getArgOperand(0);
        if (ofSqrt)
          x = builder.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x);
        replacement =
            builder.CreateFDiv(llvm::ConstantFP::get(x->getType(), 1.0), x);
      } else if (generic) {
        llvm::SmallVector<llvm::Value *> operands(call->args());
        replacement =
            builder.CreateIntrinsic(*generic, {call->getType()}, operands);
      } else if (name == "llvm.nvvm.read.ptx.sreg.warpsize") {
        replacement = builder.getInt32(kWarpSize);
      } else if (isBarrierCall) {
        builder.CreateCall(barrier, {});
      } else if (copyForm) {
        // Shared and global addresses are host addresses here.
        llvm::Value *dst =
            builder.CreateAddrSpaceCast(call->getArgOperand(0), ptr);
        llvm::Value *src =
            builder.CreateAddrSpaceCast(call->getArgOperand(1), ptr);
        llvm::Value *bytes = builder.getInt32(copyForm->first);
        llvm::Value *srcBytes =
            copyForm->second
                ? builder.CreateZExtOrTrunc(call->getArgOperand(2), i32)
                : bytes;
        builder.CreateCall(cpAsync, {dst, src, bytes, srcBytes});
      } else if (isCommit) {
        builder.CreateCall(cpAsyncCommit, {});
      } else if (isWait) {
        builder.CreateCall(cpAsyncWait, {call->arg_size() == 1
                                             ? builder.CreateZExtOrTrunc(
                                                   call->getArgOperand(0), i32)
                                             : builder.getInt32(-1)});
      } else {
        // The operands through a stack array: a0..a3, b0, b1, c0..c3, then
        // d0..d3 back.
        llvm::IRBuilder<> entryBuilder(
            &*call->getFunction()->getEntryBlock().getFirstInsertionPt());
        llvm::Value *io =
            entryBuilder.CreateAlloca(llvm::ArrayType::get(i32, 14));
        for (unsigned i = 0; i < 10; ++i)
          builder.CreateStore(call->getArgOperand(i),
                              builder.CreateConstGEP2_32(
                                  llvm::ArrayType::get(i32, 14), io, 0, i));
        builder.CreateCall(mma, {io, builder.getInt32(*kind)});
        replacement = llvm::PoisonValue::get(call->getType());
        for (unsigned i = 0; i < 4; ++i) {
          llvm::Value *d = builder.CreateLoad(
              i32, builder.CreateConstGEP2_32(llvm::ArrayType::get(i32, 14), io,
                                              0, 10 + i));
          replacement = builder.CreateInsertValue(replacement, d, {i});
        }
      }
      if (replacement)
        call->replaceAllUsesWith(replacement);
      call->eraseFromParent();
    }
    if (intrinsic->use_empty())
      intrinsic->eraseFromParent();
  }
  return unsupported;
}

/// Whether `function` calls, directly or through functions of the module,
/// a barrier or an mma.sync.
bool callsCollective(llvm::Function &function,
                     llvm::SmallPtrSetImpl<llvm::Function *> &seen) {
  if (!seen.insert(&function).second)
    return false;
  for (llvm::Instruction &instruction : llvm::instructions(function)) {
    auto *call = llvm::dyn_cast<llvm::CallBase>(&instruction);
    if (!call || !call->getCalledFunction())
      continue;
    llvm::Function *callee = call->getCalledFunction();
    llvm::StringRef name = callee->getName();
    if (name == "__qnn_emu_barrier" || name == "__qnn_emu_mma_m16n8k32")
      return true;
    if (!callee->isDeclaration() && callsCollective(*callee, seen))
      return true;
  }
  return false;
}

EmulatedModule *loadModule(const void *data, size_t size) {
  static std::once_flag initialized;
  std::call_once(initialized, [] {
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
  });
  auto buffer = llvm::MemoryBuffer::getMemBuffer(
      llvm::StringRef(static_cast<const char *>(data), size), "gpu.binary",
      /*RequiresNullTerminator=*/false);
  if (size < 4 || std::memcmp(data, "BC\xc0\xde", 4) != 0)
    fatal("this kernel module is not LLVM bitcode: the emulator runs the "
          "kernels of qnn-gpu-pipeline format=llvm (quant-run "
          "--device=cuda-emulator), not PTX, cubin or fatbin");
  auto context = std::make_unique<llvm::LLVMContext>();
  auto parsed = llvm::parseBitcodeFile(buffer->getMemBufferRef(), *context);
  if (!parsed)
    fatal("cannot read the kernel module's bitcode: " +
          llvm::toString(parsed.takeError()));
  std::unique_ptr<llvm::Module> module = std::move(*parsed);

  auto builder = llvm::orc::LLJITBuilder();
  auto jit = builder.create();
  if (!jit)
    fatal("cannot create the JIT: " + llvm::toString(jit.takeError()));
  auto emulated = std::make_unique<EmulatedModule>();
  emulated->jit = std::move(*jit);
  llvm::orc::LLJIT &lljit = *emulated->jit;

  // Retarget: the host's triple and data layout, no NVPTX CPU or features,
  // kernels with the C calling convention.
  module->setTargetTriple(lljit.getTargetTriple());
  module->setDataLayout(lljit.getDataLayout());
  std::vector<llvm::Function *> kernels;
  for (llvm::Function &function : *module) {
    function.removeFnAttr("target-cpu");
    function.removeFnAttr("target-features");
    if (function.getCallingConv() == llvm::CallingConv::PTX_Kernel) {
      function.setCallingConv(llvm::CallingConv::C);
      kernels.push_back(&function);
    }
  }
  std::string approximate;
  std::vector<std::string> unsupported =
      replaceIntrinsics(*module, approximate);
  if (!approximate.empty())
    std::fprintf(stderr,
                 "quant-opt GPU emulator: note: the kernels use approximate "
                 "instructions or functions (%s), computed by the CPU's here: "
                 "a GPU's last bits may differ\n",
                 approximate.c_str());
  if (!unsupported.empty()) {
    std::string names;
    for (const std::string &name : unsupported)
      names += (names.empty() ? "" : ", ") + name;
    fatal("the kernels use what the emulator does not emulate: " + names);
  }
  // Each kernel's entry: void(void **params), params[i] pointing at the
  // i-th argument's value, as cuLaunchKernel takes them.
  llvm::LLVMContext &ctx = module->getContext();
  llvm::Type *ptr = llvm::PointerType::getUnqual(ctx);
  for (llvm::Function *kernel : kernels) {
    auto *entry = llvm::Function::Create(
        llvm::FunctionType::get(llvm::Type::getVoidTy(ctx), {ptr}, false),
        llvm::GlobalValue::ExternalLinkage,
        "__qnn_emu_entry." + kernel->getName(), *module);
    llvm::IRBuilder<> b(llvm::BasicBlock::Create(ctx, "entry", entry));
    llvm::SmallVector<llvm::Value *> arguments;
    for (llvm::Argument &argument : kernel->args()) {
      llvm::Value *slot =
          b.CreateLoad(ptr, b.CreateConstGEP1_32(ptr, entry->getArg(0),
                                                 argument.getArgNo()));
      arguments.push_back(b.CreateLoad(argument.getType(), slot));
    }
    b.CreateCall(kernel, arguments);
    b.CreateRetVoid();
    llvm::SmallPtrSet<llvm::Function *, 8> seen;
    if (callsCollective(*kernel, seen))
      emulated->collectiveKernels.push_back(kernel->getName().str());
  }
  checkAlignment(*module);
  std::string verifyErrors;
  llvm::raw_string_ostream verifyStream(verifyErrors);
  if (llvm::verifyModule(*module, &verifyStream))
    fatal("the retargeted kernel module does not verify: " + verifyErrors);

  llvm::orc::JITDylib &dylib = lljit.getMainJITDylib();
  llvm::orc::MangleAndInterner mangle(lljit.getExecutionSession(),
                                      lljit.getDataLayout());
  llvm::orc::SymbolMap helpers;
  auto add = [&](const char *name, auto *function) {
    helpers[mangle(name)] = {llvm::orc::ExecutorAddr::fromPtr(function),
                             llvm::JITSymbolFlags::Exported};
  };
  add("__qnn_emu_sreg", &emulatedSreg);
  add("__qnn_emu_barrier", &emulatedBarrier);
  add("__qnn_emu_misaligned", &emulatedMisaligned);
  add("__qnn_emu_mma_m16n8k32", &emulatedMmaM16N8K32);
  add("__qnn_emu_cp_async", &emulatedCpAsync);
  add("__qnn_emu_cp_async_commit", &emulatedCpAsyncCommit);
  add("__qnn_emu_cp_async_wait", &emulatedCpAsyncWait);
  add("__qnn_emu_float_op_f32", &emulatedFloatOpF32);
  add("__qnn_emu_float_op_f64", &emulatedFloatOpF64);
  add("__qnn_emu_convert", &emulatedConvert);
  if (llvm::Error error = dylib.define(llvm::orc::absoluteSymbols(helpers)))
    fatal(llvm::toString(std::move(error)));
  // libm and libc (memcpy, math functions the kernels' IR calls).
  auto process = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      lljit.getDataLayout().getGlobalPrefix());
  if (!process)
    fatal(llvm::toString(process.takeError()));
  dylib.addGenerator(std::move(*process));
  if (llvm::Error error = lljit.addIRModule(
          llvm::orc::ThreadSafeModule(std::move(module), std::move(context))))
    fatal(llvm::toString(std::move(error)));
  return emulated.release();
}

//===----------------------------------------------------------------------===//
// Launches
//===----------------------------------------------------------------------===//

// The kernel entry and parameters of the block the fibers run.
Entry launchEntry = nullptr;
void **launchParams = nullptr;

void fiberMain() {
  Block &b = *running;
  unsigned thread = b.current;
  launchEntry(launchParams);
  b.done[thread] = true;
  --b.live;
  ++b.progress;
  if (b.arrived > 0)
    fatal(std::string("kernel ") + b.kernel +
          ": a thread returned while others wait at a barrier");
  // Returning resumes the scheduler (uc_link).
}

void runBlock(Block &b, Entry entry, void **params) {
  // Copies a thread of the last block never waited for are dropped.
  for (AsyncCopies &copies : b.asyncCopies)
    copies = AsyncCopies();
  if (!b.fibers) {
    for (b.current = 0; b.current < b.threads; ++b.current)
      entry(params);
    return;
  }
  launchEntry = entry;
  launchParams = params;
  b.live = b.threads;
  b.arrived = 0;
  b.done.assign(b.threads, false);
  for (Warp &w : b.warps)
    w.arrived = 0;
  for (unsigned t = 0; t < b.threads; ++t) {
    ucontext_t &context = b.contexts[t];
    getcontext(&context);
    context.uc_stack.ss_sp = b.stacks[t];
    context.uc_stack.ss_size = kStackBytes;
    context.uc_link = &b.scheduler;
    makecontext(&context, fiberMain, 0);
  }
  // Warp by warp: a warp runs until all its threads wait at a block
  // barrier (or are done) before the next warp runs. The warp that
  // releases a barrier thus runs ahead to the next one while the others
  // have not moved, which is what exposes a missing barrier: reads of
  // shared memory before the other warps wrote it, or writes over what
  // they have not read yet. (Thread by thread in turn, every warp would
  // read its fragments in the first turn after a barrier and hide both.)
  unsigned warps = (b.threads + kWarpSize - 1) / kWarpSize;
  while (b.live > 0) {
    uint64_t before = b.progress;
    for (unsigned w = 0; w < warps; ++w) {
      unsigned end = std::min(b.threads, (w + 1) * kWarpSize);
      uint64_t warpBefore;
      do {
        warpBefore = b.progress;
        for (unsigned t = w * kWarpSize; t < end; ++t) {
          if (b.done[t])
            continue;
          b.current = t;
          swapcontext(&b.scheduler, &b.contexts[t]);
        }
      } while (b.progress != warpBefore);
    }
    if (b.live > 0 && b.progress == before)
      fatal(std::string("kernel ") + b.kernel + ": its " +
            std::to_string(b.live) +
            " running threads wait at a barrier or an mma.sync that the "
            "others of their block or warp never reach");
  }
}

std::atomic<bool> profiling{false};
double profiledSeconds = 0;
long profiledLaunches = 0;

} // namespace

//===----------------------------------------------------------------------===//
// quant-opt's runtime API (include/quant-opt/Runtime/CudaRuntime.h)
//===----------------------------------------------------------------------===//

QNN_EXPORT int qnnCudaRuntimeStatus(char *message, size_t size) {
  if (message && size)
    std::snprintf(message, size,
                  "quant-opt GPU emulator: the kernels run on this CPU");
  return 0;
}

QNN_EXPORT void qnnCudaProfile(int enable) { profiling = enable != 0; }

QNN_EXPORT double qnnCudaKernelSeconds(long *launches) {
  std::lock_guard<std::mutex> lock(launchMutex);
  double seconds = profiledSeconds;
  if (launches)
    *launches = profiledLaunches;
  profiledSeconds = 0;
  profiledLaunches = 0;
  return seconds;
}

//===----------------------------------------------------------------------===//
// The mgpu* functions (signatures as MLIR 22's lowering declares them)
//===----------------------------------------------------------------------===//

QNN_EXPORT void mgpuSetDefaultDevice(int32_t) {}

QNN_EXPORT void *mgpuModuleLoad(void *data, size_t size) {
  return new LazyModule{data, size, nullptr};
}

QNN_EXPORT void *mgpuModuleLoadJIT(void *, int, size_t) {
  fatal("this kernel module is PTX (format=isa): the emulator runs the "
        "kernels of qnn-gpu-pipeline format=llvm");
}

QNN_EXPORT void mgpuModuleUnload(void *module) {
  delete static_cast<LazyModule *>(module);
}

QNN_EXPORT void *mgpuModuleGetFunction(void *module, const char *name) {
  auto *lazy = static_cast<LazyModule *>(module);
  if (!lazy->loaded)
    lazy->loaded.reset(loadModule(lazy->data, lazy->size));
  EmulatedModule *emulated = lazy->loaded.get();
  for (auto &kernel : emulated->kernels)
    if (kernel->name == name)
      return kernel.get();
  auto address = emulated->jit->lookup(std::string("__qnn_emu_entry.") + name);
  if (!address)
    fatal(std::string("no kernel \"") + name +
          "\" in the module: " + llvm::toString(address.takeError()));
  auto kernel = std::make_unique<Kernel>();
  kernel->name = name;
  kernel->entry = address->toPtr<Entry>();
  for (const std::string &collective : emulated->collectiveKernels)
    kernel->collective |= collective == name;
  emulated->kernels.push_back(std::move(kernel));
  return emulated->kernels.back().get();
}

QNN_EXPORT void mgpuLaunchKernel(void *function, intptr_t gridX, intptr_t gridY,
                                 intptr_t gridZ, intptr_t blockX,
                                 intptr_t blockY, intptr_t blockZ, int32_t smem,
                                 void *, void **params, void **extra, size_t) {
  auto *kernel = static_cast<Kernel *>(function);
  if (smem != 0)
    fatal("kernel " + kernel->name + ": dynamic shared memory is not emulated");
  if (extra)
    fatal("kernel " + kernel->name +
          ": launch parameters through `extra` "
          "are not emulated");
  if (blockX < 1 || blockY < 1 || blockZ < 1 ||
      blockX * blockY * blockZ > 1024 || gridX < 1 || gridY < 1 || gridZ < 1)
    fatal("kernel " + kernel->name + ": a launch of grid " +
          std::to_string(gridX) + "x" + std::to_string(gridY) + "x" +
          std::to_string(gridZ) + " and block " + std::to_string(blockX) + "x" +
          std::to_string(blockY) + "x" + std::to_string(blockZ) +
          " would not launch on a GPU");
  std::lock_guard<std::mutex> lock(launchMutex);
  auto start = std::chrono::steady_clock::now();
  Block b;
  b.kernel = kernel->name.c_str();
  b.grid[0] = unsigned(gridX), b.grid[1] = unsigned(gridY),
  b.grid[2] = unsigned(gridZ);
  b.block[0] = unsigned(blockX), b.block[1] = unsigned(blockY),
  b.block[2] = unsigned(blockZ);
  b.threads = unsigned(blockX * blockY * blockZ);
  b.fibers = kernel->collective;
  b.asyncCopies.resize(b.threads);
  if (b.fibers) {
    b.contexts.resize(b.threads);
    b.warps.resize((b.threads + kWarpSize - 1) / kWarpSize);
    for (unsigned t = 0; t < b.threads; ++t) {
      void *stack = mmap(nullptr, kStackBytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      if (stack == MAP_FAILED)
        fatal("cannot map a thread's stack");
      b.stacks.push_back(static_cast<char *>(stack));
    }
  }
  Block *outer = running;
  running = &b;
  for (unsigned z = 0; z < b.grid[2]; ++z)
    for (unsigned y = 0; y < b.grid[1]; ++y)
      for (unsigned x = 0; x < b.grid[0]; ++x) {
        b.ctaid[0] = x, b.ctaid[1] = y, b.ctaid[2] = z;
        runBlock(b, kernel->entry, params);
      }
  running = outer;
  for (char *stack : b.stacks)
    munmap(stack, kStackBytes);
  static const bool log = [] {
    const char *value = std::getenv("QUANT_OPT_GPU_EMULATOR_LOG");
    return value && *value && std::strcmp(value, "0") != 0;
  }();
  if (log)
    std::fprintf(stderr,
                 "quant-opt GPU emulator: %s grid %ux%ux%u block %ux%ux%u: "
                 "%llu mma.sync, %llu bar.sync\n",
                 b.kernel, b.grid[0], b.grid[1], b.grid[2], b.block[0],
                 b.block[1], b.block[2], (unsigned long long)b.mmas,
                 (unsigned long long)b.barriers);
  if (profiling) {
    profiledSeconds +=
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    ++profiledLaunches;
  }
}

QNN_EXPORT void mgpuLaunchClusterKernel(void *function, intptr_t, intptr_t,
                                        intptr_t, intptr_t, intptr_t, intptr_t,
                                        intptr_t, intptr_t, intptr_t, int32_t,
                                        void *, void **, void **, size_t) {
  fatal("kernel " + static_cast<Kernel *>(function)->name +
        ": thread block clusters are not emulated");
}

// One stream: everything has run when the call returns.
QNN_EXPORT void *mgpuStreamCreate() {
  static char stream;
  return &stream;
}
QNN_EXPORT void mgpuStreamDestroy(void *) {}
QNN_EXPORT void mgpuStreamSynchronize(void *) {}
QNN_EXPORT void mgpuStreamWaitEvent(void *, void *) {}
QNN_EXPORT void *mgpuEventCreate() {
  static char event;
  return &event;
}
QNN_EXPORT void mgpuEventDestroy(void *) {}
QNN_EXPORT void mgpuEventSynchronize(void *) {}
QNN_EXPORT void mgpuEventRecord(void *, void *) {}

/// Device memory is host memory, aligned as cuMemAlloc's (256 bytes).
QNN_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, void *, bool) {
  if (sizeBytes == 0)
    return nullptr;
  void *pointer = std::aligned_alloc(256, (sizeBytes + 255) / 256 * 256);
  if (!pointer)
    fatal("cannot allocate " + std::to_string(sizeBytes) + " bytes");
  // Fresh device memory holds whatever was there: not zeros, so a kernel
  // that reads what it never wrote shows.
  std::memset(pointer, 0xa5, sizeBytes);
  return pointer;
}

QNN_EXPORT void mgpuMemFree(void *pointer, void *) { std::free(pointer); }

QNN_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes, void *) {
  if (sizeBytes)
    std::memmove(dst, src, sizeBytes);
}

QNN_EXPORT void mgpuMemset32(void *dst, unsigned int value, size_t count,
                             void *) {
  auto *words = static_cast<uint32_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    words[i] = value;
}

QNN_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             void *) {
  auto *halves = static_cast<uint16_t *>(dst);
  for (size_t i = 0; i < count; ++i)
    halves[i] = value;
}

QNN_EXPORT void mgpuMemHostRegisterMemRef(int64_t, void *, int64_t) {}
QNN_EXPORT void mgpuMemHostUnregisterMemRef(int64_t, void *, int64_t) {}

QNN_EXPORT void *mgpuTensorMapEncodeTiledMemref(int64_t, void *, int, int, int,
                                                int, int, int64_t *) {
  fatal("TMA descriptors (nvgpu.tma.create.descriptor) are not emulated");
}
