package org.shm4j.sync.list;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * List elements that carry their id and prove they are whole: {@link #BYTES} bytes, the id (little-endian), then bytes
 * that depend on the id and their position. The list kill tests check every element a survivor reads with
 * {@link #idOf}, so that a torn or foreign element fails the test.
 */
public final class IdElements {
    /** The length of every element, and the lists' largest element. */
    public static final int BYTES = 120;

    private IdElements() {
    }

    /** @return the element of id {@code id} */
    public static byte[] of(long id) {
        byte[] bytes = new byte[BYTES];
        ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN).putLong(id);
        for (int i = Long.BYTES; i < BYTES; i++) {
            bytes[i] = (byte) (id * 31 + i * 7);
        }
        return bytes;
    }

    /**
     * @return the id of {@code value}
     * @throws AssertionError if {@code value} is not an element {@link #of} made
     */
    public static long idOf(byte[] value) {
        long id = value.length == BYTES ? ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getLong() : -1;
        if (id < 0 || !Arrays.equals(value, of(id))) {
            throw new AssertionError("a torn element of " + value.length + " bytes, id " + id);
        }
        return id;
    }
}
