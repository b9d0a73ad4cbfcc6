// Float math in GPU kernels, for quant-run-cuda-emulator.test: libdevice's
// functions (tanh, log1p, log, pow) bring approximate instructions and
// inline PTX that the emulator computes with the CPU's functions and says
// so; cos brings a multi-word integer reduction in inline PTX it does not
// emulate, which it names.
#id = affine_map<(d0) -> (d0)>
func.func @main(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %e = tensor.empty() : tensor<1000xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%a: f32, %o: f32):
    %t = math.tanh %a : f32
    %l = math.log1p %t : f32
    %s = math.exp %a : f32
    %g = math.erf %a : f32
    %q = math.sqrt %s : f32
    %p = math.powf %s, %t : f32
    %lg = math.log %q : f32
    %ab = math.absf %a : f32
    %fl = math.floor %a : f32
    %r1 = arith.addf %t, %l : f32
    %r2 = arith.addf %r1, %g : f32
    %r3 = arith.addf %r2, %p : f32
    %r4 = arith.addf %r3, %lg : f32
    %r5 = arith.addf %r4, %ab : f32
    %r6 = arith.addf %r5, %fl : f32
    linalg.yield %r6 : f32
  } -> tensor<1000xf32>
  return %r : tensor<1000xf32>
}

func.func @cosine(%x: tensor<1000xf32>) -> tensor<1000xf32> {
  %e = tensor.empty() : tensor<1000xf32>
  %r = linalg.generic {indexing_maps = [#id, #id], iterator_types = ["parallel"]} ins(%x : tensor<1000xf32>) outs(%e : tensor<1000xf32>) {
  ^bb0(%a: f32, %o: f32):
    %c = math.cos %a : f32
    linalg.yield %c : f32
  } -> tensor<1000xf32>
  return %r : tensor<1000xf32>
}
