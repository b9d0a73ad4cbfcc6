// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=activation-dynamic=per_row activation-signed=true activation-symmetric=true" | FileCheck %s --check-prefix=ROW
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=activation-dynamic=per_tensor" | FileCheck %s --check-prefix=TENSOR
// RUN: quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=statistics=%S/Inputs/mlp-dynamic-stats.json recipe=%S/Inputs/mlp-dynamic-recipe.json parameters=%t.json" | FileCheck %s --check-prefix=MIXED
// RUN: FileCheck %s --check-prefix=PARAMS < %t.json
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=activation-dynamic=per_token" 2>&1 | FileCheck %s --check-prefix=BAD
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=activation-dynamic=per_row activation-symmetric=true" 2>&1 | FileCheck %s --check-prefix=UNSIGNED
// RUN: not quant-opt %s --qnn-insert-observers "--qnn-insert-qdq=recipe=%S/Inputs/mlp-dynamic-recipe.json" 2>&1 | FileCheck %s --check-prefix=NOSTATS

// Dynamic quantization (docs/Semantics.md, "Dynamic quantization"): the
// activation input of each contraction with constant weights is quantized at
// run time (qnn.dynamic_quantize + qnn.dynamic_dequantize), its weights as
// usual at compile time; tensors that only dynamic layers read stay float,
// so no statistics are needed when every layer is dynamic.

// ROW-LABEL: func @mlp
// ROW-NOT: qnn.observe
// ROW-NOT: qnn.quantize %arg0
// ROW: %[[W:.*]] = qnn.dequantize %{{.*}} : tensor<8x6x!quant.uniform<i8<-127:127>:f32:1, {{.*}}>> -> tensor<8x6xf32>
// ROW: %[[Q:.*]], %[[S:.*]], %[[Z:.*]] = qnn.dynamic_quantize %arg0 symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
// ROW: %[[X:.*]] = qnn.dynamic_dequantize %[[Q]], %[[S]], %[[Z]] : tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32> -> tensor<4x8xf32>
// ROW: linalg.matmul ins(%[[X]], %[[W]] : tensor<4x8xf32>, tensor<8x6xf32>)
// The ReLU's output is read by fc2 only (dynamic): it stays float.
// ROW-NOT: qnn.quantize
// ROW: qnn.dynamic_quantize %{{.*}} symmetric : tensor<4x6xf32> -> tensor<4x6xi8>, tensor<4x1xf32>, tensor<4x1xi32>
// ROW: linalg.matmul
// ROW-NOT: qnn.quantize
// ROW: return

// TENSOR-LABEL: func @mlp
// TENSOR: qnn.dynamic_quantize %arg0 unsigned : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<1x1xf32>, tensor<1x1xi32>
// TENSOR: qnn.dynamic_dequantize %{{.*}} unsigned : tensor<4x8xi8>, tensor<1x1xf32>, tensor<1x1xi32> -> tensor<4x8xf32>
// TENSOR: qnn.dynamic_quantize %{{.*}} unsigned : tensor<4x6xf32> -> tensor<4x6xi8>, tensor<1x1xf32>, tensor<1x1xi32>

// The recipe makes fc1 dynamic and leaves fc2 static: the model input (read
// by fc1 only) stays float, the ReLU's output (read by fc2) and fc2's output
// are quantized from the statistics.
// MIXED-LABEL: func @mlp
// MIXED-NOT: qnn.quantize %arg0
// MIXED: qnn.dynamic_quantize %arg0 symmetric : tensor<4x8xf32> -> tensor<4x8xi8>, tensor<4x1xf32>, tensor<4x1xi32>
// relu1 in [0, 2.55]: u8, s = 0.01, z = 0.
// MIXED: qnn.quantize %{{.*}} : tensor<4x6xf32> -> tensor<4x6x!quant.uniform<u8:f32, 0.00999999{{[0-9]*}}>>
// MIXED-NOT: qnn.dynamic_quantize
// fc2 in [-1, 1.55]: s = 0.01, z = 100.
// MIXED: qnn.quantize %{{.*}} : tensor<4x3xf32> -> tensor<4x3x!quant.uniform<u8:f32, 0.00999999{{[0-9]*}}:100>>

// PARAMS: "dynamic_activations": {
// PARAMS-NEXT: "fc1": {
// PARAMS-NEXT: "bits": 8,
// PARAMS-NEXT: "granularity": "per_row",
// PARAMS-NEXT: "signed": true,
// PARAMS-NEXT: "symmetric": true

// BAD: error: unknown activation-dynamic 'per_token' (static, per_tensor, per_row)
// UNSIGNED: error: loc("fc1"): symmetric dynamic quantization needs signed activations (set "signed": true or "symmetric": false)
// NOSTATS: error: the module has qnn.observe ops but no statistics file was given

func.func @mlp(%x: tensor<4x8xf32>) -> tensor<4x3xf32> {
  %w1 = arith.constant dense<[[0.5, -0.25, 0.125, 1.0, -1.0, 0.75], [0.1, 0.2, 0.3, -0.4, 0.5, -0.6], [1.5, -1.25, 0.0, 0.25, 0.5, 0.0], [-0.3, 0.3, -0.3, 0.3, -0.3, 0.3], [0.9, 0.8, 0.7, 0.6, 0.5, 0.4], [-0.1, -0.2, -0.3, -0.4, -0.5, -0.6], [0.05, 0.15, 0.25, 0.35, 0.45, 0.55], [1.0, 1.0, -1.0, -1.0, 0.5, -0.5]]> : tensor<8x6xf32>
  %b1 = arith.constant dense<[0.1, -0.2, 0.3, -0.4, 0.5, -0.6]> : tensor<6xf32>
  %w2 = arith.constant dense<[[0.5, -0.5, 0.25], [0.125, 1.0, -1.0], [0.3, 0.2, 0.1], [-0.7, 0.4, 0.9], [0.6, -0.6, 0.0], [0.2, 0.2, -0.2]]> : tensor<6x3xf32>
  %zero = arith.constant 0.0 : f32
  %e1 = tensor.empty() : tensor<4x6xf32>
  %f1 = linalg.fill ins(%zero : f32) outs(%e1 : tensor<4x6xf32>) -> tensor<4x6xf32>
  %m1 = linalg.matmul ins(%x, %w1 : tensor<4x8xf32>, tensor<8x6xf32>) outs(%f1 : tensor<4x6xf32>) -> tensor<4x6xf32> loc("fc1")
  %a1 = linalg.generic {indexing_maps = [affine_map<(d0, d1) -> (d0, d1)>, affine_map<(d0, d1) -> (d1)>, affine_map<(d0, d1) -> (d0, d1)>], iterator_types = ["parallel", "parallel"]} ins(%m1, %b1 : tensor<4x6xf32>, tensor<6xf32>) outs(%e1 : tensor<4x6xf32>) {
  ^bb0(%in: f32, %b: f32, %out: f32):
    %s = arith.addf %in, %b : f32
    %r = arith.maximumf %s, %zero : f32
    linalg.yield %r : f32
  } -> tensor<4x6xf32> loc("relu1")
  %e2 = tensor.empty() : tensor<4x3xf32>
  %f2 = linalg.fill ins(%zero : f32) outs(%e2 : tensor<4x3xf32>) -> tensor<4x3xf32>
  %m2 = linalg.matmul ins(%a1, %w2 : tensor<4x6xf32>, tensor<6x3xf32>) outs(%f2 : tensor<4x3xf32>) -> tensor<4x3xf32> loc("fc2")
  return %m2 : tensor<4x3xf32>
}
