package org.shm4j.sync.locks;

import org.shm4j.core.ShmFullException;
import org.shm4j.sync.internal.Blocks;

import java.util.function.Function;

/**
 * Numbers the conditions one lock object's {@code newCondition()} returns, in call order, so that processes running
 * the same code find the same conditions: the first is {@code "<lock name>.condition"}, the {@code n}-th
 * {@code "<lock name>.condition.<n>"} (see {@link SharedMutex#newCondition()}).
 */
final class NewConditions {
    private int made; // guarded by this: one number per call, counted only once its condition exists

    /**
     * @param what         the lock's kind, for the message if its name leaves no room for the condition's
     * @param openOrCreate opens or creates the condition of the name it is given
     * @return the next condition
     */
    synchronized SharedCondition next(String what, String lockName, Function<String, SharedCondition> openOrCreate) {
        String suffix = SharedCondition.companionSuffix(made + 1);
        Blocks.checkNameRoom(what + " (with a condition)", lockName, suffix);
        SharedCondition condition;
        try {
            condition = openOrCreate.apply(lockName + suffix);
        } catch (ShmFullException e) {
            throw full(what, lockName, suffix, e);
        }
        made++;
        return condition;
    }

    /**
     * @return the heap's refusal of the next condition, naming the lock and the condition's number, and the usual
     *         cause of a heap filled by conditions: code that calls {@code newCondition()} on each use
     */
    private ShmFullException full(String what, String lockName, String suffix, ShmFullException heapFull) {
        return new ShmFullException(what + " '" + lockName + "' cannot make its condition " + (made + 1) + " ('"
                + lockName + suffix + "'): " + heapFull.getMessage() + "; each newCondition() call on a lock object "
                + "makes a condition that stays in the heap, so keep the one it returns instead of calling it again "
                + "for each wait or signal", heapFull);
    }
}
