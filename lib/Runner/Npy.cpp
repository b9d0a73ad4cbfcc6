//===- Npy.cpp - NumPy .npy arrays ----------------------------------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// The .npy layout: the magic "\x93NUMPY", a version, a header length (2
// bytes in version 1, 4 in versions 2 and 3), a Python dict literal
// {'descr': ..., 'fortran_order': ..., 'shape': (...)} padded with spaces,
// then the raw data.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Runner/Npy.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringSwitch.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/raw_ostream.h"

using namespace mlir;
using namespace mlir::qnn;

int64_t NpyArray::getNumElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

unsigned qnn::getNpyElementSize(StringRef dtype) {
  return llvm::StringSwitch<unsigned>(dtype)
      .Cases("|b1", "|i1", "|u1", 1)
      .Cases("<f2", "<i2", "<u2", 2)
      .Cases("<f4", "<i4", "<u4", 4)
      .Cases("<f8", "<i8", "<u8", 8)
      .Default(0);
}

static llvm::Error malformed(StringRef path, const Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: not a valid .npy file: {1}", path, what.str()));
}

/// The value of `key` in the header dict, up to the next top-level comma or
/// closing brace (a tuple counts as one value).
static std::optional<StringRef> getHeaderValue(StringRef header,
                                               StringRef key) {
  size_t at = header.find(("'" + key + "'").str());
  if (at == StringRef::npos)
    return std::nullopt;
  StringRef rest = header.drop_front(at + key.size() + 2).ltrim();
  if (!rest.consume_front(":"))
    return std::nullopt;
  rest = rest.ltrim();
  if (rest.starts_with("(")) {
    size_t close = rest.find(')');
    if (close == StringRef::npos)
      return std::nullopt;
    return rest.take_front(close + 1);
  }
  size_t end = rest.find_first_of(",}");
  return rest.take_front(end).rtrim();
}

llvm::Expected<NpyArray> qnn::readNpy(StringRef path) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return llvm::createStringError(llvm::formatv("cannot read '{0}': {1}", path,
                                                 buffer.getError().message()));
  StringRef bytes = (*buffer)->getBuffer();
  if (!bytes.consume_front("\x93NUMPY") || bytes.size() < 2)
    return malformed(path, "missing the \\x93NUMPY magic");
  unsigned major = static_cast<unsigned char>(bytes[0]);
  bytes = bytes.drop_front(2);
  size_t headerSize;
  if (major == 1) {
    if (bytes.size() < 2)
      return malformed(path, "truncated header length");
    headerSize = static_cast<unsigned char>(bytes[0]) |
                 (static_cast<unsigned char>(bytes[1]) << 8);
    bytes = bytes.drop_front(2);
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 4)
      return malformed(path, "truncated header length");
    headerSize = 0;
    for (int i = 3; i >= 0; --i)
      headerSize = (headerSize << 8) | static_cast<unsigned char>(bytes[i]);
    bytes = bytes.drop_front(4);
  } else {
    return malformed(path, llvm::formatv("unknown version {0}", major));
  }
  if (bytes.size() < headerSize)
    return malformed(path, "truncated header");
  StringRef header = bytes.take_front(headerSize);
  bytes = bytes.drop_front(headerSize);

  NpyArray array;
  std::optional<StringRef> descr = getHeaderValue(header, "descr");
  std::optional<StringRef> order = getHeaderValue(header, "fortran_order");
  std::optional<StringRef> shape = getHeaderValue(header, "shape");
  if (!descr || !order || !shape)
    return malformed(path, "the header lacks descr, fortran_order or shape");
  array.dtype = descr->trim("'\"").str();
  if (array.dtype == "=f4" || array.dtype == "=f8" || array.dtype == "=i4")
    array.dtype[0] = '<';
  if (getNpyElementSize(array.dtype) == 0)
    return llvm::createStringError(llvm::formatv(
        "{0}: unsupported dtype '{1}' (expected little-endian bool, int8-64, "
        "uint8-64, float16, float32 or float64)",
        path, array.dtype));
  if (*order != "False")
    return llvm::createStringError(
        llvm::formatv("{0}: Fortran-order arrays are not supported", path));
  StringRef dims = shape->drop_front().drop_back();
  SmallVector<StringRef> parts;
  dims.split(parts, ',', -1, /*KeepEmpty=*/false);
  for (StringRef part : parts) {
    int64_t size;
    if (part.trim().getAsInteger(10, size) || size < 0)
      return malformed(path, "bad shape " + *shape);
    array.shape.push_back(size);
  }
  size_t expected = array.getNumElements() * getNpyElementSize(array.dtype);
  if (bytes.size() != expected)
    return malformed(path, llvm::formatv("{0} data bytes for shape {1}, "
                                         "expected {2}",
                                         bytes.size(), *shape, expected));
  array.data.assign(bytes.begin(), bytes.end());
  return array;
}

llvm::Error qnn::writeNpy(StringRef path, const NpyArray &array) {
  std::string shape = "(";
  for (int64_t size : array.shape)
    shape += std::to_string(size) + ", ";
  if (array.shape.size() > 1)
    shape.resize(shape.size() - 2);
  else if (array.shape.size() == 1)
    shape.pop_back(); // "(4,)"
  shape += ")";
  std::string header =
      llvm::formatv("{{'descr': '{0}', 'fortran_order': False, 'shape': {1}, }",
                    array.dtype, shape);
  // Magic (6) + version (2) + length (2) + header + '\n', padded to 64.
  size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::error_code error;
  llvm::raw_fd_ostream out(path, error, llvm::sys::fs::OF_None);
  if (error)
    return llvm::createStringError(
        llvm::formatv("cannot write '{0}': {1}", path, error.message()));
  out << "\x93NUMPY" << char(1) << char(0) << char(header.size() & 0xff)
      << char(header.size() >> 8) << header;
  out.write(array.data.data(), array.data.size());
  return llvm::Error::success();
}
