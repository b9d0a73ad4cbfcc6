// RUN: quant-opt %s --qnn-insert-observers | FileCheck %s
// Running it again changes nothing.
// RUN: quant-opt %s --qnn-insert-observers --qnn-insert-observers | FileCheck %s

// CHECK-LABEL: func @named
// CHECK-SAME: (%[[X:.*]]: tensor<1x4xf32>, %[[W:.*]]: tensor<4x3xf32>)
// CHECK-DAG: %[[OX:.*]] = qnn.observe %[[X]] as "input" : tensor<1x4xf32>
// A weight passed as an argument is an activation like any other.
// CHECK-DAG: %[[OW:.*]] = qnn.observe %[[W]] as "named.arg1" : tensor<4x3xf32>
// Constants, tensor.empty and linalg.fill are not observed.
// CHECK-NOT: qnn.observe %cst
// CHECK: %[[Y:.*]] = linalg.matmul ins(%[[OX]], %[[OW]] : tensor<1x4xf32>, tensor<4x3xf32>)
// CHECK: %[[OY:.*]] = qnn.observe %[[Y]] as "fc" : tensor<1x3xf32>
// CHECK: %[[R:.*]] = linalg.max ins(%[[OY]], %{{.*}} : tensor<1x3xf32>, tensor<1x3xf32>)
// CHECK: %[[OR:.*]] = qnn.observe %[[R]] as "relu" : tensor<1x3xf32>
// CHECK: return %[[OR]]
func.func @named(%x: tensor<1x4xf32> loc("input"), %w: tensor<4x3xf32>) -> tensor<1x3xf32> {
  %zero = arith.constant 0.0 : f32
  %zeros = arith.constant dense<0.0> : tensor<1x3xf32>
  %init = tensor.empty() : tensor<1x3xf32>
  %acc = linalg.fill ins(%zero : f32) outs(%init : tensor<1x3xf32>) -> tensor<1x3xf32>
  %y = linalg.matmul ins(%x, %w : tensor<1x4xf32>, tensor<4x3xf32>) outs(%acc : tensor<1x3xf32>) -> tensor<1x3xf32> loc("fc")
  %r = linalg.max ins(%y, %zeros : tensor<1x3xf32>, tensor<1x3xf32>) outs(%init : tensor<1x3xf32>) -> tensor<1x3xf32> loc("relu")
  return %r : tensor<1x3xf32>
}

// Without a name, the id is the op name and its line and column; a name used
// twice gets a suffix. Integer tensors are not activations.
// CHECK-LABEL: func @unnamed
// CHECK: %[[OX:.*]] = qnn.observe %{{.*}} as "unnamed.arg0"
// CHECK: %[[A:.*]] = linalg.add
// CHECK: qnn.observe %[[A]] as "linalg.add@[[# @LINE + 8]]:8"
// CHECK: %[[B:.*]] = linalg.mul
// CHECK: qnn.observe %[[B]] as "twice"
// CHECK: %[[C:.*]] = linalg.mul
// CHECK: qnn.observe %[[C]] as "twice_1"
// CHECK-NOT: qnn.observe %{{.*}} : tensor<4xi8>
func.func @unnamed(%x: tensor<4xf32>, %i: tensor<4xi8>) -> (tensor<4xf32>, tensor<4xi8>) {
  %init = tensor.empty() : tensor<4xf32>
  %a = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) -> tensor<4xf32>
  %b = linalg.mul ins(%a, %a : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) -> tensor<4xf32> loc("twice")
  %c = linalg.mul ins(%b, %b : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) -> tensor<4xf32> loc("twice")
  return %c, %i : tensor<4xf32>, tensor<4xi8>
}

// A value that is only ever a destination is not an activation.
// CHECK-LABEL: func @destination_only
// CHECK-NOT: qnn.observe %arg1
func.func @destination_only(%x: tensor<4xf32>, %out: tensor<4xf32>) -> tensor<4xf32> {
  %a = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%out : tensor<4xf32>) -> tensor<4xf32> loc("add")
  return %a : tensor<4xf32>
}

// An empty name (an unnamed ONNX node) names nothing: the location it wraps,
// or the op's name, does; an argument's empty name gives the argument's place.
// CHECK-LABEL: func @empty_names
// CHECK: qnn.observe %{{.*}} as "empty_names.arg0"
// CHECK: %[[E:.*]] = linalg.add
// CHECK: qnn.observe %[[E]] as "linalg.add@3:8"
// CHECK: %[[F:.*]] = linalg.mul
// CHECK: qnn.observe %[[F]] as "linalg.mul"
func.func @empty_names(%x: tensor<4xf32> loc("")) -> tensor<4xf32> {
  %init = tensor.empty() : tensor<4xf32>
  %e = linalg.add ins(%x, %x : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) -> tensor<4xf32> loc(""("model.mlir":3:8))
  %f = linalg.mul ins(%e, %e : tensor<4xf32>, tensor<4xf32>) outs(%init : tensor<4xf32>) -> tensor<4xf32> loc("")
  return %f : tensor<4xf32>
}
