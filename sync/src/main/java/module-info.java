/**
 * shm4j sync: what Python's {@code multiprocessing} shares between processes, in shared memory, for threads and
 * processes alike: atomic values, arrays and counters; robust locks, conditions and deadlock detection; semaphores,
 * latches, events and barriers; byte rings, queues and pipes; maps and lists; and the {@code shm4j} inspection tool.
 *
 * <p>Blocking waits use Linux {@code futex} through {@code java.lang.foreign.Linker} when this module has native
 * access ({@code --enable-native-access=org.shm4j.sync}, or {@code ALL-UNNAMED} on the class path); without it they
 * fall back to spinning and parking, which works the same but wakes more slowly. Give {@code org.shm4j.core} native
 * access too ({@code --enable-native-access=org.shm4j.sync,org.shm4j.core}): with it, a lock held by another user's
 * live process is never taken for dead where {@code /proc} hides that process ({@code hidepid=2}).
 */
module org.shm4j.sync {
    requires transitive org.shm4j.core;

    exports org.shm4j.sync;
    exports org.shm4j.sync.atomic;
    exports org.shm4j.sync.list;
    exports org.shm4j.sync.locks;
    exports org.shm4j.sync.map;
    exports org.shm4j.sync.ring;
    exports org.shm4j.sync.tools;
}
