//===- GPUHostDeviceBuffers.cpp - Host calling convention on the GPU ------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The functions qnn-gpu-pipeline emits keep the signatures and the calling
// convention of the CPU pipeline on host memory (docs/GPU.md): a caller
// (the JIT, an ahead-of-time object) passes ordinary host arrays. This pass
// puts the copies in: arguments and constants to device buffers at entry,
// written arguments and results back to the host at the end; every buffer
// the function allocates itself lives on the device.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Interfaces/ViewLikeInterface.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNGPUHOSTDEVICEBUFFERSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

/// Whether `op` runs on the host (not inside a kernel).
static bool onHost(Operation *op) {
  return !op->getParentOfType<gpu::LaunchOp>() &&
         !op->getParentOfType<gpu::GPUFuncOp>();
}

/// Whether anything writes `buffer` or a view of it: a store (in a kernel
/// or not), a copy into it, an atomic update, a linalg op's init; `ignore`
/// (the copy that fills it) aside.
static bool isWritten(Value buffer, Operation *ignore) {
  SmallVector<Value> worklist{buffer};
  while (!worklist.empty()) {
    Value value = worklist.pop_back_val();
    for (OpOperand &use : value.getUses()) {
      Operation *user = use.getOwner();
      if (user == ignore)
        continue;
      if (auto view = dyn_cast<ViewLikeOpInterface>(user)) {
        if (view.getViewSource() == value)
          for (Value result : user->getResults())
            worklist.push_back(result);
        continue;
      }
      if (isa<memref::LoadOp, memref::DimOp, gpu::LaunchOp,
              memref::ExtractStridedMetadataOp>(user))
        continue;
      if (auto copy = dyn_cast<gpu::MemcpyOp>(user)) {
        if (copy.getDst() == value)
          return true;
        continue;
      }
      if (auto effects = dyn_cast<MemoryEffectOpInterface>(user)) {
        SmallVector<MemoryEffects::EffectInstance> instances;
        effects.getEffectsOnValue(value, instances);
        if (llvm::any_of(instances, [](const auto &instance) {
              return isa<MemoryEffects::Write, MemoryEffects::Free>(
                  instance.getEffect());
            }))
          return true;
        continue;
      }
      // Unknown effects: assume it writes.
      return true;
    }
  }
  return false;
}

/// The sizes of the dynamic dimensions of `buffer`, as memref.dim.
static SmallVector<Value> dynamicSizes(OpBuilder &builder, Location loc,
                                       Value buffer) {
  auto type = cast<MemRefType>(buffer.getType());
  SmallVector<Value> sizes;
  for (int64_t dim = 0; dim < type.getRank(); ++dim)
    if (type.isDynamicDim(dim))
      sizes.push_back(memref::DimOp::create(builder, loc, buffer, dim));
  return sizes;
}

static Value allocDevice(OpBuilder &builder, Location loc, MemRefType type,
                         ValueRange sizes) {
  return gpu::AllocOp::create(builder, loc, type, /*asyncToken=*/Type(),
                              ValueRange(), sizes, ValueRange(),
                              /*hostShared=*/nullptr)
      .getMemref();
}

/// The buffer `value` is a view of (itself if none).
static Value viewRoot(Value value) {
  while (auto view = value.getDefiningOp<ViewLikeOpInterface>())
    value = view.getViewSource();
  return value;
}

static LogicalResult convertFunction(func::FuncOp function) {
  if (function.isExternal())
    return success();

  // Nothing the host cannot do with device buffers is left on it.
  WalkResult checked = function.walk([&](Operation *op) {
    if (!onHost(op))
      return WalkResult::advance();
    if (isa<gpu::LaunchOp>(op))
      return WalkResult::skip();
    if (auto call = dyn_cast<func::CallOp>(op);
        call &&
        llvm::any_of(call->getOperandTypes(), llvm::IsaPred<MemRefType>)) {
      op->emitError("qnn-gpu-pipeline: calls passing buffers are not "
                    "supported (each function copies its arguments from the "
                    "host); inline the callee first");
      return WalkResult::interrupt();
    }
    if (isa<memref::LoadOp, memref::StoreOp, memref::AllocaOp,
            memref::AtomicRMWOp, memref::CopyOp, scf::ParallelOp>(op) ||
        isa_and_nonnull<linalg::LinalgDialect, vector::VectorDialect>(
            op->getDialect())) {
      op->emitError("qnn-gpu-pipeline: this op would touch device memory on "
                    "the host; it was not turned into a kernel");
      return WalkResult::interrupt();
    }
    return WalkResult::advance();
  });
  if (checked.wasInterrupted())
    return failure();

  Block &entry = function.getBody().front();
  OpBuilder builder(function.getContext());
  SmallVector<func::ReturnOp> returns;
  function.walk([&](func::ReturnOp op) { returns.push_back(op); });
  // Device buffers freed at every return, and host buffers copied back
  // first (device source, host target).
  SmallVector<Value> toFree;
  SmallVector<std::pair<Value, Value>> copyBack;

  // Arguments.
  builder.setInsertionPointToStart(&entry);
  for (BlockArgument argument : entry.getArguments()) {
    auto type = dyn_cast<MemRefType>(argument.getType());
    if (!type)
      continue;
    if (!type.getLayout().isIdentity()) {
      function.emitError("qnn-gpu-pipeline: argument ")
          << argument.getArgNumber()
          << " has a non-identity layout; only contiguous host buffers can "
             "be copied to the device";
      return failure();
    }
    if (argument.use_empty())
      continue;
    Location loc = argument.getLoc();
    Value device =
        allocDevice(builder, loc, type, dynamicSizes(builder, loc, argument));
    auto copyIn = gpu::MemcpyOp::create(builder, loc, Type(), ValueRange(),
                                        device, argument);
    argument.replaceAllUsesExcept(device, copyIn);
    // Dimension queries read the host descriptor (no copy needed).
    for (Operation *user : llvm::make_early_inc_range(device.getUsers()))
      if (auto dim = dyn_cast<memref::DimOp>(user);
          dim && dim->isBeforeInBlock(copyIn) && dim->getBlock() == &entry)
        dim.getSourceMutable().assign(argument);
    if (isWritten(device, copyIn))
      copyBack.push_back({device, argument});
    toFree.push_back(device);
  }

  // Constants: one device copy each per call.
  SmallVector<memref::GetGlobalOp> globals;
  function.walk([&](memref::GetGlobalOp op) {
    if (onHost(op))
      globals.push_back(op);
  });
  for (memref::GetGlobalOp global : globals) {
    builder.setInsertionPointAfter(global);
    Location loc = global.getLoc();
    Value device = allocDevice(builder, loc, global.getType(), ValueRange());
    auto copyIn = gpu::MemcpyOp::create(builder, loc, Type(), ValueRange(),
                                        device, global.getResult());
    global.getResult().replaceAllUsesExcept(device, copyIn);
    if (global->getBlock() != &entry) {
      function.emitError("qnn-gpu-pipeline: a constant used in nested "
                         "control flow on the host is not supported");
      return failure();
    }
    toFree.push_back(device);
  }

  // Buffers the function allocates itself.
  SmallVector<Operation *> hostAllocs;
  function.walk([&](Operation *op) {
    if (onHost(op) && isa<memref::AllocOp, memref::DeallocOp>(op))
      hostAllocs.push_back(op);
  });
  for (Operation *op : hostAllocs) {
    builder.setInsertionPoint(op);
    if (auto alloc = dyn_cast<memref::AllocOp>(op)) {
      auto device = gpu::AllocOp::create(
          builder, alloc.getLoc(), alloc.getType(), Type(), ValueRange(),
          alloc.getDynamicSizes(), alloc.getSymbolOperands(), nullptr);
      alloc.replaceAllUsesWith(device.getMemref());
    } else {
      gpu::DeallocOp::create(builder, op->getLoc(), Type(), ValueRange(),
                             cast<memref::DeallocOp>(op).getMemref());
    }
    op->erase();
  }

  // Results and written arguments back to the host.
  for (func::ReturnOp ret : returns) {
    builder.setInsertionPoint(ret);
    Location loc = ret.getLoc();
    DenseSet<Value> freed;
    for (OpOperand &operand : ret->getOpOperands()) {
      Value device = operand.get();
      auto type = dyn_cast<MemRefType>(device.getType());
      if (!type)
        continue;
      if (!type.getLayout().isIdentity()) {
        ret.emitError("qnn-gpu-pipeline: a returned buffer with a "
                      "non-identity layout cannot be copied to the host");
        return failure();
      }
      // A host argument returned as it is (copied back below).
      if (auto argument = dyn_cast<BlockArgument>(device);
          argument && argument.getOwner() == &entry)
        continue;
      Value host = memref::AllocOp::create(builder, loc, type,
                                           dynamicSizes(builder, loc, device));
      gpu::MemcpyOp::create(builder, loc, Type(), ValueRange(), host, device);
      operand.set(host);
      // The function's own buffer is freed here; a copy of an argument or
      // a constant is freed with the others.
      Value root = viewRoot(device);
      if (root.getDefiningOp<gpu::AllocOp>() &&
          !llvm::is_contained(toFree, root) && freed.insert(root).second)
        gpu::DeallocOp::create(builder, loc, Type(), ValueRange(), root);
    }
    for (auto [device, host] : copyBack)
      gpu::MemcpyOp::create(builder, loc, Type(), ValueRange(), host, device);
    for (Value device : toFree)
      gpu::DeallocOp::create(builder, loc, Type(), ValueRange(), device);
  }
  return success();
}

namespace {
struct GPUHostDeviceBuffersPass
    : public qnn::impl::QNNGPUHostDeviceBuffersPassBase<
          GPUHostDeviceBuffersPass> {
  void runOnOperation() override {
    for (auto function : getOperation().getOps<func::FuncOp>())
      if (failed(convertFunction(function)))
        return signalPassFailure();
  }
};
} // namespace
