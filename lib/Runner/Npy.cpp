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

#include <cstring>
#include <limits>
#include <zlib.h>

using namespace mlir;
using namespace mlir::qnn;

int64_t NpyArray::getNumElements() const {
  int64_t count = 1;
  for (int64_t size : shape)
    count *= size;
  return count;
}

int64_t NpyArray::getIntegerElement(int64_t i) const {
  auto read = [&](auto type) {
    decltype(type) value;
    std::memcpy(&value, data.data() + sizeof(value) * i, sizeof(value));
    return static_cast<int64_t>(value);
  };
  StringRef kind = dtype;
  if (kind == "|i1")
    return read(int8_t());
  if (kind == "|u1" || kind == "|b1")
    return read(uint8_t());
  if (kind == "<i2")
    return read(int16_t());
  if (kind == "<u2")
    return read(uint16_t());
  if (kind == "<i4")
    return read(int32_t());
  if (kind == "<u4")
    return read(uint32_t());
  return read(int64_t());
}

unsigned qnn::getNpyElementSize(StringRef dtype) {
  return llvm::StringSwitch<unsigned>(dtype)
      .Cases({"|b1", "|i1", "|u1"}, 1)
      .Cases({"<f2", "<i2", "<u2"}, 2)
      .Cases({"<f4", "<i4", "<u4"}, 4)
      .Cases({"<f8", "<i8", "<u8"}, 8)
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
  return parseNpy((*buffer)->getBuffer(), path);
}

llvm::Expected<NpyArray> qnn::parseNpy(StringRef bytes, StringRef path) {
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
  // The byte count in unsigned arithmetic with overflow checks: a header
  // shape like (2^62 + 2, 4) must not wrap around to the size of the data.
  uint64_t expected = getNpyElementSize(array.dtype);
  for (int64_t size : array.shape)
    if (__builtin_mul_overflow(expected, static_cast<uint64_t>(size),
                               &expected) ||
        expected > std::numeric_limits<int64_t>::max())
      return malformed(path, llvm::formatv("shape {0} is too large", *shape));
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

//===----------------------------------------------------------------------===//
// .npz: a zip archive of .npy members (np.savez stores them,
// np.savez_compressed deflates them).
//===----------------------------------------------------------------------===//

static uint32_t readLE(StringRef bytes, size_t offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i)
    value |=
        static_cast<uint32_t>(static_cast<unsigned char>(bytes[offset + i]))
        << (8 * i);
  return value;
}

static llvm::Error badZip(StringRef path, const Twine &what) {
  return llvm::createStringError(
      llvm::formatv("{0}: not a valid .npz file: {1}", path, what.str()));
}

/// Raw deflate (zip method 8) to `size` bytes.
static llvm::Expected<std::string> inflateRaw(StringRef in, size_t size,
                                              StringRef path) {
  std::string out(size, '\0');
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK)
    return badZip(path, "cannot start zlib");
  stream.next_in = reinterpret_cast<Bytef *>(const_cast<char *>(in.data()));
  stream.avail_in = in.size();
  stream.next_out = reinterpret_cast<Bytef *>(out.data());
  stream.avail_out = out.size();
  int status = inflate(&stream, Z_FINISH);
  inflateEnd(&stream);
  if (status != Z_STREAM_END || stream.total_out != size)
    return badZip(path, "corrupt deflated member");
  return out;
}

llvm::Expected<NpyArray> qnn::readNpz(StringRef path, StringRef member) {
  llvm::ErrorOr<std::unique_ptr<llvm::MemoryBuffer>> buffer =
      llvm::MemoryBuffer::getFile(path, /*IsText=*/false);
  if (!buffer)
    return llvm::createStringError(llvm::formatv("cannot read '{0}': {1}", path,
                                                 buffer.getError().message()));
  StringRef bytes = (*buffer)->getBuffer();
  // The end-of-central-directory record (22 bytes, then a comment): the
  // last "PK\5\6" signature.
  size_t end = bytes.rfind(StringRef("PK\x05\x06", 4));
  if (end != StringRef::npos && end + 22 > bytes.size())
    end = StringRef::npos;
  if (end == StringRef::npos)
    return badZip(path, "no zip end-of-central-directory record");
  unsigned entries = readLE(bytes, end + 10, 2);
  size_t offset = readLE(bytes, end + 16, 4);
  SmallVector<std::string> names;
  for (unsigned i = 0; i < entries; ++i) {
    if (offset + 46 > bytes.size() || readLE(bytes, offset, 4) != 0x02014b50)
      return badZip(path, "bad central directory");
    unsigned method = readLE(bytes, offset + 10, 2);
    size_t compressed = readLE(bytes, offset + 20, 4);
    size_t size = readLE(bytes, offset + 24, 4);
    unsigned nameLength = readLE(bytes, offset + 28, 2);
    unsigned extraLength = readLE(bytes, offset + 30, 2);
    unsigned commentLength = readLE(bytes, offset + 32, 2);
    size_t local = readLE(bytes, offset + 42, 4);
    if (offset + 46 + nameLength > bytes.size())
      return badZip(path, "bad central directory");
    StringRef name = bytes.substr(offset + 46, nameLength);
    offset += 46 + nameLength + extraLength + commentLength;
    StringRef arrayName = name;
    arrayName.consume_back(".npy");
    names.push_back(arrayName.str());
    if (arrayName != member)
      continue;

    if (local + 30 > bytes.size() || readLE(bytes, local, 4) != 0x04034b50)
      return badZip(path, "bad local header of '" + name + "'");
    size_t data = local + 30 + readLE(bytes, local + 26, 2) +
                  readLE(bytes, local + 28, 2);
    if (data + compressed > bytes.size())
      return badZip(path, "truncated member '" + name + "'");
    std::string where = (path + ":" + member).str();
    StringRef stored = bytes.substr(data, compressed);
    if (method == 0)
      return parseNpy(stored, where);
    if (method != 8)
      return badZip(path, llvm::formatv("member '{0}' uses compression "
                                        "method {1} (expected 0 or 8)",
                                        name, method));
    // Deflate expands at most 1032:1: a larger declared size is a lie that
    // would size the allocation (up to 4 GiB from a few bytes).
    if (size > compressed * 1032 + 1024)
      return badZip(path, llvm::formatv("member '{0}' claims {1} bytes from "
                                        "{2} deflated bytes",
                                        name, size, compressed));
    llvm::Expected<std::string> inflated = inflateRaw(stored, size, path);
    if (!inflated)
      return inflated.takeError();
    return parseNpy(*inflated, where);
  }
  return llvm::createStringError(
      llvm::formatv("{0}: no array '{1}' (it holds: {2})", path, member,
                    llvm::join(names, ", ")));
}

llvm::Expected<NpyArray> qnn::readArray(StringRef spec) {
  // "data.npz:name" names an array of an archive; anything else is a .npy.
  size_t colon = spec.rfind(':');
  if (colon != StringRef::npos && spec.take_front(colon).ends_with(".npz"))
    return readNpz(spec.take_front(colon), spec.drop_front(colon + 1));
  if (spec.ends_with(".npz"))
    return llvm::createStringError(llvm::formatv(
        "'{0}' is an .npz archive: name the array as '{0}:NAME'", spec));
  return readNpy(spec);
}
