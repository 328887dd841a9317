#!/usr/bin/env bash
# shm4j's two commands:
#   ./run.sh demo   builds, then runs the main job: two JVM processes sharing a named heap and a counter
#   ./run.sh test   builds and runs every test (unit, cross-process, Python interop, corruption, jcstress quick)
set -euo pipefail
cd "$(dirname "$0")"
source scripts/find-jdk.sh
if ! command -v mvn >/dev/null 2>&1; then
    echo "Maven not found: installing it with apt-get" >&2
    apt-get update -qq && apt-get install -y -qq maven >/dev/null
fi
MVN=(mvn -B -ntp)
case "${1:-}" in
    demo)
        "${MVN[@]}" -q -DskipTests package
        java --enable-native-access=ALL-UNNAMED -cp bench/target/benchmarks.jar org.shm4j.bench.demo.SharedCounterDemo
        ;;
    test)
        "${MVN[@]}" verify
        scripts/jcstress.sh "${SHM4J_JCSTRESS_MODE:-quick}"
        ;;
    *)
        echo "usage: ./run.sh demo | test" >&2
        exit 2
        ;;
esac
