package org.shm4j.testing;

/** What the current thread has allocated on the Java heap, for tests that check a path allocates nothing. */
public final class Allocations {
    private Allocations() {
    }

    /**
     * @return {@code com.sun.management.ThreadMXBean.getCurrentThreadAllocatedBytes()}, called by reflection: the
     *         tests compile inside the library's modules, which do not read jdk.management, and run on the class
     *         path, which does
     */
    public static long currentThreadBytes() {
        try {
            Object threads = Class.forName("java.lang.management.ManagementFactory").getMethod("getThreadMXBean")
                    .invoke(null);
            return (long) Class.forName("com.sun.management.ThreadMXBean")
                    .getMethod("getCurrentThreadAllocatedBytes").invoke(threads);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("this JVM does not count a thread's allocated bytes", e);
        }
    }
}
