#!/usr/bin/env bash
# shm4j's commands; `./run.sh help` lists them. Help runs on shell builtins alone: it needs no JDK, Maven or PATH.
set -euo pipefail

usage() {
    printf '%s\n' \
        "usage: ./run.sh COMMAND [ARGS]" \
        "" \
        "commands:" \
        "  bench       build, then run the quick benchmark suite, shm4j beside its peers (about 7 minutes on 2 cores)" \
        "  test        build and run every test: unit, cross-process, Python interop, corruption, then jcstress" \
        "  install     install shm4j-core and shm4j-sync with their sources and Javadoc jars into ~/.m2 (no tests);" \
        "              ARGS go to Maven, e.g. -Dmaven.repo.local=DIR for another local repository, or -o" \
        "  bench-full  the full benchmark suite with the benchmarks' own settings, 2 forks each (not timed since" \
        "              the map, list and coordination benchmarks came: about 150 runs of some 20 s each);" \
        "              ARGS: JMH patterns for a partial run of some classes, e.g. 'LocksBenchmark|RingBenchmark'," \
        "              and --forks=N for N forks of each benchmark instead of the classes' 2" \
        "  python      the same workloads with Python's multiprocessing (bench/python/mp_bench.py ARGS)" \
        "  report      regenerate the README's performance tables and chart from the full runs, newest first (or" \
        "              ARGS' runs): each row from the newest run that measured it; a run too noisy for its" \
        "              verdicts is refused unless --force is given" \
        "  demo        two JVM processes share a named heap and add to one counter" \
        "  shm4j       the shm4j tool: list, inspect, watch and clean up heaps (./shm4j ARGS; ./shm4j help)" \
        "  help        print this list (also -h, --help, or no command)" \
        "" \
        "Every command but help and python needs a JDK 22+ (JAVA_HOME if it is one, else the newest in /usr/lib/jvm)" \
        "and Maven (installed with apt-get if missing). SHM4J_JCSTRESS_MODE=sanity|quick|default|tough sets the" \
        "jcstress mode of test (default: quick, about 4.5 of the test command's 15 minutes)."
}

command="${1:-help}"
case "$command" in
    help|-h|--help)
        usage
        exit 0
        ;;
    bench|bench-full|test|install|python|report|demo)
        ;;
    shm4j)
        exec "$(dirname "$0")/shm4j" "${@:2}"
        ;;
    *)
        printf 'run.sh: unknown command: %s\n\n' "$command" >&2
        usage >&2
        exit 2
        ;;
esac

cd "$(dirname "$0")"

ensure_maven() {
    command -v mvn >/dev/null 2>&1 && return 0
    echo "run.sh: Maven (mvn) is not on PATH; installing it with apt-get" >&2
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1 \
            && apt-get update -qq && apt-get install -y -qq maven >/dev/null && command -v mvn >/dev/null 2>&1; then
        return 0
    fi
    echo "run.sh: could not install Maven (apt-get needs root and a reachable package mirror)." >&2
    echo "  Install Maven 3.8 or newer with your package manager, put mvn on PATH, and run ./run.sh $command again." >&2
    exit 1
}

if [ "$command" != python ]; then
    source scripts/find-jdk.sh
    ensure_maven
fi
MVN=(mvn -B -ntp)
case "$command" in
    bench|bench-full)
        "${MVN[@]}" -q -DskipTests package
        # JMH's own code calls sun.misc.Unsafe; on JDK 23+ this flag keeps its warnings out (shm4j never uses it)
        unsafe_flag=$(java --sun-misc-unsafe-memory-access=allow -version >/dev/null 2>&1 \
            && echo --sun-misc-unsafe-memory-access=allow || true)
        java --enable-native-access=ALL-UNNAMED $unsafe_flag -cp bench/target/benchmarks.jar org.shm4j.bench.QuickSuite \
            $([ "$command" = bench-full ] && echo --full) "${@:2}"
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
    install)
        # profile library-jars (root pom) attaches the sources and Javadoc jars; plain `mvn verify` stays without them
        "${MVN[@]}" -P library-jars -DskipTests -pl core,sync -am install "${@:2}"
        echo "Installed org.shm4j:shm4j-core and org.shm4j:shm4j-sync, each with -sources.jar and -javadoc.jar," \
            "into the local Maven repository; depend on org.shm4j:shm4j-sync:0.1.0-SNAPSHOT"
        ;;
esac
