//===- CudaRuntime.cpp - The mgpu* functions on the CUDA driver API -------===//
//
// Part of the quant-opt project, under the Apache License v2.0 with LLVM
// Exceptions.
//
//===----------------------------------------------------------------------===//
//
// quant-opt's own CUDA runtime: the C functions MLIR 22's `gpu-to-llvm`
// lowering and the gpu.binary → LLVM IR translation call (mgpuModuleLoad,
// mgpuLaunchKernel, mgpuMemAlloc, ... as upstream's
// mlir/lib/ExecutionEngine/CudaRuntimeWrappers.cpp defines them; Debian's
// MLIR ships no libmlir_cuda_runtime.so), plus qnnCudaRuntimeStatus and
// kernel timing (include/quant-opt/Runtime/CudaRuntime.h).
//
// Differences from upstream, and why:
// - The driver is opened with dlopen("libcuda.so.1") on first use, so the
//   library (and a program linked with it) loads on a machine without one
//   and says "no CUDA driver (libcuda.so.1) on this machine" when a GPU
//   function is first called.
// - Every CUresult is checked; a failure prints the call, the error's name
//   and text, and aborts: the mgpu* functions have no way to return an
//   error, and going on would hand back wrong results without a word.
// - Modules load lazily: the translation loads every gpu.binary from a
//   global constructor, before main; loading at the first
//   mgpuModuleGetFunction lets a program that links a GPU model start (and
//   run its CPU parts) where no GPU is.
// - Device memory comes from the stream-ordered pool (cuMemAllocAsync),
//   which keeps freed blocks, so the buffers a model allocates on every
//   call are cheap after the first (cuMemAlloc where a device has no pools).
//
// Builds with CMake (when the CUDA toolkit's cuda.h is found) or alone, with
// no MLIR headers:
//   g++ -O2 -std=c++17 -shared -fPIC -I$CUDA/include -Iinclude
//       lib/Runtime/CUDA/CudaRuntime.cpp -o libquant_opt_cuda_runtime.so -ldl
// (-Iinclude only for CudaRuntime.h; -DQUANT_OPT_NO_RUNTIME_HEADER drops it.)
//
//===----------------------------------------------------------------------===//

#include <cuda.h>

#ifndef QUANT_OPT_NO_RUNTIME_HEADER
#include "quant-opt/Runtime/CudaRuntime.h"
#endif

#include <dlfcn.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#define QNN_EXPORT extern "C" __attribute__((visibility("default")))

namespace {

// cuda.h maps some names to versioned entry points (cuMemAlloc is
// cuMemAlloc_v2): the two-step macro looks up the symbol the header means.
#define QNN_STRINGIFY_(x) #x
#define QNN_STRINGIFY(x) QNN_STRINGIFY_(x)

#define QNN_DRIVER_FUNCTIONS(X)                                                \
  X(cuGetErrorName)                                                            \
  X(cuGetErrorString)                                                          \
  X(cuInit)                                                                    \
  X(cuDriverGetVersion)                                                        \
  X(cuDeviceGetCount)                                                          \
  X(cuDeviceGet)                                                               \
  X(cuDeviceGetName)                                                           \
  X(cuDeviceGetAttribute)                                                      \
  X(cuDevicePrimaryCtxRetain)                                                  \
  X(cuCtxGetCurrent)                                                           \
  X(cuCtxSetCurrent)                                                           \
  X(cuModuleLoadData)                                                          \
  X(cuModuleLoadDataEx)                                                        \
  X(cuModuleUnload)                                                            \
  X(cuModuleGetFunction)                                                       \
  X(cuFuncSetAttribute)                                                        \
  X(cuLaunchKernel)                                                            \
  X(cuStreamCreate)                                                            \
  X(cuStreamDestroy)                                                           \
  X(cuStreamSynchronize)                                                       \
  X(cuStreamWaitEvent)                                                         \
  X(cuEventCreate)                                                             \
  X(cuEventDestroy)                                                            \
  X(cuEventRecord)                                                             \
  X(cuEventSynchronize)                                                        \
  X(cuEventElapsedTime)                                                        \
  X(cuMemAllocAsync)                                                           \
  X(cuMemFreeAsync)                                                            \
  X(cuMemAllocManaged)                                                         \
  X(cuMemAlloc)                                                                \
  X(cuMemFree)                                                                 \
  X(cuMemcpyAsync)                                                             \
  X(cuMemcpy)                                                                  \
  X(cuMemsetD32Async)                                                          \
  X(cuMemsetD16Async)                                                          \
  X(cuMemHostRegister)                                                         \
  X(cuMemHostUnregister)

// Only needed by sm_90 code (clusters, TMA); looked up but optional.
#define QNN_OPTIONAL_DRIVER_FUNCTIONS(X)                                       \
  X(cuLaunchKernelEx)                                                          \
  X(cuTensorMapEncodeTiled)                                                    \
  X(cuDeviceGetDefaultMemPool)                                                 \
  X(cuMemPoolSetAttribute)

struct Driver {
#define QNN_MEMBER(name) decltype(&::name) name = nullptr;
  QNN_DRIVER_FUNCTIONS(QNN_MEMBER)
  QNN_OPTIONAL_DRIVER_FUNCTIONS(QNN_MEMBER)
#undef QNN_MEMBER
  /// Empty when the driver loaded, initialized and has a device.
  std::string error;
  CUdevice device = 0;
  CUcontext context = nullptr;
  int deviceOrdinal = 0;
  /// Whether the device has stream-ordered memory pools (cuMemAllocAsync);
  /// without them, plain cuMemAlloc / cuMemFree.
  bool pools = false;
};

std::mutex driverMutex;
Driver *driver = nullptr;
int defaultDevice = 0;

// Kernel timing (qnnCudaProfile).
std::mutex profileMutex;
bool profiling = [] {
  const char *value = std::getenv("QUANT_OPT_CUDA_PROFILE");
  return value && *value && std::strcmp(value, "0") != 0;
}();
std::vector<std::pair<CUevent, CUevent>> launchEvents;

// Pointers from cuMemAllocManaged (gpu.alloc host_shared), freed with
// cuMemFree rather than the stream-ordered free.
std::mutex managedMutex;
std::unordered_set<void *> managedPointers;

std::string format(const char *fmt, ...) {
  char buffer[1024];
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(buffer, sizeof(buffer), fmt, args);
  va_end(args);
  return buffer;
}

std::string describe(const Driver &d, CUresult result) {
  const char *name = nullptr, *text = nullptr;
  if (d.cuGetErrorName)
    d.cuGetErrorName(result, &name);
  if (d.cuGetErrorString)
    d.cuGetErrorString(result, &text);
  if (result == CUDA_ERROR_STUB_LIBRARY)
    return "CUDA_ERROR_STUB_LIBRARY (libcuda.so.1 is the CUDA toolkit's stub "
           "library, not a driver: there is no CUDA driver on this machine)";
  if (!name)
    return format("CUresult %d", int(result));
  return format("%s (%s)", name, text ? text : "no description");
}

[[noreturn]] void fatal(const std::string &message) {
  std::fprintf(stderr, "quant-opt CUDA runtime: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

/// Opens the driver, initializes it and retains the primary context of the
/// default device; records why not in `error`.
Driver *openDriver() {
  auto *d = new Driver();
  d->deviceOrdinal = defaultDevice;
  void *handle = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    const char *why = dlerror();
    d->error = format("no CUDA driver (libcuda.so.1) on this machine: %s",
                      why ? why : "dlopen failed");
    return d;
  }
#define QNN_LOAD(name)                                                         \
  d->name =                                                                    \
      reinterpret_cast<decltype(&::name)>(dlsym(handle, QNN_STRINGIFY(name))); \
  if (!d->name) {                                                              \
    d->error = format("the CUDA driver (libcuda.so.1) has no %s: it is older " \
                      "than the CUDA %d this runtime was built for",           \
                      QNN_STRINGIFY(name), CUDA_VERSION / 1000);               \
    return d;                                                                  \
  }
  QNN_DRIVER_FUNCTIONS(QNN_LOAD)
#undef QNN_LOAD
#define QNN_LOAD_OPTIONAL(name)                                                \
  d->name =                                                                    \
      reinterpret_cast<decltype(&::name)>(dlsym(handle, QNN_STRINGIFY(name)));
  QNN_OPTIONAL_DRIVER_FUNCTIONS(QNN_LOAD_OPTIONAL)
#undef QNN_LOAD_OPTIONAL
  CUresult result = d->cuInit(0);
  if (result != CUDA_SUCCESS) {
    d->error =
        "cuInit failed: " + describe(*d, result) +
        (result == CUDA_ERROR_NO_DEVICE ? ": no CUDA GPU on this machine" : "");
    return d;
  }
  int count = 0;
  result = d->cuDeviceGetCount(&count);
  if (result != CUDA_SUCCESS) {
    d->error = "cuDeviceGetCount failed: " + describe(*d, result);
    return d;
  }
  if (count == 0) {
    d->error = "no CUDA GPU on this machine (cuDeviceGetCount gives 0)";
    return d;
  }
  if (d->deviceOrdinal < 0 || d->deviceOrdinal >= count) {
    d->error = format("CUDA device %d does not exist (this machine has %d)",
                      d->deviceOrdinal, count);
    return d;
  }
  if ((result = d->cuDeviceGet(&d->device, d->deviceOrdinal)) != CUDA_SUCCESS) {
    d->error = "cuDeviceGet failed: " + describe(*d, result);
    return d;
  }
  if ((result = d->cuDevicePrimaryCtxRetain(&d->context, d->device)) !=
      CUDA_SUCCESS) {
    d->error = "cuDevicePrimaryCtxRetain failed: " + describe(*d, result);
    return d;
  }
  int pools = 0;
  d->cuDeviceGetAttribute(&pools, CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED,
                          d->device);
  d->pools = pools != 0;
  // Keep freed blocks in the pool (the default gives them back at every
  // synchronization), so a model's per-call buffers are reused.
  CUmemoryPool pool = nullptr;
  if (d->pools && d->cuDeviceGetDefaultMemPool && d->cuMemPoolSetAttribute &&
      d->cuDeviceGetDefaultMemPool(&pool, d->device) == CUDA_SUCCESS) {
    cuuint64_t keep = ~cuuint64_t(0);
    d->cuMemPoolSetAttribute(pool, CU_MEMPOOL_ATTR_RELEASE_THRESHOLD, &keep);
  }
  return d;
}

Driver &getDriverOrNull(bool &ok) {
  std::lock_guard<std::mutex> lock(driverMutex);
  if (!driver)
    driver = openDriver();
  ok = driver->error.empty();
  return *driver;
}

/// The driver, with the primary context current on this thread; aborts
/// with the reason when there is none.
Driver &api() {
  bool ok = false;
  Driver &d = getDriverOrNull(ok);
  if (!ok)
    fatal(d.error);
  // The primary context is shared with the CUDA runtime (PyTorch, CuPy):
  // set it only when another one is current.
  CUcontext now = nullptr;
  d.cuCtxGetCurrent(&now);
  if (now != d.context) {
    CUresult result = d.cuCtxSetCurrent(d.context);
    if (result != CUDA_SUCCESS)
      fatal("cuCtxSetCurrent failed: " + describe(d, result));
  }
  return d;
}

void check(CUresult result, const char *call) {
  if (result == CUDA_SUCCESS)
    return;
  fatal(std::string(call) + " failed: " + describe(*driver, result));
}

#define QNN_CHECK(d, name, ...) check(d.name(__VA_ARGS__), #name)

/// What mgpuModuleLoad returns: the binary, loaded on first use.
struct LazyModule {
  LazyModule(const void *data, size_t size, bool jit, int optLevel)
      : data(data), size(size), jit(jit), optLevel(optLevel) {}
  const void *data;
  size_t size;
  bool jit;
  int optLevel;
  CUmodule module = nullptr;
  std::mutex mutex;
};

CUmodule getModule(LazyModule *lazy) {
  std::lock_guard<std::mutex> lock(lazy->mutex);
  if (lazy->module)
    return lazy->module;
  Driver &d = api();
  if (!lazy->jit) {
    QNN_CHECK(d, cuModuleLoadData, &lazy->module, lazy->data);
    return lazy->module;
  }
  // PTX: the driver compiles it; its log says why when it cannot.
  static char log[8192];
  log[0] = 0;
  CUjit_option options[] = {CU_JIT_ERROR_LOG_BUFFER,
                            CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES,
                            CU_JIT_OPTIMIZATION_LEVEL};
  void *values[] = {log, reinterpret_cast<void *>(uintptr_t(sizeof(log))),
                    reinterpret_cast<void *>(uintptr_t(lazy->optLevel))};
  CUresult result =
      d.cuModuleLoadDataEx(&lazy->module, lazy->data, 3, options, values);
  if (result != CUDA_SUCCESS)
    fatal("cuModuleLoadDataEx (PTX compiled by the driver) failed: " +
          describe(d, result) + (log[0] ? std::string("\n") + log : ""));
  return lazy->module;
}

/// Dynamic shared memory above the default 48 KiB must be asked for per
/// kernel, up to the device's opt-in limit.
void allowSharedMemory(Driver &d, CUfunction function, int32_t bytes) {
  if (bytes <= 48 * 1024)
    return;
  int limit = 0;
  QNN_CHECK(d, cuDeviceGetAttribute, &limit,
            CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN, d.device);
  if (bytes > limit)
    fatal(format("a kernel asks for %d bytes of shared memory; this device "
                 "allows %d per block",
                 bytes, limit));
  QNN_CHECK(d, cuFuncSetAttribute, function,
            CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, bytes);
}

/// With profiling on: an event pair around a launch on `stream`.
std::pair<CUevent, CUevent> beginLaunch(Driver &d, CUstream stream) {
  if (!profiling)
    return {nullptr, nullptr};
  CUevent start, end;
  QNN_CHECK(d, cuEventCreate, &start, CU_EVENT_DEFAULT);
  QNN_CHECK(d, cuEventCreate, &end, CU_EVENT_DEFAULT);
  QNN_CHECK(d, cuEventRecord, start, stream);
  return {start, end};
}

void endLaunch(Driver &d, std::pair<CUevent, CUevent> events, CUstream stream) {
  if (!events.first)
    return;
  QNN_CHECK(d, cuEventRecord, events.second, stream);
  std::lock_guard<std::mutex> lock(profileMutex);
  launchEvents.push_back(events);
}

} // namespace

//===----------------------------------------------------------------------===//
// quant-opt's own API (CudaRuntime.h)
//===----------------------------------------------------------------------===//

QNN_EXPORT int qnnCudaRuntimeStatus(char *message, size_t size) {
  bool ok = false;
  Driver &d = getDriverOrNull(ok);
  std::string text = d.error;
  if (ok) {
    char name[256] = {0};
    int major = 0, minor = 0, version = 0;
    d.cuDeviceGetName(name, sizeof(name) - 1, d.device);
    d.cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                           d.device);
    d.cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                           d.device);
    d.cuDriverGetVersion(&version);
    text = format("%s, sm_%d%d, driver %d.%d", name, major, minor,
                  version / 1000, (version % 1000) / 10);
  }
  if (message && size) {
    std::strncpy(message, text.c_str(), size - 1);
    message[size - 1] = 0;
  }
  return ok ? 0 : 1;
}

QNN_EXPORT void qnnCudaProfile(int enable) { profiling = enable != 0; }

QNN_EXPORT double qnnCudaKernelSeconds(long *launches) {
  std::vector<std::pair<CUevent, CUevent>> events;
  {
    std::lock_guard<std::mutex> lock(profileMutex);
    events.swap(launchEvents);
  }
  if (launches)
    *launches = long(events.size());
  if (events.empty())
    return 0.0;
  Driver &d = api();
  double seconds = 0.0;
  for (auto [start, end] : events) {
    QNN_CHECK(d, cuEventSynchronize, end);
    float milliseconds = 0.0f;
    QNN_CHECK(d, cuEventElapsedTime, &milliseconds, start, end);
    seconds += milliseconds * 1e-3;
    QNN_CHECK(d, cuEventDestroy, start);
    QNN_CHECK(d, cuEventDestroy, end);
  }
  return seconds;
}

//===----------------------------------------------------------------------===//
// The mgpu* functions (signatures as MLIR 22's lowering declares them)
//===----------------------------------------------------------------------===//

QNN_EXPORT void mgpuSetDefaultDevice(int32_t device) {
  std::lock_guard<std::mutex> lock(driverMutex);
  if (driver && driver->deviceOrdinal != device)
    fatal(format("mgpuSetDefaultDevice(%d) after device %d is in use", device,
                 driver->deviceOrdinal));
  defaultDevice = device;
}

/// A cubin or fatbin (gpu.binary format=bin|fatbin).
QNN_EXPORT void *mgpuModuleLoad(void *data, size_t size) {
  return new LazyModule(data, size, /*jit=*/false, 0);
}

/// PTX text (gpu.binary format=isa), compiled by the driver.
QNN_EXPORT void *mgpuModuleLoadJIT(void *data, int optLevel, size_t size) {
  return new LazyModule(data, size, /*jit=*/true, optLevel);
}

QNN_EXPORT void mgpuModuleUnload(void *module) {
  auto *lazy = static_cast<LazyModule *>(module);
  if (!lazy)
    return;
  // Called from a global destructor: the driver may be shutting down, so
  // a failure here is not worth an abort.
  if (lazy->module && driver && driver->error.empty())
    driver->cuModuleUnload(lazy->module);
  delete lazy;
}

QNN_EXPORT CUfunction mgpuModuleGetFunction(void *module, const char *name) {
  CUmodule loaded = getModule(static_cast<LazyModule *>(module));
  Driver &d = api();
  CUfunction function = nullptr;
  CUresult result = d.cuModuleGetFunction(&function, loaded, name);
  if (result != CUDA_SUCCESS)
    fatal(format("cuModuleGetFunction(\"%s\") failed: ", name) +
          describe(d, result));
  return function;
}

QNN_EXPORT void mgpuLaunchKernel(CUfunction function, intptr_t gridX,
                                 intptr_t gridY, intptr_t gridZ,
                                 intptr_t blockX, intptr_t blockY,
                                 intptr_t blockZ, int32_t smem, CUstream stream,
                                 void **params, void **extra,
                                 size_t /*paramsCount*/) {
  Driver &d = api();
  allowSharedMemory(d, function, smem);
  auto events = beginLaunch(d, stream);
  CUresult result =
      d.cuLaunchKernel(function, unsigned(gridX), unsigned(gridY),
                       unsigned(gridZ), unsigned(blockX), unsigned(blockY),
                       unsigned(blockZ), unsigned(smem), stream, params, extra);
  if (result != CUDA_SUCCESS)
    fatal(format("cuLaunchKernel (grid %ldx%ldx%ld, block %ldx%ldx%ld, %d "
                 "bytes of shared memory) failed: ",
                 long(gridX), long(gridY), long(gridZ), long(blockX),
                 long(blockY), long(blockZ), smem) +
          describe(d, result));
  endLaunch(d, events, stream);
}

QNN_EXPORT void mgpuLaunchClusterKernel(
    CUfunction function, intptr_t clusterX, intptr_t clusterY,
    intptr_t clusterZ, intptr_t gridX, intptr_t gridY, intptr_t gridZ,
    intptr_t blockX, intptr_t blockY, intptr_t blockZ, int32_t smem,
    CUstream stream, void **params, void **extra, size_t /*paramsCount*/) {
  Driver &d = api();
  if (!d.cuLaunchKernelEx)
    fatal("this CUDA driver has no cuLaunchKernelEx (thread block clusters "
          "need CUDA 12 and sm_90)");
  allowSharedMemory(d, function, smem);
  CUlaunchConfig config;
  std::memset(&config, 0, sizeof(config));
  config.gridDimX = unsigned(gridX);
  config.gridDimY = unsigned(gridY);
  config.gridDimZ = unsigned(gridZ);
  config.blockDimX = unsigned(blockX);
  config.blockDimY = unsigned(blockY);
  config.blockDimZ = unsigned(blockZ);
  config.sharedMemBytes = unsigned(smem);
  config.hStream = stream;
  CUlaunchAttribute attributes[2];
  std::memset(attributes, 0, sizeof(attributes));
  attributes[0].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_DIMENSION;
  attributes[0].value.clusterDim.x = unsigned(clusterX);
  attributes[0].value.clusterDim.y = unsigned(clusterY);
  attributes[0].value.clusterDim.z = unsigned(clusterZ);
  attributes[1].id = CU_LAUNCH_ATTRIBUTE_CLUSTER_SCHEDULING_POLICY_PREFERENCE;
  attributes[1].value.clusterSchedulingPolicyPreference =
      CU_CLUSTER_SCHEDULING_POLICY_SPREAD;
  config.attrs = attributes;
  config.numAttrs = 2;
  auto events = beginLaunch(d, stream);
  QNN_CHECK(d, cuLaunchKernelEx, &config, function, params, extra);
  endLaunch(d, events, stream);
}

QNN_EXPORT CUstream mgpuStreamCreate() {
  Driver &d = api();
  CUstream stream = nullptr;
  QNN_CHECK(d, cuStreamCreate, &stream, CU_STREAM_NON_BLOCKING);
  return stream;
}

QNN_EXPORT void mgpuStreamDestroy(CUstream stream) {
  Driver &d = api();
  QNN_CHECK(d, cuStreamDestroy, stream);
}

QNN_EXPORT void mgpuStreamSynchronize(CUstream stream) {
  Driver &d = api();
  // A kernel's own failure (an illegal address, say) shows here.
  QNN_CHECK(d, cuStreamSynchronize, stream);
}

QNN_EXPORT void mgpuStreamWaitEvent(CUstream stream, CUevent event) {
  Driver &d = api();
  QNN_CHECK(d, cuStreamWaitEvent, stream, event, 0);
}

QNN_EXPORT CUevent mgpuEventCreate() {
  Driver &d = api();
  CUevent event = nullptr;
  QNN_CHECK(d, cuEventCreate, &event, CU_EVENT_DISABLE_TIMING);
  return event;
}

QNN_EXPORT void mgpuEventDestroy(CUevent event) {
  Driver &d = api();
  QNN_CHECK(d, cuEventDestroy, event);
}

QNN_EXPORT void mgpuEventSynchronize(CUevent event) {
  Driver &d = api();
  QNN_CHECK(d, cuEventSynchronize, event);
}

QNN_EXPORT void mgpuEventRecord(CUevent event, CUstream stream) {
  Driver &d = api();
  QNN_CHECK(d, cuEventRecord, event, stream);
}

QNN_EXPORT void *mgpuMemAlloc(uint64_t sizeBytes, CUstream stream,
                              bool isHostShared) {
  if (sizeBytes == 0)
    return nullptr;
  Driver &d = api();
  CUdeviceptr pointer = 0;
  if (isHostShared) {
    QNN_CHECK(d, cuMemAllocManaged, &pointer, sizeBytes, CU_MEM_ATTACH_GLOBAL);
    std::lock_guard<std::mutex> lock(managedMutex);
    managedPointers.insert(reinterpret_cast<void *>(pointer));
  } else {
    CUresult result = d.pools ? d.cuMemAllocAsync(&pointer, sizeBytes, stream)
                              : d.cuMemAlloc(&pointer, sizeBytes);
    if (result != CUDA_SUCCESS)
      fatal(format("%s of %llu bytes failed: ",
                   d.pools ? "cuMemAllocAsync" : "cuMemAlloc",
                   (unsigned long long)sizeBytes) +
            describe(d, result));
  }
  return reinterpret_cast<void *>(pointer);
}

QNN_EXPORT void mgpuMemFree(void *pointer, CUstream stream) {
  if (!pointer)
    return;
  Driver &d = api();
  {
    std::lock_guard<std::mutex> lock(managedMutex);
    if (managedPointers.erase(pointer)) {
      QNN_CHECK(d, cuMemFree, reinterpret_cast<CUdeviceptr>(pointer));
      return;
    }
  }
  if (d.pools)
    QNN_CHECK(d, cuMemFreeAsync, reinterpret_cast<CUdeviceptr>(pointer),
              stream);
  else
    QNN_CHECK(d, cuMemFree, reinterpret_cast<CUdeviceptr>(pointer));
}

/// Host or device to host or device: unified addressing tells them apart.
QNN_EXPORT void mgpuMemcpy(void *dst, void *src, size_t sizeBytes,
                           CUstream stream) {
  if (sizeBytes == 0)
    return;
  Driver &d = api();
  QNN_CHECK(d, cuMemcpyAsync, reinterpret_cast<CUdeviceptr>(dst),
            reinterpret_cast<CUdeviceptr>(src), sizeBytes, stream);
}

QNN_EXPORT void mgpuMemset32(void *dst, unsigned int value, size_t count,
                             CUstream stream) {
  Driver &d = api();
  QNN_CHECK(d, cuMemsetD32Async, reinterpret_cast<CUdeviceptr>(dst), value,
            count, stream);
}

QNN_EXPORT void mgpuMemset16(void *dst, unsigned short value, size_t count,
                             CUstream stream) {
  Driver &d = api();
  QNN_CHECK(d, cuMemsetD16Async, reinterpret_cast<CUdeviceptr>(dst), value,
            count, stream);
}

namespace {
/// MLIR's ranked memref descriptor, rank erased: {allocated, aligned,
/// offset, sizes[rank], strides[rank]}.
struct RankedDescriptor {
  char *allocated;
  char *aligned;
  int64_t offset;
  int64_t sizesAndStrides[1];
};

/// The bytes of a dense memref; aborts if it has holes (gpu.host_register
/// takes the buffer as one range).
std::pair<char *, uint64_t> denseRange(int64_t rank, void *descriptor,
                                       int64_t elementSizeBytes) {
  auto *memref = static_cast<RankedDescriptor *>(descriptor);
  const int64_t *sizes = memref->sizesAndStrides;
  const int64_t *strides = sizes + rank;
  int64_t expected = 1;
  for (int64_t i = rank - 1; i >= 0; --i) {
    if (sizes[i] != 1 && strides[i] != expected)
      fatal("gpu.host_register of a memref that is not densely packed");
    expected *= sizes[i];
  }
  return {memref->aligned + memref->offset * elementSizeBytes,
          uint64_t(expected * elementSizeBytes)};
}
} // namespace

QNN_EXPORT void mgpuMemHostRegisterMemRef(int64_t rank, void *descriptor,
                                          int64_t elementSizeBytes) {
  auto [pointer, bytes] = denseRange(rank, descriptor, elementSizeBytes);
  if (bytes == 0)
    return;
  Driver &d = api();
  QNN_CHECK(d, cuMemHostRegister, pointer, bytes, 0);
}

QNN_EXPORT void mgpuMemHostUnregisterMemRef(int64_t rank, void *descriptor,
                                            int64_t elementSizeBytes) {
  auto [pointer, bytes] = denseRange(rank, descriptor, elementSizeBytes);
  if (bytes == 0)
    return;
  Driver &d = api();
  QNN_CHECK(d, cuMemHostUnregister, pointer);
}

/// A TMA descriptor (nvgpu.tma.create.descriptor, sm_90) for a memref,
/// copied to device memory; `boxDims` are in the memref's dimension order,
/// the driver wants them innermost first.
QNN_EXPORT void *mgpuTensorMapEncodeTiledMemref(
    int64_t rank, void *descriptor, CUtensorMapDataType dataType,
    CUtensorMapInterleave interleave, CUtensorMapSwizzle swizzle,
    CUtensorMapL2promotion l2Promotion, CUtensorMapFloatOOBfill oobFill,
    int64_t *boxDims) {
  Driver &d = api();
  if (!d.cuTensorMapEncodeTiled)
    fatal("this CUDA driver has no cuTensorMapEncodeTiled (TMA needs CUDA 12 "
          "and sm_90)");
  if (rank < 1 || rank > 5)
    fatal(format("a TMA descriptor of rank %ld (1 to 5 are possible)",
                 long(rank)));
  // Bytes per element of each CUtensorMapDataType, in enum order.
  static const int elementBytes[] = {1, 2, 4, 4, 8, 8, 2, 4, 8, 2, 4, 4, 4};
  if (unsigned(dataType) >= sizeof(elementBytes) / sizeof(int))
    fatal(format("TMA data type %d is not known here", int(dataType)));
  auto *memref = static_cast<RankedDescriptor *>(descriptor);
  const int64_t *sizes = memref->sizesAndStrides;
  const int64_t *strides = sizes + rank;
  cuuint64_t globalDim[5] = {1, 1, 1, 1, 1}, globalStrides[5] = {0};
  cuuint32_t boxDim[5] = {1, 1, 1, 1, 1}, elementStrides[5] = {1, 1, 1, 1, 1};
  for (int64_t i = 0; i < rank; ++i) {
    globalDim[i] = cuuint64_t(sizes[rank - 1 - i]);
    boxDim[i] = cuuint32_t(boxDims[rank - 1 - i]);
  }
  for (int64_t i = 0; i + 1 < rank; ++i)
    globalStrides[i] =
        cuuint64_t(strides[rank - 2 - i] * elementBytes[dataType]);
  char *address =
      memref->aligned + memref->offset * int64_t(elementBytes[dataType]);
  CUtensorMap map;
  QNN_CHECK(d, cuTensorMapEncodeTiled, &map, dataType, cuuint32_t(rank),
            address, globalDim, globalStrides, boxDim, elementStrides,
            interleave, swizzle, l2Promotion, oobFill);
  CUdeviceptr onDevice = 0;
  QNN_CHECK(d, cuMemAlloc, &onDevice, sizeof(map));
  QNN_CHECK(d, cuMemcpy, onDevice, reinterpret_cast<CUdeviceptr>(&map),
            sizeof(map));
  return reinterpret_cast<void *>(onDevice);
}
