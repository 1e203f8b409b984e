# libFuzzer targets, built only when clang++ is present (GCC has no -fsanitize=fuzzer). Each is a
# separate clang build (<dir>/<name>_fuzz/CMakeLists.txt, an ExternalProject) of the sources it
# exercises, with AddressSanitizer and UndefinedBehaviorSanitizer. ctest runs each for
# GHOST_FUZZ_SECONDS (label fuzz) on its committed seeds (<name>_fuzz/seeds, only read) and a
# corpus in the build tree; tools/fuzz/run_long.sh runs one for as long as asked.
find_program(GHOST_CLANGXX NAMES clang++ clang++-14)
set(GHOST_FUZZ_SECONDS 20 CACHE STRING "seconds ctest runs each fuzzer")
if(GHOST_CLANGXX)
  include(ExternalProject)
else()
  message(STATUS "Ghost: clang++ not found; the fuzzers are not built")
endif()

# ghost_add_fuzzer(NAME): the fuzzer NAME_fuzzer from ${CMAKE_CURRENT_SOURCE_DIR}/NAME_fuzz, the
# build target NAME_fuzz_build and the test NAME_fuzz.
# Not in a GHOST_SANITIZE tree: the fuzzers carry their own sanitizers and run in the plain one.
function(ghost_add_fuzzer name)
  if(NOT GHOST_CLANGXX OR GHOST_SANITIZE)
    return()
  endif()
  set(args -DCMAKE_CXX_COMPILER=${GHOST_CLANGXX} -DCMAKE_BUILD_TYPE=RelWithDebInfo
           -DGHOST_SOURCE_DIR=${CMAKE_SOURCE_DIR})
  if(CCACHE_PROGRAM)
    list(APPEND args -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE_PROGRAM})
  endif()
  ExternalProject_Add(${name}_fuzz_build
    SOURCE_DIR ${CMAKE_CURRENT_SOURCE_DIR}/${name}_fuzz
    BINARY_DIR ${CMAKE_CURRENT_BINARY_DIR}/${name}_fuzz
    CMAKE_ARGS ${args}
    INSTALL_COMMAND ""
    BUILD_ALWAYS ON)
  set(corpus ${CMAKE_CURRENT_BINARY_DIR}/${name}_fuzz_corpus)
  set(binary ${CMAKE_CURRENT_BINARY_DIR}/${name}_fuzz/${name}_fuzzer)
  set(seeds ${CMAKE_CURRENT_SOURCE_DIR}/${name}_fuzz/seeds)
  add_test(NAME ${name}_fuzz
           COMMAND sh -c "mkdir -p '${corpus}' && exec '${binary}' -max_total_time=${GHOST_FUZZ_SECONDS} -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 '${corpus}' '${seeds}'")
  set_tests_properties(${name}_fuzz PROPERTIES TIMEOUT 120 LABELS fuzz)
endfunction()
