//===- JSONSupport.h - Strict JSON reading for quant-opt files --*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// What the statistics and recipe readers share: unknown keys are errors, so
// that a misspelt key never falls back to a default silently, and nesting is
// bounded before the recursive parser runs.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H
#define QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/STLExtras.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/JSON.h"

#include <cmath>
#include <optional>

namespace mlir::qnn::detail {

/// Reports "unknown key" at the first key of `object` not in `allowed`.
inline bool checkKeys(const llvm::json::Object &object,
                      ArrayRef<StringRef> allowed, llvm::json::Path path) {
  for (const auto &entry : object) {
    if (!llvm::is_contained(allowed, StringRef(entry.first))) {
      path.field(entry.first).report("unknown key");
      return false;
    }
  }
  return true;
}

/// Values for llvm::json::ObjectMapper (the fromJSON protocol) with
/// quant-opt's own checks and messages.
/// A number that is finite (JSON has no infinity, but 1e999 reads as one).
struct FiniteNumber {
  double value = 0;
};
inline bool fromJSON(const llvm::json::Value &value, FiniteNumber &out,
                     llvm::json::Path path) {
  std::optional<double> number = value.getAsNumber();
  if (!number || !std::isfinite(*number)) {
    path.report("expected a finite number");
    return false;
  }
  out.value = *number;
  return true;
}

/// An integer >= 0.
struct Count {
  int64_t value = 0;
};
inline bool fromJSON(const llvm::json::Value &value, Count &out,
                     llvm::json::Path path) {
  std::optional<int64_t> integer = value.getAsInteger();
  if (!integer || *integer < 0) {
    path.report("expected a non-negative integer");
    return false;
  }
  out.value = *integer;
  return true;
}

/// An optional key's value: absent is no value, but a present key must
/// hold a T (llvm::json reads null as "no value" for std::optional, which
/// would make `"bits": null` the default silently).
template <typename T> struct IfPresent {
  std::optional<T> value;
};
template <typename T>
bool fromJSON(const llvm::json::Value &value, IfPresent<T> &out,
              llvm::json::Path path) {
  T parsed{};
  if (!fromJSON(value, parsed, path))
    return false;
  out.value = std::move(parsed);
  return true;
}

/// How deep arrays and objects may nest. llvm::json's parser recurses once
/// per level, so a file of 35 000 '[' overflows the stack; quant-opt's files
/// nest four levels deep.
constexpr int kMaxJSONDepth = 256;

/// Parses `text` as JSON, refusing nesting deeper than kMaxJSONDepth before
/// the recursive parser sees it; errors name `fileName`.
inline llvm::Expected<llvm::json::Value> parseJSON(StringRef text,
                                                   StringRef fileName) {
  int depth = 0;
  bool inString = false, escaped = false;
  for (char c : text) {
    if (inString) {
      if (escaped)
        escaped = false;
      else if (c == '\\')
        escaped = true;
      else if (c == '"')
        inString = false;
      continue;
    }
    if (c == '"')
      inString = true;
    else if ((c == '[' || c == '{') && ++depth > kMaxJSONDepth)
      return llvm::createStringError(
          llvm::formatv("{0}: invalid JSON: nested deeper than {1} levels",
                        fileName, kMaxJSONDepth));
    else if (c == ']' || c == '}')
      --depth;
  }
  llvm::Expected<llvm::json::Value> value = llvm::json::parse(text);
  if (!value)
    return llvm::createStringError(llvm::formatv(
        "{0}: invalid JSON: {1}", fileName, llvm::toString(value.takeError())));
  return value;
}

} // namespace mlir::qnn::detail

#endif // QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H
