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
