// RUN: quant-opt %s --qnn-strided-copies-to-loops | FileCheck %s

// A copy into the interior of a padded buffer becomes a linalg.copy (loops
// after convert-linalg-to-loops) instead of a call to memrefCopy; a copy
// between contiguous buffers stays a memref.copy (a memcpy).
// CHECK-LABEL: func.func @copies
// CHECK: linalg.copy ins(%{{.*}} : memref<4x5xi8>) outs(%{{.*}} : memref<4x5xi8, strided<[7, 1], offset: 8>>)
// CHECK: memref.copy %{{.*}}, %{{.*}} : memref<4x5xi8> to memref<4x5xi8>
func.func @copies(%src: memref<4x5xi8>, %padded: memref<6x7xi8>, %dst: memref<4x5xi8>) {
  %interior = memref.subview %padded[1, 1] [4, 5] [1, 1] : memref<6x7xi8> to memref<4x5xi8, strided<[7, 1], offset: 8>>
  memref.copy %src, %interior : memref<4x5xi8> to memref<4x5xi8, strided<[7, 1], offset: 8>>
  memref.copy %src, %dst : memref<4x5xi8> to memref<4x5xi8>
  return
}

// With vector-elements=64 (qnn-cpu-pipeline's setting), a static copy of
// at most 64 elements (a transpose tile's row of 16 floats, between
// strided views) is one vector read and one vector write; a larger one
// (65 elements) and a dynamic one stay linalg.copy loops.
// VEC-LABEL: func.func @small_copies
// VEC: %[[FROM:.*]] = memref.subview %{{.*}} : memref<64x49x2x16xf32> to memref<1x1x1x16xf32, strided<[1568, 32, 16, 1], offset: ?>>
// VEC: %[[TO:.*]] = memref.subview %{{.*}} : memref<64x2x49x16xf32> to memref<1x1x1x16xf32, strided<[1568, 784, 16, 1], offset: ?>>
// VEC: %[[ROW:.*]] = vector.transfer_read %[[FROM]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}], %{{.*}} : memref<1x1x1x16xf32, strided<[1568, 32, 16, 1], offset: ?>>, vector<1x1x1x16xf32>
// VEC: vector.transfer_write %[[ROW]], %[[TO]][%{{.*}}, %{{.*}}, %{{.*}}, %{{.*}}] : vector<1x1x1x16xf32>, memref<1x1x1x16xf32, strided<[1568, 784, 16, 1], offset: ?>>
// VEC-NOT: linalg.copy ins(%{{.*}} : memref<1x1x1x16xf32
// VEC: linalg.copy ins(%{{.*}} : memref<5x13xf32, strided<[32, 1]>>)
// VEC: linalg.copy ins(%{{.*}} : memref<?xf32, strided<[2]>>)
// CHECK-LABEL: func.func @small_copies
// CHECK-NOT: vector.transfer
// CHECK: linalg.copy
// RUN: quant-opt %s --qnn-strided-copies-to-loops=vector-elements=64 | FileCheck %s --check-prefix=VEC
func.func @small_copies(%src: memref<64x49x2x16xf32>, %dst: memref<64x2x49x16xf32>, %i: index, %j: index, %k: index,
                        %wide: memref<5x32xf32>, %out: memref<5x13xf32>, %dyn: memref<?xf32, strided<[2]>>, %dynout: memref<?xf32>) {
  %row = memref.subview %src[%i, %k, %j, 0] [1, 1, 1, 16] [1, 1, 1, 1] : memref<64x49x2x16xf32> to memref<1x1x1x16xf32, strided<[1568, 32, 16, 1], offset: ?>>
  %to = memref.subview %dst[%i, %j, %k, 0] [1, 1, 1, 16] [1, 1, 1, 1] : memref<64x2x49x16xf32> to memref<1x1x1x16xf32, strided<[1568, 784, 16, 1], offset: ?>>
  memref.copy %row, %to : memref<1x1x1x16xf32, strided<[1568, 32, 16, 1], offset: ?>> to memref<1x1x1x16xf32, strided<[1568, 784, 16, 1], offset: ?>>
  %block = memref.subview %wide[0, 0] [5, 13] [1, 1] : memref<5x32xf32> to memref<5x13xf32, strided<[32, 1]>>
  memref.copy %block, %out : memref<5x13xf32, strided<[32, 1]>> to memref<5x13xf32>
  memref.copy %dyn, %dynout : memref<?xf32, strided<[2]>> to memref<?xf32>
  return
}
