#!/usr/bin/env bash
# `make test`: run every check in order, stop at the first failure, print a summary.
#
#   tools/test-all.sh [STEP...]     default: the steps in $TEST_STEPS or DEFAULT_STEPS
#
# Each step is a make target of its own, so a failed step can be rerun alone.
set -uo pipefail

# shellcheck source=tools/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DEFAULT_STEPS="bootstrap lint docs-lint sanity units sanity-matrix units-matrix image stock-debian init-script-tests reliability integration ee molecule"
if [ "$#" -gt 0 ]; then
    steps=("$@")
else
    read -r -a steps <<<"${TEST_STEPS:-$DEFAULT_STEPS}"
fi

names=()
states=()
times=()
failed=""
total_start=$SECONDS
for step in "${steps[@]}"; do
    names+=("$step")
    if [ -n "$failed" ]; then
        states+=("not run")
        times+=("")
        continue
    fi
    printf '\n======================== make %s ========================\n' "$step"
    start=$SECONDS
    if make -C "$REPO_ROOT" --no-print-directory "$step"; then
        states+=("ok")
    else
        states+=("FAILED")
        failed="$step"
    fi
    times+=("$((SECONDS - start)) s")
done

printf '\n======================== summary ========================\n'
for i in "${!names[@]}"; do
    printf '  %-20s %-8s %s\n' "${names[$i]}" "${states[$i]}" "${times[$i]}"
done
passed=0
for state in "${states[@]}"; do
    [ "$state" = ok ] && passed=$((passed + 1))
done
if [ -n "$failed" ]; then
    printf 'make test: FAILED at "%s" after %d s (rerun it alone: make %s)\n' "$failed" "$((SECONDS - total_start))" "$failed"
    printf 'steps: %d passed, 1 failed, %d skipped\n' "$passed" "$((${#steps[@]} - passed - 1))"
    exit 1
fi
printf 'make test: all %d steps passed in %d s\n' "${#steps[@]}" "$((SECONDS - total_start))"
printf 'steps: %d passed, 0 failed\n' "$passed"
