package org.shm4j.sync.map;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32;

/**
 * Values that prove their own integrity: {@code key, version, filler, CRC-32 of all before it}, 20 to 67 bytes
 * long. A reader that gets one checks it was written whole for its key, so it never accepts a torn or foreign value.
 */
final class SelfChecking {
    private SelfChecking() {
    }

    /** @return the value for {@code key} at {@code version} */
    static byte[] of(long key, long version) {
        int length = 16 + (int) Math.floorMod(key * 31 + version, 48L) + Integer.BYTES;
        ByteBuffer buffer = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(key).putLong(version);
        for (int i = 16; i < length - Integer.BYTES; i++) {
            buffer.put((byte) (key + version + i));
        }
        CRC32 crc = new CRC32();
        crc.update(buffer.array(), 0, length - Integer.BYTES);
        buffer.putInt((int) crc.getValue());
        return buffer.array();
    }

    /**
     * @return the version of a value read for {@code key}
     * @throws AssertionError if the value is not one that {@link #of} wrote for {@code key}
     */
    static long version(long key, byte[] value) {
        if (value.length < 20) {
            throw new AssertionError("value of key " + key + " is " + value.length + " bytes");
        }
        long version = ByteBuffer.wrap(value).order(ByteOrder.LITTLE_ENDIAN).getLong(8);
        if (!java.util.Arrays.equals(value, of(key, version))) {
            throw new AssertionError("value of key " + key + " is not one written for it: version " + version);
        }
        return version;
    }
}
