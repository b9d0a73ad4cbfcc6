/* A stand-in for the CUDA driver (libcuda.so.1) for tests on machines
 * without a GPU: memory is host memory, copies are memcpy, a module is
 * accepted when it is a fatbin or cubin, and a kernel launch runs nothing.
 * Every call is logged to stderr ("fake-cuda: ..."), so a test sees the
 * sequence quant-opt's CUDA runtime makes. Built against the toolkit's
 * cuda.h, so each function has the driver's exact signature and exported
 * name (cuMemFree is cuMemFree_v2, ...). */
#include <cuda.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG(...) (fprintf(stderr, "fake-cuda: " __VA_ARGS__), fputc('\n', stderr))

static int dummy;

CUresult cuGetErrorName(CUresult e, const char **s) { *s = e ? "CUDA_ERROR_FAKE" : "CUDA_SUCCESS"; return CUDA_SUCCESS; }
CUresult cuGetErrorString(CUresult e, const char **s) { (void)e; *s = "fake driver"; return CUDA_SUCCESS; }
CUresult cuInit(unsigned flags) { LOG("cuInit %u", flags); return CUDA_SUCCESS; }
CUresult cuDriverGetVersion(int *v) { *v = 13000; return CUDA_SUCCESS; }
CUresult cuDeviceGetCount(int *n) { *n = 1; return CUDA_SUCCESS; }
CUresult cuDeviceGet(CUdevice *d, int ordinal) { *d = ordinal; return CUDA_SUCCESS; }
CUresult cuDeviceGetName(char *name, int len, CUdevice d) { (void)d; snprintf(name, len, "Fake GPU"); return CUDA_SUCCESS; }
CUresult cuDeviceGetAttribute(int *v, CUdevice_attribute a, CUdevice d) {
  (void)d;
  /* FAKE_CUDA_NO_POOLS=1: a device without stream-ordered memory pools. */
  if (a == CU_DEVICE_ATTRIBUTE_MEMORY_POOLS_SUPPORTED) { *v = getenv("FAKE_CUDA_NO_POOLS") == NULL; return CUDA_SUCCESS; }
  *v = a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR ? 9 : a == CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR ? 0 : 232448;
  return CUDA_SUCCESS;
}
CUresult cuDevicePrimaryCtxRetain(CUcontext *c, CUdevice d) { (void)d; *c = (CUcontext)&dummy; return CUDA_SUCCESS; }
static CUcontext current;
CUresult cuCtxGetCurrent(CUcontext *c) { *c = current; return CUDA_SUCCESS; }
CUresult cuCtxSetCurrent(CUcontext c) { LOG("cuCtxSetCurrent"); current = c; return CUDA_SUCCESS; }
CUresult cuModuleLoadData(CUmodule *m, const void *image) {
  uint32_t magic;
  memcpy(&magic, image, 4);
  /* 0xBA55ED50: fatbin; 0x464C457F: ELF (cubin). */
  LOG("cuModuleLoadData %s", magic == 0xBA55ED50u ? "fatbin" : magic == 0x464C457Fu ? "cubin" : "unknown");
  if (magic != 0xBA55ED50u && magic != 0x464C457Fu) return CUDA_ERROR_INVALID_IMAGE;
  *m = (CUmodule)&dummy;
  return CUDA_SUCCESS;
}
CUresult cuModuleLoadDataEx(CUmodule *m, const void *image, unsigned n, CUjit_option *o, void **v) {
  (void)n; (void)o; (void)v;
  LOG("cuModuleLoadDataEx ptx=%d", strstr((const char *)image, ".version") != NULL);
  *m = (CUmodule)&dummy;
  return CUDA_SUCCESS;
}
CUresult cuModuleUnload(CUmodule m) { (void)m; return CUDA_SUCCESS; }
CUresult cuModuleGetFunction(CUfunction *f, CUmodule m, const char *name) {
  (void)m; LOG("cuModuleGetFunction %s", name); *f = (CUfunction)&dummy; return CUDA_SUCCESS;
}
CUresult cuFuncSetAttribute(CUfunction f, CUfunction_attribute a, int v) { (void)f; (void)a; (void)v; return CUDA_SUCCESS; }
CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by,
                        unsigned bz, unsigned smem, CUstream s, void **params, void **extra) {
  (void)f; (void)s; (void)extra;
  LOG("cuLaunchKernel grid %ux%ux%u block %ux%ux%u smem %u params %s", gx, gy, gz, bx, by, bz, smem,
      params ? "yes" : "no");
  return CUDA_SUCCESS;
}
CUresult cuLaunchKernelEx(const CUlaunchConfig *c, CUfunction f, void **p, void **e) { (void)c; (void)f; (void)p; (void)e; return CUDA_SUCCESS; }
CUresult cuStreamCreate(CUstream *s, unsigned flags) { (void)flags; *s = (CUstream)malloc(1); return CUDA_SUCCESS; }
CUresult cuStreamDestroy(CUstream s) { free(s); return CUDA_SUCCESS; }
CUresult cuStreamSynchronize(CUstream s) { (void)s; LOG("cuStreamSynchronize"); return CUDA_SUCCESS; }
CUresult cuStreamWaitEvent(CUstream s, CUevent e, unsigned f) { (void)s; (void)e; (void)f; return CUDA_SUCCESS; }
CUresult cuEventCreate(CUevent *e, unsigned f) { (void)f; *e = (CUevent)malloc(1); return CUDA_SUCCESS; }
CUresult cuEventDestroy(CUevent e) { free(e); return CUDA_SUCCESS; }
CUresult cuEventRecord(CUevent e, CUstream s) { (void)e; (void)s; return CUDA_SUCCESS; }
CUresult cuEventSynchronize(CUevent e) { (void)e; return CUDA_SUCCESS; }
CUresult cuEventElapsedTime(float *ms, CUevent a, CUevent b) { (void)a; (void)b; *ms = 0.5f; return CUDA_SUCCESS; }
CUresult cuMemAllocAsync(CUdeviceptr *p, size_t n, CUstream s) { (void)s; LOG("cuMemAllocAsync %zu", n); *p = (CUdeviceptr)malloc(n); return CUDA_SUCCESS; }
CUresult cuMemFreeAsync(CUdeviceptr p, CUstream s) { (void)s; LOG("cuMemFreeAsync"); free((void *)p); return CUDA_SUCCESS; }
CUresult cuMemAlloc(CUdeviceptr *p, size_t n) { LOG("cuMemAlloc %zu", n); *p = (CUdeviceptr)malloc(n); return CUDA_SUCCESS; }
CUresult cuMemAllocManaged(CUdeviceptr *p, size_t n, unsigned f) { (void)f; *p = (CUdeviceptr)malloc(n); return CUDA_SUCCESS; }
CUresult cuMemFree(CUdeviceptr p) { free((void *)p); return CUDA_SUCCESS; }
CUresult cuMemcpyAsync(CUdeviceptr d, CUdeviceptr s, size_t n, CUstream st) { (void)st; LOG("cuMemcpyAsync %zu", n); memcpy((void *)d, (void *)s, n); return CUDA_SUCCESS; }
CUresult cuMemcpy(CUdeviceptr d, CUdeviceptr s, size_t n) { memcpy((void *)d, (void *)s, n); return CUDA_SUCCESS; }
CUresult cuMemsetD32Async(CUdeviceptr d, unsigned v, size_t n, CUstream s) { (void)s; for (size_t i = 0; i < n; ++i) ((unsigned *)d)[i] = v; return CUDA_SUCCESS; }
CUresult cuMemsetD16Async(CUdeviceptr d, unsigned short v, size_t n, CUstream s) { (void)s; for (size_t i = 0; i < n; ++i) ((unsigned short *)d)[i] = v; return CUDA_SUCCESS; }
CUresult cuMemHostRegister(void *p, size_t n, unsigned f) { (void)p; (void)n; (void)f; return CUDA_SUCCESS; }
CUresult cuMemHostUnregister(void *p) { (void)p; return CUDA_SUCCESS; }
CUresult cuTensorMapEncodeTiled(CUtensorMap *m, CUtensorMapDataType t, cuuint32_t r, void *a, const cuuint64_t *gd,
                                const cuuint64_t *gs, const cuuint32_t *bd, const cuuint32_t *es,
                                CUtensorMapInterleave i, CUtensorMapSwizzle sw, CUtensorMapL2promotion l2,
                                CUtensorMapFloatOOBfill f) {
  (void)t; (void)r; (void)a; (void)gd; (void)gs; (void)bd; (void)es; (void)i; (void)sw; (void)l2; (void)f;
  memset(m, 0, sizeof *m);
  return CUDA_SUCCESS;
}
