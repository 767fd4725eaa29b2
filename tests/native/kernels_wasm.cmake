# The kernel tests and the kernel benchmark, built for wasm and run by node.
# Included from the EMSCRIPTEN branch of the top-level CMakeLists.txt (after lmdbg_core and
# LMDBG_WASM_FLAGS, LMDBG_WASM_LINK_OPT and LMDBG_NODE exist, before its return()):
#     include(tests/native/kernels_wasm.cmake)
#
#   kernels_wasm (ctest)          tests/native/kernels_test.cpp, unchanged, against GoogleTest built
#                                 from Debian's `googletest` sources (/usr/src/googletest).
#   lmdbg_kernels_bench_wasm      tests/bench/kernels_wasm_bench.cpp (not built by default):
#                                 ninja -C build-kern-wasm lmdbg_kernels_bench_wasm
#                                 node build-kern-wasm/kernels/lmdbg_kernels_bench_wasm.js
#
# Both are plain CommonJS node programs (-sENVIRONMENT=node, synchronous instantiation, so no
# fetch() of the .wasm: ENV.md pitfalls 2-3 do not apply), written to <build>/kernels/ next to a
# {"type":"commonjs"} package.json (the repo root's "type": "module" would make node parse them as ESM).
get_filename_component(LMDBG_KERNELS_ROOT "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
set(LMDBG_KERNELS_OUT "${CMAKE_BINARY_DIR}/kernels")
file(WRITE "${LMDBG_KERNELS_OUT}/package.json" "{\"type\": \"commonjs\"}\n")
set(LMDBG_NODE_LINK_FLAGS -sENVIRONMENT=node -sWASM_ASYNC_COMPILATION=0 -sALLOW_MEMORY_GROWTH=1
    -sMAXIMUM_MEMORY=4GB -sINITIAL_MEMORY=64MB -sTOTAL_STACK=5MB -sEXIT_RUNTIME=1)

set(LMDBG_GTEST_SRC /usr/src/googletest/googletest CACHE PATH "GoogleTest sources, compiled for the wasm tests")
if(EXISTS "${LMDBG_GTEST_SRC}/src/gtest-all.cc")
  add_library(lmdbg_gtest_wasm STATIC "${LMDBG_GTEST_SRC}/src/gtest-all.cc" "${LMDBG_GTEST_SRC}/src/gtest_main.cc")
  target_include_directories(lmdbg_gtest_wasm SYSTEM PUBLIC "${LMDBG_GTEST_SRC}/include" PRIVATE "${LMDBG_GTEST_SRC}")
  target_compile_definitions(lmdbg_gtest_wasm PUBLIC GTEST_HAS_PTHREAD=0)
  target_compile_options(lmdbg_gtest_wasm PUBLIC ${LMDBG_WASM_FLAGS})

  add_executable(lmdbg_kernels_test_wasm "${LMDBG_KERNELS_ROOT}/tests/native/kernels_test.cpp")
  target_link_libraries(lmdbg_kernels_test_wasm PRIVATE lmdbg_core lmdbg_gtest_wasm)
  target_link_options(lmdbg_kernels_test_wasm PRIVATE ${LMDBG_NODE_LINK_FLAGS} ${LMDBG_WASM_LINK_OPT})
  set_target_properties(lmdbg_kernels_test_wasm PROPERTIES SUFFIX ".js" RUNTIME_OUTPUT_DIRECTORY "${LMDBG_KERNELS_OUT}")
  if(LMDBG_RELAXED)  # clang 19: main(argc, argv) needs exporting as "main" (wasm_main.cpp)
    target_sources(lmdbg_kernels_test_wasm PRIVATE "${LMDBG_KERNELS_ROOT}/tests/native/wasm_main.cpp")
  endif()
  enable_testing()
  add_test(NAME kernels_wasm COMMAND ${LMDBG_NODE} $<TARGET_FILE:lmdbg_kernels_test_wasm>)
else()
  message(STATUS "googletest sources not found at ${LMDBG_GTEST_SRC}: no wasm kernel tests")
endif()

# Plain builds only: its EM_JS timer does not link through Emscripten 3.1.6's Python metadata reader,
# which the relaxed builds use (docs/TOOLCHAIN.md).
if(NOT LMDBG_RELAXED)
  add_executable(lmdbg_kernels_bench_wasm EXCLUDE_FROM_ALL "${LMDBG_KERNELS_ROOT}/tests/bench/kernels_wasm_bench.cpp")
  target_link_libraries(lmdbg_kernels_bench_wasm PRIVATE lmdbg_core)
  target_link_options(lmdbg_kernels_bench_wasm PRIVATE ${LMDBG_NODE_LINK_FLAGS} ${LMDBG_WASM_LINK_OPT})
  set_target_properties(lmdbg_kernels_bench_wasm PROPERTIES SUFFIX ".js" RUNTIME_OUTPUT_DIRECTORY "${LMDBG_KERNELS_OUT}")
endif()
