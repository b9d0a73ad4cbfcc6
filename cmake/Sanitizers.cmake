#===- Sanitizers.cmake - QUANT_OPT_SANITIZE and QUANT_OPT_FUZZ ------------===#
#
# Instruments quant-opt's own targets (not libMLIR.so, which stays as Debian
# ships it: ASan and UBSan work with uninstrumented shared libraries).
#
#   -DQUANT_OPT_SANITIZE=address,undefined   every target of the project is
#       compiled and linked with -fsanitize=<list>; UBSan errors abort
#       (-fno-sanitize-recover=all) so that lit and pytest see them as failures.
#   -DQUANT_OPT_FUZZ=ON   builds fuzz/ (libFuzzer targets). It implies
#       address,undefined for everything; the libraries also get
#       -fsanitize=fuzzer-no-link (coverage feedback from the code under test),
#       and only the fuzz targets link -fsanitize=fuzzer (libFuzzer's main).
#
# Both need clang: GCC has no libFuzzer, and mixing GCC's ASan runtime with
# clang-built code is not supported. The default build (neither option) is
# unchanged.
#
#===----------------------------------------------------------------------===#

set(QUANT_OPT_SANITIZE "" CACHE STRING
    "Comma list for -fsanitize= on quant-opt's targets (e.g. address,undefined); needs clang")
option(QUANT_OPT_FUZZ
  "Build the libFuzzer targets in fuzz/ (implies address,undefined); needs clang" OFF)

set(QUANT_OPT_SANITIZERS "${QUANT_OPT_SANITIZE}")
if(QUANT_OPT_FUZZ)
  if(QUANT_OPT_SANITIZERS STREQUAL "")
    set(QUANT_OPT_SANITIZERS "address,undefined")
  endif()
endif()

if(NOT QUANT_OPT_SANITIZERS STREQUAL "")
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang" OR
     NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR
      "QUANT_OPT_SANITIZE/QUANT_OPT_FUZZ need clang (the C++ compiler is "
      "${CMAKE_CXX_COMPILER_ID} ${CMAKE_CXX_COMPILER}); configure a fresh "
      "build directory with CC=clang-22 CXX=clang++-22 (Debian: clang-22 "
      "libclang-rt-22-dev)")
  endif()
  # A comma list of sanitizer names: lower-case words, digits, '-' and '_'.
  if(NOT QUANT_OPT_SANITIZERS MATCHES "^[a-z][a-z0-9_-]*(,[a-z][a-z0-9_-]*)*$")
    message(FATAL_ERROR
      "QUANT_OPT_SANITIZE='${QUANT_OPT_SANITIZE}' is not a comma list of "
      "sanitizer names (e.g. address,undefined)")
  endif()
  # fuzzer is a link-time choice per executable (libFuzzer brings main):
  # only fuzz/ adds it.
  if(QUANT_OPT_SANITIZERS MATCHES "(^|,)fuzzer(,|$)")
    message(FATAL_ERROR
      "QUANT_OPT_SANITIZE must not name 'fuzzer': use -DQUANT_OPT_FUZZ=ON")
  endif()

  set(_quant_opt_compile_sanitizers "${QUANT_OPT_SANITIZERS}")
  if(QUANT_OPT_FUZZ)
    string(APPEND _quant_opt_compile_sanitizers ",fuzzer-no-link")
  endif()
  # Fail early and clearly when the runtime is missing (libclang-rt-22-dev)
  # instead of at the first link.
  include(CheckCXXSourceCompiles)
  include(CMakePushCheckState)
  cmake_push_check_state(RESET)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=${QUANT_OPT_SANITIZERS}")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=${QUANT_OPT_SANITIZERS}")
  # The result is cached per list, so changing the list checks again.
  string(MAKE_C_IDENTIFIER "QUANT_OPT_LINKS_${QUANT_OPT_SANITIZERS}" _check)
  check_cxx_source_compiles("int main() { return 0; }" ${_check})
  cmake_pop_check_state()
  if(NOT ${_check})
    message(FATAL_ERROR
      "${CMAKE_CXX_COMPILER} cannot link with -fsanitize=${QUANT_OPT_SANITIZERS}: "
      "unknown sanitizer, or its runtime is not installed (Debian: "
      "libclang-rt-22-dev); see CMakeFiles/CMakeConfigureLog.yaml")
  endif()

  message(STATUS "Sanitizers on quant-opt's targets: ${_quant_opt_compile_sanitizers}")
  # Directory-wide: every target below the top level (libraries, tools,
  # bench, fuzz) is the project's own.
  add_compile_options(
    "-fsanitize=${_quant_opt_compile_sanitizers}"
    -fno-sanitize-recover=all
    -fno-omit-frame-pointer)
  add_link_options("-fsanitize=${QUANT_OPT_SANITIZERS}")
endif()
