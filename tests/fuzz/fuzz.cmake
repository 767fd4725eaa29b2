# libFuzzer targets (tests/fuzz/*_fuzz.cpp), included from the root CMakeLists.txt when LMDBG_FUZZ is ON.
#
#   cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DLMDBG_FUZZ=ON -DLMDBG_SANITIZE=ON \
#         -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-fuzz --target lmdbg_fuzz
#   bash tests/fuzz/run.sh build-fuzz 60      # every target, 60 s each (docs/RELIABILITY.md)
#
# With clang, every core/ translation unit gets coverage instrumentation (-fsanitize=fuzzer-no-link)
# and the targets link libFuzzer. With another compiler the targets link tests/fuzz/replay_main.cpp
# instead: they replay files, they do not fuzz. Either way, ctest replays each target's seed corpus and
# its regressions (tests/fuzz/corpus/<name>, tests/fuzz/regressions/<name>) once: fuzz_replay_<name>.
# With clang the whole build gets ASan + UBSan (as LMDBG_SANITIZE=ON), so the same build directory also
# serves the sanitizer run of the native tests.

set(LMDBG_FUZZ_TARGETS safetensors model_load config tokenizer_files tokenizer interventions)
set(LMDBG_FUZZ_DIR ${PROJECT_SOURCE_DIR}/tests/fuzz)

if(CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  set(LMDBG_LIBFUZZER ON)
  target_compile_options(lmdbg_core PUBLIC -fsanitize=fuzzer-no-link
                                           -fsanitize-coverage-ignorelist=${LMDBG_FUZZ_DIR}/coverage_ignore.txt)
  if(NOT LMDBG_SANITIZE)
    # Coverage callbacks come from the sanitizer runtime; fuzzing without ASan + UBSan finds little anyway.
    target_compile_options(lmdbg_core PUBLIC -fsanitize=address,undefined -fno-omit-frame-pointer
                                             -fno-sanitize-recover=undefined)
    target_link_options(lmdbg_core PUBLIC -fsanitize=address,undefined)
  endif()
else()
  set(LMDBG_LIBFUZZER OFF)
  message(STATUS "lmdbg fuzz targets: ${CMAKE_CXX_COMPILER_ID} has no libFuzzer; building replay-only drivers")
endif()

add_custom_target(lmdbg_fuzz)
foreach(name ${LMDBG_FUZZ_TARGETS})
  if(LMDBG_LIBFUZZER)
    add_executable(fuzz_${name} ${LMDBG_FUZZ_DIR}/${name}_fuzz.cpp)
    target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  else()
    add_executable(fuzz_${name} ${LMDBG_FUZZ_DIR}/${name}_fuzz.cpp ${LMDBG_FUZZ_DIR}/replay_main.cpp)
  endif()
  target_link_libraries(fuzz_${name} PRIVATE lmdbg_core)
  target_compile_definitions(fuzz_${name} PRIVATE LMDBG_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_dependencies(lmdbg_fuzz fuzz_${name})
  # Regression replay: seeds + every crasher ever found, each input run once.
  set(dirs ${LMDBG_FUZZ_DIR}/corpus/${name})
  if(EXISTS ${LMDBG_FUZZ_DIR}/regressions/${name})
    list(APPEND dirs ${LMDBG_FUZZ_DIR}/regressions/${name})
  endif()
  add_test(NAME fuzz_replay_${name} COMMAND fuzz_${name} -runs=0 ${dirs} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
endforeach()
