package org.shm4j.sync.chaos;

import java.util.Objects;

/**
 * The steps a map kill test's writer records for each key it puts and removes, one byte per key in a shared array,
 * before and after each call, and what each step allows the map to hold for that key once the writer is killed.
 */
final class KeySteps {
    /** Never put (the array's zero). */
    static final byte NONE = 0;
    static final byte PUTTING = 1;
    static final byte PUT = 2;
    static final byte REMOVING = 3;
    static final byte REMOVED = 4;

    private KeySteps() {
    }

    /**
     * @return true if a key whose last recorded step is {@code step} may hold {@code value} (null: absent), its own
     *         value being {@code expected} (arrays compared by their contents): a put that returned and no remove
     *         called, that value; a call under way, either; otherwise absent
     */
    static boolean allows(byte step, Object value, Object expected) {
        return switch (step) {
            case PUT -> Objects.deepEquals(value, expected);
            case PUTTING, REMOVING -> value == null || Objects.deepEquals(value, expected);
            default -> value == null;
        };
    }
}
