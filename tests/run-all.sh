#!/usr/bin/env bash
# Builds everything and runs every test suite; ends with one plain "N passed, N failed" line.
# Usage: bash tests/run-all.sh   (npm test)   Needs the packages from .ci/setup.
set -uo pipefail
cd "$(dirname "$0")/.."
export NODE_PATH=/usr/share/nodejs  # emcc's -O1+ link needs acorn from Debian's node modules
JOBS=${JOBS:-$(nproc)}
LOG=build/test-logs
mkdir -p "$LOG"
PASSED=0
FAILED=0

add() {  # add NAME PASSED FAILED
  echo "== $1: $2 passed, $3 failed"
  PASSED=$((PASSED + $2))
  FAILED=$((FAILED + $3))
}

stage() {  # stage NAME CMD...: a build step; failure counts as one failed test
  local name=$1
  shift
  echo "== $name"
  if "$@" >"$LOG/$name.log" 2>&1; then
    return 0
  fi
  tail -40 "$LOG/$name.log"
  add "$name" 0 1
  return 1
}

count_ctest() {  # count_ctest NAME LOGFILE
  local line total failed
  line=$(grep -E "tests passed, [0-9]+ tests? failed out of [0-9]+" "$2" | tail -1)
  if [ -z "$line" ]; then add "$1" 0 1; return; fi
  failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
  total=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
  add "$1" $((total - failed)) "$failed"
}

count_plain() {  # count_plain NAME LOGFILE: the last "N passed, N failed" line of a log
  local line
  line=$(grep -E "^[0-9]+ passed, [0-9]+ failed$" "$2" | tail -1)
  if [ -z "$line" ]; then add "$1" 0 1; return; fi
  add "$1" "$(echo "$line" | cut -d' ' -f1)" "$(echo "$line" | cut -d' ' -f3)"
}

# 1. Native: engine, CLI, GoogleTest.
if stage native-build bash -c "cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build -j $JOBS"; then
  (cd build && ctest --output-on-failure -j "$JOBS") >"$LOG/ctest.log" 2>&1
  grep -E "Failed|\*\*\*" "$LOG/ctest.log" | head -20
  count_ctest native-tests "$LOG/ctest.log"
  # The package's hook and mode tables are generated from the engine's (npm run gen:tables).
  node js/scripts/gen-tables.mjs --check build/lmdbg >"$LOG/tables.log" 2>&1
  grep "out of date" "$LOG/tables.log"
  count_plain tables "$LOG/tables.log"
fi

# 2. WebAssembly: the module, tested in plain node.
if stage wasm-build bash -c "emcmake cmake -S . -B build-wasm -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-wasm -j $JOBS"; then
  node tests/node/smoke.mjs dist/wasm >"$LOG/wasm-node.log" 2>&1
  grep FAIL "$LOG/wasm-node.log" | head -20
  count_plain wasm-node "$LOG/wasm-node.log"
  node tests/node/malformed.mjs dist/wasm >"$LOG/wasm-malformed.log" 2>&1
  grep FAIL "$LOG/wasm-malformed.log" | head -20
  count_plain wasm-malformed "$LOG/wasm-malformed.log"
  for t in limits soak; do  # robustness: limits and errors, heap soak (docs/RELIABILITY.md)
    node tests/node/$t.mjs dist/wasm >"$LOG/wasm-$t.log" 2>&1
    grep -E "^(FAIL|SOAK|KNOWN)" "$LOG/wasm-$t.log" | head -20
    count_plain wasm-$t "$LOG/wasm-$t.log"
  done
fi

# 2b. The threaded variant (lmdbg-threads.*, pthreads), tested through the package in tests/js/threads.test.js.
stage wasm-threads-build bash -c "emcmake cmake -S . -B build-wasm-threads -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLMDBG_THREADS=ON && cmake --build build-wasm-threads -j $JOBS --target lmdbg_wasm"

# 2c. The relaxed-SIMD variants (lmdbg-relaxed*: FMA in the kernels, built with LLVM 19; docs/TOOLCHAIN.md).
#     Node 20 runs them only with --experimental-wasm-relaxed-simd: ctest there passes it (the reference
#     logits, the malformed corpus, the kernel tests); js-relaxed below runs the package on them; the
#     Chromium stages (js-browser, demo-e2e) get them by the package's own feature detection.
if stage wasm-relaxed-build bash -c "emcmake cmake -S . -B build-wasm-relaxed -G Ninja -DCMAKE_BUILD_TYPE=Release \
    -DLMDBG_RELAXED=ON && cmake --build build-wasm-relaxed -j $JOBS"; then
  (cd build-wasm-relaxed && ctest --output-on-failure -j "$JOBS") >"$LOG/wasm-relaxed-ctest.log" 2>&1
  grep -E "Failed|\*\*\*" "$LOG/wasm-relaxed-ctest.log" | head -20
  count_ctest wasm-relaxed-tests "$LOG/wasm-relaxed-ctest.log"
fi
stage wasm-relaxed-threads-build bash -c "emcmake cmake -S . -B build-wasm-relaxed-threads -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DLMDBG_RELAXED=ON -DLMDBG_THREADS=ON \
    && cmake --build build-wasm-relaxed-threads -j $JOBS --target lmdbg_wasm"

# 3. The npm package (js/): tsc build, Vitest in Node against the built wasm, the packed tarball in an
#    empty project (plain node + a strict TypeScript consumer), and Chromium (Cache Storage, Worker, Vite).
count_vitest() {  # count_vitest NAME JSONFILE: Vitest's JSON report (a suite that fails to load counts as a failure)
  local line
  line=$(node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    console.log(r.numPassedTests, Math.max(r.numFailedTests, r.success ? 0 : 1))' "$2" 2>/dev/null)
  if [ -z "$line" ]; then add "$1" 0 1; return; fi
  add "$1" "${line% *}" "${line#* }"
}
vitest_stage() {  # vitest_stage NAME CONFIG: runs one Vitest config, prints its failures, counts its tests
  local name=$1 json="$LOG/$1.json"
  rm -f "$json"
  echo "== $name"
  node_modules/.bin/vitest run --config "$2" --reporter=default --reporter=json --outputFile.json="$json" \
    >"$LOG/$name.log" 2>&1
  grep -E "FAIL|×|Error:" "$LOG/$name.log" | head -20
  count_vitest "$name" "$json"
}
if [ ! -f dist/wasm/lmdbg.wasm ]; then
  add js-package 0 1  # no wasm build to test
elif stage js-build npm run build:js; then
  vitest_stage js-node tests/js/vitest.config.js
  vitest_stage js-relaxed tests/js/relaxed.vitest.config.js
  vitest_stage js-pack tests/js/pack/vitest.config.js
  vitest_stage js-browser tests/js/browser/vitest.config.js
fi

# 3b. The demo page (demo/), end to end in headless Chromium: the bundled model and a fixture from a mock
#     Hub, then offline (tests/e2e/run.mjs). build:demo rebuilds the package and type-checks the page.
if [ ! -f dist/wasm/lmdbg.wasm ]; then
  add demo-e2e 0 1  # no wasm build to run
elif stage demo-build npm run build:demo; then
  node tests/e2e/run.mjs >"$LOG/e2e.log" 2>&1
  grep FAIL "$LOG/e2e.log" | head -20
  count_plain demo-e2e "$LOG/e2e.log"
fi

# 4. Robustness (docs/RELIABILITY.md): one clang build with ASan + UBSan (and libFuzzer's coverage) runs
#    the native tests plus the replay of every fuzz seed and past crasher under the sanitizers, then
#    fuzzes each of the 6 targets for FUZZ_SECONDS (default 30; 0 skips), JOBS at a time. A sanitizer
#    report, a leak or a fuzzer crash fails the stage.
if stage sanitize-build bash -c "cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLMDBG_SANITIZE=ON -DLMDBG_FUZZ=ON \
    && cmake --build build-fuzz -j $JOBS --target lmdbg_tests lmdbg lmdbg_fuzz"; then
  export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1
  (cd build-fuzz && ctest --output-on-failure -j "$JOBS") >"$LOG/sanitize-ctest.log" 2>&1
  unset ASAN_OPTIONS UBSAN_OPTIONS
  grep -hE "Failed|\*\*\*|AddressSanitizer|LeakSanitizer|runtime error" "$LOG/sanitize-ctest.log" | head -20
  count_ctest sanitize-tests "$LOG/sanitize-ctest.log"
  if [ "${FUZZ_SECONDS:-30}" -gt 0 ]; then
    bash tests/fuzz/run.sh build-fuzz "${FUZZ_SECONDS:-30}" "$JOBS" >"$LOG/fuzz.log" 2>&1
    grep -E "^(ok|FAIL)" "$LOG/fuzz.log"
    count_plain fuzz "$LOG/fuzz.log"
  fi
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
