//===- CPUTarget.cpp - LLVM CPU names and features, checked ---------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Codegen/CPUTarget.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/MC/MCSubtargetInfo.h"
#include "llvm/MC/TargetRegistry.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/TargetSelect.h"
#include "llvm/TargetParser/Host.h"
#include "llvm/TargetParser/SubtargetFeature.h"
#include "llvm/TargetParser/Triple.h"

#include <memory>

using namespace mlir;

llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>>
qnn::createSubtargetInfo(StringRef cpu, StringRef features) {
  llvm::InitializeNativeTarget();
  llvm::Triple triple(llvm::sys::getProcessTriple());
  std::string error;
  const llvm::Target *target =
      llvm::TargetRegistry::lookupTarget(triple, error);
  if (!target)
    return llvm::createStringError(error);
  std::unique_ptr<llvm::MCSubtargetInfo> info(
      target->createMCSubtargetInfo(triple, cpu, features));
  if (!info)
    return llvm::createStringError(
        llvm::formatv("cannot describe CPU '{0}'", cpu));
  return info;
}

llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>>
qnn::createTargetSubtargetInfo(StringRef cpu, StringRef features) {
  if (!cpu.empty())
    return createSubtargetInfo(cpu, features);
  llvm::SubtargetFeatures host;
  for (const auto &[name, enabled] : llvm::sys::getHostCPUFeatures())
    host.AddFeature(name, enabled);
  std::string all = host.getString();
  if (!features.empty())
    all += "," + features.str();
  return createSubtargetInfo(llvm::sys::getHostCPUName(), all);
}

llvm::Error qnn::verifyCPUTargetNames(StringRef cpu, StringRef features) {
  // A generic subtarget: its tables list every CPU and feature name.
  llvm::Expected<std::unique_ptr<llvm::MCSubtargetInfo>> generic =
      createSubtargetInfo("", "");
  if (!generic)
    return generic.takeError();
  llvm::MCSubtargetInfo *info = generic->get();
  if (!cpu.empty() && !info->isCPUStringValid(cpu))
    return llvm::createStringError(
        llvm::formatv("unknown CPU '{0}' (LLVM names: x86-64-v3, znver3, "
                      "znver4, sapphirerapids, ...)",
                      cpu));
  if (features.empty())
    return llvm::Error::success();
  for (StringRef item : llvm::split(features, ',')) {
    item = item.trim();
    StringRef name =
        item.drop_front(item.starts_with("+") || item.starts_with("-"));
    if (item.empty() || (item[0] != '+' && item[0] != '-') ||
        llvm::none_of(info->getAllProcessorFeatures(),
                      [&](const llvm::SubtargetFeatureKV &known) {
                        return name == known.Key;
                      }))
      return llvm::createStringError(
          llvm::formatv("bad CPU feature '{0}' (expected +NAME or -NAME with "
                        "an LLVM feature name, e.g. -avx512f)",
                        item));
  }
  return llvm::Error::success();
}
