// RUN: quant-opt --help | FileCheck %s --check-prefix=HELP
// RUN: quant-opt --version | FileCheck %s --check-prefix=VERSION
// RUN: not quant-opt --no-such-option %s 2>&1 | FileCheck %s --check-prefix=BAD-OPTION
// RUN: not quant-opt %t.does-not-exist.mlir 2>&1 | FileCheck %s --check-prefix=BAD-FILE
// RUN: not quant-opt %s --qnn-reference-cpu-pipeline=lower-to-llvm=maybe 2>&1 | FileCheck %s --check-prefix=BAD-PIPELINE-OPTION

// quant-opt's passes and pipelines are listed with their summaries, next to
// the upstream ones.
// HELP-DAG: --convert-qnn-to-linalg {{.*}}- Lower qnn ops and quantized types to linalg on integer storage
// HELP-DAG: --qnn-verify-no-quant-types {{.*}}- Check that no quantized type is left after lowering to integers
// HELP-DAG: --qnn-reference-cpu-pipeline {{.*}}- Lower qnn and linalg on tensors to scalar loops
// HELP-DAG: --one-shot-bufferize
// HELP-DAG: --tosa-to-linalg
// HELP-DAG: Available Dialects: {{.*}}qnn{{.*}}

// VERSION-DAG: LLVM version 22.1
// VERSION-DAG: quant-opt version {{[0-9]+\.[0-9]+\.[0-9]+}}

// BAD-OPTION: Unknown command line argument '--no-such-option'
// BAD-FILE: cannot open input file '{{.*}}does-not-exist.mlir': No such file or directory
// BAD-PIPELINE-OPTION: for the --lower-to-llvm option: 'maybe' is invalid value for boolean argument! Try 0 or 1

func.func @f() {
  return
}
