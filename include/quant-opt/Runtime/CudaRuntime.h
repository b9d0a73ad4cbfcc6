/*===- CudaRuntime.h - quant-opt's CUDA runtime: its own C API ----*- C -*-===*
 *
 * Part of the quant-opt project, under the Apache License v2.0 with LLVM
 * Exceptions.
 *
 *===----------------------------------------------------------------------===*
 *
 * The functions libquant_opt_cuda_runtime.so (lib/Runtime/CUDA) exports
 * besides the mgpu* functions that MLIR's gpu-to-llvm lowering calls: a
 * check that a driver and a device are there (quant-run --device=cuda asks
 * it before compiling) and kernel timing. Plain C, no MLIR or CUDA headers:
 * a program that links an ahead-of-time compiled GPU model may include it.
 *
 *===----------------------------------------------------------------------===*/

#ifndef QUANT_OPT_RUNTIME_CUDARUNTIME_H
#define QUANT_OPT_RUNTIME_CUDARUNTIME_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 0 when the CUDA driver loads (dlopen "libcuda.so.1"), initializes and has
 * a device; `message` then names the device ("NVIDIA H200, sm_90, driver
 * 13.0"). Otherwise non-zero, and `message` says why ("no CUDA driver
 * (libcuda.so.1) on this machine: ..."). `message` may be null. */
int qnnCudaRuntimeStatus(char *message, size_t size);

/* With `enable` non-zero, every kernel launch is bracketed by two timing
 * events (also switched on by QUANT_OPT_CUDA_PROFILE=1 in the
 * environment). */
void qnnCudaProfile(int enable);

/* The summed execution time, in seconds, of the kernels launched since the
 * last call while profiling was on, and (if `launches` is not null) how many
 * they were; waits for them to finish, then starts counting afresh. */
double qnnCudaKernelSeconds(long *launches);

#ifdef __cplusplus
}
#endif

#endif /* QUANT_OPT_RUNTIME_CUDARUNTIME_H */
