#!/usr/bin/env bash
# Runs shm4j's jcstress outcome tests (sync/src/test/java/org/shm4j/sync/jcstress) after `mvn verify` built them.
# Usage: scripts/jcstress.sh [mode]   mode: sanity | quick (default) | default | tough
# Exits non-zero if any test has a forbidden outcome or an error; prints "jcstress: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/../sync"
mode="${1:-quick}"
log=target/jcstress.log
java --enable-native-access=ALL-UNNAMED -cp "target/test-classes:target/classes:$(cat target/test-classpath.txt)" \
    org.openjdk.jcstress.Main -m "$mode" -t 'org\.shm4j\.' -r target/jcstress-results > "$log" 2>&1 && status=0 || status=$?
sed -n '/RUN RESULTS:/,$p' "$log"
totals=$(grep -o 'Results: [0-9]* planned; [0-9]* passed, [0-9]* failed, [0-9]* soft errs, [0-9]* hard errs' "$log" | tail -1)
passed=$(echo "$totals" | sed -E 's/.*planned; ([0-9]+) passed.*/\1/')
failed=$(echo "$totals" | sed -E 's/.*passed, ([0-9]+) failed, ([0-9]+) soft errs, ([0-9]+) hard errs/\1 \2 \3/' \
    | awk '{print $1 + $2 + $3}')
if [ -z "$totals" ] || [ "$passed" = "0" ]; then
    echo "jcstress ran no test (exit $status); see sync/$log" >&2
    exit 1
fi
echo "jcstress: $passed passed, $failed failed"
[ "$status" -eq 0 ] && [ "$failed" -eq 0 ]
