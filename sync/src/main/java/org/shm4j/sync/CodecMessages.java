package org.shm4j.sync;

import org.shm4j.core.ShmFormatException;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.ExactEncoding;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;

import java.lang.foreign.MemorySegment;

/**
 * A {@link Codec}'s values as ring messages, for {@link SharedQueue} and {@link SharedPipe}: a value is encoded in
 * place into a claim of the codec's type and committed; a message is decoded only if its type is the codec's. Each
 * message names its structure by {@code what} ({@code "queue 'jobs'"}, {@code "first end of pipe 'p'"}).
 */
final class CodecMessages {
    private CodecMessages() {
    }

    /**
     * @return how many bytes {@code codec} writes for {@code value}
     * @throws IllegalArgumentException if that is more than {@code ring}'s longest message (or negative), or the
     *                                  codec's type id is not positive
     */
    static <T> int encodedLength(Codec<T> codec, T value, SharedRing ring, String what) {
        checkedTypeId(codec, what);
        int length = ExactEncoding.measure(codec, value, what);
        if (length < 0 || length > ring.maxMessageLength()) {
            throw Blocks.messageTooLong(what, "encoded value length", length, ring.capacity());
        }
        return length;
    }

    /**
     * @return {@code codec}'s type id
     * @throws IllegalArgumentException naming {@code what} (not the ring under it), if the type id is not positive
     */
    static int checkedTypeId(Codec<?> codec, String what) {
        int type = codec.typeId();
        if (type < 1) {
            throw new IllegalArgumentException(what + ": its codec's typeId() is " + type + " (expected: >= 1)");
        }
        return type;
    }

    /**
     * Encodes {@code value} into {@code claim}, made for {@code codec}'s type and its encoded length, and commits it;
     * a codec that throws aborts the claim and its exception passes through. The value is written as
     * {@link ExactEncoding} writes it, so that one taking more bytes than its {@code encodedLength} said (or, a record,
     * fewer) fails instead of overwriting the records around its claim.
     *
     * @param delivered what the value was not if the commit fails ({@code "queued"}, {@code "sent"})
     * @throws IllegalStateException if a consumer skipped the claim while it was being encoded, or the value did not
     *                               take exactly the claim: the value was not delivered
     */
    static <T> void encodeAndCommit(RingClaim claim, Codec<T> codec, T value, SharedRing ring, String what,
                                    String delivered) {
        encode(claim, codec, value, what, delivered);
        commit(claim, ring, what, delivered);
    }

    /**
     * The first half of {@link #encodeAndCommit}: encodes {@code value} into {@code claim}; a codec that throws aborts
     * the claim and its exception passes through.
     */
    private static <T> void encode(RingClaim claim, Codec<T> codec, T value, String what, String delivered) {
        try {
            ExactEncoding.writeExactly(codec, value, claim.length(), claim.buffer(), claim.offset(), false, what,
                    delivered);
        } catch (Throwable e) { // a checked exception thrown sneakily (Kotlin, Lombok) too: the claim must not stay
            claim.abort();
            throw e;
        }
    }

    /**
     * The second half of {@link #encodeAndCommit}: commits {@code claim}.
     *
     * @throws IllegalStateException if a consumer skipped the claim while it was being encoded
     */
    private static void commit(RingClaim claim, SharedRing ring, String what, String delivered) {
        if (!claim.tryCommit()) { // a compare-and-set: a late commit must not overwrite space reused since
            throw new IllegalStateException(what + ": the value was not " + delivered + ": a consumer skipped its "
                    + "claim while it was being encoded (unblock(), or the stall rule, stall timeout "
                    + ring.stallTimeout() + ", taking this process for dead)");
        }
    }

    /** @return the message for {@code what} holding a message of {@code type}, which {@code codec} does not read */
    static String typeDiffers(Codec<?> codec, String what, int type, String holds) {
        return what + (codec instanceof ShapeCodec<?> shaped ? ": " + shaped.shapeDiffers(type)
                : " " + holds + " " + Blocks.typeId(type) + ", but its codec reads type "
                        + Blocks.typeId(codec.typeId()));
    }

    /**
     * Decodes the one message a poll hands over, counting it first as a task taken if it has a joinable queue's count;
     * reused by one thread's polls. A message it counted and then does not hand out (discarded by a clear, or of
     * another type, or one the codec cannot decode) is a task the caller cannot finish: {@link #taskUndelivered()}
     * says so, for the poll to mark it done once the ring moved past it.
     */
    static final class Receiver<T> implements MessageHandler {
        private final Codec<T> codec;
        private final String what;
        private final String holds;
        private final TaskCount tasks;
        private T value;
        private RuntimeException failure;
        /** True while a poll of its thread uses it. */
        boolean busy;
        /** True while a peek uses it: the message stays queued, whatever the codec makes of it. */
        boolean peeking;
        /** True while a clear uses it: the message is counted (if it has a count) and not decoded. */
        boolean discarding;
        /** True once this poll's message was counted as a task taken. */
        private boolean counted;
        /**
         * What left the handler after the count other than as a failure (an Error, a checked exception thrown
         * sneakily, from the decode or before it): it passes through the ring, which consumes the item.
         */
        private Throwable escaped;

        /**
         * @param holds how a message of another type is introduced: {@code what + " " + holds + " " + type}
         * @param tasks a joinable queue's count of tasks taken, or null
         */
        Receiver(Codec<T> codec, String what, String holds, TaskCount tasks) {
            this.codec = codec;
            this.what = what;
            this.holds = holds;
            this.tasks = tasks;
        }

        @Override
        public void onMessage(int type, MemorySegment buffer, long offset, int length) {
            if (tasks != null && !peeking) {
                try {
                    // first, in the handler: the ring moves consumedTo past the item only after this returns, so the
                    // item is queued or counted at every instant (a message of another type, or one the codec cannot
                    // decode, is a task taken too); a record a dead consumer counted already is not counted again
                    tasks.countTaken();
                    counted = true;
                } catch (RuntimeException e) {
                    // 2^31-1 taken and unfinished: the ring consumes the item uncounted (dropped, as the message
                    // says); the heap closed: the ring cannot move past the item either, which stays queued
                    failure = e;
                    return;
                }
            }
            if (discarding) {
                return;
            }
            try {
                decode(type, buffer, offset, length);
            } catch (Throwable e) { // an Error (a StackOverflowError, say), or a checked exception thrown sneakily
                escaped = e; // it passes through, the message consumed as it leaves
                throw e;
            }
        }

        /** The handler's part after the count: the value, or the failure of a message it cannot hand out. */
        private void decode(int type, MemorySegment buffer, long offset, int length) {
            if (type != codec.typeId()) {
                failure = new IllegalStateException(typeDiffers(codec, what, type, holds)
                        + (tasks == null || peeking ? "" : "; " + fate()));
                return;
            }
            try {
                value = codec.decode(buffer, offset, length);
            } catch (RuntimeException e) { // the ring counts the message consumed either way
                failure = new ShmFormatException(what + ": its codec (type " + Blocks.typeId(codec.typeId())
                        + ") cannot decode a message of " + length + " bytes (corrupted bytes, written by a codec"
                        + " of another shape with the same type id, or refused by the codec: see the cause); "
                        + fate() + ": " + e, e);
                return;
            }
            if (value == null) { // a receive returns null for "no message": this one must not vanish as one
                failure = new IllegalStateException(what + ": its codec (type " + Blocks.typeId(codec.typeId())
                        + ") decoded a message of " + length + " bytes to null, which a receive cannot return (null"
                        + " means that no message came); " + fate());
            }
        }

        private String fate() {
            if (peeking) {
                return "the message stays queued";
            }
            return tasks == null ? "the message is consumed" : "the message is consumed and its task done by the"
                    + " joinable queue (no taskDone() for it)";
        }

        /**
         * @return true if this poll's message was counted as a task taken and is not handed out: discarded, or a
         *         failure after the count (another type, a decode that threw or made null)
         */
        boolean taskUndelivered() {
            return counted && (discarding || failure != null);
        }

        /**
         * @return true if {@code thrown}, which a poll into this receiver threw, is what left its handler after the
         *         count: the ring moved past the message as the handler ended (an exception of the ring's own on the
         *         way out would have replaced it), and the task of a message counted is not handed out
         */
        boolean handlerThrew(Throwable thrown) {
            return counted && thrown == escaped;
        }

        /**
         * @return {@code thrown}, an exception of the ring's own that a poll or peek into this receiver threw, with
         *         what the handler made of the message before it (if anything) added as suppressed: what left the
         *         handler, or the failure it kept for {@link #result()}, which the ring's exception keeps from being
         *         thrown
         */
        RuntimeException keepEscaped(RuntimeException thrown) {
            Throwable lost = escaped != null ? escaped : failure;
            if (lost != null && lost != thrown) {
                thrown.addSuppressed(lost);
            }
            return thrown;
        }

        /** @return the decoded value, or null if no message came */
        T result() {
            if (failure != null) {
                throw failure;
            }
            return value;
        }

        /** Lets the value go (a reused receiver must not keep it reachable) and frees the receiver. */
        void clear() {
            value = null;
            failure = null;
            peeking = false;
            discarding = false;
            counted = false;
            escaped = null;
            busy = false;
        }
    }
}
