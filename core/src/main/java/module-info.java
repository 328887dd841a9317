/**
 * shm4j core: shared memory regions (named in {@code /dev/shm}, file-backed or anonymous) and a managed heap whose
 * catalog lets any process find a structure by name. Its package
 * {@code org.shm4j.core.process} starts worker JVMs on the same class path or module path.
 *
 * <p>This module needs no JVM flag: memory access of the Foreign Function and Memory API needs none, and its one
 * native call works only better with one. Where {@code /proc} hides other users' processes ({@code hidepid=2}), it
 * asks the kernel whether an owner process still lives with {@code kill(pid, 0)} through
 * {@link java.lang.foreign.Linker}, which needs {@code --enable-native-access=org.shm4j.core} (module path) or
 * {@code --enable-native-access=ALL-UNNAMED} (class path). Without the flag everything works as well, except that
 * under {@code hidepid=2} another user's live process is taken for dead; the JDK prints no warning either way.
 */
module org.shm4j.core {
    requires java.management;

    exports org.shm4j.core;
    exports org.shm4j.core.process;
    exports org.shm4j.core.internal to org.shm4j.sync;
}
