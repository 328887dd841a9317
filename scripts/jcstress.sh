#!/usr/bin/env bash
# Runs shm4j's jcstress outcome tests (sync/src/test/java/org/shm4j/sync/jcstress) after `mvn verify` built them.
# Usage: scripts/jcstress.sh [mode]   mode: sanity | quick (default) | default | tough
# jcstress runs each test class in several JVM and compiler configurations ("runs"). While it works this prints a
# counter of runs every tenth and one line per test class when its last run ends (for quick mode's second lane, which
# runs beside the first, at the end); it closes with "jcstress: N passed, N failed", counting test classes. Exits
# non-zero if a run had a forbidden outcome or an error, or if any run is missing.
# Everything goes to sync/target/jcstress: the full log (jcstress.log), and for each group of test classes below its
# HTML report and jcstress' result blob (jcstress-results-*.bin.gz) in report-split/, report-unified/ and
# report-split-beside/.
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
    java --enable-native-access=ALL-UNNAMED -cp "$classpath" org.openjdk.jcstress.Main "$@"
}

short_name() { # a test class's name without its package
    [[ $1 =~ ^([a-z0-9_]+\.)+(.+)$ ]] && echo "${BASH_REMATCH[2]}" || echo "$1"
}

exact() { # a jcstress -t pattern that selects exactly the test classes named in its arguments
    local names=("${@//./\\.}")
    local IFS='|'
    echo "^(${names[*]})\$"
}

mapfile -t classes < <(run_jcstress -t 'org\.shm4j\.' -l 2>&1 \
    | grep -E '^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z0-9_$]+)+$' || true)
if [ "${#classes[@]}" -eq 0 ]; then
    echo "jcstress found no test class; is sync built (mvn verify)?" >&2
    exit 1
fi

# In quick mode (CI) only the protocols of several steps (locks, rings, the condition's signal and await) run with
# split per-actor compilation: each actor in the interpreter, C1 or C2, so that the two sides run at unequal speeds,
# 9 runs a class, all with C2's randomizers on (jcstress' default adds 5 runs of the C2 pairs without them: 14). The
# tests of single atomic operations run unified: the whole test in the interpreter, C1, C2 and C2 with its
# randomizers (4 runs), which is where a wrong access mode shows. With the two lanes below: about 4.5 minutes.
# Other modes run every class split, each compile pair with and without the randomizers.
split_classes=() unified_classes=()
for name in "${classes[@]}"; do
    if [ "$mode" != quick ] || [[ $name =~ (LocksStress|RingStress|RingWakeStress|SignalAwait) ]]; then
        split_classes+=("$name")
    else
        unified_classes+=("$name")
    fi
done
echo "jcstress ($mode mode): ${#classes[@]} test classes, each in several JVM and compiler configurations;" \
    "full log: sync/target/jcstress/jcstress.log"

declare -A runs=() bad=() shown=() expected=()
group=() group_name="" live=true done_runs=0 planned=0 tenths=0 classes_shown=0 eta="" status=0 missing=0

class_ok() { # whether every run of test class $1 passed, and none is missing
    [ -z "${bad[$1]:-}" ] && [ "${runs[$1]:-0}" -gt 0 ] && [ "${runs[$1]}" -ge "${expected[$1]:-1}" ]
}

show_class() { # prints one test class's line, once
    local name="$1" outcome="ok" detail="${runs[$1]:-0} runs"
    [ -z "${shown[$name]:-}" ] || return 0
    shown[$name]=1
    classes_shown=$((classes_shown + 1))
    class_ok "$name" || outcome="FAILED"
    if [ "${runs[$name]:-0}" -lt "${expected[$name]:-1}" ]; then
        detail="only ${runs[$name]:-0} of ${expected[$name]:-?} runs"
    fi
    printf 'jcstress: [%d/%d] %-6s %s (%s%s)\n' "$classes_shown" "${#classes[@]}" "$outcome" \
        "$(short_name "$name")" "$detail" "${bad[$name]:+, ${bad[$name]} failed}"
}

show_progress() { # after each of jcstress' status lines: the counter every tenth, and the classes that ended
    local name
    if [ "$live" = true ] && [ "$planned" -gt 0 ] && [ $((done_runs * 10 / planned)) -gt "$tenths" ] \
        && [ "$done_runs" -lt "$planned" ]; then
        tenths=$((done_runs * 10 / planned))
        echo "jcstress: $done_runs of $planned runs with $group_name done, ETA $eta"
    fi
    for name in "${group[@]}"; do
        [ -z "${expected[$name]:-}" ] || [ "${runs[$name]:-0}" -lt "${expected[$name]}" ] || show_class "$name"
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
            if [ $((planned % ${#group[@]})) -eq 0 ]; then
                for name in "${group[@]}"; do expected[$name]=$((planned / ${#group[@]})); done
            fi
            show_progress
        fi
    done
    cat >&3
}

launch_group() { # $1: split (true/false); $2: its report's directory; the rest: its classes. Runs jcstress there
    local split="$1" report="$2" vm=()
    shift 2
    [ "$split" != true ] || vm=("${split_vm[@]}")
    mkdir -p "$work/$report"
    cd "$work/$report" # jcstress writes its result blob, named by the second it started, into its working directory
    run_jcstress -t "$(exact "$@")" -v -m "$mode" "${iteration[@]}" "${vm[@]}" -sc "$split" -r "$work/$report"
}

tally_group() { # $1: what the group is called; $2: whether it runs now (true: show its counter); the rest: its classes
    group_name="$1"
    live="$2"
    shift 2
    group=("$@")
    done_runs=0 planned=0 tenths=0 eta=""
    follow # reads the group's output on stdin
    if [ "$done_runs" -eq 0 ] || [ "$done_runs" -lt "$planned" ]; then
        echo "jcstress stopped after $done_runs of $planned runs with $group_name" >&2
        missing=1
    fi
}

# quick mode's iterations last 100 ms instead of 200, and each run's JVM gets a 64 MB heap instead of 256 (jcstress
# pre-touches the heap, which cost 1-2 s per JVM on a 2-core VM): a run then takes about 3.2 s rather than 3.8,
# still some 300,000 samples or more; CI runs it on 2 cores. Quick mode's split runs take one VM configuration, C2's
# randomizers on (a new seed per run), instead of jcstress' two: the C2 pairs run once rather than once with and once
# without them, and the other pairs, which the randomizers do not touch, run once as before
iteration=() split_vm=()
if [ "$mode" = quick ]; then
    iteration=(-time 100 -hs 64)
    split_vm=(-jvmArgs "-XX:+UnlockDiagnosticVMOptions -XX:+StressLCM -XX:+StressGCM -XX:+StressIGVN -XX:+StressCCP")
fi
# Two jcstress processes run at once (quick mode): a run keeps both CPUs busy only while it samples, and spends about
# two thirds of its time starting its JVM and estimating its resources, mostly on one thread. The second lane runs the
# unified group, then every fourth split class (about as many runs as the first lane's); its output goes to files and
# is counted when the first lane is done.
beside_split=()
if [ "$mode" = quick ]; then
    first_lane=()
    for i in "${!split_classes[@]}"; do
        if [ $((i % 4)) -eq 1 ]; then
            beside_split+=("${split_classes[$i]}")
        else
            first_lane+=("${split_classes[$i]}")
        fi
    done
    split_classes=("${first_lane[@]}")
fi

run_beside() { # $1: split (true/false); $2: its report's directory; the rest: its classes. Output to $work/$2.out
    [ $# -gt 2 ] || return 0
    launch_group "$@" >"$work/$2.out" 2>&1
    echo $? >"$work/$2.out.rc"
}

tally_beside() { # $1: what the group is called; $2: its report's directory; the rest: its classes
    local name="$1" report="$2" group_status
    shift 2
    [ $# -gt 0 ] || return 0
    tally_group "$name" false "$@" <"$work/$report.out"
    group_status="$(cat "$work/$report.out.rc" 2>/dev/null || echo 1)"
    [ "$group_status" -eq 0 ] || status="$group_status"
}

exec 3>"$log"
beside_pid=""
if [ $((${#unified_classes[@]} + ${#beside_split[@]})) -gt 0 ]; then
    echo "jcstress: ${#unified_classes[@]} test classes with unified compilation and ${#beside_split[@]} with split" \
        "compilation in a second jcstress beside the first (their lines come at the end)"
    (
        set +e
        run_beside false report-unified "${unified_classes[@]}"
        run_beside true report-split-beside "${beside_split[@]}"
    ) &
    beside_pid=$!
fi
if [ "${#split_classes[@]}" -gt 0 ]; then
    echo "jcstress: ${#split_classes[@]} test classes with split compilation"
    set +e
    launch_group true report-split "${split_classes[@]}" 2>&1 \
        | tally_group "split compilation" true "${split_classes[@]}"
    split_status="${PIPESTATUS[0]}"
    set -e
    [ "$split_status" -eq 0 ] || status="$split_status"
fi
if [ -n "$beside_pid" ]; then
    wait "$beside_pid" || true
    tally_beside "unified compilation" report-unified "${unified_classes[@]}"
    tally_beside "split compilation, second lane" report-split-beside "${beside_split[@]}"
fi
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
# jcstress itself exits 1 on a failed run; anything else wrong is said here
if [ "$missing" -ne 0 ] || { [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; }; then
    echo "jcstress exited with $status or missed runs; see sync/target/jcstress/jcstress.log" >&2
    missing=1
fi
echo "jcstress: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$missing" -eq 0 ]
