#!/usr/bin/env bash
# Sourced by run.sh and .ci/run: exports JAVA_HOME as a JDK 22 or newer, or stops with a message saying what is needed.
# Order: JAVA_HOME if it is 22+, else the newest 22+ JDK under /usr/lib/jvm (or $SHM4J_JVM_DIR).

jdk_major() { # prints the feature version of the JDK at $1, or nothing
    local java="$1/bin/java"
    [ -x "$java" ] && [ -x "$1/bin/javac" ] || return 0
    "$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p'
}

find_jdk() {
    local major best="" best_major=0 dir
    if [ -n "${JAVA_HOME:-}" ]; then
        major=$(jdk_major "$JAVA_HOME")
        if [ -n "$major" ] && [ "$major" -ge 22 ]; then
            echo "$JAVA_HOME"
            return 0
        fi
    fi
    for dir in "${SHM4J_JVM_DIR:-/usr/lib/jvm}"/*; do
        [ -d "$dir" ] && [ ! -L "$dir" ] || continue
        major=$(jdk_major "$dir")
        if [ -n "$major" ] && [ "$major" -ge 22 ] && [ "$major" -gt "$best_major" ]; then
            best="$dir"
            best_major="$major"
        fi
    done
    [ -n "$best" ] && echo "$best"
}

SHM4J_JDK=$(find_jdk || true)
if [ -z "$SHM4J_JDK" ]; then
    echo "shm4j needs a JDK 22 or newer (the FFM API is final in Java 22), and found none:" >&2
    echo "  JAVA_HOME='${JAVA_HOME:-}' is not a JDK 22+, and ${SHM4J_JVM_DIR:-/usr/lib/jvm} holds none." >&2
    echo "  Install one (e.g. Temurin 25) and set JAVA_HOME to it." >&2
    exit 1
fi
export JAVA_HOME="$SHM4J_JDK"
export PATH="$JAVA_HOME/bin:$PATH"
