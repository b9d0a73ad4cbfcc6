// RUN: quant-opt %s --qnn-integer-contractions-in-f32 --split-input-file | FileCheck %s

// CHECK-DAG: #[[$ID2:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$MK:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d0, d2)>
// CHECK-DAG: #[[$KN:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d2, d1)>
// CHECK-DAG: #[[$MN:map[0-9]*]] = affine_map<(d0, d1, d2) -> (d0, d1)>
// CHECK-DAG: #[[$ROW:map[0-9]*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-DAG: #[[$COL:map[0-9]*]] = affine_map<(d0, d1) -> (d1)>
// CHECK-DAG: #[[$SCALAR:map[0-9]*]] = affine_map<(d0, d1) -> ()>

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#m = affine_map<(m, n, k) -> (m)>
#k = affine_map<(m, n, k) -> (k)>
#none = affine_map<(m, n, k) -> ()>

// Attention's scores with run-time zero points (rank-0 tensors) subtracted
// from both u8 operands: the products of the operands in f32, their sums
// over k (row sums of %a, column sums of %b), and one op that writes
//   fptosi(Σ a·b) - z_b·Σa - z_a·Σb + 64·z_a·z_b
// (the op's init is zeros: the fill's tensor is its output, not read).
// CHECK-LABEL: func @zero_points
// CHECK-SAME: (%[[A:.*]]: tensor<8x64xi8>, %[[B:.*]]: tensor<64x16xi8>, %[[ZA:.*]]: tensor<i32>, %[[ZB:.*]]: tensor<i32>)
// CHECK-DAG: %[[N:.*]] = arith.constant 64 : i32
// CHECK-DAG: %[[FZERO:.*]] = arith.constant 0.000000e+00 : f32
// CHECK: %[[INIT:.*]] = tensor.empty() : tensor<8x16xi32>
// CHECK-NOT: linalg.fill {{.*}} tensor<8x16xi32>
// CHECK: %[[AF:.*]] = linalg.generic {{.*}} ins(%[[A]] : tensor<8x64xi8>) outs(%{{.*}} : tensor<8x64xf32>)
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: %[[BF:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<64x16xi8>) outs(%{{.*}} : tensor<64x16xf32>)
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: %[[PINIT:.*]] = linalg.fill ins(%[[FZERO]] : f32) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK: %[[P:.*]] = linalg.generic {indexing_maps = [#[[$MK]], #[[$KN]], #[[$MN]]], iterator_types = ["parallel", "parallel", "reduction"]} ins(%[[AF]], %[[BF]] : tensor<8x64xf32>, tensor<64x16xf32>) outs(%[[PINIT]] : tensor<8x16xf32>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32, %[[Y:.*]]: f32, %[[ACC:.*]]: f32):
// CHECK-NEXT: %[[XY:.*]] = arith.mulf %[[X]], %[[Y]] : f32
// CHECK-NEXT: %[[SUM:.*]] = arith.addf %[[ACC]], %[[XY]] : f32
// CHECK-NEXT: linalg.yield %[[SUM]]
// CHECK: %[[SA:.*]] = linalg.generic {indexing_maps = [#[[$ID2]], #[[$ROW]]], iterator_types = ["parallel", "reduction"]} ins(%[[A]] : tensor<8x64xi8>) outs(%{{.*}} : tensor<8xi32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: %[[SB:.*]] = linalg.generic {indexing_maps = [#[[$ID2]], #[[$COL]]], iterator_types = ["reduction", "parallel"]} ins(%[[B]] : tensor<64x16xi8>) outs(%{{.*}} : tensor<16xi32>)
// CHECK: arith.extui %{{.*}} : i8 to i32
// CHECK: linalg.generic {indexing_maps = [#[[$ID2]], #[[$ROW]], #[[$COL]], #[[$SCALAR]], #[[$SCALAR]], #[[$ID2]]], iterator_types = ["parallel", "parallel"]} ins(%[[P]], %[[SA]], %[[SB]], %[[ZA]], %[[ZB]] : {{.*}}) outs(%[[INIT]] : tensor<8x16xi32>)
// CHECK-NEXT: ^bb0(%[[PRODUCTS:.*]]: f32, %[[SUMA:.*]]: i32, %[[SUMB:.*]]: i32, %[[ZAV:.*]]: i32, %[[ZBV:.*]]: i32, %[[OUT:.*]]: i32):
// CHECK-NEXT: %[[S0:.*]] = arith.fptosi %[[PRODUCTS]] : f32 to i32
// CHECK-NEXT: %[[OA:.*]] = arith.subi %{{.*}}, %[[ZAV]] : i32
// CHECK-NEXT: %[[OB:.*]] = arith.subi %{{.*}}, %[[ZBV]] : i32
// CHECK-NEXT: %[[T1:.*]] = arith.muli %[[OB]], %[[SUMA]] : i32
// CHECK-NEXT: %[[S1:.*]] = arith.addi %[[S0]], %[[T1]] : i32
// CHECK-NEXT: %[[T2:.*]] = arith.muli %[[OA]], %[[SUMB]] : i32
// CHECK-NEXT: %[[S2:.*]] = arith.addi %[[S1]], %[[T2]] : i32
// CHECK-NEXT: %[[OAB:.*]] = arith.muli %[[OA]], %[[OB]] : i32
// CHECK-NEXT: %[[T3:.*]] = arith.muli %[[OAB]], %[[N]] : i32
// CHECK-NEXT: %[[S3:.*]] = arith.addi %[[S2]], %[[T3]] : i32
// CHECK-NEXT: linalg.yield %[[S3]] : i32
func.func @zero_points(%a: tensor<8x64xi8>, %b: tensor<64x16xi8>, %za: tensor<i32>, %zb: tensor<i32>) -> tensor<8x16xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x16xi32>) -> tensor<8x16xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #none, #none, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %za, %zb : tensor<8x64xi8>, tensor<64x16xi8>, tensor<i32>, tensor<i32>) outs(%i : tensor<8x16xi32>) {
  ^bb0(%x: i8, %y: i8, %zx: i32, %zy: i32, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %zx : i32
    %ye = arith.extui %y : i8 to i32
    %ys = arith.subi %ye, %zy : i32
    %p = arith.muli %xs, %ys : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  return %r : tensor<8x16xi32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#m = affine_map<(m, n, k) -> (m)>

// A zero point per row of the signed first operand, none on the second:
// only the second operand's column sums are needed (o_a·Σb), read with the
// zero points along the output's rows; the operands convert with sitofp.
// CHECK-LABEL: func @per_row_zero_point
// CHECK-SAME: (%[[A:.*]]: tensor<8x32xi8>, %[[B:.*]]: tensor<32x16xi8>, %[[ZA:.*]]: tensor<8xi32>)
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: arith.sitofp %{{.*}} : i8 to f32
// CHECK: arith.mulf
// CHECK: %[[SB:.*]] = linalg.generic {{.*}} ins(%[[B]] : tensor<32x16xi8>) outs(%{{.*}} : tensor<16xi32>)
// CHECK: arith.extsi %{{.*}} : i8 to i32
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SB]], %[[ZA]] : tensor<8x16xf32>, tensor<16xi32>, tensor<8xi32>)
// CHECK-NOT: linalg.generic
func.func @per_row_zero_point(%a: tensor<8x32xi8>, %b: tensor<32x16xi8>, %za: tensor<8xi32>) -> tensor<8x16xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x16xi32>) -> tensor<8x16xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #m, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %za : tensor<8x32xi8>, tensor<32x16xi8>, tensor<8xi32>) outs(%i : tensor<8x16xi32>) {
  ^bb0(%x: i8, %y: i8, %zx: i32, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %xs = arith.subi %xe, %zx : i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xs, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  return %r : tensor<8x16xi32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>

// A constant offset (a static zero point, added as canonicalization writes
// a subtracted constant) is added to its operand before the conversion:
// 32 steps of (a - 7)·b stay below 2^24 (32 · 248 · 255), so no sums and
// no offset terms, only the conversion of the products.
// CHECK-LABEL: func @constant_offset
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<8x32xi8>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: i8, %{{.*}}: f32):
// CHECK-NEXT: %[[EXT:.*]] = arith.extui %[[IN]] : i8 to i32
// CHECK-NEXT: %[[SHIFTED:.*]] = arith.addi %[[EXT]], %{{.*}} : i32
// CHECK-NEXT: arith.sitofp %[[SHIFTED]] : i32 to f32
// CHECK: arith.mulf
// CHECK: linalg.generic
// CHECK-NEXT: ^bb0(%[[P:.*]]: f32, %{{.*}}: i32):
// CHECK-NEXT: %[[EXACT:.*]] = arith.fptosi %[[P]] : f32 to i32
// CHECK-NEXT: linalg.yield %[[EXACT]] : i32
func.func @constant_offset(%a: tensor<8x32xi8>, %b: tensor<32x16xi8>) -> tensor<8x16xi32> {
  %c0 = arith.constant 0 : i32
  %offset = arith.constant -7 : i32
  %e = tensor.empty() : tensor<8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x16xi32>) -> tensor<8x16xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x32xi8>, tensor<32x16xi8>) outs(%i : tensor<8x16xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.addi %offset, %xe : i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %ye, %xs : i32
    %s = arith.addi %p, %acc : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  return %r : tensor<8x16xi32>
}

// A constant offset too large to fold (32 · 100255 · 255 > 2^24) stays an
// offset of the sum: the column sums of %b and their product with it.
// CHECK-LABEL: func @large_constant_offset
// CHECK: %[[OFFSET:.*]] = arith.constant 100000 : i32
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: arith.uitofp %{{.*}} : i8 to f32
// CHECK: arith.mulf
// CHECK: %[[SB:.*]] = linalg.generic {{.*}} outs(%{{.*}} : tensor<16xi32>)
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %[[SB]] : tensor<8x16xf32>, tensor<16xi32>)
// CHECK: arith.muli %{{.*}}, %[[OFFSET]] : i32
func.func @large_constant_offset(%a: tensor<8x32xi8>, %b: tensor<32x16xi8>) -> tensor<8x16xi32> {
  %c0 = arith.constant 0 : i32
  %offset = arith.constant 100000 : i32
  %e = tensor.empty() : tensor<8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x16xi32>) -> tensor<8x16xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x32xi8>, tensor<32x16xi8>) outs(%i : tensor<8x16xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.addi %xe, %offset : i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xs, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  return %r : tensor<8x16xi32>
}

// -----

// A named batch matmul of i8 operands: generalized (signed), then the same.
// CHECK-LABEL: func @named_batch_matmul
// CHECK-NOT: linalg.batch_matmul
// CHECK: arith.sitofp
// CHECK: arith.sitofp
// CHECK: linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "parallel", "reduction"]
// CHECK: arith.mulf
// CHECK: arith.fptosi
func.func @named_batch_matmul(%a: tensor<2x8x32xi8>, %b: tensor<2x32x16xi8>) -> tensor<2x8x16xi32> {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<2x8x16xi32>) -> tensor<2x8x16xi32>
  %r = linalg.batch_matmul ins(%a, %b : tensor<2x8x32xi8>, tensor<2x32x16xi8>) outs(%i : tensor<2x8x16xi32>) -> tensor<2x8x16xi32>
  return %r : tensor<2x8x16xi32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#k = affine_map<(m, n, k) -> (k)>

// 258 u8 x u8 steps are exact in f32 (258·255·255 < 2^24) and 1024 s8 x s8
// steps (1024·128·128 = 2^24): one f32 sum each. 259 u8 x u8 steps are
// not: chunks of 37 (259 = 7·37); 1025 s8 x s8: chunks of 205. Left as
// they are: an offset that varies along k; a body with more than the
// products; a constant operand (the micro-kernels' weights); 16-bit
// operands.
// CHECK-LABEL: func @limits
// CHECK-NOT: tensor<{{[0-9]+}}x4x4xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x4xf32>)
// CHECK-NOT: tensor<{{[0-9]+}}x4x4xf32>
// CHECK: tensor.expand_shape {{.*}} : tensor<4x259xf32> into tensor<4x7x37xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<7x4x4xf32>)
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<4x4xf32>)
// CHECK: tensor.expand_shape {{.*}} : tensor<4x1025xf32> into tensor<4x5x205xf32>
// CHECK: linalg.generic {{.*}} outs(%{{.*}} : tensor<5x4x4xf32>)
// CHECK-NEXT: ^bb0
// CHECK-NEXT: arith.mulf
// CHECK-NOT: arith.mulf
func.func @limits(%a258: tensor<4x258xi8>, %b258: tensor<258x4xi8>,
                  %a259: tensor<4x259xi8>, %b259: tensor<259x4xi8>,
                  %a1024: tensor<4x1024xi8>, %b1024: tensor<1024x4xi8>,
                  %a1025: tensor<4x1025xi8>, %b1025: tensor<1025x4xi8>,
                  %a: tensor<4x8xi8>, %b: tensor<8x4xi8>, %zk: tensor<8xi32>,
                  %a16: tensor<4x8xi16>, %b16: tensor<8x4xi16>)
    -> (tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>,
        tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>) {
  %c0 = arith.constant 0 : i32
  %c127 = arith.constant 127 : i32
  %w = arith.constant dense<3> : tensor<8x4xi8>
  %e = tensor.empty() : tensor<4x4xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<4x4xi32>) -> tensor<4x4xi32>
  %r0 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a258, %b258 : tensor<4x258xi8>, tensor<258x4xi8>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r1 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a259, %b259 : tensor<4x259xi8>, tensor<259x4xi8>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r2 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a1024, %b1024 : tensor<4x1024xi8>, tensor<1024x4xi8>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r3 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a1025, %b1025 : tensor<4x1025xi8>, tensor<1025x4xi8>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r4 = linalg.generic {indexing_maps = [#mk, #kn, #k, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %zk : tensor<4x8xi8>, tensor<8x4xi8>, tensor<8xi32>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %z: i32, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %z : i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xs, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r5 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<4x8xi8>, tensor<8x4xi8>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extui %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %c = arith.minsi %p, %c127 : i32
    %s = arith.addi %acc, %c : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r6 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %w : tensor<4x8xi8>, tensor<8x4xi8>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  %r7 = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a16, %b16 : tensor<4x8xi16>, tensor<8x4xi16>) outs(%i : tensor<4x4xi32>) {
  ^bb0(%x: i16, %y: i16, %acc: i32):
    %xe = arith.extsi %x : i16 to i32
    %ye = arith.extsi %y : i16 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<4x4xi32>
  return %r0, %r1, %r2, %r3, %r4, %r5, %r6, %r7 : tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>, tensor<4x4xi32>
}

// -----

#mk = affine_map<(b, m, n, k) -> (b, m, k)>
#kn = affine_map<(b, m, n, k) -> (b, k, n)>
#mn = affine_map<(b, m, n, k) -> (b, m, n)>
#none = affine_map<(b, m, n, k) -> ()>

// 512 steps of u8 x u8 with run-time zero points: two chunks of 256, each
// an exact f32 sum (the chunk index the first loop and the first dimension
// of the partial sums), converted and added in i32, then the zero points'
// terms as for one sum. 521 steps (a prime) have no chunk: left alone.
// CHECK-DAG: #[[$A:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d2, d0, d4)>
// CHECK-DAG: #[[$B:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d1, d0, d4, d3)>
// CHECK-DAG: #[[$P:map[0-9]*]] = affine_map<(d0, d1, d2, d3, d4) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$ALL:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$INNER:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d1, d2, d3)>
// CHECK-LABEL: func @chunked
// CHECK: %[[AS:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1], [2, 3]] output_shape [2, 3, 2, 256] : tensor<2x3x512xf32> into tensor<2x3x2x256xf32>
// CHECK: %[[BS:.*]] = tensor.expand_shape %{{.*}} {{\[}}[0], [1, 2], [3]] output_shape [2, 2, 256, 5] : tensor<2x512x5xf32> into tensor<2x2x256x5xf32>
// CHECK: %[[PARTIALS:.*]] = linalg.generic {indexing_maps = [#[[$A]], #[[$B]], #[[$P]]], iterator_types = ["parallel", "parallel", "parallel", "parallel", "reduction"]} ins(%[[AS]], %[[BS]] : tensor<2x3x2x256xf32>, tensor<2x2x256x5xf32>) outs(%{{.*}} : tensor<2x2x3x5xf32>)
// CHECK: arith.mulf
// CHECK: %[[SUMS:.*]] = linalg.generic {indexing_maps = [#[[$ALL]], #[[$INNER]]], iterator_types = ["reduction", "parallel", "parallel", "parallel"]} ins(%[[PARTIALS]] : tensor<2x2x3x5xf32>) outs(%{{.*}} : tensor<2x3x5xi32>)
// CHECK-NEXT: ^bb0(%[[PARTIAL:.*]]: f32, %[[ACC:.*]]: i32):
// CHECK-NEXT: %[[EXACT:.*]] = arith.fptosi %[[PARTIAL]] : f32 to i32
// CHECK-NEXT: %[[NEXT:.*]] = arith.addi %[[ACC]], %[[EXACT]] : i32
// CHECK-NEXT: linalg.yield %[[NEXT]]
// CHECK: linalg.generic {{.*}} ins(%[[SUMS]], %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x3x5xi32>, tensor<2x3xi32>, tensor<2x5xi32>, tensor<i32>, tensor<i32>)
// CHECK-NEXT: ^bb0(%[[S:.*]]: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32, %{{.*}}: i32):
// CHECK-NOT: linalg.yield
// CHECK: arith.addi %[[S]], %{{.*}} : i32
// CHECK: linalg.generic {{.*}} ins(%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x3x521xi8>, tensor<2x521x5xi8>, tensor<i32>, tensor<i32>)
// CHECK-NOT: arith.mulf
func.func @chunked(%a: tensor<2x3x512xi8>, %b: tensor<2x512x5xi8>, %a2: tensor<2x3x521xi8>, %b2: tensor<2x521x5xi8>, %za: tensor<i32>, %zb: tensor<i32>) -> (tensor<2x3x5xi32>, tensor<2x3x5xi32>) {
  %c0 = arith.constant 0 : i32
  %e = tensor.empty() : tensor<2x3x5xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<2x3x5xi32>) -> tensor<2x3x5xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #none, #none, #mn], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a, %b, %za, %zb : tensor<2x3x512xi8>, tensor<2x512x5xi8>, tensor<i32>, tensor<i32>) outs(%i : tensor<2x3x5xi32>) {
  ^bb0(%x: i8, %y: i8, %zx: i32, %zy: i32, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %zx : i32
    %ye = arith.extui %y : i8 to i32
    %ys = arith.subi %ye, %zy : i32
    %p = arith.muli %xs, %ys : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<2x3x5xi32>
  %r2 = linalg.generic {indexing_maps = [#mk, #kn, #none, #none, #mn], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%a2, %b2, %za, %zb : tensor<2x3x521xi8>, tensor<2x521x5xi8>, tensor<i32>, tensor<i32>) outs(%i : tensor<2x3x5xi32>) {
  ^bb0(%x: i8, %y: i8, %zx: i32, %zy: i32, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.subi %xe, %zx : i32
    %ye = arith.extui %y : i8 to i32
    %ys = arith.subi %ye, %zy : i32
    %p = arith.muli %xs, %ys : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<2x3x5xi32>
  return %r, %r2 : tensor<2x3x5xi32>, tensor<2x3x5xi32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// An init that is not zeros (an accumulator the caller passes) is added
// to: Σ (a - 7)·b + init.
// CHECK-LABEL: func @accumulates_into_init
// CHECK-SAME: %[[INIT:[^:]*]]: tensor<8x16xi32>
// CHECK: linalg.generic {{.*}} ins(%{{.*}} : tensor<8x16xf32>) outs(%[[INIT]] : tensor<8x16xi32>)
// CHECK-NEXT: ^bb0(%[[P:.*]]: f32, %[[OUT:.*]]: i32):
// CHECK-NEXT: %[[EXACT:.*]] = arith.fptosi %[[P]] : f32 to i32
// CHECK-NEXT: %[[SUM:.*]] = arith.addi %[[OUT]], %[[EXACT]] : i32
// CHECK-NEXT: linalg.yield %[[SUM]] : i32
func.func @accumulates_into_init(%a: tensor<8x32xi8>, %b: tensor<32x16xi8>, %init: tensor<8x16xi32>) -> tensor<8x16xi32> {
  %offset = arith.constant -7 : i32
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x32xi8>, tensor<32x16xi8>) outs(%init : tensor<8x16xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %xs = arith.addi %xe, %offset : i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xs, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  return %r : tensor<8x16xi32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#id = affine_map<(m, n) -> (m, n)>

// The conversion of the sums is fused into the one elementwise op that
// reads them (a requantization to f32 here), so that the contraction's
// tile converts and requantizes its own accumulators: one op from the f32
// products to the user's result, the i32 sums only in registers.
// CHECK-LABEL: func @fused_into_user
// CHECK: %[[P:.*]] = linalg.generic {{.*}} iterator_types = ["parallel", "parallel", "reduction"]} {{.*}} outs(%{{.*}} : tensor<8x16xf32>)
// CHECK: %[[R:.*]] = linalg.generic {{.*}} ins(%[[P]] : tensor<8x16xf32>) outs(%{{.*}} : tensor<8x16xf32>)
// CHECK-NEXT: ^bb0(%[[IN:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[EXACT:.*]] = arith.fptosi %[[IN]] : f32 to i32
// CHECK-NEXT: %[[F:.*]] = arith.sitofp %[[EXACT]] : i32 to f32
// CHECK-NEXT: %[[SCALED:.*]] = arith.mulf %[[F]], %{{.*}} : f32
// CHECK-NEXT: linalg.yield %[[SCALED]] : f32
// CHECK-NOT: linalg.generic
// CHECK: return %[[R]]
func.func @fused_into_user(%a: tensor<8x32xi8>, %b: tensor<32x16xi8>) -> tensor<8x16xf32> {
  %c0 = arith.constant 0 : i32
  %scale = arith.constant 0.25 : f32
  %e = tensor.empty() : tensor<8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x16xi32>) -> tensor<8x16xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b : tensor<8x32xi8>, tensor<32x16xi8>) outs(%i : tensor<8x16xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extsi %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %p = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  %fe = tensor.empty() : tensor<8x16xf32>
  %f = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel", "parallel"]}
      ins(%r : tensor<8x16xi32>) outs(%fe : tensor<8x16xf32>) {
  ^bb0(%x: i32, %out: f32):
    %xf = arith.sitofp %x : i32 to f32
    %scaled = arith.mulf %xf, %scale : f32
    linalg.yield %scaled : f32
  } -> tensor<8x16xf32>
  return %f : tensor<8x16xf32>
}

// -----

#mk = affine_map<(b, m, n, k) -> (b, m, k)>
#kn = affine_map<(b, m, n, k) -> (b, k, n)>
#mn = affine_map<(b, m, n, k) -> (b, m, n)>
#id4 = affine_map<(b, h, i, j) -> (b, h, i, j)>

// Attention's probabilities, quantized by the softmax's last op (here a
// truncation of f32 values) and collapsed (heads into the batch), are
// converted to f32 by that op itself: one op from the probabilities to the
// f32 operand, collapsed, and no 8-bit tensor in between. The other
// operand, a function argument, is converted on its own.
// CHECK-LABEL: func @converted_by_producer
// CHECK-SAME: (%[[P:.*]]: tensor<2x3x8x8xf32>, %[[V:.*]]: tensor<6x8x4xi8>)
// CHECK: %[[PF:.*]] = linalg.generic {{.*}} ins(%[[P]] : tensor<2x3x8x8xf32>) outs(%{{.*}} : tensor<2x3x8x8xf32>)
// CHECK-NEXT: ^bb0(%[[X:.*]]: f32, %{{.*}}: f32):
// CHECK-NEXT: %[[Q:.*]] = arith.fptoui %[[X]] : f32 to i8
// CHECK-NEXT: %[[F:.*]] = arith.uitofp %[[Q]] : i8 to f32
// CHECK-NEXT: linalg.yield %[[F]] : f32
// CHECK: %[[PC:.*]] = tensor.collapse_shape %[[PF]] {{\[}}[0, 1], [2], [3]] : tensor<2x3x8x8xf32> into tensor<6x8x8xf32>
// CHECK: %[[VF:.*]] = linalg.generic {{.*}} ins(%[[V]] : tensor<6x8x4xi8>)
// CHECK: linalg.generic {{.*}} ins(%[[PC]], %[[VF]] : tensor<6x8x8xf32>, tensor<6x8x4xf32>)
// CHECK-NOT: tensor<2x3x8x8xi8>
func.func @converted_by_producer(%p: tensor<2x3x8x8xf32>, %v: tensor<6x8x4xi8>) -> tensor<6x8x4xi32> {
  %c0 = arith.constant 0 : i32
  %e8 = tensor.empty() : tensor<2x3x8x8xi8>
  %q = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%p : tensor<2x3x8x8xf32>) outs(%e8 : tensor<2x3x8x8xi8>) {
  ^bb0(%x: f32, %o: i8):
    %t = arith.fptoui %x : f32 to i8
    linalg.yield %t : i8
  } -> tensor<2x3x8x8xi8>
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x3x8x8xi8> into tensor<6x8x8xi8>
  %e = tensor.empty() : tensor<6x8x4xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<6x8x4xi32>) -> tensor<6x8x4xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #mn], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%qc, %v : tensor<6x8x8xi8>, tensor<6x8x4xi8>) outs(%i : tensor<6x8x4xi32>) {
  ^bb0(%x: i8, %y: i8, %acc: i32):
    %xe = arith.extui %x : i8 to i32
    %ye = arith.extsi %y : i8 to i32
    %m = arith.muli %xe, %ye : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  } -> tensor<6x8x4xi32>
  return %r : tensor<6x8x4xi32>
}

// -----

#mk = affine_map<(b, m, n, k) -> (b, m, k)>
#kn = affine_map<(b, m, n, k) -> (b, k, n)>
#mn = affine_map<(b, m, n, k) -> (b, m, n)>
#none = affine_map<(b, m, n, k) -> ()>
#id4 = affine_map<(b, h, i, j) -> (b, h, i, j)>
#scalar4 = affine_map<(b, h, i, j) -> ()>

// Run-time zero points whose values the IR bounds to [0, 255]: %za as
// dynamic quantization computes it (fptosi(roundeven(min(max(x, 0),
// 255))) in a rank-0 op), %zb a scalar clamped with maxsi/minsi. Each is
// subtracted from its operand before the conversion, as a constant one is:
// 32 steps of 255·255 are exact in f32 for every value they may take, so
// no sums and no zero-point terms. The first operand's conversion, with
// the rank-0 zero point it reads, is fused into the op that computes the
// operand, before the collapse.
// CHECK-DAG: #[[$ID4:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> (d0, d1, d2, d3)>
// CHECK-DAG: #[[$NONE4:map[0-9]*]] = affine_map<(d0, d1, d2, d3) -> ()>
// CHECK-LABEL: func @bounded_zero_points
// CHECK-SAME: (%[[P:.*]]: tensor<2x3x8x32xf32>, %[[V:.*]]: tensor<6x32x4xi8>, %[[X:.*]]: tensor<f32>, %[[Y:.*]]: i32)
// CHECK: %[[ZB:.*]] = arith.minsi
// CHECK: %[[ZA:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<f32>)
// CHECK: %[[PF:.*]] = linalg.generic {indexing_maps = [#[[$ID4]], #[[$NONE4]], #[[$ID4]]], {{.*}} ins(%[[P]], %[[ZA]] : tensor<2x3x8x32xf32>, tensor<i32>) outs(%{{.*}} : tensor<2x3x8x32xf32>)
// CHECK-NEXT: ^bb0(%[[E:.*]]: f32, %[[Z:.*]]: i32, %{{.*}}: f32):
// CHECK-NEXT: %[[Q:.*]] = arith.fptoui %[[E]] : f32 to i8
// CHECK-NEXT: %[[QE:.*]] = arith.extui %[[Q]] : i8 to i32
// CHECK-NEXT: %[[QS:.*]] = arith.subi %[[QE]], %[[Z]] : i32
// CHECK-NEXT: %[[F:.*]] = arith.sitofp %[[QS]] : i32 to f32
// CHECK-NEXT: linalg.yield %[[F]] : f32
// CHECK: %[[PC:.*]] = tensor.collapse_shape %[[PF]]
// CHECK: %[[VF:.*]] = linalg.generic {{.*}} ins(%[[V]] : tensor<6x32x4xi8>)
// CHECK-NEXT: ^bb0(%[[W:.*]]: i8, %{{.*}}: f32):
// CHECK-NEXT: %[[WE:.*]] = arith.extui %[[W]] : i8 to i32
// CHECK-NEXT: %[[WS:.*]] = arith.subi %[[WE]], %[[ZB]] : i32
// CHECK-NEXT: arith.sitofp %[[WS]] : i32 to f32
// CHECK: %[[PRODUCTS:.*]] = linalg.generic {{.*}} ins(%[[PC]], %[[VF]] : tensor<6x8x32xf32>, tensor<6x32x4xf32>)
// CHECK: linalg.generic {{.*}} ins(%[[PRODUCTS]] : tensor<6x8x4xf32>)
// CHECK-NEXT: ^bb0(%[[S:.*]]: f32, %{{.*}}: i32):
// CHECK-NEXT: %[[EXACT:.*]] = arith.fptosi %[[S]] : f32 to i32
// CHECK-NEXT: linalg.yield %[[EXACT]] : i32
// CHECK-NOT: linalg.generic
func.func @bounded_zero_points(%p: tensor<2x3x8x32xf32>, %v: tensor<6x32x4xi8>, %x: tensor<f32>, %y: i32) -> tensor<6x8x4xi32> {
  %c0 = arith.constant 0 : i32
  %c255 = arith.constant 255 : i32
  %f0 = arith.constant 0.0 : f32
  %f255 = arith.constant 255.0 : f32
  %ylo = arith.maxsi %y, %c0 : i32
  %zb = arith.minsi %ylo, %c255 : i32
  %ez = tensor.empty() : tensor<i32>
  %za = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []}
      ins(%x : tensor<f32>) outs(%ez : tensor<i32>) {
  ^bb0(%in: f32, %o: i32):
    %lo = arith.maximumf %in, %f0 : f32
    %hi = arith.minimumf %lo, %f255 : f32
    %r = math.roundeven %hi : f32
    %z = arith.fptosi %r : f32 to i32
    linalg.yield %z : i32
  } -> tensor<i32>
  %e8 = tensor.empty() : tensor<2x3x8x32xi8>
  %q = linalg.generic {indexing_maps = [#id4, #id4], iterator_types = ["parallel", "parallel", "parallel", "parallel"]}
      ins(%p : tensor<2x3x8x32xf32>) outs(%e8 : tensor<2x3x8x32xi8>) {
  ^bb0(%in: f32, %o: i8):
    %t = arith.fptoui %in : f32 to i8
    linalg.yield %t : i8
  } -> tensor<2x3x8x32xi8>
  %qc = tensor.collapse_shape %q [[0, 1], [2], [3]] : tensor<2x3x8x32xi8> into tensor<6x8x32xi8>
  %e = tensor.empty() : tensor<6x8x4xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<6x8x4xi32>) -> tensor<6x8x4xi32>
  %res = linalg.generic {indexing_maps = [#mk, #kn, #none, #mn], iterator_types = ["parallel", "parallel", "parallel", "reduction"]}
      ins(%qc, %v, %za : tensor<6x8x32xi8>, tensor<6x32x4xi8>, tensor<i32>) outs(%i : tensor<6x8x4xi32>) {
  ^bb0(%a: i8, %b: i8, %zx: i32, %acc: i32):
    %ae = arith.extui %a : i8 to i32
    %as = arith.subi %ae, %zx : i32
    %be = arith.extui %b : i8 to i32
    %bs = arith.subi %be, %zb : i32
    %m = arith.muli %as, %bs : i32
    %s = arith.addi %acc, %m : i32
    linalg.yield %s : i32
  } -> tensor<6x8x4xi32>
  return %res : tensor<6x8x4xi32>
}

// -----

#mk = affine_map<(m, n, k) -> (m, k)>
#kn = affine_map<(m, n, k) -> (k, n)>
#mn = affine_map<(m, n, k) -> (m, n)>
#m = affine_map<(m, n, k) -> (m)>
#none = affine_map<(m, n, k) -> ()>
#id1 = affine_map<(m) -> (m)>

// A zero point per row of the first operand, bounded to [-128, 127] (an
// extsi of i8 values) by the op that computes it: subtracted in the
// conversion, which reads it along the operand's rows. The second
// operand's zero point is a maxnumf/minnumf clamp, which the bounds do not
// follow (they follow only ops that keep a NaN a NaN, the NaN then making
// fptosi poison): it stays an offset of the sum, with the first operand's
// row sums (of a minus its zero point).
// CHECK-DAG: #[[$ID2:map[0-9]*]] = affine_map<(d0, d1) -> (d0, d1)>
// CHECK-DAG: #[[$ROW:map[0-9]*]] = affine_map<(d0, d1) -> (d0)>
// CHECK-LABEL: func @per_row_and_unbounded
// CHECK-SAME: (%[[A:.*]]: tensor<8x32xi8>, %[[B:.*]]: tensor<32x16xi8>, %[[Z8:.*]]: tensor<8xi8>, %[[X:.*]]: tensor<f32>)
// CHECK: %[[ZA:.*]] = linalg.generic {{.*}} ins(%[[Z8]] : tensor<8xi8>)
// CHECK: %[[ZB:.*]] = linalg.generic {{.*}} ins(%[[X]] : tensor<f32>)
// CHECK: linalg.generic {indexing_maps = [#[[$ID2]], #[[$ROW]], #[[$ID2]]], {{.*}} ins(%[[A]], %[[ZA]] : tensor<8x32xi8>, tensor<8xi32>)
// CHECK-NEXT: ^bb0(%[[E:.*]]: i8, %[[Z:.*]]: i32, %{{.*}}: f32):
// CHECK-NEXT: %[[EE:.*]] = arith.extsi %[[E]] : i8 to i32
// CHECK-NEXT: %[[ES:.*]] = arith.subi %[[EE]], %[[Z]] : i32
// CHECK-NEXT: arith.sitofp %[[ES]] : i32 to f32
// CHECK: linalg.generic {{.*}} ins(%[[B]] : tensor<32x16xi8>)
// CHECK-NEXT: ^bb0(%[[W:.*]]: i8, %{{.*}}: f32):
// CHECK-NEXT: arith.uitofp %[[W]] : i8 to f32
// CHECK: %[[PRODUCTS:.*]] = linalg.generic
// CHECK: %[[SA:.*]] = linalg.generic {indexing_maps = [#[[$ID2]], #[[$ROW]], #[[$ROW]]], iterator_types = ["parallel", "reduction"]} ins(%[[A]], %[[ZA]] : tensor<8x32xi8>, tensor<8xi32>) outs(%{{.*}} : tensor<8xi32>)
// CHECK-NEXT: ^bb0(%[[E2:.*]]: i8, %[[Z2:.*]]: i32, %[[ACC:.*]]: i32):
// CHECK-NEXT: %[[EE2:.*]] = arith.extsi %[[E2]] : i8 to i32
// CHECK-NEXT: %[[ES2:.*]] = arith.subi %[[EE2]], %[[Z2]] : i32
// CHECK-NEXT: arith.addi %[[ACC]], %[[ES2]] : i32
// CHECK: linalg.generic {{.*}} ins(%[[PRODUCTS]], %[[SA]], %[[ZB]] : tensor<8x16xf32>, tensor<8xi32>, tensor<i32>)
func.func @per_row_and_unbounded(%a: tensor<8x32xi8>, %b: tensor<32x16xi8>, %z8: tensor<8xi8>, %x: tensor<f32>) -> tensor<8x16xi32> {
  %c0 = arith.constant 0 : i32
  %f0 = arith.constant 0.0 : f32
  %f255 = arith.constant 255.0 : f32
  %ez8 = tensor.empty() : tensor<8xi32>
  %za = linalg.generic {indexing_maps = [#id1, #id1], iterator_types = ["parallel"]}
      ins(%z8 : tensor<8xi8>) outs(%ez8 : tensor<8xi32>) {
  ^bb0(%in: i8, %o: i32):
    %z = arith.extsi %in : i8 to i32
    linalg.yield %z : i32
  } -> tensor<8xi32>
  %ez = tensor.empty() : tensor<i32>
  %zb = linalg.generic {indexing_maps = [affine_map<() -> ()>, affine_map<() -> ()>], iterator_types = []}
      ins(%x : tensor<f32>) outs(%ez : tensor<i32>) {
  ^bb0(%in: f32, %o: i32):
    %lo = arith.maxnumf %in, %f0 : f32
    %hi = arith.minnumf %lo, %f255 : f32
    %z = arith.fptosi %hi : f32 to i32
    linalg.yield %z : i32
  } -> tensor<i32>
  %e = tensor.empty() : tensor<8x16xi32>
  %i = linalg.fill ins(%c0 : i32) outs(%e : tensor<8x16xi32>) -> tensor<8x16xi32>
  %r = linalg.generic {indexing_maps = [#mk, #kn, #m, #none, #mn], iterator_types = ["parallel", "parallel", "reduction"]}
      ins(%a, %b, %za, %zb : tensor<8x32xi8>, tensor<32x16xi8>, tensor<8xi32>, tensor<i32>) outs(%i : tensor<8x16xi32>) {
  ^bb0(%x1: i8, %y1: i8, %zx: i32, %zy: i32, %acc: i32):
    %xe = arith.extsi %x1 : i8 to i32
    %xs = arith.subi %xe, %zx : i32
    %ye = arith.extui %y1 : i8 to i32
    %ys = arith.subi %ye, %zy : i32
    %p = arith.muli %xs, %ys : i32
    %s = arith.addi %acc, %p : i32
    linalg.yield %s : i32
  } -> tensor<8x16xi32>
  return %r : tensor<8x16xi32>
}
