// Checks that the division-free quotient the qnn.quantize lowering uses for
// a constant scale s (docs/Semantics.md, "Without a division") equals the
// IEEE f32 quotient RN(x / s), and that the quantized values agree:
//   x' = clamp(x, +-RN(2^40 s)), q0 = RN(x' * RN(1/s)),
//   e = fma(q0, -s, x'), v = fma(e, RN(1/s), q0).
// (The lowering clamps at 2^29 s; 2^40 s is checked here, which covers it:
// below the clamp the quotient is the same, above it both saturate.)
//
//   gcc -O3 -march=native -ffp-contract=off scripts/checks/quotient-without-division.c -o /tmp/qwd -lm
//   /tmp/qwd 200          # 200 scale significands x all 2^24 x in [1, 4), then the sweeps (~10 min)
//   /tmp/qwd 3000 pairs 1 # 3000 more significands (another seed), no sweeps
//
// The quotient depends only on the two significands away from under- and
// overflow, so the first part covers every x significand for each scale
// significand; the sweeps take every positive f32 x (and one negative one
// in seven) for 12 scales from 2^-60 to 2^60. Exits 1 on any difference.
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static float from_bits(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }
static uint32_t to_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static uint64_t state = 88172645463325252ull;
static uint64_t next_random(void) {
  state ^= state << 13; state ^= state >> 7; state ^= state << 17;
  return state;
}

static long check_scale(float s, uint64_t first, uint64_t last, uint64_t step) {
  float r = 1.0f / s, limit = 0x1p40f * s;
  long bits_differ = 0, quantized_differ = 0;
  for (uint64_t u = first; u <= last; u += step) {
    float x = from_bits((uint32_t)u);
    if (isnan(x)) continue;
    float want = x / s;
    float clamped = fminf(fmaxf(x, -limit), limit);
    float q0 = clamped * r;
    float e = fmaf(q0, -s, clamped);
    float got = fmaf(e, r, q0);
    float a = fminf(fmaxf(rintf(want), -0x1p31f), 0x1p31f);
    float b = fminf(fmaxf(rintf(got), -0x1p31f), 0x1p31f);
    if (a != b) {
      if (quantized_differ++ < 5) printf("quantized differ: s=%a x=%a want=%a got=%a\n", s, x, want, got);
    }
    if (fabsf(x) <= limit && fabsf(want) > 0x1p-40f && to_bits(want) != to_bits(got)) {
      if (bits_differ++ < 5) printf("quotient differs: s=%a x=%a want=%a got=%a\n", s, x, want, got);
    }
  }
  return bits_differ + quantized_differ;
}

int main(int argc, char **argv) {
  int count = argc > 1 ? atoi(argv[1]) : 200;
  if (argc > 3) state = 0x9E3779B97F4A7C15ull * (uint64_t)atoi(argv[3]);
  long bad = 0;
  for (int i = 0; i < count; i++) {
    uint32_t significand = (uint32_t)(next_random() & 0x7fffff);
    if (argc <= 3 && i < 8)  // the extremes first: 1.0, 1.11...1, and near them
      significand = i == 0 ? 0x7fffff : i == 1 ? 0 : i == 2 ? 1 : 0x7fffff - (uint32_t)i;
    bad += check_scale(from_bits(0x3f800000u | significand), 0x3f800000u, 0x407fffffu, 1);
  }
  printf("%d scale significands x 2^24 x: %ld differences\n", count, bad);
  if (argc > 2) return bad != 0;
  float scales[] = {1.0f / 255, 1.0f / 256, 1.0f / 127, 0x1p-60f, 0x1.fffffep-60f, 0x1p60f,
                    0x1.fffffep59f, 3.3e-3f, 0.0173f, 7.1f, 1e-17f, 1e17f};
  for (unsigned k = 0; k < sizeof scales / sizeof *scales; k++) {
    long b = check_scale(scales[k], 0, 0x7f800000u, 1) +
             check_scale(scales[k], 0x80000000u, 0xff800000u, 7);
    printf("s=%a, every x: %ld differences\n", scales[k], b);
    bad += b;
  }
  printf("total: %ld differences\n", bad);
  return bad != 0;
}
