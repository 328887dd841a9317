package org.shm4j.sync.locks;

import org.shm4j.core.ShmException;

import java.io.Serial;

/**
 * A {@link SharedLock} was not acquired in time; the message says who held it.
 */
public class LockTimeoutException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /**
     * @param message what timed out and who held the lock
     */
    public LockTimeoutException(String message) {
        super(message);
    }
}
