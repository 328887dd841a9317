package org.shm4j.sync;

import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.sync.CorruptionSubjects.HeapKind;
import org.shm4j.sync.CorruptionSubjects.RawKind;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * Damaged bytes in a sync structure's own header give a clear exception or a structure that still works: never
 * another exception type, an out-of-bounds access, a crash or a hang. Core's {@code CorruptionTest} does the same for
 * the heap header and catalog; here every block kind of {@code org.shm4j.sync} gets about 1000 trials of bit flips
 * and 1000 of random bytes in its header, in a heap and (where it has one) in its raw form, and is truncated.
 *
 * <p>Accepted outcomes of opening and using a damaged structure:
 * <ul>
 *   <li>it works: the damage hit a field any value of which is a valid state (a value, a counter, a lock word that
 *       now names another owner, who is then taken for alive or dead as the lock's rules say);</li>
 *   <li>{@link ShmFormatException} naming the structure, the field and the value found;</li>
 *   <li>{@link ShmTypeMismatchException} naming the structure, when a ring opened for one kind says it is another.</li>
 * </ul>
 * Truncation: a heap block of the right type but the wrong size (which the catalog's checksum cannot catch: another
 * program may allocate it so) gives {@link ShmFormatException}; a raw segment whose bytes after the offset hold the
 * structure's fixed part but not the size its header gives gives {@link ShmFormatException}; one that cannot even hold
 * the fixed part is a bad index from the caller, {@link IndexOutOfBoundsException} as in {@code java.lang.foreign},
 * with a message naming the structure. Every call a trial makes returns at once (zero timeouts); a hang fails the
 * test through its timeout.
 */
class BlockCorruptionTest {
    private static final int TRIALS = 1000;
    private static final int SIZE_TRIALS = 100;
    private static final int RANDOM_MEMORY_TRIALS = 300;
    private static final long RAW_OFFSET = 64;
    private static final String NAME = "s";

    /** How a trial damages a header. */
    enum Damage {
        /** 1 to 8 random bit flips. */
        FLIPS,
        /** A run of 1 to 16 random bytes. */
        BYTES
    }

    /** Opens and uses the damaged structure. */
    private interface Trial {
        void run() throws Exception;
    }

    static Stream<Arguments> heapKinds() {
        return CorruptionSubjects.heapKinds().stream()
                .flatMap(kind -> Arrays.stream(Damage.values()).map(damage -> Arguments.of(kind, damage)));
    }

    static Stream<Arguments> rawKinds() {
        return CorruptionSubjects.rawKinds().stream()
                .flatMap(kind -> Arrays.stream(Damage.values()).map(damage -> Arguments.of(kind, damage)));
    }

    static Stream<HeapKind> typedHeapKinds() {
        return CorruptionSubjects.heapKinds().stream().filter(kind -> kind.type() != null);
    }

    static Stream<RawKind> rawKindsOnly() {
        return CorruptionSubjects.rawKinds().stream();
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("heapKinds")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shouldSurviveADamagedHeaderInAHeap(HeapKind kind, Damage damage) {
        try (SharedHeap heap = CorruptionSubjects.heap()) {
            kind.create().in(heap, NAME);
            String blockName = NAME + kind.suffix();
            MemorySegment block = heap.find(blockName).orElseThrow().segment();
            int refused = damageAndUse(block, kind.headerBytes(), new Random(seed(kind, damage)), damage,
                    "'" + blockName + "'", () -> kind.use().open(heap, NAME));
            assertRefusals(kind.toString(), kind.headerBytes(), refused);
        }
    }

    @ParameterizedTest(name = "{0}, {1}")
    @MethodSource("rawKinds")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shouldSurviveADamagedHeaderInRawMemory(RawKind kind, Damage damage) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment raw = CorruptionSubjects.allocate(arena, RAW_OFFSET + kind.byteSize());
            kind.format().at(raw, RAW_OFFSET);
            int refused = damageAndUse(raw.asSlice(RAW_OFFSET), kind.headerBytes(), new Random(seed(kind, damage)),
                    damage, mention(raw), () -> kind.wrap().at(raw, RAW_OFFSET));
            assertRefusals(kind.toString(), kind.headerBytes(), refused);
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("typedHeapKinds")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shouldRefuseAHeapBlockOfTheWrongSize(HeapKind kind) {
        try (SharedHeap heap = CorruptionSubjects.heap()) {
            kind.create().in(heap, NAME);
            byte[] pristine = heap.find(NAME).orElseThrow().segment().toArray(JAVA_BYTE);
            Random random = new Random(kind.label().hashCode());
            for (int trial = 0; trial < SIZE_TRIALS; trial++) {
                int size = 1 + random.nextInt(2 * pristine.length);
                if (size == pristine.length) {
                    continue;
                }
                String name = "t" + trial;
                heap.allocate(name, kind.type(), size, 64,
                        s -> MemorySegment.copy(pristine, 0, s, JAVA_BYTE, 0, Math.min(size, pristine.length)));
                assertRefused(() -> kind.use().open(heap, name), kind + " in a block of " + size + " bytes",
                        ShmFormatException.class, "'" + name + "'");
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rawKindsOnly")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shouldRefuseATruncatedRawSegment(RawKind kind) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment raw = CorruptionSubjects.allocate(arena, RAW_OFFSET + kind.byteSize());
            kind.format().at(raw, RAW_OFFSET);
            Random random = new Random(kind.label().hashCode());
            for (int trial = 0; trial < TRIALS; trial++) {
                long length = random.nextLong(kind.byteSize());
                MemorySegment shorter = raw.asSlice(0, RAW_OFFSET + length);
                assertRefused(() -> kind.wrap().at(shorter, RAW_OFFSET), kind + " truncated to " + length + " bytes",
                        length < kind.fixedSize() ? IndexOutOfBoundsException.class : ShmFormatException.class,
                        mention(raw));
            }
        }
    }

    /** The case: {@code wrap} over memory that never held the structure. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("rawKindsOnly")
    @Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void shouldRefuseRandomMemory(RawKind kind) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment raw = CorruptionSubjects.allocate(arena, RAW_OFFSET + kind.byteSize());
            byte[] noise = new byte[(int) kind.byteSize()];
            Random random = new Random(kind.label().hashCode());
            for (int trial = 0; trial < RANDOM_MEMORY_TRIALS; trial++) {
                random.nextBytes(noise);
                MemorySegment.copy(noise, 0, raw, JAVA_BYTE, RAW_OFFSET, noise.length);
                assertRefused(() -> kind.wrap().at(raw, RAW_OFFSET), kind + " over random bytes, trial " + trial,
                        ShmFormatException.class, mention(raw));
            }
        }
    }

    /** Asserts that {@code trial} throws {@code type} with a message naming the structure by {@code mention}. */
    private static void assertRefused(Trial trial, String what, Class<? extends Throwable> type, String mention) {
        Throwable thrown = outcome(trial, what);
        assertThat(thrown).as(what).isInstanceOf(type);
        assertThat(thrown.getMessage()).as(what).contains(mention);
    }

    private static long seed(Object kind, Damage damage) {
        return 31L * kind.toString().hashCode() + damage.ordinal();
    }

    /** @return what every message about the structure at {@link #RAW_OFFSET} of {@code raw} names: its address */
    private static String mention(MemorySegment raw) {
        return "0x" + Long.toHexString(raw.address() + RAW_OFFSET);
    }

    /**
     * Runs {@link #TRIALS} trials, each on the pristine block damaged afresh.
     *
     * @return how many trials were refused with an accepted exception
     */
    private static int damageAndUse(MemorySegment block, long headerBytes, Random random, Damage damage,
                                    String mention, Trial trial) {
        byte[] pristine = block.toArray(JAVA_BYTE);
        int refused = 0;
        for (int t = 0; t < TRIALS; t++) {
            MemorySegment.copy(pristine, 0, block, JAVA_BYTE, 0, pristine.length);
            String what = "trial " + t + ": " + damage(block, (int) headerBytes, damage, random);
            Throwable thrown = outcome(trial, what);
            if (thrown instanceof IllegalStateException held && held.getMessage().contains("process at a time")) {
                // a ring's role word damaged into a token that names a live process: refused as held by it
                assertThat(held.getMessage()).as(what).contains(mention);
                refused++;
            } else if (thrown instanceof IllegalStateException most
                    && most.getMessage().contains("read holds, the most")) {
                // a read-write lock's read-hold word damaged into a count past its limit: refused as that limit
                assertThat(most.getMessage()).as(what).contains(mention);
                refused++;
            } else if (thrown != null) {
                assertThat(thrown).as(what).isInstanceOfAny(ShmFormatException.class,
                        ShmTypeMismatchException.class);
                assertThat(thrown.getMessage()).as(what).contains(mention);
                refused++;
            }
        }
        MemorySegment.copy(pristine, 0, block, JAVA_BYTE, 0, pristine.length);
        return refused;
    }

    /** @return what was done to the first {@code headerBytes} of {@code block} */
    private static String damage(MemorySegment block, int headerBytes, Damage damage, Random random) {
        StringBuilder done = new StringBuilder();
        if (damage == Damage.FLIPS) {
            int flips = 1 + random.nextInt(8);
            for (int f = 0; f < flips; f++) {
                int at = random.nextInt(headerBytes);
                int bit = random.nextInt(8);
                block.set(JAVA_BYTE, at, (byte) (block.get(JAVA_BYTE, at) ^ 1 << bit));
                done.append("bit ").append(bit).append(" of byte ").append(at).append(' ');
            }
        } else {
            int start = random.nextInt(headerBytes);
            int end = Math.min(headerBytes, start + 1 + random.nextInt(16));
            for (int at = start; at < end; at++) {
                block.set(JAVA_BYTE, at, (byte) random.nextInt(256));
            }
            done.append("random bytes ").append(start).append("..").append(end - 1);
        }
        return done.toString();
    }

    /**
     * @return what the trial threw, or null if it worked
     * @throws AssertionError naming the damage if it threw something other than a {@link RuntimeException}
     */
    private static Throwable outcome(Trial trial, String what) {
        try {
            trial.run();
            return null;
        } catch (RuntimeException e) {
            return e;
        } catch (Exception e) {
            return fail(what + ": " + e, e);
        }
    }

    /** Values have no header: every byte pattern is a value. Every other kind refuses some damage. */
    private static void assertRefusals(String kind, long headerBytes, int refused) {
        if (kind.startsWith("Shared") && !kind.contains("Lock") && !kind.contains("Array")) {
            assertThat(refused).as(kind + ": refusals").isZero();
        } else {
            assertThat(refused).as(kind + ": refusals of " + TRIALS + " damaged " + headerBytes + "-byte headers")
                    .isBetween(1, TRIALS);
        }
    }
}
