#!/usr/bin/env bash
# shm4j's commands:
#   ./run.sh bench       builds, then runs the main job: the quick benchmark suite (about 4 minutes on 2 cores),
#                        shm4j beside its peers in one JMH run, plus cross-process latency; prints the tables
#   ./run.sh test        builds and runs every test (unit, cross-process, Python interop, corruption, jcstress quick)
#   ./run.sh bench-full  the full suite (the benchmarks' own settings: 2 forks each; about 30 minutes)
#   ./run.sh python      the same workloads with Python's multiprocessing (bench/python/mp_bench.py)
#   ./run.sh report      regenerates the README's performance tables and chart from the newest results
#   ./run.sh demo        two JVM processes share a named heap and a counter
set -euo pipefail
cd "$(dirname "$0")"
source scripts/find-jdk.sh
if ! command -v mvn >/dev/null 2>&1; then
    echo "Maven not found: installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
fi
MVN=(mvn -B -ntp)
case "${1:-}" in
    bench|bench-full)
        "${MVN[@]}" -q -DskipTests package
        java --enable-native-access=ALL-UNNAMED $(java --sun-misc-unsafe-memory-access=allow -version 2>/dev/null && echo --sun-misc-unsafe-memory-access=allow) -cp bench/target/benchmarks.jar org.shm4j.bench.QuickSuite \
            $([ "$1" = bench-full ] && echo --full)
        ;;
    python)
        python3 bench/python/mp_bench.py "${@:2}"
        ;;
    report)
        "${MVN[@]}" -q -DskipTests package
        java -cp bench/target/benchmarks.jar org.shm4j.bench.report.ResultsReport "${@:2}"
        ;;
    demo)
        "${MVN[@]}" -q -DskipTests package
        java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.shm4j.bench.demo.SharedCounterDemo
        ;;
    test)
        "${MVN[@]}" verify
        scripts/jcstress.sh "${SHM4J_JCSTRESS_MODE:-quick}"
        ;;
    *)
        echo "usage: ./run.sh bench | test | bench-full | python | report | demo" >&2
        exit 2
        ;;
esac
