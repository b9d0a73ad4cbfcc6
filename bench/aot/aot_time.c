/* Times a model compiled ahead of time (scripts/quant-aot --name model):
 *   aot_time INPUT.bin CALLS
 * reads the raw float32 input (MODEL_INPUT0_ELEMENTS of them), calls
 * model_run once to warm up, then CALLS times, and prints the mean time
 * per call in ms. scripts/bench-aot.sh compiles and runs it. */
#define _POSIX_C_SOURCE 199309L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "model.h"

static float input[MODEL_INPUT0_ELEMENTS], output[MODEL_OUTPUT0_ELEMENTS];

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: %s INPUT.bin CALLS\n", argv[0]);
    return 2;
  }
  FILE *file = fopen(argv[1], "rb");
  if (!file || fread(input, sizeof(float), MODEL_INPUT0_ELEMENTS, file) !=
                   MODEL_INPUT0_ELEMENTS) {
    fprintf(stderr, "%s: cannot read %d floats from %s\n", argv[0],
            MODEL_INPUT0_ELEMENTS, argv[1]);
    return 1;
  }
  fclose(file);
  int calls = atoi(argv[2]);
  model_run(input, output);
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (int call = 0; call < calls; ++call)
    model_run(input, output);
  clock_gettime(CLOCK_MONOTONIC, &end);
  double ms = (end.tv_sec - start.tv_sec) * 1e3 + (end.tv_nsec - start.tv_nsec) / 1e6;
  printf("%.3f\n", ms / calls);
  return 0;
}
