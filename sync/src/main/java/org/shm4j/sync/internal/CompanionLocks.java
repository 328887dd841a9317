package org.shm4j.sync.internal;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.sync.locks.SharedLock;

/**
 * The optional {@link SharedLock} created beside a value ({@code create(heap, name, initial, true)}): it lives in the
 * same heap under the value's name plus {@code ".lock"}, so every process that opens the value finds it.
 */
public final class CompanionLocks {
    private CompanionLocks() {
    }

    /** @return the heap name of the lock beside the value {@code valueName} */
    public static String nameFor(String valueName) {
        return valueName + ".lock";
    }

    /**
     * Creates the lock beside the value {@code valueName}; call it before creating the value (after checking the
     * value's own arguments), so that whoever finds the value finds its lock. A value of that name already there is
     * refused first, so that a creation that fails for it leaves no lock beside another's value. A lock of that name
     * without a value was left by a creator killed between its lock and its value, or refused for room between them
     * (the heap frees no block), or belongs to a creator still on its way: it is opened and used, and creating the
     * value decides which creator wins.
     *
     * @throws ShmAlreadyExistsException naming the value if it exists already (not its lock, which the user never
     *                                   named)
     * @throws org.shm4j.core.ShmTypeMismatchException if a block of the lock's name is not a lock
     */
    public static SharedLock create(SharedHeap heap, String valueName) {
        Blocks.checkNameRoom("value (created with a lock)", valueName, ".lock");
        if (heap.find(valueName).isPresent()) {
            throw Blocks.alreadyExists(heap, valueName);
        }
        try {
            return SharedLock.create(heap, nameFor(valueName));
        } catch (ShmAlreadyExistsException lockExists) {
            if (heap.find(valueName).isEmpty()) {
                return SharedLock.open(heap, nameFor(valueName));
            }
            ShmAlreadyExistsException valueExists = Blocks.alreadyExists(heap, valueName);
            valueExists.initCause(lockExists);
            throw valueExists;
        }
    }

    /** @return the lock created beside the value {@code valueName}, or null */
    public static SharedLock find(SharedHeap heap, String valueName) {
        String name = nameFor(valueName);
        return heap.find(name).isPresent() ? SharedLock.open(heap, name) : null;
    }

    /**
     * @param closedMessage the value's {@link Blocks#closedMessage}, which names it ({@code SharedLong 'total'}) for
     *                      the message: its name is cut from it only on failure, so a lock's getter allocates nothing
     * @return {@code lock}
     * @throws IllegalStateException if the value has no lock beside it
     */
    public static SharedLock require(SharedLock lock, String closedMessage) {
        if (lock == null) {
            throw new IllegalStateException(Blocks.subject(closedMessage) + " has no lock: it was created without one"
                    + " (no block of its name + '.lock' was beside it when it was opened)");
        }
        return lock;
    }
}
