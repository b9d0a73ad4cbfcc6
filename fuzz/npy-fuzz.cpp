//===- npy-fuzz.cpp - libFuzzer target: .npy and .npz readers -------------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// Input: the bytes of an .npy file, or of an .npz archive (a zip, stored or
// deflated members) when it starts with "PK". quant-run reads both from the
// user (inputs, data sets), so a malformed header or archive must be an
// error, never a crash or an allocation sized by an unchecked header field.
//
// .npy bytes go through parseNpy (what readNpy calls after reading the
// file); .npz archives have no in-memory entry point, so they are written to
// a temporary file and read with readNpz, asking for the member "x" (the name
// the seed archives use). Accepted arrays are then used as quant-run uses
// them: element count and element size against the data.
//
//===----------------------------------------------------------------------===//

#include "quant-opt/Runner/Npy.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <cstdlib>
#include <string>
#include <unistd.h>

using namespace mlir;
using namespace mlir::qnn;

static std::string npzPath;

extern "C" int LLVMFuzzerInitialize(int *, char ***) {
  llvm::SmallString<128> dir;
  llvm::sys::path::system_temp_directory(/*ErasedOnReboot=*/true, dir);
  npzPath = (dir + "/npy-fuzz-" + llvm::Twine(::getpid()) + ".npz").str();
  return 0;
}

static void use(llvm::Expected<NpyArray> array) {
  if (!array) {
    llvm::consumeError(array.takeError());
    return;
  }
  // What quant-run checks before it copies the data into a memref.
  int64_t elements = array->getNumElements();
  unsigned elementSize = getNpyElementSize(array->dtype);
  if (elementSize != 0 &&
      uint64_t(elements) * elementSize == array->data.size() &&
      !array->data.empty()) {
    volatile char sink = array->data.front() ^ array->data.back();
    (void)sink;
  }
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  llvm::StringRef bytes(reinterpret_cast<const char *>(data), size);
  if (!bytes.starts_with("PK")) {
    use(parseNpy(bytes, "fuzz.npy"));
    return 0;
  }
  {
    std::error_code error;
    llvm::raw_fd_ostream os(npzPath, error);
    if (error) {
      llvm::errs() << "npy-fuzz: cannot write " << npzPath << "\n";
      std::abort();
    }
    os << bytes;
  }
  use(readNpz(npzPath, "x"));
  return 0;
}
