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
fi

# 2. WebAssembly: the module, tested in plain node.
if stage wasm-build bash -c "emcmake cmake -S . -B build-wasm -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build build-wasm -j $JOBS"; then
  node tests/node/smoke.mjs dist/wasm >"$LOG/wasm-node.log" 2>&1
  grep FAIL "$LOG/wasm-node.log" | head -20
  count_plain wasm-node "$LOG/wasm-node.log"
  node tests/node/malformed.mjs dist/wasm >"$LOG/wasm-malformed.log" 2>&1
  grep FAIL "$LOG/wasm-malformed.log" | head -20
  count_plain wasm-malformed "$LOG/wasm-malformed.log"
fi

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" = 0 ]
