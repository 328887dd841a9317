/**
 * shm4j core: shared memory regions (named in {@code /dev/shm}, file-backed or anonymous) and a managed heap whose
 * catalog lets any process find a structure by name.
 *
 * <p>Only memory access of the Foreign Function and Memory API is used here, which needs no JVM flag.
 */
module org.shm4j.core {
    exports org.shm4j.core;
    exports org.shm4j.core.internal to org.shm4j.sync;
}
