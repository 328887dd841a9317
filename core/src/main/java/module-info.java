/**
 * shm4j core: shared memory regions (named in {@code /dev/shm}, file-backed or anonymous) and a managed heap whose
 * catalog lets any process find a structure by name. Its package
 * {@code org.shm4j.core.process} starts worker JVMs on the same class path or module path.
 *
 * <p>Only memory access of the Foreign Function and Memory API is used here, which needs no JVM flag.
 */
module org.shm4j.core {
    requires java.management;

    exports org.shm4j.core;
    exports org.shm4j.core.process;
    exports org.shm4j.core.internal to org.shm4j.sync;
}
