//===- MicrokernelCPU.cpp - Packed-weight micro-kernels per ISA -----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Matmuls and 2-D convolutions with constant weights become loops around a
// register-blocked micro-kernel: weights packed at compile time into panels
// of output channels and k-groups, a `rows x vectors` tile of accumulator
// vectors kept in registers over the whole reduction, and per k-group one
// weight vector per column and one broadcast activation group per row
// multiplied with the target's widest exact instruction (vpdpbusd, vpmaddwd
// or an FMA). Everything is emitted on tensors (scf.for with tensor
// iter_args, vector transfers), so bufferization and the rest of the CPU
// pipeline treat it like the generic strategy's output.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/CPUTarget.h"
#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Linalg/Transforms/Transforms.h"
#include "mlir/Dialect/Linalg/Utils/Utils.h"
#include "mlir/Dialect/Utils/StaticValueUtils.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectResourceBlobManager.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/IR/Matchers.h"
#include "llvm/MC/MCSubtargetInfo.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNMICROKERNELCPUPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// Marks the kernel loop whose iterations write disjoint parts of the
/// output (see qnn-parallelize-cpu).
constexpr StringLiteral kParallelAttrName = "qnn.parallel";

/// The multiply-accumulate instruction a kernel is built on.
enum class MacKind {
  /// vpdpbusd: 4 u8 x s8 products summed into each i32 lane (exact); or,
  /// for depthwise kernels, vpdpwssd: 2 i16 x i16 products.
  Vnni,
  /// vpmaddwd: 2 i16 x i16 products summed into each i32 lane (exact for
  /// operands extended from 8 bits), then an add.
  MaddWd,
  /// vfmadd: one f32 product per lane.
  Fma,
};

/// The instruction sets of the target the kernels are chosen for.
struct TargetISA {
  bool avx512bw = false, avx512vnni = false, avx512f = false, avx2 = false,
       fma = false;
};

/// A micro-kernel's shape: `rows x vectors` accumulator vectors of `lanes`
/// lanes, each multiply-accumulate covering `kGroup` reduction elements.
struct KernelShape {
  MacKind mac;
  int64_t lanes, kGroup, rows, vectors;
  /// The intrinsic of `mac` at this width (none for Fma).
  StringRef intrinsic;
  /// Element type of the packed weights and converted activations.
  Type operandType;
  int64_t panel() const { return lanes * vectors; }
};

/// The body of a multiply-accumulate contraction: `acc + ext(a) * ext(b)`
/// on i8 operands with an i32 accumulator, or `acc + a * b` on f32.
struct MacBody {
  bool isFloat = false;
  /// Per input operand (0, 1): sign-extended (else zero-extended).
  bool isSigned[2] = {true, true};
};

std::optional<MacBody> matchMacBody(linalg::GenericOp op) {
  if (op.getNumDpsInputs() != 2 || op.getNumDpsInits() != 1)
    return std::nullopt;
  Block &body = op.getRegion().front();
  auto yield = cast<linalg::YieldOp>(body.getTerminator());
  Value acc = body.getArgument(2);
  Type accType = acc.getType();
  Operation *add = yield.getValues()[0].getDefiningOp();
  if (!add || add->getNumOperands() != 2)
    return std::nullopt;
  MacBody result;
  if (accType.isF32() && isa<arith::AddFOp>(add)) {
    result.isFloat = true;
  } else if (!accType.isInteger(32) || !isa<arith::AddIOp>(add)) {
    return std::nullopt;
  }
  Value product = add->getOperand(0) == acc   ? add->getOperand(1)
                  : add->getOperand(1) == acc ? add->getOperand(0)
                                              : Value();
  Operation *mul = product ? product.getDefiningOp() : nullptr;
  if (!mul ||
      (result.isFloat ? !isa<arith::MulFOp>(mul) : !isa<arith::MulIOp>(mul)))
    return std::nullopt;
  bool seen[2] = {false, false};
  for (Value factor : mul->getOperands()) {
    Value source = factor;
    bool isSigned = true;
    if (!result.isFloat) {
      if (auto ext = factor.getDefiningOp<arith::ExtSIOp>()) {
        source = ext.getIn();
      } else if (auto ext = factor.getDefiningOp<arith::ExtUIOp>()) {
        source = ext.getIn();
        isSigned = false;
      } else {
        return std::nullopt;
      }
      if (!source.getType().isInteger(8))
        return std::nullopt;
    } else if (!source.getType().isF32()) {
      return std::nullopt;
    }
    auto arg = dyn_cast<BlockArgument>(source);
    if (!arg || arg.getOwner() != &body || arg.getArgNumber() > 1 ||
        seen[arg.getArgNumber()])
      return std::nullopt;
    seen[arg.getArgNumber()] = true;
    result.isSigned[arg.getArgNumber()] = isSigned;
  }
  if (!seen[0] || !seen[1])
    return std::nullopt;
  // Nothing else in the body (the extensions, the product, the sum).
  if (body.getOperations().size() != (result.isFloat ? 3u : 5u))
    return std::nullopt;
  return result;
}

/// The kernel for `body` on `isa`, sized for `channels` output channels,
/// or nullopt where the target has no exact vector kernel for it.
std::optional<KernelShape> chooseKernel(const TargetISA &isa,
                                        const MacBody &body, int64_t channels,
                                        int64_t depthwiseWidth,
                                        MLIRContext *context) {
  bool depthwise = depthwiseWidth > 0;
  KernelShape shape;
  int64_t maxVectors, accumulatorBudget;
  if (depthwise && !body.isFloat) {
    // Each lane is its own channel: no reduction runs along the vector, so
    // the activations are widened to i32 lanes (an i16 pair whose high half
    // the weights' zero cancels) and multiplied with i16 weights, exact for
    // either signedness. vpdpwssd adds in the same instruction.
    if (!isa.avx512bw && !isa.avx2)
      return std::nullopt;
    bool zmm = isa.avx512bw;
    shape.mac = zmm && isa.avx512vnni ? MacKind::Vnni : MacKind::MaddWd;
    shape.lanes = zmm ? 16 : 8;
    shape.kGroup = 2;
    shape.intrinsic = shape.mac == MacKind::Vnni
                          ? "llvm.x86.avx512.vpdpwssd.512"
                      : zmm ? "llvm.x86.avx512.pmaddw.d.512"
                            : "llvm.x86.avx2.pmadd.wd";
    shape.operandType = IntegerType::get(context, 16);
    maxVectors = accumulatorBudget = 0; // Sized below.
  } else if (body.isFloat) {
    if (!isa.avx512f && !(isa.avx2 && isa.fma))
      return std::nullopt;
    shape.mac = MacKind::Fma;
    shape.lanes = isa.avx512f ? 16 : 8;
    shape.kGroup = 1;
    shape.operandType = Float32Type::get(context);
    // 32 zmm: 24 accumulators, 4 weight vectors, a broadcast. 16 ymm:
    // 12 accumulators (the classic 6 x 16 tile), 2 weights, a broadcast.
    maxVectors = isa.avx512f ? 4 : 2;
    accumulatorBudget = isa.avx512f ? 24 : 12;
  } else if (isa.avx512vnni && isa.avx512bw && body.isSigned[1]) {
    shape.mac = MacKind::Vnni;
    shape.lanes = 16;
    shape.kGroup = 4;
    shape.intrinsic = "llvm.x86.avx512.vpdpbusd.512";
    shape.operandType = IntegerType::get(context, 8);
    maxVectors = 4;
    accumulatorBudget = 24;
  } else if (isa.avx512bw || isa.avx2) {
    shape.mac = MacKind::MaddWd;
    shape.lanes = isa.avx512bw ? 16 : 8;
    shape.kGroup = 2;
    shape.intrinsic = isa.avx512bw ? "llvm.x86.avx512.pmaddw.d.512"
                                   : "llvm.x86.avx2.pmadd.wd";
    shape.operandType = IntegerType::get(context, 16);
    // One more register for the product before it is added.
    maxVectors = isa.avx512bw ? 4 : 2;
    accumulatorBudget = isa.avx512bw ? 24 : 10;
  } else {
    return std::nullopt;
  }
  if (depthwise) {
    // Registers hold the accumulators, one weight vector per filter column
    // and vector (each input column read feeds every filter column), the
    // input column, and vpmaddwd's product: at most 2 vectors of channels,
    // and as many output columns as then fit (at least 4 where 2 vectors
    // leave room for them, else 1 vector).
    int64_t registers = shape.lanes * 32 == 512 ? 32 : 16;
    int64_t reserved = shape.mac == MacKind::MaddWd ? 2 : 1;
    shape.vectors =
        std::clamp<int64_t>(llvm::divideCeil(channels, shape.lanes), 1, 2);
    auto rowsFor = [&](int64_t vectors) {
      return (registers - reserved - depthwiseWidth * vectors) / vectors;
    };
    if (shape.vectors > 1 && rowsFor(shape.vectors) < 4)
      shape.vectors = 1;
    shape.rows = std::clamp<int64_t>(rowsFor(shape.vectors), 1, 16);
    return shape;
  }
  shape.vectors = std::clamp<int64_t>(llvm::divideCeil(channels, shape.lanes),
                                      1, maxVectors);
  shape.rows = std::min<int64_t>(12, accumulatorBudget / shape.vectors);
  return shape;
}

FailureOr<TargetISA> getTargetISA(StringRef cpu, StringRef features) {
  llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>> info =
      qnn::createTargetSubtargetInfo(cpu, features);
  if (!info) {
    llvm::consumeError(info.takeError());
    return failure();
  }
  auto has = [&](StringRef name) {
    return (*info)->checkFeatures(("+" + name).str());
  };
  TargetISA isa;
  isa.avx512bw = has("avx512bw");
  isa.avx512vnni = has("avx512vnni");
  isa.avx512f = has("avx512f");
  isa.avx2 = has("avx2");
  isa.fma = has("fma");
  return isa;
}

/// Reads every element of a dense constant as int64 (integers) or double.
struct ConstantValues {
  SmallVector<int64_t> ints;
  SmallVector<float> floats;
};

std::optional<ConstantValues> readConstant(Value value) {
  ElementsAttr attr;
  if (!matchPattern(value, m_Constant(&attr)))
    return std::nullopt;
  Type element = attr.getElementType();
  if (!element.isF32() && !element.isInteger(8))
    return std::nullopt;
  ConstantValues values;
  if (auto dense = dyn_cast<DenseElementsAttr>(attr)) {
    if (element.isF32())
      llvm::append_range(values.floats, dense.getValues<float>());
    else
      llvm::append_range(values.ints, dense.getValues<int8_t>());
    return values;
  }
  // Weights imported from ONNX live in resource blobs: raw little-endian
  // elements.
  auto resource = dyn_cast<DenseResourceElementsAttr>(attr);
  AsmResourceBlob *blob =
      resource ? resource.getRawHandle().getBlob() : nullptr;
  if (!blob)
    return std::nullopt;
  ArrayRef<char> data = blob->getData();
  int64_t count = cast<ShapedType>(attr.getType()).getNumElements();
  if (static_cast<int64_t>(data.size()) !=
      count * static_cast<int64_t>(element.isF32() ? 4 : 1))
    return std::nullopt;
  if (element.isF32()) {
    values.floats.resize(count);
    std::memcpy(values.floats.data(), data.data(), data.size());
  } else {
    for (char byte : data)
      values.ints.push_back(static_cast<int8_t>(byte));
  }
  return values;
}

/// How a contraction maps onto the kernel loops: `outer` parallel loops
/// around it (a convolution's batch and output row), the tile rows (a
/// matmul's m, a convolution's output column), `taps` reduction loops
/// outside the k-groups (a convolution's filter row and column), and the
/// grouped reduction (k, input channels) of `depth` elements.
struct ContractionLayout {
  SmallVector<int64_t> outer;
  int64_t rows = 0;
  SmallVector<int64_t> taps;
  int64_t depth = 0;
  int64_t channels = 0;
  /// A depthwise convolution: each output channel reads its own input
  /// channel (a vector of channels, not a broadcast group), and `depth` is
  /// 1. Its `activationIndices` take the filter row and the input column
  /// relative to the tile's first (`row * columnStride`) as `taps`;
  /// filter column `kw` of output row `r` reads input column
  /// `r * columnStride + kw * columnDilation`.
  bool depthwise = false;
  int64_t columnStride = 1, columnDilation = 1;
  /// Weight element (as read from the constant, row-major) of output
  /// channel `n`, tap `t` (linearized) and reduction element `k`.
  std::function<int64_t(int64_t n, int64_t t, int64_t k)> weightIndex;
  /// Indices of the activation group start for outer ivs, row, tap ivs and
  /// reduction offset (the activation's last dimension is the reduction).
  std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange, Value,
                                   ValueRange, Value)>
      activationIndices;
  /// Indices into the accumulator tensor for outer ivs, row and channel.
  std::function<SmallVector<Value>(OpBuilder &, Location, ValueRange, Value,
                                   Value)>
      outputIndices;
  /// Set for a convolution whose filter columns read consecutive input
  /// columns (no column dilation): switches the layout to one whose
  /// reduction runs over (filter column, input channel) together, one
  /// contiguous run of the input row, with the filter rows as the only
  /// taps. Worth it where few input channels would leave most of each
  /// k-group zero (a network's first convolution, on one or three
  /// channels: 9 vpdpbusd of one useful byte in four per output become 3).
  std::function<void(ContractionLayout &)> foldFilterColumns;
  /// The activation is read as one flat tensor (folded filter columns):
  /// `activationIndices` gives its one index.
  bool flatActivation = false;
};

/// Whether folding `layout`'s filter columns into the reduction needs fewer
/// k-groups of `kGroup` per output than one group run per filter column.
bool shouldFoldFilterColumns(const ContractionLayout &layout, int64_t kGroup) {
  if (!layout.foldFilterColumns || layout.taps.size() != 2)
    return false;
  int64_t width = layout.taps[1];
  return llvm::divideCeil(width * layout.depth, kGroup) <
         width * llvm::divideCeil(layout.depth, kGroup);
}

Value indexConstant(OpBuilder &b, Location loc, int64_t value) {
  return arith::ConstantIndexOp::create(b, loc, value);
}

Value affine(OpBuilder &b, Location loc, Value x, int64_t scale, Value y,
             int64_t yScale) {
  Value result = x;
  if (scale != 1)
    result =
        arith::MulIOp::create(b, loc, result, indexConstant(b, loc, scale));
  if (y) {
    Value term = y;
    if (yScale != 1)
      term = arith::MulIOp::create(b, loc, term, indexConstant(b, loc, yScale));
    result = arith::AddIOp::create(b, loc, result, term);
  }
  return result;
}

/// Where the accumulators start: the init tensor, a splat (linalg.fill) or
/// a per-channel vector (the broadcast of a bias), read in the kernel
/// instead of from a materialized tensor.
struct AccumulatorInit {
  enum Kind { Tensor, Splat, PerChannel } kind = Tensor;
  /// The init tensor, the fill's scalar, or the 1-D bias.
  Value value;
  /// For Splat and PerChannel: the tensor the fill or broadcast writes
  /// into. The kernel writes every output element, so it stores there and
  /// the fill (a pass over the whole output) goes away.
  Value destination;
};

/// An elementwise consumer of the contraction's result (the requantization,
/// a bias add, an activation) computed on the accumulator registers before
/// the store: its other inputs are per-channel vectors, scalars, or tensors
/// of the output's shape.
struct Epilogue {
  linalg::GenericOp consumer;
  /// The consumer's input that is the contraction's result.
  unsigned accumulatorInput = 0;
  enum Kind { Full, PerChannel, Scalar };
  /// Per consumer input: how it is read, and the (collapsed) value.
  SmallVector<std::pair<Kind, Value>> inputs;
  /// The consumer's output tensor (collapsed like the contraction's).
  Value output;
};

/// The kernel emitter for one contraction.
struct KernelEmitter {
  OpBuilder &b;
  Location loc;
  const KernelShape &shape;
  const ContractionLayout &layout;
  Value activation, weights, compensation;
  Type accType;
  bool columnsInBounds;
  /// Whether the activations are signed (depthwise kernels widen them).
  bool activationSigned;
  /// The declaration of the kernel's LLVM intrinsic (none for Fma).
  func::FuncOp intrinsic;
  AccumulatorInit init;
  /// The fused elementwise consumer, if any.
  const Epilogue *epilogue = nullptr;

  /// Reads `source` (a tensor of the output's shape) at `indices` as a
  /// vector of `lanes` of its element type.
  Value readRow(Value source, ValueRange indices) {
    Type element = getElementTypeOrSelf(source.getType());
    Value padding = arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(b.getZeroAttr(element)));
    return vector::TransferReadOp::create(
        b, loc, VectorType::get({shape.lanes}, element), source, indices,
        padding, ArrayRef<bool>{columnsInBounds});
  }

  /// The consumer's body on the vector `acc` of output (row, column).
  Value applyEpilogue(Value acc, ValueRange outer, Value row, Value column) {
    Block &body =
        const_cast<linalg::GenericOp &>(epilogue->consumer).getRegion().front();
    IRMapping mapping;
    auto vectorOf = [&](Type type) {
      return VectorType::get({shape.lanes}, type);
    };
    for (auto [index, input] : llvm::enumerate(epilogue->inputs)) {
      auto [kind, value] = input;
      Value vector;
      if (index == epilogue->accumulatorInput) {
        vector = acc;
      } else if (kind == Epilogue::Full) {
        vector =
            readRow(value, layout.outputIndices(b, loc, outer, row, column));
      } else if (kind == Epilogue::PerChannel) {
        vector = readRow(value, ValueRange{column});
      } else {
        Value scalar = tensor::ExtractOp::create(b, loc, value, ValueRange{});
        vector = vector::BroadcastOp::create(b, loc, vectorOf(scalar.getType()),
                                             scalar);
      }
      mapping.map(body.getArgument(index), vector);
    }
    auto lookup = [&](Value value) -> Value {
      if (Value mapped = mapping.lookupOrNull(value))
        return mapped;
      // Defined outside the body: a scalar broadcast to every lane.
      Value splat =
          vector::BroadcastOp::create(b, loc, vectorOf(value.getType()), value);
      mapping.map(value, splat);
      return splat;
    };
    for (Operation &op : body.without_terminator()) {
      if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
        auto type = vectorOf(constant.getType());
        mapping.map(constant.getResult(),
                    arith::ConstantOp::create(
                        b, loc, type,
                        SplatElementsAttr::get(type, constant.getValue())));
        continue;
      }
      for (Value operand : op.getOperands())
        lookup(operand);
      Operation *clone = b.clone(op, mapping);
      for (OpResult result : clone->getResults())
        result.setType(vectorOf(result.getType()));
    }
    return lookup(cast<linalg::YieldOp>(body.getTerminator()).getValues()[0]);
  }

  int64_t numTaps() const {
    int64_t taps = 1;
    for (int64_t extent : layout.taps)
      taps *= extent;
    return taps;
  }
  int64_t kGroups() const {
    return llvm::divideCeil(layout.depth, shape.kGroup);
  }

  VectorType accVectorType() const {
    return VectorType::get({shape.lanes}, accType);
  }

  /// The activation group of one row, broadcast to every lane.
  Value loadActivation(ValueRange outer, Value row, ValueRange taps,
                       Value group) {
    Value offset = affine(b, loc, group, shape.kGroup, Value(), 0);
    SmallVector<Value> indices =
        layout.activationIndices(b, loc, outer, row, taps, offset);
    if (shape.mac == MacKind::Fma) {
      Value scalar = tensor::ExtractOp::create(b, loc, activation, indices);
      return vector::BroadcastOp::create(b, loc, accVectorType(), scalar);
    }
    // A group is 32 bits: read it, broadcast it as one i32 per lane, and
    // view the lanes as the kernel's operand vector.
    auto groupType = VectorType::get({shape.kGroup}, shape.operandType);
    Value padding = arith::ConstantOp::create(
        b, loc, b.getIntegerAttr(shape.operandType, 0));
    Value read = vector::TransferReadOp::create(
        b, loc, groupType, activation, indices, padding, ArrayRef<bool>{true});
    Type i32 = b.getI32Type();
    Value word =
        vector::BitCastOp::create(b, loc, VectorType::get({1}, i32), read);
    Value splat = vector::BroadcastOp::create(
        b, loc, VectorType::get({shape.lanes}, i32), word);
    return vector::BitCastOp::create(
        b, loc,
        VectorType::get({shape.lanes * shape.kGroup}, shape.operandType),
        splat);
  }

  /// A depthwise kernel's activations at channels `column` (`taps`: filter
  /// row and input column offset, see ContractionLayout::depthwise):
  /// f32 lanes, or i8 widened to i32 lanes seen as i16 pairs (the value,
  /// then its sign or zero, which meets a zero weight).
  Value loadChannels(ValueRange outer, Value row, ValueRange taps,
                     Value column) {
    SmallVector<Value> indices =
        layout.activationIndices(b, loc, outer, row, taps, column);
    Type element = getElementTypeOrSelf(activation.getType());
    Value padding = arith::ConstantOp::create(
        b, loc, cast<TypedAttr>(b.getZeroAttr(element)));
    Value read = vector::TransferReadOp::create(
        b, loc, VectorType::get({shape.lanes}, element), activation, indices,
        padding, ArrayRef<bool>{columnsInBounds});
    if (shape.mac == MacKind::Fma)
      return read;
    auto wide = VectorType::get({shape.lanes}, b.getI32Type());
    Value widened =
        activationSigned
            ? arith::ExtSIOp::create(b, loc, wide, read).getResult()
            : arith::ExtUIOp::create(b, loc, wide, read).getResult();
    return vector::BitCastOp::create(
        b, loc, VectorType::get({shape.lanes * 2}, shape.operandType), widened);
  }

  Value multiplyAccumulate(Value acc, Value a, Value w) {
    switch (shape.mac) {
    case MacKind::Fma:
      return vector::FMAOp::create(b, loc, a, w, acc);
    case MacKind::Vnni:
      return func::CallOp::create(b, loc, intrinsic, ValueRange{acc, a, w})
          .getResult(0);
    case MacKind::MaddWd: {
      Value pairs = func::CallOp::create(b, loc, intrinsic, ValueRange{a, w})
                        .getResult(0);
      return arith::AddIOp::create(b, loc, acc, pairs);
    }
    }
    llvm_unreachable("unknown MacKind");
  }

  /// One k-group step of a `rows`-row tile.
  SmallVector<Value> step(ValueRange outer, Value row0, int64_t rows,
                          Value panel, ValueRange taps, Value tapLinear,
                          Value group, ValueRange accs) {
    Value packedRow = affine(b, loc, tapLinear, kGroups(), group, 1);
    auto weightType =
        VectorType::get({shape.lanes * shape.kGroup}, shape.operandType);
    Value zero = shape.mac == MacKind::Fma
                     ? arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))
                           .getResult()
                     : arith::ConstantOp::create(
                           b, loc, b.getIntegerAttr(shape.operandType, 0))
                           .getResult();
    SmallVector<Value> w;
    for (int64_t j = 0; j < shape.vectors; ++j)
      w.push_back(vector::TransferReadOp::create(
          b, loc, weightType, weights,
          ValueRange{panel, packedRow,
                     indexConstant(b, loc, j * shape.lanes * shape.kGroup)},
          zero, ArrayRef<bool>{true}));
    SmallVector<Value> next(accs.begin(), accs.end());
    for (int64_t r = 0; r < rows; ++r) {
      Value row = affine(b, loc, row0, 1, indexConstant(b, loc, r), 1);
      Value a = loadActivation(outer, row, taps, group);
      for (int64_t j = 0; j < shape.vectors; ++j)
        next[r * shape.vectors + j] =
            multiplyAccumulate(next[r * shape.vectors + j], a, w[j]);
    }
    return next;
  }

  /// A depthwise tile's reduction: a loop over filter rows; in it, each
  /// input column the tile's rows read is loaded (and widened) once and
  /// multiplied with every filter column that meets it, the filter row's
  /// weights staying in registers.
  SmallVector<Value> reduceDepthwise(ValueRange outer, Value row0, int64_t rows,
                                     Value panel, ValueRange accs) {
    int64_t width = layout.taps[1];
    int64_t stride = layout.columnStride, dilation = layout.columnDilation;
    auto forOp = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, layout.taps[0]),
        indexConstant(b, loc, 1), accs,
        [&](OpBuilder &, Location, Value kh, ValueRange args) {
          auto weightType =
              VectorType::get({shape.lanes * shape.kGroup}, shape.operandType);
          Value zero = arith::ConstantOp::create(
              b, loc, cast<TypedAttr>(b.getZeroAttr(shape.operandType)));
          // w[kw][j]: packed row kh * width + kw.
          SmallVector<SmallVector<Value>> w(width);
          for (int64_t kw = 0; kw < width; ++kw) {
            Value packedRow =
                affine(b, loc, kh, width, indexConstant(b, loc, kw), 1);
            for (int64_t j = 0; j < shape.vectors; ++j)
              w[kw].push_back(vector::TransferReadOp::create(
                  b, loc, weightType, weights,
                  ValueRange{
                      panel, packedRow,
                      indexConstant(b, loc, j * shape.lanes * shape.kGroup)},
                  zero, ArrayRef<bool>{true}));
          }
          SmallVector<Value> next(args.begin(), args.end());
          int64_t columns = (rows - 1) * stride + (width - 1) * dilation + 1;
          for (int64_t c = 0; c < columns; ++c) {
            SmallVector<std::pair<int64_t, int64_t>> users; // (r, kw)
            for (int64_t kw = 0; kw < width; ++kw) {
              int64_t offset = c - kw * dilation;
              if (offset >= 0 && offset % stride == 0 && offset / stride < rows)
                users.push_back({offset / stride, kw});
            }
            if (users.empty())
              continue;
            Value taps[2] = {kh, indexConstant(b, loc, c)};
            for (int64_t j = 0; j < shape.vectors; ++j) {
              Value column = affine(b, loc, panel, shape.panel(),
                                    indexConstant(b, loc, j * shape.lanes), 1);
              Value a = loadChannels(outer, row0, taps, column);
              for (auto [r, kw] : users)
                next[r * shape.vectors + j] = multiplyAccumulate(
                    next[r * shape.vectors + j], a, w[kw][j]);
            }
          }
          scf::YieldOp::create(b, loc, next);
        });
    return SmallVector<Value>(forOp.getResults());
  }

  /// The reduction loops (taps, then k-groups) of a tile.
  SmallVector<Value> reduce(ValueRange outer, Value row0, int64_t rows,
                            Value panel, ValueRange accs) {
    SmallVector<Value> tapIvs;
    std::function<SmallVector<Value>(unsigned, Value, ValueRange)> loop =
        [&](unsigned level, Value tapLinear,
            ValueRange iterArgs) -> SmallVector<Value> {
      bool groups = level == layout.taps.size();
      int64_t extent = groups ? kGroups() : layout.taps[level];
      auto forOp = scf::ForOp::create(
          b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, extent),
          indexConstant(b, loc, 1), iterArgs,
          [&](OpBuilder &, Location, Value iv, ValueRange args) {
            SmallVector<Value> results;
            if (groups) {
              results =
                  step(outer, row0, rows, panel, tapIvs, tapLinear, iv, args);
            } else {
              tapIvs.push_back(iv);
              Value linear = affine(b, loc, tapLinear, extent, iv, 1);
              results = loop(level + 1, linear, args);
              tapIvs.pop_back();
            }
            scf::YieldOp::create(b, loc, results);
          });
      return SmallVector<Value>(forOp.getResults());
    };
    return loop(0, indexConstant(b, loc, 0), accs);
  }

  /// One tile of `rows` rows at `row0`: init, reduction, store into `out`.
  Value tile(ValueRange outer, Value row0, int64_t rows, Value panel,
             Value out) {
    Value panelStart = affine(b, loc, panel, shape.panel(), Value(), 0);
    Value padding =
        accType.isF32()
            ? arith::ConstantOp::create(b, loc, b.getF32FloatAttr(0))
                  .getResult()
            : arith::ConstantOp::create(b, loc, b.getI32IntegerAttr(0))
                  .getResult();
    SmallVector<Value> accs, columns;
    for (int64_t j = 0; j < shape.vectors; ++j)
      columns.push_back(affine(b, loc, panelStart, 1,
                               indexConstant(b, loc, j * shape.lanes), 1));
    SmallVector<Value> corrections;
    if (compensation)
      for (int64_t j = 0; j < shape.vectors; ++j)
        corrections.push_back(vector::TransferReadOp::create(
            b, loc, accVectorType(), compensation, ValueRange{columns[j]},
            padding, ArrayRef<bool>{true}));
    // Without an epilogue the accumulators are stored where they started
    // (the loop-carried init tensor); with one, the init is only read.
    Value initTensor = epilogue ? init.value : out;
    SmallVector<Value> perChannel;
    for (int64_t j = 0; j < shape.vectors; ++j) {
      if (init.kind == AccumulatorInit::PerChannel)
        perChannel.push_back(readRow(init.value, ValueRange{columns[j]}));
      else if (init.kind == AccumulatorInit::Splat)
        perChannel.push_back(
            vector::BroadcastOp::create(b, loc, accVectorType(), init.value));
      if (compensation && !perChannel.empty())
        perChannel.back() =
            arith::AddIOp::create(b, loc, perChannel.back(), corrections[j]);
    }
    for (int64_t r = 0; r < rows; ++r) {
      Value row = affine(b, loc, row0, 1, indexConstant(b, loc, r), 1);
      for (int64_t j = 0; j < shape.vectors; ++j) {
        if (!perChannel.empty()) {
          accs.push_back(perChannel[j]);
          continue;
        }
        SmallVector<Value> indices =
            layout.outputIndices(b, loc, outer, row, columns[j]);
        Value acc = vector::TransferReadOp::create(
            b, loc, accVectorType(), initTensor, indices, padding,
            ArrayRef<bool>{columnsInBounds});
        if (compensation)
          acc = arith::AddIOp::create(b, loc, acc, corrections[j]);
        accs.push_back(acc);
      }
    }
    SmallVector<Value> sums =
        layout.depthwise ? reduceDepthwise(outer, row0, rows, panel, accs)
                         : reduce(outer, row0, rows, panel, accs);
    for (int64_t r = 0; r < rows; ++r) {
      Value row = affine(b, loc, row0, 1, indexConstant(b, loc, r), 1);
      for (int64_t j = 0; j < shape.vectors; ++j) {
        SmallVector<Value> indices =
            layout.outputIndices(b, loc, outer, row, columns[j]);
        Value result = sums[r * shape.vectors + j];
        if (epilogue)
          result = applyEpilogue(result, outer, row, columns[j]);
        out = vector::TransferWriteOp::create(b, loc, result, out, indices,
                                              ArrayRef<bool>{columnsInBounds})
                  .getResult();
      }
    }
    return out;
  }

  /// Panels outermost (a weight panel stays in cache), then the outer
  /// parallel loops, then tiles of rows, with a smaller last tile.
  Value emit(Value init) {
    int64_t panels = llvm::divideCeil(layout.channels, shape.panel());
    int64_t fullRows = layout.rows / shape.rows * shape.rows;
    int64_t remainder = layout.rows - fullRows;
    // The loop whose iterations may run on different threads (each writes
    // its own part of the output): panels if there are several, else the
    // first outer loop (batch, output row) with several iterations, else
    // the tiles of rows. qnn-parallelize-cpu reads the mark after
    // bufferization.
    int64_t parallelLevel = static_cast<int64_t>(layout.outer.size());
    if (panels > 1) {
      parallelLevel = -1;
    } else {
      for (auto [level, extent] : llvm::enumerate(layout.outer))
        if (extent > 1) {
          parallelLevel = level;
          break;
        }
    }
    auto mark = [&](scf::ForOp loop, int64_t level) {
      if (level == parallelLevel)
        loop->setAttr(kParallelAttrName, b.getUnitAttr());
    };
    SmallVector<Value> outerIvs;
    std::function<Value(unsigned, Value, Value)> outerLoop =
        [&](unsigned level, Value panel, Value out) -> Value {
      if (level == layout.outer.size()) {
        if (fullRows > 0) {
          auto rowLoop = scf::ForOp::create(
              b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, fullRows),
              indexConstant(b, loc, shape.rows), ValueRange{out},
              [&](OpBuilder &, Location, Value row0, ValueRange args) {
                scf::YieldOp::create(
                    b, loc, tile(outerIvs, row0, shape.rows, panel, args[0]));
              });
          mark(rowLoop, layout.outer.size());
          out = rowLoop.getResult(0);
        }
        if (remainder > 0)
          out = tile(outerIvs, indexConstant(b, loc, fullRows), remainder,
                     panel, out);
        return out;
      }
      auto forOp = scf::ForOp::create(
          b, loc, indexConstant(b, loc, 0),
          indexConstant(b, loc, layout.outer[level]), indexConstant(b, loc, 1),
          ValueRange{out},
          [&](OpBuilder &, Location, Value iv, ValueRange args) {
            outerIvs.push_back(iv);
            Value result = outerLoop(level + 1, panel, args[0]);
            outerIvs.pop_back();
            scf::YieldOp::create(b, loc, result);
          });
      mark(forOp, level);
      return forOp.getResult(0);
    };
    auto panelLoop = scf::ForOp::create(
        b, loc, indexConstant(b, loc, 0), indexConstant(b, loc, panels),
        indexConstant(b, loc, 1), ValueRange{init},
        [&](OpBuilder &, Location, Value panel, ValueRange args) {
          scf::YieldOp::create(b, loc, outerLoop(0, panel, args[0]));
        });
    mark(panelLoop, -1);
    return panelLoop.getResult(0);
  }
};

/// The packed weights `[panel][tap * k-group][channel-in-panel * kGroup +
/// k-in-group]`, zero-padded, in the kernel's operand type; and for vpdpbusd
/// with signed activations, `-128 * sum(w)` per (padded) output channel.
std::pair<DenseElementsAttr, DenseElementsAttr>
packWeights(const KernelShape &shape, const ContractionLayout &layout,
            const ConstantValues &values, bool weightsSigned,
            bool shiftActivations, MLIRContext *context) {
  int64_t panels = llvm::divideCeil(layout.channels, shape.panel());
  int64_t taps = 1;
  for (int64_t extent : layout.taps)
    taps *= extent;
  int64_t groups = llvm::divideCeil(layout.depth, shape.kGroup);
  int64_t rowLength = shape.panel() * shape.kGroup;
  auto type = RankedTensorType::get({panels, taps * groups, rowLength},
                                    shape.operandType);
  int64_t total = type.getNumElements();
  SmallVector<int32_t> compensation(panels * shape.panel(), 0);
  auto forEach = [&](auto &&store) {
    for (int64_t p = 0; p < panels; ++p)
      for (int64_t t = 0; t < taps; ++t)
        for (int64_t g = 0; g < groups; ++g)
          for (int64_t c = 0; c < shape.panel(); ++c)
            for (int64_t e = 0; e < shape.kGroup; ++e) {
              int64_t n = p * shape.panel() + c, k = g * shape.kGroup + e;
              int64_t at = ((p * taps + t) * groups + g) * rowLength +
                           c * shape.kGroup + e;
              bool inside = n < layout.channels && k < layout.depth;
              store(at, n, inside ? layout.weightIndex(n, t, k) : -1);
            }
  };
  DenseElementsAttr packed;
  if (shape.mac == MacKind::Fma) {
    std::vector<float> data(total, 0.0f);
    forEach([&](int64_t at, int64_t, int64_t from) {
      if (from >= 0)
        data[at] = values.floats[from];
    });
    packed = DenseElementsAttr::get(type, ArrayRef<float>(data));
  } else {
    auto value = [&](int64_t from) -> int64_t {
      int64_t v = values.ints[from];
      return weightsSigned ? v : static_cast<int64_t>(static_cast<uint8_t>(v));
    };
    if (shape.operandType.isInteger(8)) {
      std::vector<int8_t> data(total, 0);
      forEach([&](int64_t at, int64_t n, int64_t from) {
        if (from < 0)
          return;
        data[at] = static_cast<int8_t>(value(from));
        compensation[n] -= 128 * value(from);
      });
      packed = DenseElementsAttr::get(type, ArrayRef<int8_t>(data));
    } else {
      std::vector<int16_t> data(total, 0);
      forEach([&](int64_t at, int64_t, int64_t from) {
        if (from >= 0)
          data[at] = static_cast<int16_t>(value(from));
      });
      packed = DenseElementsAttr::get(type, ArrayRef<int16_t>(data));
    }
  }
  DenseElementsAttr correction;
  if (shiftActivations)
    correction = DenseElementsAttr::get(
        RankedTensorType::get({static_cast<int64_t>(compensation.size())},
                              IntegerType::get(context, 32)),
        ArrayRef<int32_t>(compensation));
  return {packed, correction};
}

/// The activations as the kernel reads them: reduction (last) dimension
/// zero-padded to whole k-groups (or, read flat, by the zeros the last
/// output's last k-group reads past the end), shifted to u8 for vpdpbusd
/// if signed, or extended to i16 for vpmaddwd.
Value convertActivations(OpBuilder &b, Location loc, Value activation,
                         const KernelShape &shape,
                         const ContractionLayout &layout, bool isSigned) {
  auto type = cast<RankedTensorType>(activation.getType());
  if (layout.flatActivation) {
    ReassociationIndices all;
    for (int64_t i = 0; i < type.getRank(); ++i)
      all.push_back(i);
    activation = tensor::CollapseShapeOp::create(
        b, loc, activation, ArrayRef<ReassociationIndices>{all});
    type = cast<RankedTensorType>(activation.getType());
  }
  int64_t last = type.getShape().back();
  int64_t extra = layout.flatActivation
                      ? llvm::alignTo(layout.depth, shape.kGroup) - layout.depth
                      : llvm::alignTo(last, shape.kGroup) - last;
  if (extra != 0) {
    // A fill and an insert rather than a tensor.pad: the fill is then
    // vectorized with the rest (a pad would bufferize to scalar loops).
    SmallVector<int64_t> shapeDims(type.getShape());
    shapeDims.back() += extra;
    Value zero =
        arith::ConstantOp::create(b, loc, b.getZeroAttr(type.getElementType()));
    Value empty =
        tensor::EmptyOp::create(b, loc, shapeDims, type.getElementType());
    Value filled = linalg::FillOp::create(b, loc, zero, empty).getResult(0);
    SmallVector<int64_t> offsets(type.getRank(), 0), strides(type.getRank(), 1);
    activation = tensor::InsertSliceOp::create(
        b, loc, activation, filled, ValueRange{}, ValueRange{}, ValueRange{},
        offsets, type.getShape(), strides);
    type = cast<RankedTensorType>(activation.getType());
  }
  bool shift = shape.mac == MacKind::Vnni && isSigned;
  bool extend = shape.mac == MacKind::MaddWd;
  if (!shift && !extend)
    return activation;
  Type resultElement = extend ? shape.operandType : type.getElementType();
  Value empty = tensor::EmptyOp::create(b, loc, type.getShape(), resultElement);
  AffineMap identity = b.getMultiDimIdentityMap(type.getRank());
  SmallVector<utils::IteratorType> parallel(type.getRank(),
                                            utils::IteratorType::parallel);
  auto generic = linalg::GenericOp::create(
      b, loc, empty.getType(), ValueRange{activation}, ValueRange{empty},
      ArrayRef<AffineMap>{identity, identity}, parallel,
      [&](OpBuilder &nb, Location nloc, ValueRange args) {
        Value result;
        if (shift) {
          Value bias = arith::ConstantOp::create(
              nb, nloc, nb.getIntegerAttr(type.getElementType(), -128));
          result = arith::XOrIOp::create(nb, nloc, args[0], bias);
        } else if (isSigned) {
          result = arith::ExtSIOp::create(nb, nloc, resultElement, args[0]);
        } else {
          result = arith::ExtUIOp::create(nb, nloc, resultElement, args[0]);
        }
        linalg::YieldOp::create(nb, nloc, result);
      });
  return generic.getResult(0);
}

struct MicrokernelCPUPass
    : public qnn::impl::QNNMicrokernelCPUPassBase<MicrokernelCPUPass> {
  using Base::Base;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (llvm::Error error = qnn::verifyCPUTargetNames(cpu, features)) {
      // About an option, not an op: no op is printed with it.
      mlir::emitError(module.getLoc())
          << "qnn-microkernel-cpu: " << llvm::toString(std::move(error));
      return signalPassFailure();
    }
    FailureOr<TargetISA> isa = getTargetISA(cpu, features);
    if (failed(isa)) {
      emitError(module.getLoc())
          << "qnn-microkernel-cpu: cannot describe CPU '" << cpu
          << "' with features '" << features << "'";
      return signalPassFailure();
    }
    SmallVector<linalg::LinalgOp> candidates;
    module.walk([&](linalg::LinalgOp op) {
      if (op.getNumReductionLoops() > 0)
        candidates.push_back(op);
    });
    for (linalg::LinalgOp op : candidates)
      rewrite(op, *isa);
  }

  /// A private declaration of the LLVM intrinsic `shape` multiplies with,
  /// called with func.call: LLVM knows an intrinsic by its name, and a call
  /// (unlike llvm.call_intrinsic) has the side effects bufferization and
  /// buffer deallocation can reason about.
  func::FuncOp declareIntrinsic(const KernelShape &shape) {
    ModuleOp module = getOperation();
    if (auto existing = module.lookupSymbol<func::FuncOp>(shape.intrinsic))
      return existing;
    MLIRContext *context = &getContext();
    auto accType =
        VectorType::get({shape.lanes}, IntegerType::get(context, 32));
    auto operandType =
        VectorType::get({shape.lanes * shape.kGroup}, shape.operandType);
    SmallVector<Type> inputs;
    if (shape.mac == MacKind::Vnni)
      inputs.push_back(accType);
    inputs.append({operandType, operandType});
    OpBuilder builder = OpBuilder::atBlockEnd(module.getBody());
    auto declaration =
        func::FuncOp::create(builder, module.getLoc(), shape.intrinsic,
                             FunctionType::get(context, inputs, {accType}));
    declaration.setPrivate();
    return declaration;
  }

  /// Rewrites `op` if it is a contraction the kernels cover; else leaves it
  /// with a remark.
  void rewrite(linalg::LinalgOp op, const TargetISA &target) {
    IRRewriter rewriter(&getContext());
    rewriter.setInsertionPoint(op);
    // The op the remark is about (the generalized one, once it is).
    Operation *current = op;
    auto remark = [&](StringRef why) {
      current->emitRemark() << "qnn-microkernel-cpu: left to the generic "
                               "strategy: "
                            << why;
    };
    // Other reductions (pooling, sums) are not contractions of this kind:
    // no remark.
    auto generic = dyn_cast<linalg::GenericOp>(op.getOperation());
    bool named =
        isa<linalg::MatmulOp, linalg::Conv2DNhwcHwcfOp,
            linalg::Conv2DNhwcFhwcOp, linalg::DepthwiseConv2DNhwcHwcOp>(
            op.getOperation());
    if ((!generic || !matchMacBody(generic)) && !named)
      return;
    if (!op.hasPureTensorSemantics() || op.hasDynamicShape())
      return remark("its shapes are dynamic or it works on buffers");
    // Checked before a named op is generalized, so that one left alone
    // stays as it was.
    Type weightElement =
        getElementTypeOrSelf(op.getDpsInputOperand(1)->get().getType());
    if (isa<FloatType>(weightElement) && !weightElement.isF32()) {
      std::string type;
      llvm::raw_string_ostream(type) << weightElement;
      return remark("its weights are " + type +
                    " (the kernels take integers and f32)");
    }
    std::optional<ConstantValues> weights =
        readConstant(op.getDpsInputOperand(1)->get());
    if (!weights)
      return remark("its weights (second operand) are not a dense constant");
    if (named) {
      FailureOr<linalg::GenericOp> generalized =
          linalg::generalizeNamedOp(rewriter, op);
      if (failed(generalized))
        return remark("cannot generalize it");
      generic = *generalized;
      current = generic;
    }
    std::optional<MacBody> body = matchMacBody(generic);
    if (!body)
      return remark("its body is not acc + ext(a) * ext(b) on i8 with an i32 "
                    "accumulator, nor acc + a * b on f32");
    Location loc = generic.getLoc();
    Value activation = generic.getDpsInputOperand(0)->get();
    Value init = generic.getDpsInitOperand(0)->get();
    auto resultType = cast<RankedTensorType>(generic.getResultTypes()[0]);

    ContractionLayout layout;
    SmallVector<AffineMap> maps = generic.getIndexingMapsArray();
    auto weightType =
        cast<RankedTensorType>(generic.getDpsInputOperand(1)->get().getType());
    SmallVector<int64_t> ranges = generic.getStaticLoopRanges();
    Value collapsedInit = init;
    SmallVector<ReassociationIndices> outputGroups;
    if (!matchMatmul(generic, maps, ranges, weightType, layout, rewriter,
                     activation, collapsedInit, outputGroups) &&
        !matchConvolution(generic, maps, ranges, weightType, layout))
      return remark("it is neither a matmul (maps (m..., k), (k, n) or (n, "
                    "k), (m..., n)) nor a 2-D NHWC convolution, regular or "
                    "depthwise");

    std::optional<KernelShape> shape =
        chooseKernel(target, *body, layout.channels,
                     layout.depthwise ? layout.taps[1] : 0, &getContext());
    if (!shape)
      return remark(body->isFloat
                        ? "the target has neither AVX-512 nor AVX2 with FMA"
                        : "the target has neither AVX-512 BW nor AVX2, or "
                          "its weights are unsigned (vpdpbusd takes s8)");

    if (!layout.depthwise && shouldFoldFilterColumns(layout, shape->kGroup))
      layout.foldFilterColumns(layout);

    AccumulatorInit start = findAccumulatorInit(generic, layout.channels);
    if (start.kind == AccumulatorInit::Tensor)
      start.value = collapsedInit;
    Epilogue epilogue;
    bool fused = findEpilogue(generic, outputGroups, rewriter, epilogue);
    if (fused)
      rewriter.setInsertionPoint(epilogue.consumer);

    bool shift =
        shape->mac == MacKind::Vnni && body->isSigned[0] && !layout.depthwise;
    auto [packed, correction] = packWeights(
        *shape, layout, *weights, body->isSigned[1], shift, &getContext());
    Value packedWeights = arith::ConstantOp::create(rewriter, loc, packed);
    Value compensation;
    if (correction)
      compensation = arith::ConstantOp::create(rewriter, loc, correction);
    // A depthwise kernel widens its activations where it reads them.
    Value converted =
        layout.depthwise ? activation
                         : convertActivations(rewriter, loc, activation, *shape,
                                              layout, body->isSigned[0]);
    func::FuncOp intrinsic;
    if (shape->mac != MacKind::Fma)
      intrinsic = declareIntrinsic(*shape);
    KernelEmitter emitter{rewriter,
                          loc,
                          *shape,
                          layout,
                          converted,
                          packedWeights,
                          compensation,
                          resultType.getElementType(),
                          layout.channels % shape->panel() == 0,
                          body->isSigned[0],
                          intrinsic,
                          start,
                          fused ? &epilogue : nullptr};
    Value destination = collapsedInit;
    if (fused) {
      destination = epilogue.output;
    } else if (start.kind != AccumulatorInit::Tensor) {
      destination = start.destination;
      if (!outputGroups.empty())
        destination = tensor::CollapseShapeOp::create(
            rewriter, loc, destination, outputGroups);
    }
    Value result = emitter.emit(destination);
    Operation *replaced =
        fused ? epilogue.consumer.getOperation() : generic.getOperation();
    if (!outputGroups.empty())
      result = tensor::ExpandShapeOp::create(rewriter, loc,
                                             replaced->getResult(0).getType(),
                                             result, outputGroups);
    rewriter.replaceOp(replaced, result);
    if (fused)
      rewriter.eraseOp(generic);
  }

  /// The accumulators' start: a fill's scalar, the 1-D bias a generic
  /// broadcasts along the output channels, or (kind Tensor) the init
  /// tensor itself.
  static AccumulatorInit findAccumulatorInit(linalg::GenericOp op,
                                             int64_t channels) {
    Value init = op.getDpsInitOperand(0)->get();
    AccumulatorInit result;
    if (auto fill = init.getDefiningOp<linalg::FillOp>()) {
      result.kind = AccumulatorInit::Splat;
      result.value = fill.getInputs()[0];
      result.destination = fill.getOutputs()[0];
      return result;
    }
    auto broadcast = init.getDefiningOp<linalg::GenericOp>();
    if (!broadcast || broadcast.getNumDpsInputs() != 1 ||
        broadcast.getNumDpsInits() != 1 ||
        broadcast.getNumReductionLoops() != 0)
      return result;
    AffineMap inputMap =
        broadcast.getMatchingIndexingMap(broadcast.getDpsInputOperand(0));
    AffineMap outputMap =
        broadcast.getMatchingIndexingMap(broadcast.getDpsInitOperand(0));
    Block &body = broadcast.getRegion().front();
    auto yield = cast<linalg::YieldOp>(body.getTerminator());
    auto bias = dyn_cast<RankedTensorType>(
        broadcast.getDpsInputOperand(0)->get().getType());
    if (!outputMap.isIdentity() || inputMap.getNumResults() != 1 ||
        inputMap.getResult(0) !=
            getAffineDimExpr(outputMap.getNumDims() - 1, op.getContext()) ||
        !bias || bias.getRank() != 1 || bias.getDimSize(0) != channels ||
        yield.getValues()[0] != body.getArgument(0))
      return result;
    result.kind = AccumulatorInit::PerChannel;
    result.value = broadcast.getDpsInputOperand(0)->get();
    result.destination = broadcast.getDpsInitOperand(0)->get();
    return result;
  }

  /// Whether the only user of `op`'s result is an elementwise generic the
  /// kernel can compute on its accumulators; fills `epilogue` (collapsing
  /// tensors of the output's shape by `outputGroups`) if so.
  static bool findEpilogue(linalg::GenericOp op,
                           ArrayRef<ReassociationIndices> outputGroups,
                           RewriterBase &rewriter, Epilogue &epilogue) {
    Value result = op->getResult(0);
    if (!result.hasOneUse())
      return false;
    OpOperand &use = *result.getUses().begin();
    auto consumer = dyn_cast<linalg::GenericOp>(use.getOwner());
    if (!consumer || consumer.getNumDpsInits() != 1 ||
        consumer->getNumResults() != 1 ||
        consumer.getNumReductionLoops() != 0 || !consumer.isDpsInput(&use) ||
        cast<ShapedType>(consumer->getResult(0).getType()).getShape() !=
            cast<ShapedType>(result.getType()).getShape())
      return false;
    OpOperand *output = consumer.getDpsInitOperand(0);
    Block &body = consumer.getRegion().front();
    if (!consumer.getMatchingIndexingMap(output).isIdentity() ||
        !consumer.getMatchingBlockArgument(output).use_empty())
      return false;
    for (Operation &inner : body.without_terminator())
      if (inner.getNumRegions() != 0 ||
          (!inner.hasTrait<OpTrait::Elementwise>() &&
           !isa<arith::ConstantOp>(inner)))
        return false;
    unsigned rank = consumer.getNumLoops();
    MLIRContext *context = op.getContext();
    SmallVector<std::pair<Epilogue::Kind, Value>> inputs;
    for (OpOperand *input : consumer.getDpsInputOperands()) {
      AffineMap map = consumer.getMatchingIndexingMap(input);
      Value value = input->get();
      if (input == &use) {
        if (!map.isIdentity())
          return false;
        epilogue.accumulatorInput = input->getOperandNumber();
        inputs.push_back({Epilogue::Full, Value()});
      } else if (value == result) {
        return false;
      } else if (map.isIdentity()) {
        inputs.push_back({Epilogue::Full, value});
      } else if (map.getNumResults() == 1 &&
                 map.getResult(0) == getAffineDimExpr(rank - 1, context)) {
        inputs.push_back({Epilogue::PerChannel, value});
      } else if (map.getNumResults() == 0 &&
                 cast<ShapedType>(value.getType()).getRank() == 0) {
        inputs.push_back({Epilogue::Scalar, value});
      } else {
        return false;
      }
    }
    // Collapsed like the contraction's output, at the consumer, where all
    // of them are defined.
    OpBuilder::InsertionGuard guard(rewriter);
    rewriter.setInsertionPoint(consumer);
    auto collapse = [&](Value value) -> Value {
      if (outputGroups.empty())
        return value;
      return tensor::CollapseShapeOp::create(rewriter, consumer.getLoc(), value,
                                             outputGroups);
    };
    for (auto &[kind, value] : inputs)
      if (kind == Epilogue::Full && value)
        value = collapse(value);
    epilogue.consumer = consumer;
    epilogue.inputs = std::move(inputs);
    epilogue.output = collapse(output->get());
    return true;
  }

  /// A matmul: maps (m..., k), (k, n) or (n, k), (m..., n). The m
  /// dimensions are collapsed into one.
  bool matchMatmul(linalg::GenericOp op, ArrayRef<AffineMap> maps,
                   ArrayRef<int64_t> ranges, RankedTensorType weightType,
                   ContractionLayout &layout, RewriterBase &rewriter,
                   Value &activation, Value &init,
                   SmallVector<ReassociationIndices> &outputGroups) {
    if (op.getNumReductionLoops() != 1 || weightType.getRank() != 2)
      return false;
    for (AffineMap map : maps)
      if (!map.isProjectedPermutation())
        return false;
    AffineMap a = maps[0], w = maps[1], c = maps[2];
    unsigned k = 0;
    for (auto [loop, iterator] : llvm::enumerate(op.getIteratorTypesArray()))
      if (iterator == utils::IteratorType::reduction)
        k = loop;
    if (c.getNumResults() < 2 || a.getNumResults() != c.getNumResults())
      return false;
    unsigned n = c.getDimPosition(c.getNumResults() - 1);
    for (unsigned i = 0; i + 1 < c.getNumResults(); ++i)
      if (a.getDimPosition(i) != c.getDimPosition(i) ||
          c.getDimPosition(i) == n)
        return false;
    if (a.getDimPosition(a.getNumResults() - 1) != k)
      return false;
    bool kn = w.getDimPosition(0) == k && w.getDimPosition(1) == n;
    bool nk = w.getDimPosition(0) == n && w.getDimPosition(1) == k;
    if (!kn && !nk)
      return false;
    int64_t depth = ranges[k], channels = ranges[n], rows = 1;
    for (unsigned i = 0; i + 1 < c.getNumResults(); ++i)
      rows *= ranges[c.getDimPosition(i)];
    layout.rows = rows;
    layout.depth = depth;
    layout.channels = channels;
    layout.weightIndex = [=](int64_t nn, int64_t, int64_t kk) {
      return kn ? kk * channels + nn : nn * depth + kk;
    };
    layout.activationIndices = [](OpBuilder &, Location, ValueRange, Value row,
                                  ValueRange, Value offset) {
      return SmallVector<Value>{row, offset};
    };
    layout.outputIndices = [](OpBuilder &, Location, ValueRange, Value row,
                              Value column) {
      return SmallVector<Value>{row, column};
    };
    if (c.getNumResults() > 2) {
      ReassociationIndices leading;
      for (unsigned i = 0; i + 1 < c.getNumResults(); ++i)
        leading.push_back(i);
      outputGroups = {leading, {static_cast<int64_t>(c.getNumResults() - 1)}};
      activation = tensor::CollapseShapeOp::create(rewriter, op.getLoc(),
                                                   activation, outputGroups);
      init = tensor::CollapseShapeOp::create(rewriter, op.getLoc(), init,
                                             outputGroups);
    }
    return true;
  }

  /// A 2-D convolution, regular or depthwise: input (n, oh * sh + kh * dh,
  /// ow * sw + kw * dw, c), output (n, oh, ow, f) and weights any
  /// permutation of (kh, kw, c, f); or, depthwise, output (n, oh, ow, c)
  /// and weights any permutation of (kh, kw, c).
  bool matchConvolution(linalg::GenericOp op, ArrayRef<AffineMap> maps,
                        ArrayRef<int64_t> ranges, RankedTensorType weightType,
                        ContractionLayout &layout) {
    FailureOr<linalg::ConvolutionDimensions> dims =
        linalg::inferConvolutionDims(op);
    if (failed(dims) || dims->batch.size() != 1 ||
        dims->outputImage.size() != 2 || dims->filterLoop.size() != 2 ||
        dims->strides.size() != 2 || dims->dilations.size() != 2)
      return false;
    bool depthwise = dims->depth.size() == 1 && dims->inputChannel.empty() &&
                     dims->outputChannel.empty();
    bool regular = dims->depth.empty() && dims->inputChannel.size() == 1 &&
                   dims->outputChannel.size() == 1;
    if ((!depthwise && !regular) || weightType.getRank() != (depthwise ? 3 : 4))
      return false;
    AffineMap input = maps[0], filter = maps[1], output = maps[2];
    unsigned batch = dims->batch[0], oh = dims->outputImage[0],
             ow = dims->outputImage[1], kh = dims->filterLoop[0],
             kw = dims->filterLoop[1];
    unsigned c = depthwise ? dims->depth[0] : dims->inputChannel[0];
    unsigned f = depthwise ? c : dims->outputChannel[0];
    MLIRContext *ctx = op.getContext();
    auto d = [&](unsigned i) { return getAffineDimExpr(i, ctx); };
    int64_t sh = dims->strides[0], sw = dims->strides[1],
            dh = dims->dilations[0], dw = dims->dilations[1];
    if (output != AffineMap::get(output.getNumDims(), 0,
                                 {d(batch), d(oh), d(ow), d(f)}, ctx) ||
        input.getNumResults() != 4 || input.getResult(0) != d(batch) ||
        input.getResult(3) != d(c) ||
        input.getResult(1) != d(oh) * sh + d(kh) * dh ||
        input.getResult(2) != d(ow) * sw + d(kw) * dw)
      return false;
    // The filter: a permutation of the roles; each role's element stride.
    SmallVector<unsigned> roles = {kh, kw, c};
    if (!depthwise)
      roles.push_back(f);
    SmallVector<int64_t> strideOf(roles.size(), -1);
    int64_t running = 1;
    for (int64_t i = weightType.getRank() - 1; i >= 0; --i) {
      auto dim = dyn_cast<AffineDimExpr>(filter.getResult(i));
      if (!dim)
        return false;
      for (auto [role, loop] : llvm::enumerate(roles))
        if (dim.getPosition() == loop)
          strideOf[role] = running;
      running *= weightType.getDimSize(i);
    }
    if (llvm::is_contained(strideOf, -1))
      return false;
    int64_t kwExtent = ranges[kw];
    int64_t khStride = strideOf[0], kwStride = strideOf[1],
            cStride = strideOf[2], fStride = depthwise ? 0 : strideOf[3];
    layout.outer = {ranges[batch], ranges[oh]};
    layout.rows = ranges[ow];
    layout.taps = {ranges[kh], kwExtent};
    layout.channels = ranges[f];
    layout.outputIndices = [](OpBuilder &, Location, ValueRange outer,
                              Value row, Value column) {
      return SmallVector<Value>{outer[0], outer[1], row, column};
    };
    if (depthwise) {
      layout.depth = 1;
      layout.depthwise = true;
      layout.columnStride = sw;
      layout.columnDilation = dw;
      layout.weightIndex = [=](int64_t nn, int64_t t, int64_t) {
        return (t / kwExtent) * khStride + (t % kwExtent) * kwStride +
               nn * cStride;
      };
      // taps: the filter row and the input column relative to the tile's.
      layout.activationIndices = [=](OpBuilder &b, Location loc,
                                     ValueRange outer, Value row,
                                     ValueRange taps, Value column) {
        return SmallVector<Value>{outer[0],
                                  affine(b, loc, outer[1], sh, taps[0], dh),
                                  affine(b, loc, row, sw, taps[1], 1), column};
      };
      return true;
    }
    layout.depth = ranges[c];
    layout.weightIndex = [=](int64_t nn, int64_t t, int64_t kk) {
      return (t / kwExtent) * khStride + (t % kwExtent) * kwStride +
             kk * cStride + nn * fStride;
    };
    layout.activationIndices = [=](OpBuilder &b, Location loc, ValueRange outer,
                                   Value row, ValueRange taps, Value offset) {
      return SmallVector<Value>{outer[0],
                                affine(b, loc, outer[1], sh, taps[0], dh),
                                affine(b, loc, row, sw, taps[1], dw), offset};
    };
    if (dw != 1)
      return true;
    auto inputType =
        cast<RankedTensorType>(op.getDpsInputOperand(0)->get().getType());
    int64_t height = inputType.getDimSize(1), width = inputType.getDimSize(2);
    int64_t inputChannels = ranges[c];
    int64_t filterRows = ranges[kh];
    layout.foldFilterColumns = [=](ContractionLayout &folded) {
      folded.taps = {filterRows};
      folded.depth = kwExtent * inputChannels;
      folded.flatActivation = true;
      folded.weightIndex = [=](int64_t nn, int64_t t, int64_t kk) {
        return t * khStride + (kk / inputChannels) * kwStride +
               (kk % inputChannels) * cStride + nn * fStride;
      };
      // ((n * H + oh * sh + kh * dh) * W + ow * sw) * C + k: the k-th
      // element of the run of the window's row.
      folded.activationIndices = [=](OpBuilder &b, Location loc,
                                     ValueRange outer, Value row,
                                     ValueRange taps, Value offset) {
        Value inputRow = affine(b, loc, outer[1], sh, taps[0], dh);
        Value image = affine(b, loc, outer[0], height, inputRow, 1);
        Value column = affine(b, loc, image, width, row, sw);
        return SmallVector<Value>{
            affine(b, loc, column, inputChannels, offset, 1)};
      };
    };
    return true;
  }
};

} // namespace
