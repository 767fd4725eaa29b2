#!/usr/bin/env bash
# Bounded fuzzing of every target in tests/fuzz/ (CI and local runs).
# Usage: bash tests/fuzz/run.sh BUILD_DIR [SECONDS_PER_TARGET] [PARALLEL]
#   BUILD_DIR  a clang build with -DLMDBG_FUZZ=ON (see tests/fuzz/fuzz.cmake)
# Each target fuzzes for SECONDS_PER_TARGET (default 60) in one process (-jobs=1 style), PARALLEL targets
# at a time (default 2), starting from its committed seeds (tests/fuzz/corpus/<name>) plus the corpus a
# previous local run left in BUILD_DIR/fuzz-corpus/<name> (new inputs go there, never into the source tree).
# A crash, leak, timeout or out-of-memory fails the target: its reproducer lands in
# BUILD_DIR/fuzz-artifacts/<name>/; copy it to tests/fuzz/regressions/<name>/ once fixed.
# Prints one line per target (executions, corpus size) and ends with "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
BUILD=${1:?usage: run.sh BUILD_DIR [SECONDS] [PARALLEL]}
SECONDS_PER_TARGET=${2:-60}
PARALLEL=${3:-2}
TARGETS=(safetensors model_load config tokenizer_files tokenizer interventions)
LOGS=$BUILD/fuzz-logs
mkdir -p "$LOGS"

run_one() {  # run_one NAME: fuzz one target; writes $LOGS/NAME.log and $LOGS/NAME.result
  local name=$1 bin=$BUILD/fuzz_$1
  local work=$BUILD/fuzz-corpus/$name art=$BUILD/fuzz-artifacts/$name
  mkdir -p "$work" "$art"
  local dict=()
  case $name in safetensors|model_load|config|tokenizer_files|interventions) dict=(-dict=tests/fuzz/json.dict) ;; esac
  local dirs=("$work" "tests/fuzz/corpus/$name")
  [ -d "tests/fuzz/regressions/$name" ] && dirs+=("tests/fuzz/regressions/$name")
  "$bin" -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$art/" "${dict[@]}" "${dirs[@]}" >"$LOGS/$name.log" 2>&1
  local rc=$?
  local execs corpus cov
  execs=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$LOGS/$name.log" | grep -Eo '[0-9]+$' | tail -1)
  corpus=$(grep -Eo 'corp: [0-9]+/[0-9]+[bKMG]*' "$LOGS/$name.log" | tail -1 | cut -d' ' -f2)
  cov=$(grep -Eo 'cov: [0-9]+' "$LOGS/$name.log" | tail -1 | cut -d' ' -f2)
  echo "$rc ${execs:-0} ${corpus:-0} $(find "tests/fuzz/corpus/$name" -type f | wc -l) ${cov:-0}" >"$LOGS/$name.result"
}
export -f run_one
export BUILD SECONDS_PER_TARGET LOGS

printf '%s\n' "${TARGETS[@]}" | xargs -P "$PARALLEL" -I{} bash -c 'run_one {}'

passed=0
failed=0
for name in "${TARGETS[@]}"; do
  read -r rc execs corpus seeds cov <"$LOGS/$name.result" 2>/dev/null || { rc=1; execs=0; corpus=0; seeds=0; cov=0; }
  if [ "$rc" = 0 ]; then
    passed=$((passed + 1))
    echo "ok   fuzz_$name: $execs executions in ${SECONDS_PER_TARGET} s, $seeds seeds -> corpus $corpus (inputs/bytes), coverage $cov edges"
  else
    failed=$((failed + 1))
    echo "FAIL fuzz_$name (exit $rc) after $execs executions; reproducer in $BUILD/fuzz-artifacts/$name/:"
    ls "$BUILD/fuzz-artifacts/$name/" 2>/dev/null | head -5
    grep -E 'ERROR|SUMMARY|invariant|==[0-9]+==' "$LOGS/$name.log" | head -15
  fi
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
