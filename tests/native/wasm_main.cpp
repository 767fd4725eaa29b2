// Node test programs of the relaxed-SIMD wasm build (kernels_wasm.cmake): clang >= 15 names
// `int main(int, char**)` __main_argc_argv on wasm, and Emscripten 3.1.6's glue calls only an
// export named "main" (without one, the program silently does nothing). This exports it.
extern "C" int __main_argc_argv(int argc, char** argv);
extern "C" __attribute__((export_name("main"))) int lmdbg_wasm_main(int argc, char** argv) {
  return __main_argc_argv(argc, argv);
}
