//===- GPUAlignWorkgroupBuffers.cpp - Aligned shared-memory buffers -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// A workgroup attribution becomes an LLVM global in shared memory aligned
// only to its element type (4 bytes for the tensor-core kernel's i32
// tiles), while the kernel loads and stores 8- and 16-byte vectors there:
// a misaligned vector access is an error on the GPU. The GPU-to-LLVM
// lowering gives the global the alignment of the attribution's `llvm.align`
// attribute; this pass sets it, after outlining (gpu.launch has no place
// for it).
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/LLVMIR/LLVMDialect.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNGPUALIGNWORKGROUPBUFFERSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {
struct GPUAlignWorkgroupBuffersPass
    : public qnn::impl::QNNGPUAlignWorkgroupBuffersPassBase<
          GPUAlignWorkgroupBuffersPass> {
  using Base::Base;

  void runOnOperation() override {
    if (alignment <= 0 || !llvm::isPowerOf2_64(alignment)) {
      emitError(getOperation()->getLoc(),
                "qnn-gpu-align-workgroup-buffers: alignment "
                "must be a power of 2, not ")
          << static_cast<int64_t>(alignment);
      return signalPassFailure();
    }
    StringRef name = LLVM::LLVMDialect::getAlignAttrName();
    Builder builder(&getContext());
    getOperation()->walk([&](gpu::GPUFuncOp func) {
      for (unsigned index = 0, end = func.getNumWorkgroupAttributions();
           index < end; ++index) {
        // Raise it only: a larger alignment asked for is kept.
        auto current = dyn_cast_or_null<IntegerAttr>(
            func.getWorkgroupAttributionAttr(index, name));
        if (current && current.getInt() >= alignment)
          continue;
        func.setWorkgroupAttributionAttr(index, name,
                                         builder.getI64IntegerAttr(alignment));
      }
    });
  }
};
} // namespace
