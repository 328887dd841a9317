package org.shm4j.sync.map;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The 64-bit hash of a key's encoded bytes: 8-byte little-endian words mixed in one by one (the tail zero-padded),
 * seeded with the length, finished with MurmurHash3's fmix64. An 8-byte key hashes the same through
 * {@link #hash(byte[], int, int)} and {@link #hashLong(long)}, so a {@link SharedLongMap} and a
 * {@code SharedMap<Long, V>} over {@link org.shm4j.sync.Codec#longs()} find each other's entries.
 */
final class KeyHash {
    // VarHandle mechanics
    private static final VarHandle LONG_LE = MethodHandles.byteArrayViewVarHandle(long[].class,
            ByteOrder.LITTLE_ENDIAN);

    private static final long GOLDEN = 0x9E37_79B9_7F4A_7C15L;
    private static final long MIX = 0xBF58_476D_1CE4_E5B9L;

    private KeyHash() {
    }

    /** @return the hash of the {@code length} bytes at {@code offset} of {@code bytes} */
    static long hash(byte[] bytes, int offset, int length) {
        long h = seed(length);
        int i = 0;
        for (; i + Long.BYTES <= length; i += Long.BYTES) {
            h = mix(h, (long) LONG_LE.get(bytes, offset + i));
        }
        if (i < length) {
            long tail = 0;
            for (int j = length - 1; j >= i; j--) {
                tail = tail << 8 | bytes[offset + j] & 0xFF;
            }
            h = mix(h, tail);
        }
        return finish(h);
    }

    /** @return the hash of the 8 little-endian bytes of {@code key} */
    static long hashLong(long key) {
        return finish(mix(seed(Long.BYTES), key));
    }

    private static long seed(int length) {
        return GOLDEN * (length + 1);
    }

    private static long mix(long h, long word) {
        return Long.rotateLeft(h ^ word * GOLDEN, 31) * MIX;
    }

    private static long finish(long h) {
        h ^= h >>> 33;
        h *= 0xFF51_AFD7_ED55_8CCDL;
        h ^= h >>> 33;
        h *= 0xC4CE_B9FE_1A85_EC53L;
        return h ^ h >>> 33;
    }
}
