#!/usr/bin/env bash
# Runs shm4j's jcstress outcome tests (sync/src/test/java/org/shm4j/sync/jcstress) after `mvn verify` built them.
# Usage: scripts/jcstress.sh [mode]   mode: sanity | quick (default) | default | tough
# jcstress runs each test class in several JVM and compiler configurations ("runs"). While it works this prints a
# counter of runs every tenth and one line per test class when its last run ends; it closes with
# "jcstress: N passed, N failed", counting test classes. Exits non-zero if a run had a forbidden outcome or an error,
# or if any run is missing.
# jcstress writes its result blob (jcstress-results-*.bin.gz) into its working directory, so it runs in
# sync/target/jcstress, which also gets its full log (jcstress.log) and HTML report (report/).
set -euo pipefail
shopt -s lastpipe
sync="$(cd "$(dirname "$0")/../sync" && pwd)"
mode="${1:-quick}"
work="$sync/target/jcstress"
log="$work/jcstress.log"
classpath="$sync/target/test-classes:$sync/target/classes:$(cat "$sync/target/test-classpath.txt")"
rm -rf "$work"
mkdir -p "$work"
cd "$work"

run_jcstress() {
    java --enable-native-access=ALL-UNNAMED -cp "$classpath" org.openjdk.jcstress.Main -t 'org\.shm4j\.' "$@"
}

short_name() { # a test class's name without its package
    [[ $1 =~ ^([a-z0-9_]+\.)+(.+)$ ]] && echo "${BASH_REMATCH[2]}" || echo "$1"
}

mapfile -t classes < <(run_jcstress -l 2>&1 | grep -E '^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z0-9_$]+)+$' || true)
if [ "${#classes[@]}" -eq 0 ]; then
    echo "jcstress found no test class; is sync built (mvn verify)?" >&2
    exit 1
fi
echo "jcstress ($mode mode): ${#classes[@]} test classes, each in several JVM and compiler configurations;" \
    "full log: sync/target/jcstress/jcstress.log"

declare -A runs=() bad=() shown=()
done_runs=0 planned=0 per_class=0 tenths=0 classes_shown=0 eta=""

class_ok() { # whether every run of test class $1 passed, and none is missing
    [ -z "${bad[$1]:-}" ] && [ "${runs[$1]:-0}" -gt 0 ] && [ "${runs[$1]}" -ge "$per_class" ]
}

show_class() { # prints one test class's line, once
    local name="$1" outcome="ok" detail="${runs[$1]:-0} runs"
    [ -z "${shown[$name]:-}" ] || return 0
    shown[$name]=1
    classes_shown=$((classes_shown + 1))
    class_ok "$name" || outcome="FAILED"
    if [ "${runs[$name]:-0}" -lt "$per_class" ]; then
        detail="only ${runs[$name]:-0} of $per_class runs"
    fi
    printf 'jcstress: [%d/%d] %-6s %s (%s%s)\n' "$classes_shown" "${#classes[@]}" "$outcome" \
        "$(short_name "$name")" "$detail" "${bad[$name]:+, ${bad[$name]} failed}"
}

show_progress() { # after each of jcstress' status lines: the counter every tenth, and the classes that ended
    local name
    if [ "$planned" -gt 0 ] && [ $((done_runs * 10 / planned)) -gt "$tenths" ] && [ "$done_runs" -lt "$planned" ]; then
        tenths=$((done_runs * 10 / planned))
        echo "jcstress: $done_runs of $planned runs done, ETA $eta"
    fi
    [ "$per_class" -gt 0 ] || return 0
    for name in "${classes[@]}"; do
        [ "${runs[$name]:-0}" -lt "$per_class" ] || show_class "$name"
    done
}

follow() { # reads jcstress' verbose output: copies it to the log, counts results per test class
    local line name re_result='^\.* *\[([A-Z][A-Z _]*)\] ([^ ]+)$' re_eta='^\(ETA: ([^;)]*)'
    local re_planned='^\(Results: ([0-9]+) planned'
    while IFS= read -r line; do
        printf '%s\n' "$line" >&3
        if [[ $line == "RUN RESULTS:"* ]]; then
            break # the rest repeats the results per class; it only goes to the log
        elif [[ $line =~ $re_result ]]; then
            name="${BASH_REMATCH[2]}"
            runs[$name]=$((${runs[$name]:-0} + 1))
            done_runs=$((done_runs + 1))
            [ "${BASH_REMATCH[1]}" = OK ] || bad[$name]=$((${bad[$name]:-0} + 1))
        elif [[ $line =~ $re_eta ]]; then
            eta="${BASH_REMATCH[1]}"
        elif [[ $line =~ $re_planned ]]; then
            planned="${BASH_REMATCH[1]}"
            [ $((planned % ${#classes[@]})) -ne 0 ] || per_class=$((planned / ${#classes[@]}))
            show_progress
        fi
    done
    cat >&3
}

# quick mode's iterations last 100 ms instead of 200: its ~14 runs per test class (a JVM each, ~2.5 s to start and
# compile) then take ~3 s each rather than ~3.5, still some 100,000 samples per run; CI runs it on 2 cores
iteration=()
[ "$mode" != quick ] || iteration=(-time 100)
exec 3>"$log"
set +e
run_jcstress -v -m "$mode" "${iteration[@]}" -r "$work/report" 2>&1 | follow
status="${PIPESTATUS[0]}"
set -e
exec 3>&-

passed=0
failed=0
for name in "${classes[@]}"; do
    show_class "$name"
    if class_ok "$name"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
    fi
done
if [ "$failed" -gt 0 ]; then
    sed -n '/^RUN RESULTS:/,/^  All remaining tests/p' "$log"
fi
complete=true # jcstress itself exits 1 on a failed run; anything else wrong is said here
if [ "$done_runs" -eq 0 ] || [ "$done_runs" -lt "$planned" ] || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
    echo "jcstress exited with $status after $done_runs of $planned runs; see sync/target/jcstress/jcstress.log" >&2
    complete=false
fi
echo "jcstress: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && $complete
