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
#include "llvm/Support/MemoryBuffer.h"

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

/// The header of a quant-opt file, `object`: "format" is `format`, "version"
/// is 1, and no keys but those and `keys`. `wrongFormat` is the message for
/// another format (a literal: llvm::json::Path keeps the pointer).
inline bool checkHeader(const llvm::json::Object &object, StringRef format,
                        llvm::StringLiteral wrongFormat,
                        ArrayRef<StringRef> keys, llvm::json::Path path) {
  SmallVector<StringRef> allowed = {"format", "version"};
  allowed.append(keys.begin(), keys.end());
  if (!checkKeys(object, allowed, path))
    return false;
  if (object.getString("format") != format) {
    path.field("format").report(wrongFormat);
    return false;
  }
  if (object.getInteger("version") != 1) {
    path.field("version").report("expected version 1");
    return false;
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

/// Parses `text` and reads it into a T with `read` (the fromJSON protocol);
/// errors are "<fileName>: <JSON path>: <message>".
template <typename T>
llvm::Expected<T> parseFile(
    StringRef text, StringRef fileName,
    function_ref<bool(const llvm::json::Value &, T &, llvm::json::Path)> read) {
  llvm::Expected<llvm::json::Value> value = parseJSON(text, fileName);
  if (!value)
    return value.takeError();
  T result{};
  llvm::json::Path::Root root("");
  if (!read(*value, result, root))
    return llvm::createStringError(
        llvm::formatv("{0}: {1}", fileName, llvm::toString(root.getError())));
  return result;
}

/// The contents of the file at `path`, or "cannot read <what> file '<path>':
/// <reason>".
inline llvm::Expected<std::unique_ptr<llvm::MemoryBuffer>>
readFile(StringRef path, StringRef what) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/true);
  if (!buffer)
    return llvm::createStringError(
        llvm::formatv("cannot read {0} file '{1}': {2}", what, path,
                      buffer.getError().message()));
  return std::move(*buffer);
}

} // namespace mlir::qnn::detail

#endif // QUANT_OPT_LIB_CALIBRATION_JSONSUPPORT_H
