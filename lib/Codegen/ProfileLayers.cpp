//===- ProfileLayers.cpp - time each layer of a lowered program -----------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Wraps each run of top-level ops of a layer (the ops whose location names
// it: an ONNX node name, or file:line) in calls of qnn_profile_enter(id) and
// qnn_profile_exit(id), which the program's host (quant-run --profile)
// defines to accumulate time per layer. Run after bufferization, when a
// layer's tensor op has become its loops, copies and calls.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/Passes.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"
#include "llvm/ADT/StringMap.h"

namespace mlir::qnn {
#define GEN_PASS_DEF_QNNPROFILELAYERSPASS
#include "quant-opt/Codegen/Passes.h.inc"
} // namespace mlir::qnn

using namespace mlir;

namespace {

/// The layer a location names: a NameLoc's name (outermost first), a
/// file:line, or the first such of a fused location; empty if none.
std::string getLayerName(Location loc) {
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().empty() ? getLayerName(name.getChildLoc())
                                  : name.getName().str();
  if (auto file = dyn_cast<FileLineColLoc>(loc))
    return (file.getFilename().str() + ":" + std::to_string(file.getLine()));
  if (auto call = dyn_cast<CallSiteLoc>(loc))
    return getLayerName(call.getCallee());
  if (auto fused = dyn_cast<FusedLoc>(loc))
    for (Location inner : fused.getLocations())
      if (std::string name = getLayerName(inner); !name.empty())
        return name;
  return "";
}

/// Whether `op` does work worth timing: loops and other ops with regions,
/// calls, and ops that write memory (copies); not constants, allocations
/// or views.
bool doesWork(Operation *op) {
  if (op->getNumRegions() > 0 || isa<CallOpInterface>(op))
    return true;
  auto effects = dyn_cast<MemoryEffectOpInterface>(op);
  return effects && effects.hasEffect<MemoryEffects::Write>() &&
         !effects.hasEffect<MemoryEffects::Allocate>() &&
         !effects.hasEffect<MemoryEffects::Free>();
}

struct ProfileLayersPass
    : public qnn::impl::QNNProfileLayersPassBase<ProfileLayersPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    MLIRContext *context = &getContext();
    OpBuilder builder(context);
    Type i32 = builder.getI32Type();
    llvm::StringMap<int32_t> ids;
    SmallVector<std::string> names;
    func::FuncOp enter, exit;
    auto declare = [&](StringRef name) {
      if (auto existing = module.lookupSymbol<func::FuncOp>(name))
        return existing;
      builder.setInsertionPointToEnd(module.getBody());
      auto function = func::FuncOp::create(builder, module.getLoc(), name,
                                           builder.getFunctionType({i32}, {}));
      function.setPrivate();
      return function;
    };
    SmallVector<func::FuncOp> functions(module.getOps<func::FuncOp>());
    for (func::FuncOp function : functions) {
      if (function.isExternal())
        continue;
      for (Block &block : function.getBody()) {
        // Runs of consecutive working ops of one layer (other ops may sit
        // between them).
        SmallVector<std::pair<std::string, std::pair<Operation *, Operation *>>>
            runs;
        for (Operation &op : block.without_terminator()) {
          if (!doesWork(&op))
            continue;
          std::string name = getLayerName(op.getLoc());
          if (name.empty())
            name = "(no location)";
          if (!runs.empty() && runs.back().first == name)
            runs.back().second.second = &op;
          else
            runs.push_back({name, {&op, &op}});
        }
        if (runs.empty())
          continue;
        if (!enter) {
          enter = declare("qnn_profile_enter");
          exit = declare("qnn_profile_exit");
        }
        for (auto &[name, range] : runs) {
          auto [it, inserted] =
              ids.try_emplace(name, static_cast<int32_t>(names.size()));
          if (inserted)
            names.push_back(name);
          Location loc = range.first->getLoc();
          builder.setInsertionPoint(range.first);
          Value id = arith::ConstantOp::create(
              builder, loc, builder.getI32IntegerAttr(it->second));
          func::CallOp::create(builder, loc, enter, ValueRange{id});
          builder.setInsertionPointAfter(range.second);
          func::CallOp::create(builder, loc, exit, ValueRange{id});
        }
      }
    }
    SmallVector<Attribute> nameAttrs =
        llvm::map_to_vector(names, [&](const std::string &name) -> Attribute {
          return StringAttr::get(context, name);
        });
    module->setAttr("qnn.profile_layers", ArrayAttr::get(context, nameAttrs));
  }
};

} // namespace
