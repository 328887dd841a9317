package org.shm4j.sync.locks;

import java.util.concurrent.Callable;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

/** Runs a call in a new platform thread, for tests of what a lock answers a thread that holds nothing. */
final class AnotherThread {
    private AnotherThread() {
    }

    /** @return what {@code call} returned in another thread, waited for at most 30 s */
    static <T> T inAnotherThread(Callable<T> call) throws Exception {
        FutureTask<T> task = new FutureTask<>(call);
        Thread.ofPlatform().start(task);
        return task.get(30, TimeUnit.SECONDS);
    }
}
