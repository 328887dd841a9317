package org.shm4j.testing;

import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.shm4j.core.SharedMemory;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Hands out unique names for named regions and unlinks them after each test. Register it with
 * {@code @RegisterExtension final ShmNames names = new ShmNames();}.
 */
public final class ShmNames implements AfterEachCallback {
    private static final AtomicInteger SEQUENCE = new AtomicInteger();
    private final List<String> issued = new ArrayList<>();

    /** @return a new name {@code shm4j-test-<pid>-<n>-<label>}, unlinked after the test */
    public synchronized String unique(String label) {
        String name = "shm4j-test-" + ProcessHandle.current().pid() + "-" + SEQUENCE.incrementAndGet() + "-" + label;
        issued.add(name);
        return name;
    }

    @Override
    public synchronized void afterEach(ExtensionContext context) {
        issued.forEach(SharedMemory::unlink);
        issued.clear();
    }
}
