//===- Npy.h - NumPy .npy arrays --------------------------------*- C++ -*-===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Reads and writes NumPy's .npy format (versions 1 and 2, little-endian,
// C order), the interchange format of quant-run.
//
//===----------------------------------------------------------------------===//

#ifndef QUANT_OPT_RUNNER_NPY_H
#define QUANT_OPT_RUNNER_NPY_H

#include "mlir/Support/LLVM.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>
#include <vector>

namespace mlir::qnn {

/// An array: its NumPy dtype descriptor (`<f4`, `|i1`, ...), its shape and
/// its bytes in C order.
struct NpyArray {
  std::string dtype;
  SmallVector<int64_t> shape;
  std::vector<char> data;

  int64_t getNumElements() const;

  /// Element `i` of an integer or bool array (|b1 |i1 |u1 <i2 <u2 <i4 <u4
  /// <i8), widened to int64.
  int64_t getIntegerElement(int64_t i) const;
};

/// The size in bytes of one element of `dtype`, or 0 for a dtype quant-run
/// does not handle.
unsigned getNpyElementSize(StringRef dtype);

/// Reads an .npy file; errors name the file and what is wrong.
llvm::Expected<NpyArray> readNpy(StringRef path);

/// Parses the bytes of an .npy file; `path` names it in errors.
llvm::Expected<NpyArray> parseNpy(StringRef bytes, StringRef path);

/// Reads the array `member` of an .npz archive (np.savez or
/// np.savez_compressed); errors name the archive and list its arrays.
llvm::Expected<NpyArray> readNpz(StringRef path, StringRef member);

/// Reads `file.npy`, or the array NAME of an archive given as
/// `file.npz:NAME`.
llvm::Expected<NpyArray> readArray(StringRef spec);

/// Writes `array` as an .npy (version 1) file.
llvm::Error writeNpy(StringRef path, const NpyArray &array);

} // namespace mlir::qnn

#endif // QUANT_OPT_RUNNER_NPY_H
