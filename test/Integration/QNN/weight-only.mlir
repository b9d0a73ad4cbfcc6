// Weight-only quantization: activations stay float, the weights are stored
// as integers and dequantized inside the contraction. The fused program
// must give the unfused QDQ program's results bit for bit (same arithmetic,
// same order), for per-channel 8-bit, per-group 4-bit and asymmetric
// per-tensor weights.
//
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-qdq=weight-only=true > %t.pc.mlir
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=weight-only=true weight-granularity=per_group weight-group-size=4 weight-bits=4" > %t.pg.mlir
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=weight-only=true weight-granularity=per_tensor weight-symmetric=false" > %t.pt.mlir
// RUN: quant-opt %t.pg.mlir --qnn-fuse-quantized-ops --canonicalize | FileCheck %s --check-prefix=GROUPS
// RUN: for v in pc pg pt; do \
// RUN:   quant-opt %t.$v.mlir --qnn-reference-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | grep -v Unranked > %t.$v.unfused; \
// RUN:   quant-opt %t.$v.mlir --qnn-fuse-quantized-ops --canonicalize --qnn-reference-cpu-pipeline | mlir-runner -e main -entry-point-result=void -shared-libs=%mlir_runner_utils,%mlir_c_runner_utils | grep -v Unranked > %t.$v.fused; \
// RUN:   diff %t.$v.unfused %t.$v.fused || exit 1; \
// RUN: done

// Per group of 4 rows: the scales are read at (k floordiv 4, n); the
// weights stay 4-bit integers, dequantized in the body.
// GROUPS-DAG: #[[$GROUP:.*]] = affine_map<(d0, d1, d2) -> (d2 floordiv 4, d1)>
// GROUPS-LABEL: func @model
// GROUPS-DAG: arith.constant dense<{{.*}}> : tensor<8x3xi4>
// GROUPS-DAG: arith.constant dense<{{.*}}> : tensor<2x3xf32>
// GROUPS: linalg.generic {indexing_maps = [#{{.*}}, #{{.*}}, #[[$GROUP]], #[[$GROUP]], #{{.*}}]
// GROUPS: arith.extsi %{{.*}} : i4 to i32
// GROUPS: arith.sitofp
// GROUPS-NOT: linalg.matmul

func.func @model(%x: tensor<2x8xf32>) -> tensor<2x3xf32> {
  %w = arith.constant dense<[[0.5, -1.0, 0.25], [0.3, 0.8, -0.7], [1.2, 0.05, -0.6], [0.0, -2.54, 0.63], [0.11, 0.22, 0.33], [-0.44, 0.55, -0.66], [0.77, -0.88, 0.99], [1.5, -1.5, 0.125]]> : tensor<8x3xf32>
  %zero = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x3xf32>
  %i = linalg.fill ins(%zero : f32) outs(%e : tensor<2x3xf32>) -> tensor<2x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<2x8xf32>, tensor<8x3xf32>) outs(%i : tensor<2x3xf32>) -> tensor<2x3xf32>
  return %y : tensor<2x3xf32>
}
func.func @main() {
  %x = arith.constant dense<[[0.1, -0.2, 0.3, 0.4, -0.5, 0.6, 0.7, -0.8], [1.0, 2.0, -3.0, 0.5, 0.25, -0.125, 0.9, 0.33]]> : tensor<2x8xf32>
  %y = call @model(%x) : (tensor<2x8xf32>) -> tensor<2x3xf32>
  %b = arith.bitcast %y : tensor<2x3xf32> to tensor<2x3xi32>
  %u = tensor.cast %b : tensor<2x3xi32> to tensor<*xi32>
  call @printMemrefI32(%u) : (tensor<*xi32>) -> ()
  return
}
func.func private @printMemrefI32(tensor<*xi32>) attributes { llvm.emit_c_interface }
