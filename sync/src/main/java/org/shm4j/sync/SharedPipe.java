package org.shm4j.sync;

import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmAlreadyExistsException;
import org.shm4j.core.ShmNotFoundException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.core.internal.Timeouts;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.PipeEnds;
import org.shm4j.sync.internal.RingRoom;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.ring.MessageHandler;
import org.shm4j.sync.ring.RingClaim;
import org.shm4j.sync.ring.SharedRing;
import org.shm4j.sync.ring.WaitStrategy;

import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * A duplex pipe in shared memory, like Python's {@code multiprocessing.Pipe()}: two ends, each sending messages to
 * the other (bytes, or values through a {@link Codec}, records included, as Python's {@code send(obj)} pickles them),
 * and each knowing when the other is gone. It is two SPSC {@link SharedRing}s, {@code <name>.ab}
 * (first end to second) and {@code <name>.ba} (second to first), plus an end-state block {@code <name>}. Threads of the
 * holding process may send and receive through an end at once, through one pipe object or several: its sends take
 * turns (a Java lock per end and process, as the ring beneath has one producer), and so do its receives, each turn
 * counted in the call's timeout. Waits block in futex ({@link WaitStrategy#BLOCKING}).
 *
 * <pre>{@code
 * SharedPipe pipe = SharedPipe.create(heap, "pipe", 1 << 16);
 * pipe.first().send("ping".getBytes(), Duration.ofSeconds(1));
 * byte[] got = SharedPipe.open(heap, "pipe").second().recv(Duration.ofSeconds(1)); // in another process
 * pipe.first().send(new Trade(7, "ACME"), Codec.record(Trade.class), Duration.ofSeconds(1));
 * Trade trade = SharedPipe.open(heap, "pipe").second().recv(Codec.record(Trade.class), Duration.ofSeconds(1));
 * }</pre>
 * A message carries its codec's type id ({@link Codec#typeId()}), so a receive with another codec (a record of
 * another shape) throws instead of decoding garbage.
 *
 * <p>Python's other {@code Connection} calls: {@code send_bytes(buffer, offset, size)} is
 * {@link End#send(byte[], int, int, Duration)}; {@code recv_bytes_into(buffer)} and {@code recv_bytes(maxlength)}
 * have no method of their own: {@link End#recv(MessageHandler, Duration)} hands the message over in place, to be
 * copied into the caller's buffer or refused for its length (consumed either way, as Python's {@code OSError} for a
 * message over {@code maxlength} leaves the connection unreadable); no message is longer than
 * {@link End#maxMessageLength()}. A pipe is always duplex: {@code Pipe(duplex=False)} has no counterpart (send
 * through one end only).
 *
 * <h2>Holding an end</h2>
 * {@link #first()} and {@link #second()} claim that end for the calling <em>process</em> (by its pid and start time)
 * and return it; calling them again, from any thread or pipe object of the same process, returns that end again (the
 * same object through one pipe object; through another pipe object, another object for the same shared end). An
 * end held by another live process cannot be claimed ({@link IllegalStateException} naming its pid); an end whose
 * holder died without closing it can (as can one whose holder closed its last view of the heap, see
 * {@code SharedHeap.close()}: it can no longer use the end; also once it opened the heap again, whose open renames
 * the end's owner as a gone process's, so that its peer's {@code recv} reports the end gone, naming its pid, and its
 * own next claim takes the end over as another process's would), and the new holder carries on with its rings as they
 * are: it receives every message the dead holder had not received, except that a holder killed inside {@code recv}
 * after the message was copied out of the ring and before {@code recv} returned it loses that one message (as a
 * {@link SharedQueue} consumer's death loses at most the value it was taking); a message a dead holder was sending
 * is received whole or not at all. One process may hold both ends (for threads). {@link End#close()} (or
 * {@link #close()} for the ends this object handed out) closes an end for good: it is never claimed again; make a
 * new pipe to talk again.
 *
 * <h2>End of stream</h2>
 * Once the other end is closed, or its holder died (or exited, or closed its last view of the heap, without closing
 * it), {@link End#recv(Duration)}
 * still returns every message that end sent before, then throws {@link PipeClosedException} (naming the pipe, the
 * end, the pid and whether it closed or died) on every call, as Python's {@code recv} raises {@code EOFError}: for
 * good after a close; after a death, until another process claims the dead end (see Holding an end), whose messages
 * {@code recv} then returns. A
 * waiting {@code recv} notices a close within about 25 ms (it waits in slices of at most that long and looks at
 * the other end's state between them) and a death within about 100 ms (the holder's liveness is checked at most
 * every 50 ms while waiting), plus scheduling delay.
 * A holder that died in the middle of a send leaves a claimed record that names its process, which the ring skips
 * once a receive sees that process dead (it looks every 50 ms while the claim holds it up); end of stream then comes
 * after that. Until an end is first claimed, the
 * other end waits for it as for a slow sender: a pipe may be used before its peer process has started.
 * {@link End#send(byte[], Duration)} throws {@link PipeClosedException} if the other end is closed, like writing to
 * a broken pipe; a dead holder (which never frees room) is noticed, as with a socket, once send has to wait for room.
 * Using an end after closing it throws {@link IllegalStateException}.
 *
 * <h2>End-state block (heap block type {@code 0x53480041} v1, 192 bytes, 64-aligned, named as the pipe)</h2>
 * <table class="striped">
 * <caption>SharedPipe end-state block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>8</td><td>magic: {@code 0x5049504A344D4853}, the ASCII bytes {@code "SHM4JPIP"}</td>
 *     <td>plain; written before the block is published</td></tr>
 * <tr><td>8</td><td>4</td><td>layoutVersion: 1</td><td>plain; likewise</td></tr>
 * <tr><td>64</td><td>8</td><td>first end's owner: the holder's owner token (pid in bits 63..32, low 32 bits of its
 *     start stamp below; see {@code ProcessIdentity}), 0 while unclaimed</td><td>CAS to claim;
 *     volatile reads</td></tr>
 * <tr><td>72</td><td>4</td><td>first end's state: 0 = open, 1 = closed (final)</td><td>release store by the
 *     closer, after its last send; acquire load by the peer, before the poll that finds the ring empty</td></tr>
 * <tr><td>128</td><td>8</td><td>second end's owner, as at 64</td><td>as at 64</td></tr>
 * <tr><td>136</td><td>4</td><td>second end's state, as at 72</td><td>as at 72</td></tr>
 * </table>
 * The owner word keeps the closer's token after a close. Both ends change only when claimed or closed, so they share
 * no hot cache line with the rings. {@link #create} makes the rings first and this block last, so a creator killed
 * in between leaves two rings and no block named as the pipe (as pipes made before this block existed look):
 * {@link #open} refuses them with {@link ShmNotFoundException} naming the missing block, and {@link #create} finishes
 * the pipe.
 *
 * <p>Memory consistency effects: actions of a thread before it sends a message happen-before the actions following
 * the receipt of that message; actions of an end's holder before it closes the end happen-before the peer's
 * {@link PipeClosedException} for the close.
 */
public final class SharedPipe implements AutoCloseable {
    /** What {@link End#send(byte[], Duration)} sends through: bytes as themselves, type 3. */
    private static final Codec<byte[]> BYTES = Codec.bytes();
    /** Longest single wait between two looks at the other end's state. */
    private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(25);
    private static final Duration SLICE = Duration.ofNanos(SLICE_NANOS);

    private final End first;
    private final End second;

    private SharedPipe(PipeEnds ends, SharedRing ab, SharedRing ba) {
        this.first = new End(ends, PipeEnds.FIRST, ab, ba);
        this.second = new End(ends, PipeEnds.SECOND, ba, ab);
    }

    /**
     * Creates a pipe named {@code name} in {@code heap}: its rings {@code name.ab} and {@code name.ba} of
     * {@code capacity} bytes each, then its end-state block {@code name}, both ends open and unclaimed. Making the
     * end-state block is the pipe's commit point, exclusive as any block's creation: of racing creators exactly one
     * returns. Rings without an end-state block (a creator killed before it, or one still on its way) are used as they
     * are.
     *
     * @throws IllegalArgumentException  if the capacity is not a power of two from 1024 to 2<sup>30</sup>
     * @throws ShmAlreadyExistsException if the pipe exists
     * @throws ShmTypeMismatchException  if a block of a ring's name is not an SPSC ring of that capacity
     * @throws org.shm4j.core.ShmFullException if the heap has no room for the blocks still to make (nothing is made)
     */
    public static SharedPipe create(SharedHeap heap, String name, int capacity) {
        return Blocks.opening(heap, () -> {
            Blocks.checkRingCapacity("pipe '" + name + "'", capacity); // before any block is made
            Blocks.checkNameRoom("pipe", name, ".ab");
            // before the rings: an existing pipe's capacity is not this call's concern
            if (heap.find(name).isPresent()) {
                throw Blocks.alreadyExists(heap, name);
            }
            requireRoom(heap, name, capacity);
            SharedRing ab = ring(heap, name, ".ab", capacity);
            SharedRing ba = ring(heap, name, ".ba", capacity);
            return new SharedPipe(PipeEnds.create(heap, name), ab, ba); // last: the commit point
        });
    }

    /**
     * @throws ShmFullException if the heap has no room for the end-state block and the rings not made yet, naming a
     *                          capacity that fits when both are still to make (else theirs is the rings' capacity)
     */
    private static void requireRoom(SharedHeap heap, String name, int capacity) {
        int rings = (heap.find(name + ".ab").isEmpty() ? 1 : 0) + (heap.find(name + ".ba").isEmpty() ? 1 : 0);
        if (rings == 2) {
            RingRoom.require(heap, "pipe '" + name + "'", capacity, 2, SyncLayout.PIPE_SIZE);
        } else {
            long[] sizes = rings == 1 ? new long[] {SharedRing.requiredBytes(capacity), SyncLayout.PIPE_SIZE}
                    : new long[] {SyncLayout.PIPE_SIZE};
            Blocks.requireRoom(heap, "pipe '" + name + "'", sizes);
        }
    }

    /**
     * @return ring {@code name + suffix} of a pipe being made, opened if a creator killed before the end-state block
     *         left it
     * @throws ShmTypeMismatchException naming the half-made pipe and the capacity that finishes it, if that ring has
     *                                  another capacity
     */
    private static SharedRing ring(SharedHeap heap, String name, String suffix, int capacity) {
        try {
            return SharedRing.openOrCreate(heap, name + suffix, SharedRing.Kind.SPSC, capacity);
        } catch (ShmTypeMismatchException e) {
            throw Blocks.mismatch(e, () -> halfMade(name, suffix,
                    SharedRing.open(heap, name + suffix, SharedRing.Kind.SPSC).capacity())
                    + " (asked: capacity " + capacity + ")");
        }
    }

    /** @return what a pipe that has its ring {@code name + suffix} and no end-state block is, and what finishes it */
    private static String halfMade(String name, String suffix, int capacity) {
        return "pipe '" + name + "' has ring '" + name + suffix + "' of capacity " + capacity + " but no end-state "
                + "block '" + name + "': its creator was killed before finishing it (create(heap, \"" + name + "\", "
                + capacity + ") finishes it), or a shm4j whose pipes did not track their ends made it";
    }

    /**
     * Opens the pipe named {@code name}; no end is claimed yet.
     *
     * @throws ShmNotFoundException if there is no such pipe, or it has rings but no end-state block (its creator was
     *                              killed before finishing it, which {@link #create} does, or a shm4j before pipes
     *                              tracked their ends made it)
     * @throws org.shm4j.core.ShmFormatException if the end-state block's magic or layout version is not this one's
     */
    public static SharedPipe open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> {
            if (heap.find(name).isEmpty() && heap.find(name + ".ab").isPresent()) {
                throw new ShmNotFoundException(halfMade(name, ".ab",
                        SharedRing.open(heap, name + ".ab", SharedRing.Kind.SPSC).capacity()));
            }
            PipeEnds ends = PipeEnds.open(heap, name);
            SharedRing ab = SharedRing.open(heap, name + ".ab", SharedRing.Kind.SPSC);
            return new SharedPipe(ends, ab, SharedRing.open(heap, name + ".ba", SharedRing.Kind.SPSC));
        });
    }

    /**
     * Opens the pipe named {@code name}, or creates it with rings of {@code capacity} bytes: racing peers that both
     * call this get the same pipe (the end-state block, made last, is the commit point).
     *
     * @throws IllegalArgumentException if the capacity is not a power of two from 1024 to 2<sup>30</sup>
     * @throws ShmTypeMismatchException if the pipe exists with rings of another capacity
     */
    public static SharedPipe openOrCreate(SharedHeap heap, String name, int capacity) {
        return Blocks.opening(heap, () -> {
            Blocks.checkRingCapacity("pipe '" + name + "'", capacity);
            while (true) {
                if (heap.find(name).isPresent()) { // committed: its rings are complete
                    SharedPipe pipe = open(heap, name);
                    if (pipe.first.out.capacity() != capacity) {
                        throw new ShmTypeMismatchException("pipe '" + name + "' exists with capacity "
                                + pipe.first.out.capacity() + " (asked: " + capacity + ")");
                    }
                    return pipe;
                }
                try {
                    return create(heap, name, capacity);
                } catch (ShmAlreadyExistsException raced) {
                    // another creator committed meanwhile: open its pipe
                }
            }
        });
    }

    /**
     * Claims the first end for this process (see the class documentation).
     *
     * @return the end whose messages the second end receives
     * @throws IllegalStateException if the end was closed, or a live other process holds it
     */
    public End first() {
        return first.claim();
    }

    /**
     * Claims the second end for this process (see the class documentation).
     *
     * @return the end whose messages the first end receives
     * @throws IllegalStateException if the end was closed, or a live other process holds it
     */
    public End second() {
        return second.claim();
    }

    /** Closes the ends this object handed out; see {@link End#close()}. */
    @Override
    public void close() {
        first.closeIfClaimed();
        second.closeIfClaimed();
    }

    /** One end of a pipe, held by this process. */
    public static final class End implements AutoCloseable {
        private final PipeEnds ends;
        private final int self;
        private final PipeEnds.Peer peer;
        private final SharedRing out;
        private final SharedRing in;
        /** The message {@link #recv(Duration)} copied out: written and read by the one receiving thread. */
        private byte[] received;
        private final MessageHandler copier = (type, buffer, offset, length) -> {
            received = new byte[length];
            MemorySegment.copy(buffer, JAVA_BYTE, offset, received, 0, length);
        };
        private volatile boolean claimed;
        /** The claim {@link #send} encodes into: used by the one sending thread (see {@link #sendingClaim()}). */
        private final RingClaim sendClaim = new RingClaim();
        /** Names this end ("first end of pipe 'p'"), made once: a send allocates nothing for its messages. */
        private final String description;
        /** One sending thread of this process at a time (the ring beneath has one producer), of any pipe object. */
        private final ReentrantLock sending;
        /** One receiving thread of this process at a time (one consumer; {@link #received} is the receiver's). */
        private final ReentrantLock receiving;

        private End(PipeEnds ends, int self, SharedRing out, SharedRing in) {
            this.ends = ends;
            this.self = self;
            this.peer = new PipeEnds.Peer(ends, 1 - self);
            this.out = out;
            this.in = in;
            this.sending = ends.turns().sending(self);
            this.receiving = ends.turns().receiving(self);
            this.description = ends.describe(self);
        }

        private End claim() {
            try {
                if (!claimed) {
                    ends.claim(self);
                    claimed = true;
                } else {
                    requireOpen(); // handed out before: the same object, unless this process closed it since
                }
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e);
            }
            return this;
        }

        /**
         * Sends {@code message}, waiting up to {@code timeout} for room (and for this end's other sending threads), as
         * Python's {@code Connection.send_bytes}: the message is the bytes {@link Codec#bytes()} writes (type 3), so
         * that {@code recv(Codec.bytes(), timeout)} reads it as well as {@link #recv(Duration)}.
         *
         * @return false if there was no room in time
         * @throws PipeClosedException      if the other end is closed, or (found while waiting for room) its holder
         *                                  died: a broken pipe
         * @throws IllegalStateException    if this end is closed, or the other end's receiver skipped the message
         *                                  while it was being copied ({@link SharedRing#unblock()}, or the stall
         *                                  rule taking this process for dead): it was not sent
         * @throws IllegalArgumentException if the message is longer than {@link #maxMessageLength()}
         * @throws InterruptedException     if interrupted while waiting
         */
        public boolean send(byte[] message, Duration timeout) throws InterruptedException {
            Objects.requireNonNull(message, "message");
            if (message.length > out.maxMessageLength()) { // named here: the ring's message would name its ring
                throw Blocks.messageTooLong(description, "message length", message.length, out.capacity());
            }
            return send(message, BYTES, timeout);
        }

        /**
         * Sends the {@code length} bytes of {@code message} from {@code offset} as one message, as Python's
         * {@code Connection.send_bytes(buffer, offset, size)} does: as {@link #send(byte[], Duration)} sends a copy of
         * them (made first, so another thread changing the array meanwhile changes nothing sent).
         *
         * @return false if there was no room in time
         * @throws IndexOutOfBoundsException naming this end, if the bytes are not inside {@code message} (Python
         *                                   raises {@code ValueError})
         * @throws IllegalArgumentException  if {@code length} is over {@link #maxMessageLength()}
         * @throws PipeClosedException       as {@link #send(byte[], Duration)} throws it
         * @throws IllegalStateException     as {@link #send(byte[], Duration)} throws it
         * @throws InterruptedException      if interrupted while waiting
         */
        public boolean send(byte[] message, int offset, int length, Duration timeout) throws InterruptedException {
            Blocks.checkArrayRange(description, "message", message, offset, length);
            if (length > out.maxMessageLength()) { // before the copy, named as send(byte[]) names it
                throw Blocks.messageTooLong(description, "message length", length, out.capacity());
            }
            return send(Arrays.copyOfRange(message, offset, offset + length), BYTES, timeout);
        }

        /**
         * Sends {@code value} as a message of {@code codec}'s type, encoded in place, waiting up to {@code timeout}
         * for room (and for this end's other sending threads), as Python's {@code Connection.send(obj)}: the other
         * end reads it with {@link #recv(Codec, Duration)} and the same codec (or a record codec of the same shape),
         * or as bytes with {@link #recv(Duration)}. Messages of several types may share a pipe; the receiver must
         * know which comes next (a receive with a codec of another type throws, and consumes the message).
         *
         * @return false if there was no room in time
         * @throws PipeClosedException      if the other end is closed, or (found while waiting for room) its holder
         *                                  died: a broken pipe
         * @throws NullPointerException     if {@code value} is null (a pipe carries no null: send a value of its
         *                                  own as a stop sentinel)
         * @throws IllegalStateException    if this end is closed, or the other end's receiver skipped the message
         *                                  while it was being encoded ({@link SharedRing#unblock()}, or the stall
         *                                  rule taking this process for dead): it was not sent
         * @throws IllegalArgumentException if the encoded value is longer than {@link #maxMessageLength()}
         * @throws InterruptedException     if interrupted while waiting
         */
        public <T> boolean send(T value, Codec<T> codec, Duration timeout) throws InterruptedException {
            Objects.requireNonNull(codec, "codec");
            if (value == null) {
                throw new NullPointerException(description + ": a null value (a pipe carries no null: send a"
                        + " value of its own as a stop sentinel, e.g. a record with a stop flag)");
            }
            long start = System.nanoTime();
            long total = Timeouts.nanos(timeout);
            if (!takeTurn(sending, total)) {
                return false; // another thread's send held the end for the whole timeout
            }
            try {
                return sendWaiting(value, codec, start, total);
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e);
            } finally {
                sending.unlock();
            }
        }

        private <T> boolean sendWaiting(T value, Codec<T> codec, long start, long total)
                throws InterruptedException {
            requireOpen();
            int length = CodecMessages.encodedLength(codec, value, out, description);
            if (peer.isClosed()) {
                throw gone(ends.owner(peer.end()), " (broken pipe)");
            }
            RingClaim claim = sendingClaim();
            if (out.tryClaim(codec.typeId(), length, claim)) {
                CodecMessages.encodeAndCommit(claim, codec, value, out, description, "sent");
                return true;
            }
            while (true) {
                long goneOwner = peer.gone();
                if (goneOwner != 0) {
                    throw gone(goneOwner, " (broken pipe)");
                }
                long left = total - (System.nanoTime() - start);
                if (left <= 0) {
                    return false;
                }
                if (out.tryClaim(codec.typeId(), length, claim, slice(left), WaitStrategy.BLOCKING)) {
                    CodecMessages.encodeAndCommit(claim, codec, value, out, description, "sent");
                    return true;
                }
                requireOpen();
            }
        }

        /** @return the sending thread's claim, or a new one for a send its codec made inside another (encode) */
        private RingClaim sendingClaim() {
            return sendClaim.isActive() ? new RingClaim() : sendClaim;
        }

        /**
         * Receives the next message, of any type, as the bytes it was sent as (Python's {@code recv_bytes}), waiting
         * up to {@code timeout}.
         *
         * @return the message, or null if none came in time
         * @throws PipeClosedException   if no message is left and the other end is closed or its holder died
         * @throws IllegalStateException if this end is closed
         * @throws InterruptedException  if interrupted while waiting
         */
        public byte[] recv(Duration timeout) throws InterruptedException {
            long start = System.nanoTime();
            long total = Timeouts.nanos(timeout);
            if (!takeTurn(receiving, total)) {
                return null; // another thread's receive held the end for the whole timeout
            }
            try {
                if (recvHeld(copier, start, total) == 0) {
                    return null;
                }
                byte[] got = received;
                received = null;
                return got;
            } finally {
                receiving.unlock();
            }
        }

        /**
         * Receives the next message and decodes it with {@code codec}, waiting up to {@code timeout}, as Python's
         * {@code Connection.recv()}: the message must be of {@code codec}'s type, as
         * {@link #send(Object, Codec, Duration)} with that codec (or {@link #send(byte[], Duration)} for
         * {@link Codec#bytes()}) sent it.
         *
         * @return the value, or null if none came in time
         * @throws PipeClosedException   if no message is left and the other end is closed or its holder died
         * @throws IllegalStateException if this end is closed, or the message is of another type (a record codec: of
         *                               another shape), named in the exception; the message is consumed
         * @throws org.shm4j.core.ShmFormatException if {@code codec} cannot decode the message's bytes; the message
         *                               is consumed
         * @throws InterruptedException  if interrupted while waiting
         */
        public <T> T recv(Codec<T> codec, Duration timeout) throws InterruptedException {
            Objects.requireNonNull(codec, "codec");
            long start = System.nanoTime();
            long total = Timeouts.nanos(timeout);
            if (!takeTurn(receiving, total)) {
                return null; // another thread's receive held the end for the whole timeout
            }
            CodecMessages.Receiver<T> receiver = new CodecMessages.Receiver<>(codec, description,
                    "received a message of type", null);
            try {
                int got;
                try {
                    got = recvHeld(receiver, start, total);
                } catch (IllegalStateException | IllegalArgumentException e) {
                    // the ring's own (a codec's are failures in the receiver), such as its move past the message
                    // through a view the decode closed: what the decode threw stays with it, as suppressed
                    throw receiver.keepEscaped(e);
                }
                return got == 0 ? null : receiver.result();
            } finally {
                receiving.unlock();
            }
        }

        /**
         * Hands the next message to {@code handler} in place, waiting up to {@code timeout}.
         *
         * @return 1 if a message was handled, 0 if none came in time
         * @throws PipeClosedException   if no message is left and the other end is closed or its holder died
         * @throws IllegalStateException if this end is closed
         * @throws InterruptedException  if interrupted while waiting
         */
        public int recv(MessageHandler handler, Duration timeout) throws InterruptedException {
            Objects.requireNonNull(handler, "handler");
            long start = System.nanoTime();
            long total = Timeouts.nanos(timeout);
            if (!takeTurn(receiving, total)) {
                return 0; // another thread's receive held the end for the whole timeout
            }
            try {
                return recvHeld(handler, start, total);
            } finally {
                receiving.unlock();
            }
        }

        /** {@link #recv(MessageHandler, Duration)} by the thread holding {@link #receiving}. */
        private int recvHeld(MessageHandler handler, long start, long total) throws InterruptedException {
            try {
                return recvWaiting(handler, start, total);
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e);
            }
        }

        private int recvWaiting(MessageHandler handler, long start, long total) throws InterruptedException {
            requireOpen();
            if (in.poll(handler) > 0) {
                return 1;
            }
            while (true) {
                long goneOwner = peer.gone(); // before the poll: all it sent before the close is then visible
                if (in.poll(handler) > 0) {
                    return 1;
                }
                if (goneOwner != 0 && in.isEmpty()) { // not empty: a dead sender's claim, which the stall rule skips
                    throw gone(goneOwner, " (end of stream)");
                }
                long left = total - (System.nanoTime() - start);
                if (left <= 0) {
                    return 0;
                }
                if (in.poll(handler, slice(left), WaitStrategy.BLOCKING) > 0) {
                    return 1;
                }
                requireOpen();
            }
        }

        /**
         * Says whether a message or the end of stream is there, as Python's {@code Connection.poll()} does: a
         * snapshot.
         *
         * @return true if a message is waiting, or if the stream has ended (the other end is closed or its holder
         *         died, and every message it sent was received: {@code recv} then throws
         *         {@link PipeClosedException}, as Python's {@code recv} raises {@code EOFError}; if the holder died in
         *         the middle of a send, {@code recv} first skips that message, within about 50 ms of waiting, and
         *         so, where a new holder of that end sent more behind it, this is true a moment before a
         *         {@code recv} that does not wait gets it); false while a receive would wait for a message
         * @throws IllegalStateException if this end is closed
         */
        public boolean poll() {
            try {
                requireOpen();
                long goneOwner = peer.gone(); // before the look: all it sent before the close is then visible
                if (in.hasMessage()) { // a committed message: not one still being sent, nor a dead sender's claim
                    return true;
                }
                if (goneOwner != 0 && !in.isEmpty()) {
                    freePadding(); // an aborted send's, which isEmpty counts until a receive frees it
                }
                // ended: nothing is left, or its holder died (before or after closing) and what is left is a claim
                // it will never commit, which a receive skips (by the stall rule, once it sees that death); a live
                // closer's claim is another thread's late send, which a receive waits for
                return goneOwner != 0 && (in.isEmpty() || !peer.isClosed() || !ProcessIdentity.isAlive(goneOwner));
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e);
            }
        }

        /**
         * Waits up to {@code timeout} until {@link #poll()} would say true (a message is waiting, or the stream has
         * ended), as Python's {@code Connection.poll(timeout)} does. Takes no message; like a receive, it waits for
         * other threads' receives on this end to finish, within the timeout.
         *
         * @return true as {@link #poll()} says it, false if {@code timeout} passed first
         * @throws IllegalStateException if this end is closed
         * @throws InterruptedException  if interrupted while waiting
         */
        public boolean poll(Duration timeout) throws InterruptedException {
            long start = System.nanoTime();
            long total = Timeouts.nanos(timeout);
            if (!takeTurn(receiving, total)) {
                return poll(); // another thread's receive held the end for the whole timeout
            }
            try {
                while (!poll()) {
                    long left = total - (System.nanoTime() - start);
                    if (left <= 0) {
                        return false;
                    }
                    awaitSlice(left);
                }
                return true;
            } finally {
                receiving.unlock();
            }
        }

        /**
         * Frees the padding records at the receiving position (an aborted send leaves one), as a receive would on its
         * way to the next message, unless another thread's receive holds the end now.
         */
        private void freePadding() {
            if (!receiving.isHeldByCurrentThread() && receiving.tryLock()) { // not from inside a receive's handler
                try {
                    in.awaitMessage(Duration.ZERO, WaitStrategy.BUSY_SPIN); // a look: frees padding, takes nothing
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt(); // a look does not wait: keep the status for the caller
                } finally {
                    receiving.unlock();
                }
            }
        }

        /** Waits one slice, at most {@code leftNanos}, for a message to come in. */
        private void awaitSlice(long leftNanos) throws InterruptedException {
            try {
                in.awaitMessage(slice(leftNanos), WaitStrategy.BLOCKING);
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e);
            }
        }

        /** @return the longest message this end can send */
        public int maxMessageLength() {
            return out.maxMessageLength();
        }

        /**
         * @return true once this end was closed ({@link #close()}, by this process or by a holder before it), as
         *         Python's {@code Connection.closed}; whether the other end is closed is what {@link #poll()} and
         *         {@code recv} tell
         * @throws IllegalStateException naming the pipe and its heap, if the heap is closed
         */
        public boolean isClosed() {
            try {
                return ends.isClosed(self);
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e);
            }
        }

        /**
         * Closes this end for good: the other end receives what this one sent, then {@link PipeClosedException}.
         * Idempotent. Call it after the last send has returned: a message that another thread sends while this end
         * closes may reach the other end after its end of stream, or never.
         */
        @Override
        public void close() {
            try {
                ends.close(self);
            } catch (IllegalStateException | IllegalArgumentException e) {
                throw ends.closedOr(e); // the heap closed first: the end cannot be marked closed, and this says so
            }
        }

        private void closeIfClaimed() {
            if (claimed) {
                close();
            }
        }

        private void requireOpen() {
            if (ends.isClosed(self)) {
                throw new IllegalStateException(description + " is closed");
            }
        }

        private PipeClosedException gone(long owner, String what) {
            boolean died = !peer.isClosed();
            String peerEnd = PipeEnds.name(peer.end());
            return new PipeClosedException(ends.describe(peer.end()) + (died ? ": its holder " : " was closed by ")
                    + ProcessIdentity.describe(owner) + (died ? howGone(owner) : "") + what,
                    ends.pipeName(), peerEnd, ProcessIdentity.pid(owner), died);
        }

        /**
         * @return how the holder {@code owner} of an end left without closing it: a live process closed its heap; a
         *         token whose pid lives with another start is either one that closed its heap and opened it again
         *         (which renames its holds so, see {@code ReopenSweep}) or a dead holder's pid reused, which this
         *         process cannot tell apart; else it died
         */
        private static String howGone(long owner) {
            if (ProcessIdentity.isAlive(owner)) {
                return " closed its heap without closing it";
            }
            if (ProcessIdentity.isPidAlive(ProcessIdentity.pid(owner))) {
                return " is gone without closing it (it closed its heap and opened it again, or died and its pid was"
                        + " reused)";
            }
            return " died without closing it";
        }

        /**
         * Takes this process's turn at {@code turn} within {@code totalNanos}: untimed first, so that an uncontended
         * call checks no interrupt, as before the turns.
         *
         * @return false if another thread held it for the whole time
         */
        private static boolean takeTurn(ReentrantLock turn, long totalNanos) throws InterruptedException {
            return turn.tryLock() || turn.tryLock(totalNanos, TimeUnit.NANOSECONDS);
        }

        private static Duration slice(long leftNanos) {
            return leftNanos >= SLICE_NANOS ? SLICE : Duration.ofNanos(leftNanos);
        }

        @Override
        public String toString() {
            return description;
        }
    }
}
