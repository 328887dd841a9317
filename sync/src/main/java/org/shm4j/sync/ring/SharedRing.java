package org.shm4j.sync.ring;

import org.shm4j.core.HeapBlock;
import org.shm4j.core.SharedHeap;
import org.shm4j.core.ShmFormatException;
import org.shm4j.core.ShmFullException;
import org.shm4j.core.ShmTypeMismatchException;
import org.shm4j.core.internal.HeapMappings;
import org.shm4j.core.internal.Timeouts;
import org.shm4j.sync.internal.Blocks;
import org.shm4j.sync.internal.ReopenSweep;
import org.shm4j.sync.internal.RingRoom;
import org.shm4j.sync.internal.Rethrow;
import org.shm4j.sync.internal.RingScan;
import org.shm4j.sync.internal.RobustMutex;
import org.shm4j.sync.internal.StallWatch;
import org.shm4j.sync.internal.SyncLayout;
import org.shm4j.sync.internal.Waits;
import org.shm4j.sync.locks.SharedLock;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.function.Consumer;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_MUTEX_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_CONSUMER_PROCESS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_HEADER_SIZE;
import static org.shm4j.sync.internal.SyncLayout.RING_HEAD_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_KIND_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_MESSAGE_TYPE_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_PADDING_TYPE;
import static org.shm4j.sync.internal.SyncLayout.RING_PRODUCER_PROCESS_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_RECORD_HEADER;
import static org.shm4j.sync.internal.SyncLayout.RING_STALL_TIMEOUT_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TAIL_OFFSET;
import static org.shm4j.sync.internal.SyncLayout.RING_TYPE_DECLARED;

/**
 * A ring buffer of variable-length byte messages in shared memory, with one consumer and one or many producers, in
 * any processes that map it. Messages are copied in ({@link #offer}) or written in place ({@link #tryClaim}), and
 * read in place by a {@link MessageHandler} ({@link #poll}, {@link #drain}). Non-blocking: a full ring refuses an
 * offer, an empty one returns 0.
 *
 * <h2>Layout (heap block type {@code 0x53480031} v11, 1024-byte header + capacity, 64-aligned)</h2>
 * <table class="striped">
 * <caption>SharedRing block</caption>
 * <tr><th>Offset</th><th>Size</th><th>Field</th><th>Memory ordering</th></tr>
 * <tr><td>0</td><td>4</td><td>capacity: data bytes, a power of two from 1024 to 2<sup>30</sup></td>
 *     <td>plain; written before the magic, and before the block is published</td></tr>
 * <tr><td>4</td><td>4</td><td>maxMessageLength: capacity / 8 - 8</td><td>plain; likewise</td></tr>
 * <tr><td>8</td><td>4</td><td>kind: 1 = SPSC, 2 = MPSC, 3 = MPMC</td><td>plain; likewise</td></tr>
 * <tr><td>12</td><td>4</td><td>layoutVersion: 11 (10 had no stall clock: each consumer object timed a stall from
 *     its own first look; 9 had no producerProcess and consumerProcess words; 8 had no
 *     producer table and orphan bound, and skipped a claim never marked by the stall timeout alone; 7 had no
 *     messageType and claim marks naming no producer; 6 had no sticky bit in the waiters words, and its waiters
 *     looked at the ring before announcing themselves; 5 counted the waiters at 516 and 644 instead of a flag; 4 had
 *     the consumers' mutex of a v2 {@code SharedLock}; 3 kept the producers' copy of head at 256; 2 had no
 *     consumedTo, stall timeout or counters)</td>
 *     <td>plain; likewise</td></tr>
 * <tr><td>16</td><td>8</td><td>magic: {@code 0x474E524A344D4853}, the ASCII bytes {@code "SHM4JRNG"}</td>
 *     <td>written last, with a release store (a raw {@link #format} killed midway leaves none); read first, with
 *     acquire</td></tr>
 * <tr><td>24</td><td>8</td><td>stallTimeout: nanoseconds, positive (checked on open and wrap), default 5 s</td>
 *     <td>written before the magic, then volatile stores by {@link #setStallTimeout}; consumers read it with opaque
 *     loads at their stall checks</td></tr>
 * <tr><td>32</td><td>8</td><td>skippedRecords: claims padded as abandoned</td><td>atomic add; volatile reads</td></tr>
 * <tr><td>40</td><td>8</td><td>consumerRecoveries: dead consumers' freeing finished by the next</td><td>atomic add;
 *     volatile reads</td></tr>
 * <tr><td>48</td><td>8</td><td>messageType: 0, or bit 32 set and the type that its creator declared every message
 *     has (a {@code SharedQueue}'s codec type) as an unsigned int in bits 31..0; other bits 0</td><td>plain; written
 *     before the magic, never changed</td></tr>
 * <tr><td>128</td><td>8</td><td>tail: bytes ever claimed by producers</td><td>one producer: release store;
 *     many: CAS</td></tr>
 * <tr><td>136</td><td>8</td><td>producerProcess (SPSC; else 0): the token (pid in bits 63..32, start bits below,
 *     see {@code ProcessIdentity}) of the process that holds the producer's role, or 0 (see Roles)</td><td>CAS to
 *     claim, from 0 or a dead holder's token, and to release; volatile reads</td></tr>
 * <tr><td>256</td><td>8</td><td>orphanBound (MPSC, MPMC): a claim never marked that starts below it may be a dead
 *     producer's that no producer slot names any more (see A producer that dies); 0 at first</td><td>CAS to a
 *     larger value only; volatile reads</td></tr>
 * <tr><td>384</td><td>8</td><td>head: bytes ever freed by the consumer</td><td>consumer's release store;
 *     producers read it with acquire</td></tr>
 * <tr><td>392</td><td>8</td><td>consumedTo: bytes ever handed over by the consumer (its commit point), at least
 *     head; SPSC: unused, 0 (head is the commit point)</td><td>consumer's opaque store, then a store-store fence;
 *     read by the next consumer with acquire (opaque at a drain's start, which the consumers' mutex or the role's
 *     claim orders), and by MPMC polls' look without the turn and message counts with acquire</td></tr>
 * <tr><td>400</td><td>8</td><td>consumerProcess (SPSC, MPSC; else 0): the token of the process that holds the
 *     consumer's role, or 0</td><td>as producerProcess</td></tr>
 * <tr><td>408</td><td>8</td><td>stallAt: the stall clock's key, the consumer position of the record a consumer last
 *     noted claimed but uncommitted, plus 1; 0 at first (see A producer that dies)</td><td>written by the consumer
 *     (MPMC: in the consumers' turn) only at its stall checks, with a release store after the three words below;
 *     read by the next check, with acquire</td></tr>
 * <tr><td>416</td><td>8</td><td>stallTail: the tail seen when the record stallAt names was first noted stuck</td>
 *     <td>release store before stallAt's (a consumer killed between leaves an older tail: a narrower skip);
 *     acquire load after stallAt's, before stallSince's</td></tr>
 * <tr><td>424</td><td>8</td><td>stallSince: the {@code System.nanoTime()} at which that record was first noted
 *     stuck</td><td>release store before stallTail's (a death between leaves a later start: a later skip);
 *     acquire load after stallTail's</td></tr>
 * <tr><td>432</td><td>8</td><td>stallWall: the {@code System.currentTimeMillis()} then, which stallSince's age must
 *     agree with</td><td>release store before stallSince's (a death between leaves two starts that disagree:
 *     a restart); acquire load after stallSince's</td></tr>
 * <tr><td>512</td><td>4</td><td>notEmptySeq: bumped by a producer that publishes while a consumer is blocked; the
 *     consumers' futex word</td><td>atomic add</td></tr>
 * <tr><td>516</td><td>4</td><td>notEmptyWaiters: bit 0 (waiting) set once a consumer about to block announced
 *     itself, clear again once a producer took that announcement (cleared it, then bumped notEmptySeq); bit 1
 *     (blocked before) set with the first announcement, never cleared; other bits 0</td><td>consumers: volatile
 *     load, then a volatile store of both bits if bit 0 is clear; producers: a volatile load after publishing; if
 *     not 0, a full fence and a reload unless bit 0 was set, then if bit 0 is set an atomic and clearing it</td>
 *     </tr>
 * <tr><td>640</td><td>4</td><td>notFullSeq: bumped by a consumer that frees space while a producer is blocked</td>
 *     <td>atomic add</td></tr>
 * <tr><td>644</td><td>4</td><td>notFullWaiters: as notEmptyWaiters, for producers waiting for room</td><td>as
 *     notEmptyWaiters, sides swapped</td></tr>
 * <tr><td>768</td><td>40</td><td>the consumers' robust mutex (MPMC only): the 40 bytes of a {@link SharedLock}</td>
 *     <td>as in {@code SharedLock}</td></tr>
 * <tr><td>896</td><td>128</td><td>producer table (MPSC, MPMC): 32 ints, each 0 (free) or the producer id (see
 *     {@code ProducerMarks}) of a process that claimed in the ring</td><td>CAS from 0 to an id before a process's
 *     first claim, from a dead process's id to 0 when a consumer or a process finding the table full retires it;
 *     volatile reads</td></tr>
 * <tr><td>1024</td><td>capacity</td><td>records</td><td>see below</td></tr>
 * </table>
 * Each hot field sits on its own pair of cache lines (128 bytes apart), so producers and the consumer do not share a
 * line, even with adjacent-line prefetch; consumedTo shares head's line, since the consumer writes both, and the role
 * words share tail's and head's lines, written only when a process claims or releases a role; the stall clock
 * shares head's line too, written only by the consumer's stall checks, never by an offer or a poll that finds a
 * message. The first
 * line's stall timeout and counters change only on rare paths. The header's bytes between the fields are reserved:
 * zero, as the creator leaves them, and checked at open and wrap.
 *
 * <h2>Roles: one consumer process, one SPSC producer process</h2>
 * The consumer of an SPSC or MPSC ring and the producer of an SPSC ring move their position without a CAS, so two
 * processes in one such role at once would corrupt the ring for good (two consumers handing one message over twice and
 * storing head behind each other; two producers claiming the same tail). So a process claims the role (its pid and
 * start time in the role's word) before its first poll, drain or peek, or its first offer or claim of an SPSC ring, and
 * a poll or offer in another live process throws {@link IllegalStateException} naming the ring, the role and the
 * holder's pid, and changes nothing. A process that is gone (killed, or exited, or that closed its last view of the
 * heap: see {@code SharedHeap.close()}) is taken over, as a dead consumer or producer always was (see below). A process
 * that opens the heap again has given them up all the same: its open renames what its close left as a gone process's
 * (the roles, an MPMC consumers' turn that a poll cut short by the close held, the marks of the claims it cut short,
 * its producer slot), so its next poll or offer claims anew, as another process's would, and the message such a poll
 * was handling is handed over again, such a claim skipped. {@link
 * #release()} gives this process's roles up while it lives, so that another process can take them; any of its ring
 * objects claims again on its next use. Threads of one process share its role: the rule of one consuming (SPSC: and one
 * producing) thread at a time is theirs to keep, but a ring object refuses a poll, drain or take while another of its
 * own runs (a handler polling its own ring, always; a second thread, at best effort: both may start before either marks
 * its call) with {@link IllegalStateException} and the ring unchanged; calls through different objects of one process
 * do not see each other, nor do producers. MPMC consumers take turns through their mutex, and MPSC and MPMC producers
 * claim by CAS: those roles are shared. A pid is read in the reader's pid namespace: a heap refuses a process of
 * another namespace, but a ring laid out in memory shared by other means ({@link #format}) may be used across
 * namespaces (containers sharing {@code /dev/shm}), where a holder in another namespace looks gone and is taken over:
 * such processes must keep to one consumer themselves.
 *
 * <h2>Records</h2>
 * A record is an 8-byte header — length (int at +0: header + payload bytes) and type (int at +4) — then the payload,
 * padded to a multiple of 8. Its position is {@code tail & (capacity - 1)}. The length is 0 while the record is not
 * written, negative ({@code -alignedLength}, and as type the producer's id, see {@code ProducerMarks}: the claim mark)
 * while claimed, and positive once committed. Every
 * write of a header (claim mark, commit, padding, {@link #unblock()}'s CAS) is a single 8-byte little-endian access,
 * length in the low half and type in the high half. A record never wraps: when it does not fit before the end, the
 * producer claims the rest of the buffer as a padding record (type -1) and puts the message at offset 0. An aborted
 * claim becomes a padding record.
 *
 * <h2>Producing</h2>
 * A producer claims {@code [tail, tail + alignedLength)} (SPSC: a release store of tail after the mark; MPSC/MPMC: a
 * CAS of tail, then the mark), writes the claim mark with one 8-byte store followed by a store-store fence, then the
 * payload with plain stores, then commits the whole header with one release store, which the consumer reads with one
 * 8-byte acquire load. So at every instant, also in a producer killed at any point: a record's payload bytes are never
 * non-zero while its header word is still 0.
 *
 * <p>SPSC differs: its consumer does not zero what it frees (see below), so before its mark the producer zeroes the
 * word after its record (the next record's header; a ring holds up to capacity - 8 bytes of records for it) with a
 * plain store, which its commit's release publishes. When it pads the end of the buffer, it marks the record at 0
 * before it writes the padding, since the consumer reads on past the padding at once, and moves tail last. So the SPSC
 * invariant is: the word at tail is 0, or what a producer claiming from tail wrote there before moving tail (its mark,
 * or its padding — also when that producer was killed in between); the other free bytes are garbage that nothing
 * reads, since every read position is a record boundary below tail or tail itself. The consumer stops at a mark, and
 * frees a padding record only once tail has passed its end (it reads tail then, once a lap, and the padding's header
 * again after it, since the next producer overwrites a dead one's padding before it moves tail): so head never passes
 * tail, whatever point the producer died at or was preempted at. Each process keeps its producers' view of head in a
 * Java field (head only grows, so a stale view only refuses room that is free), and reads head only when that view
 * says full.
 *
 * <p>The SPSC producer needs its claim mark too, although it alone moves tail: without it, a producer killed after
 * its tail store and before its commit leaves a 0 header at the consumer's position with tail ahead, which the SPSC
 * consumer reads as empty for ever (and the stall rule's scan for an unmarked claim needs zeroed free space, which
 * SPSC does not keep); storing tail after the commit instead loses a message when a producer is killed between the
 * two, since the consumer then frees the record past tail and the next producer writes behind head.
 *
 * <h2>Consuming, and a consumer that dies</h2>
 * The consumer hands the records from consumedTo on to the handler, one by one; for each, once the handler returned
 * (or threw), it (1) stores consumedTo past the record, (2) fences stores, (3) zeroes the record's bytes; after the
 * batch it (4) releases head to consumedTo. Invariants, at every instant (a process killed by SIGKILL leaves a prefix,
 * in program order, of its stores; the fence keeps the compiler's order):
 * <ul>
 * <li>head &le; consumedTo &le; tail, and both are record boundaries;</li>
 * <li>{@code [consumedTo, tail)} holds records exactly as their producers wrote them: the consumer writes no byte at
 *     or after consumedTo (only {@link #unblock()} turns a dead claim there into padding, by a CAS of its header);</li>
 * <li>{@code [head, consumedTo)} holds records already handed over, partly zeroed or not: nobody reads them as
 *     records;</li>
 * <li>{@code [tail, head + capacity)}, the free space, is all zero (MPSC and MPMC; SPSC: see below).</li>
 * </ul>
 * Every drain starts by comparing head with consumedTo (one more load of a cache line it loads anyway); if they
 * differ, a consumer died between (1) and (4), and this one zeroes {@code [head, consumedTo)} whatever its state and
 * releases head — idempotent, so a death in there too leaves the same work. So a consumer killed at any point leaves
 * to the next consumer (a new process, or for MPMC the one that takes the consumers' mutex over) either the record
 * intact — if it died in the handler, before (1): that message is delivered again, once per death — or the record
 * fully consumed; never a partial record read as a header. A consumer object remembers where it left head and
 * consumedTo equal; while consumedTo still holds that, no other consumer ran, and it does not read head.
 *
 * <p>A {@link StackOverflowError} that cuts a drain short in a thread that lives on (it strikes at any call, also
 * those of a {@code finally}: after a handler that overflowed, the freeing steps run at the same depth) is handled as
 * a death there: head moves only past the records fully freed, and the next drain finishes the rest or hands the
 * record over again. An MPMC consumers' turn that such an error left held (cut short in its release, or in its
 * acquire after the CAS) names no thread that will release it, and other processes take it for a live holder's: the
 * next poll through the same ring object takes it over (see {@code RobustMutex}), within one wait for the turn.
 *
 * <p>SPSC differs: its consumer frees each record, once the handler returned or threw, by one release store of head
 * past it, which is also its commit point; nothing is zeroed, consumedTo stays 0, and a consumer killed at any point
 * leaves head before or after the record, never in between.
 *
 * <p>An MPMC poll first looks, without the consumers' turn, at the header at consumedTo (acquire), then re-reads
 * consumedTo: if the record is not committed and consumedTo did not move, there was no message at that instant, and it
 * returns 0. A ring object's first such poll, and every 64th after it, takes the turn instead, so the stall rule and a
 * dead consumer's unfinished freeing still run. A poll right after a turn that handed a message over takes the turn
 * without that look. A poll that finds the turn held spins, repeating that look, for up to 128 rounds before it blocks
 * in the mutex: a turn lasts one drain, far shorter than a futex sleep and wake-up. A handler runs in the turn, so a
 * poll or drain without a timeout waits for it at most 1 s, then returns 0 if a live consumer still holds it (its
 * handler runs long, or its process is stopped): it does not block for as long as that takes. A poll whose look finds
 * nothing committed while the turn is held, and a waiting consumer's stall check, see whether the holder's process died
 * (at most every 50 ms per ring object: it costs a system call) and take the turn over: no waiter in the mutex would
 * notice that death while nothing is committed, for example after a consumer killed after handing every queued record
 * over and before freeing them.
 *
 * <h2>A producer that dies</h2>
 * A producer that dies after claiming and before committing leaves a record the consumer cannot pass. Rule: when
 * the record at consumedTo stays uncommitted while tail is ahead, and its producer is dead, the consumer turns it into
 * padding and goes on. A claim that has a mark is padded over its marked length once the process the mark names (its
 * pid and the low 10 bits of its start stamp) is seen gone: a consumer held up by it looks at that process at most
 * every 50 ms when it applies the stall rule (a system call; a ring object's first stall is looked at at once, so
 * that an object opened for one poll gets past a dead producer's claim, and each later one 50 ms after the object
 * met it, so a claim committed sooner costs none), which a waiting consumer does at least that often (it blocks no
 * longer than that at a time meanwhile) and a polling or peeking one on its first empty poll and every 64th after,
 * and after each stall timeout
 * ({@link #setStallTimeout(Duration)}, default 5 s). While that process lives the claim is kept, however long it
 * takes. A claim without a mark (MPSC/MPMC: the producer stopped or died between its tail
 * CAS and its mark) names nobody, so the ring's producer table does: a process names itself in one of its 32 slots
 * before its first claim (one that only consumes takes none). A slot whose process is seen dead is retired (by a
 * consumer at most once a second, whether the ring is empty or busy; by the stall rule; by a process that finds the
 * table full): the orphan bound is raised to a tail read after the death was seen, then the slot freed. A
 * claim without a mark is skipped only once it is stalled, and starts below the orphan bound after the dead slots
 * were retired: while every process named lives, it is a live producer's, kept however long it takes. It is padded
 * over the zero words from consumedTo up to the first word that is provably a record boundary — a non-zero word,
 * once every word before it read as zero again after it (a payload word would make its own mark visible by then,
 * see Producing), or the orphan bound, or the tail seen when the stall was first noticed (so no claim made after the
 * stall began, which may be a live producer's, is ever skipped), or the end of the buffer. Payload bytes are never
 * taken for a header, and every committed message is still delivered, exactly once. A process that finds no slot
 * free (more than 32 live producer processes) raises the orphan bound to {@link Long#MAX_VALUE} for the rest of the
 * ring's life: from then on a claim without a mark is skipped by the stall timeout alone.
 *
 * <p>The stall timeout is timed from when any consumer first noted the record stuck, by a clock in the header
 * (stallAt, stallTail, stallSince, stallWall), as well as by each ring object: so consumers that come and go (a
 * worker process that polls a few messages and exits, is killed, or opens the ring for each poll) still get past a
 * dead producer's claim once it has been stuck for the timeout, whichever of them looks then. A consumer's stall
 * check that finds the clock naming another record (or none) restarts it at its own position, tail and time; one
 * past the timeout restarts it too, so that a claim kept (its producer may live) waits another timeout. Its start is
 * {@code System.nanoTime()}, which HotSpot on Linux reads from {@code CLOCK_MONOTONIC}, one clock for the processes
 * of a host that share a time namespace, kept with {@code System.currentTimeMillis()}, which all share: a start
 * whose two ages disagree by more than a second (and 1/1000 of the age) is another clock's (a consumer in a time
 * namespace with another monotonic offset, a ring kept in a file across a reboot, a wall clock set meanwhile) and
 * restarts the clock, so a mismatch may delay a skip, to the stall timeout from the ring object's own first look at
 * most, and hastens none by more than that second.
 *
 * <p>So a slow producer (descheduled, stopped, in a long collection, encoding a large value in place) keeps its
 * claim, and consumers wait for it as they would for a lock's live holder; a claim that a live process leaks (a
 * thread that claims and neither commits nor aborts, or one that a {@link StackOverflowError} stops between its tail
 * CAS and its mark) holds the ring until {@link #unblock()}, which skips the record at once, whoever made it, taking
 * the current tail as the bound: call it only when no live producer can still be writing that claim. A producer
 * whose marked claim was skipped anyway learns it from {@link RingClaim#tryCommit()}, whose compare-and-set from its
 * mark leaves the header alone if the claim was padded over ({@link RingClaim#abort()}, and an offer whose source
 * fails, give a claim up the same way); {@code SharedQueue} commits so. Its payload writes before that may still land
 * on space reused since. Cases where a live producer's claim is skipped: {@link #unblock()}; a producer stopped
 * between its tail CAS and its mark when another producer process's death is seen (about a second after it while a
 * consumer runs), or once the table overflowed (a skip then covers the claims without a mark below the orphan bound,
 * which cannot be told apart from a dead producer's); its pid, read by a consumer
 * of another pid namespace sharing the heap, gone there (there, too, a process whose slot such a consumer retired is
 * named no more, and a claim without a mark it leaves at its death holds the ring until {@link #unblock()}). The
 * other way round, a recycled pid with the same 10 stamp bits (about one chance in 1,024) keeps a dead producer's
 * claim, marked or not, until that process exits or {@link #unblock()}. And a mark names a process, not a thread:
 * after {@link #unblock()} skipped a live claim, another thread of that process claiming the same length at the same
 * place a lap later carries the same mark, and the skipped claim's {@code tryCommit} succeeds over it.
 *
 * <h2>Blocking</h2>
 * {@link #offer(int, byte[], int, int, Duration, WaitStrategy)} waits for space and
 * {@link #poll(MessageHandler, Duration, WaitStrategy)} for a message, with the chosen {@link WaitStrategy}. Under
 * {@link WaitStrategy#BLOCKING} a waiter reads the sequence word, announces itself in the waiters word, looks at
 * the ring once more and only then sleeps in futex on the sequence word (an eventcount); the other side clears the
 * waiting bit, bumps the sequence and wakes every sleeper only when that bit is set. On a side of the ring nobody
 * ever blocked on, the other side's offers or polls pay one volatile load for this; once a waiter blocked there (a
 * sticky bit), a full fence too, which closes the store-buffer window between a publication and its load of the
 * word. Waiters never clear the waiting bit, so one that times out or is killed costs the next signal a spare
 * wake-up, not every later one. A waiter re-checks at least every 10 ms (the first to block on a side, after at most
 * 100 µs: the one publication its announcement may race with unfenced). An MPMC poll waits
 * for the consumers' turn within its timeout too, and if the turn is still held when it ends, checks once whether its
 * holder died and takes it over.
 *
 * <h2>Counting</h2>
 * {@link #stats()} reads what the rules did from the header, the same in every process; {@link #messageCount()}
 * counts the queued messages by walking the records, off the offer and poll paths.
 *
 * <p>Memory consistency effects: actions of a producer before committing a message happen-before the consumer's
 * handler call for it.
 */
public final class SharedRing {
    /** How many producers and consumers a ring allows. */
    public enum Kind {
        /**
         * One producer thread and one consumer thread at a time, each of one process at a time (see Roles): no CAS on
         * tail.
         */
        SPSC,
        /**
         * Many producer threads, in any processes (tail is claimed by CAS), and one consumer thread, of one process at
         * a time (see Roles).
         */
        MPSC,
        /**
         * Many producers and many consumers, in any processes; each message goes to exactly one consumer. Consumers
         * take turns through a robust mutex in the header (a dead consumer's turn is taken over; the message it was
         * handling when it died is delivered again).
         */
        MPMC
    }

    /** Smallest capacity. */
    public static final int MIN_CAPACITY = SyncLayout.RING_MIN_CAPACITY;
    /** Largest capacity. */
    public static final int MAX_CAPACITY = SyncLayout.RING_MAX_CAPACITY;

    private static final String KIND = "ring";
    /** {@link #take}'s timeout, made once: a Duration per call would be its only allocation. */
    private static final Duration FOREVER = Duration.ofNanos(Long.MAX_VALUE); // about 292 years
    /** What {@link #consumerClaimed} holds while a poll, drain or take runs through this object. */
    static final long IN_USE = Long.MIN_VALUE;

    // VarHandle mechanics
    private static final VarHandle LONG = JAVA_LONG.varHandle();

    static {
        // for SharedJoinableQueue, through the unexported package
        RingScan.provide(SharedRing::firstQueued, SharedRing::handledPosition);
        // before any ring of this process can hold anything: its reopen of a heap renames what its close left there
        ReopenSweep.addKind(SyncLayout.RING, (block, name, heap) -> abandonHeld(block));
    }

    final MemorySegment block; // header and records: the hot paths access all through this one segment
    final MemorySegment data;
    final Kind kind;
    final int capacity;
    final int mask;
    private final int maxMessageLength;
    final RobustMutex consumers;
    final long positionOffset; // the consumer's commit point: head for SPSC, else consumedTo
    final RingRecovery recovery;
    private final String description;
    private final long messageType; // the header's declared type word: immutable once the ring exists
    final String consumersName; // made once: the MPMC poll path allocates nothing

    // consumer-side state of the stall rule, also held by stallRule: the empty polls count in it with no hop
    final StallWatch stall = new StallWatch();
    final RingStallRule stallRule; // cold: stall checks, take-over and unblock
    private final RingProducerTable producers; // MPSC, MPMC: names this process before its first claim; else null
    // true once this object named its process in the producer table. Plain and racy between this process's producer
    // threads: one that reads false names the process again, which finds its slot and changes nothing
    private boolean named;
    // RingRoles.releases() when this object last claimed the producer's role of an SPSC ring for this process, -1
    // before: it claims again when the count differs. Plain and racy between this process's threads: one that reads a
    // stale value claims again, finds this process's token, and changes nothing
    private long producerClaimed = -1;

    // Process-local copies of shared positions, each a safe under-estimate, so that the hot paths read fewer shared
    // words; each on cache lines of its own (LocalPosition), away from the final fields every thread reads.
    // headCache: this process's producers' last view of head (head only grows, so a stale view only refuses room
    // that is free); acquire/release, which carries the consumer's zeroing from the producer thread that read head to
    // the one that uses the copy.
    private final LocalPosition headCache = new LocalPosition(0);
    // consumerPosition: where this object's consumer last left head and consumedTo both (-1: not yet). If consumedTo
    // still holds it, no other consumer moved since, so head holds it too and need not be read. Plain: only the
    // consumer thread (MPMC: the holder of the consumers' mutex, which orders it) touches it.
    final LocalPosition consumerPosition = new LocalPosition(-1);
    // emptyLooks: MPMC polls that found nothing committed without the consumers' turn (RingConsumer.nothingCommitted),
    // from -1 so that the first takes the turn (a ring object opened for one poll applies the stall rule too).
    // Plain and racy between this process's consumer threads: a lost count only delays a check
    final LocalPosition emptyLooks = new LocalPosition(-1);
    // lastTurnFound: 1 if the last MPMC turn taken through this object handed a message over, so the next poll takes
    // the turn without looking first (the look only pays when the ring is empty); written only when it changes.
    // Plain and racy between this process's consumer threads: a stale value only costs one look or one empty turn
    final LocalPosition lastTurnFound = new LocalPosition(0);
    // consumerClaimed: as producerClaimed, for the consumer's role of an SPSC or MPSC ring; while a poll, drain or take
    // runs through this object it holds IN_USE instead, which a second one (another thread, or a handler polling its
    // own ring) finds: best effort between threads, which may both read the value before either stores IN_USE; a
    // handler's nested poll is always found. On lines of its own: the consumer writes it twice a poll (an SPSC poll:
    // around its handler call only, see RingConsumer.pollSpsc)
    final LocalPosition consumerClaimed = new LocalPosition(-1);

    private SharedRing(MemorySegment block, String what) {
        Waits.prepare(); // the native wait calls linked now, not in the first timed wait
        this.block = block;
        int cap = RingHeaders.checkBlock(block, what);
        this.kind = Kind.values()[block.get(JAVA_INT, RING_KIND_OFFSET) - 1]; // plain: checked, set before the magic
        this.messageType = block.get(JAVA_LONG, RING_MESSAGE_TYPE_OFFSET); // plain: checked, and set before the magic
        RingHeaders.checkPositions(block, cap, kind, what);
        RingHeaders.checkRoles(block, kind, what);
        RobustMutex.check(block, RING_CONSUMER_MUTEX_OFFSET, what + " consumers' mutex");
        this.capacity = cap;
        // the index bits of a position without the low three: a position is a multiple of 8, and one damaged while
        // the ring is open still indexes an aligned record header inside the buffer (no out-of-bounds access)
        this.mask = cap - RING_RECORD_HEADER;
        this.maxMessageLength = RingHeaders.maxMessageLength(cap);
        this.data = block.asSlice(RING_HEADER_SIZE, cap);
        this.consumersName = what + " consumers";
        this.consumers = kind == Kind.MPMC ? new RobustMutex(block, RING_CONSUMER_MUTEX_OFFSET, consumersName) : null;
        this.positionOffset = SyncLayout.ringConsumerPosition(kind == Kind.SPSC);
        this.recovery = new RingRecovery(block, data, positionOffset, what);
        this.description = what;
        this.producers = kind == Kind.SPSC ? null : new RingProducerTable(block);
        this.stallRule = new RingStallRule(block, consumers, producers, positionOffset, recovery, consumersName,
                stall);
    }

    /**
     * Creates an empty ring named {@code name} in {@code heap}.
     *
     * @param capacity data bytes: a power of two from {@value #MIN_CAPACITY} to 2<sup>30</sup>
     * @throws IllegalArgumentException if the capacity is not one
     * @throws ShmFullException         naming the ring and a capacity that fits, if the heap has no room for it
     */
    public static SharedRing create(SharedHeap heap, String name, Kind kind, int capacity) {
        return Blocks.opening(heap, () -> created(heap, name, capacity, s -> RingHeaders.format(s, kind, capacity)));
    }

    /**
     * Creates an empty ring named {@code name} in {@code heap}, whose stall timeout (see the class documentation) is
     * {@code stallTimeout} for every process from the start.
     *
     * @param capacity data bytes: a power of two from {@value #MIN_CAPACITY} to 2<sup>30</sup>
     * @throws IllegalArgumentException if the capacity is not one, or the stall timeout is not positive
     * @throws ShmFullException         naming the ring and a capacity that fits, if the heap has no room for it
     */
    public static SharedRing create(SharedHeap heap, String name, Kind kind, int capacity, Duration stallTimeout) {
        return Blocks.opening(heap, () -> {
            long stallNanos = stallNanos(named(name), stallTimeout);
            return created(heap, name, capacity, s -> RingHeaders.format(s, kind, capacity, stallNanos));
        });
    }

    /**
     * Creates an empty ring named {@code name} in {@code heap} whose every message has type {@code messageType}, as
     * its creator declares in the header (as a {@code SharedQueue} declares its codec's type), for the processes that
     * open it to check ({@link #messageType()}). Offers are not checked against it.
     *
     * @param capacity    data bytes: a power of two from {@value #MIN_CAPACITY} to 2<sup>30</sup>
     * @param messageType a message type, {@code >= 1}
     * @throws IllegalArgumentException if the capacity is not one, or the type is not positive
     * @throws ShmFullException         naming the ring and a capacity that fits, if the heap has no room for it
     */
    public static SharedRing create(SharedHeap heap, String name, Kind kind, int capacity, int messageType) {
        return Blocks.opening(heap, () -> {
            checkDeclaredType(name, messageType);
            return created(heap, name, capacity, s -> RingHeaders.formatTyped(s, kind, capacity, messageType));
        });
    }

    /** @throws ShmFullException naming the ring and a capacity that fits, if the heap has no room for it */
    private static SharedRing created(SharedHeap heap, String name, int capacity, Consumer<MemorySegment> format) {
        try {
            return new SharedRing(Blocks.create(heap, name, SyncLayout.RING, Blocks.ringBlockSize(named(name),
                    capacity), format), named(name));
        } catch (ShmFullException e) {
            throw RingRoom.refused(named(name), capacity, heap, e);
        }
    }

    /**
     * Opens the ring named {@code name}.
     *
     * @throws org.shm4j.core.ShmTypeMismatchException if the block is not a ring
     * @throws ShmFormatException                      if its header is corrupted
     */
    public static SharedRing open(SharedHeap heap, String name) {
        return Blocks.opening(heap, () -> new SharedRing(Blocks.open(heap, name, SyncLayout.RING), named(name)));
    }

    /**
     * Opens the ring in {@code block}, which the caller found by reading the heap's catalog itself: the shm4j tool
     * reads it entry by entry, so that a damaged entry hides no block but its own ({@link #open(SharedHeap, String)}
     * looks the name up through the whole catalog, and fails at any damaged entry).
     *
     * @throws ShmTypeMismatchException if the block is not a ring
     * @throws ShmFormatException       if its header is corrupted
     * @throws IllegalStateException    if its heap is closed
     */
    public static SharedRing open(HeapBlock block) {
        if (!Objects.requireNonNull(block, "block").type().equals(SyncLayout.RING)) {
            throw new ShmTypeMismatchException("block '" + block.name() + "' is " + block.type() + " (expected: "
                    + SyncLayout.RING + ")");
        }
        String what = named(block.name());
        return Blocks.whileOpen(block.segment().scope(), what + " cannot be used: its heap is closed",
                () -> new SharedRing(block.segment(), what));
    }

    /**
     * Opens the ring named {@code name}, checking that it is of the kind this caller's protocol needs.
     *
     * @throws org.shm4j.core.ShmNotFoundException if there is no block of that name
     * @throws ShmTypeMismatchException            if the block is not a ring, or a ring of another kind
     * @throws ShmFormatException                  if its header is corrupted
     */
    public static SharedRing open(SharedHeap heap, String name, Kind kind) {
        return open(heap, name).requireKind(kind);
    }

    /**
     * Opens the ring named {@code name}, or creates it empty.
     *
     * @throws ShmTypeMismatchException if it exists with another kind or capacity
     * @throws ShmFullException         naming the ring and a capacity that fits, if the heap has no room for it
     */
    public static SharedRing openOrCreate(SharedHeap heap, String name, Kind kind, int capacity) {
        return Blocks.opening(heap, () -> openOrCreate(heap, name, kind, capacity,
                s -> RingHeaders.format(s, kind, capacity)));
    }

    /**
     * Opens the ring named {@code name}, or creates it empty declaring {@code messageType} as the type of every
     * message (see {@link #create(SharedHeap, String, Kind, int, int)}).
     *
     * @throws ShmTypeMismatchException if it exists with another kind or capacity, or declares another message type
     * @throws IllegalArgumentException if the type is not positive
     */
    public static SharedRing openOrCreate(SharedHeap heap, String name, Kind kind, int capacity, int messageType) {
        return Blocks.opening(heap, () -> {
            checkDeclaredType(name, messageType);
            SharedRing ring = openOrCreate(heap, name, kind, capacity,
                    s -> RingHeaders.formatTyped(s, kind, capacity, messageType));
            OptionalInt declared = ring.messageType();
            if (declared.isPresent() && declared.getAsInt() != messageType) {
                throw new ShmTypeMismatchException(ring.description + " declares message type "
                        + Blocks.typeId(declared.getAsInt()) + " (asked: " + Blocks.typeId(messageType) + ")");
            }
            return ring;
        });
    }

    private static SharedRing openOrCreate(SharedHeap heap, String name, Kind kind, int capacity,
                                           Consumer<MemorySegment> format) {
        try {
            return new SharedRing(Blocks.openOrCreate(heap, name, SyncLayout.RING,
                    Blocks.ringBlockSize(named(name), capacity), format), named(name)).requireKind(kind);
        } catch (ShmTypeMismatchException e) {
            throw Blocks.mismatch(e, () -> {
                SharedRing existing = open(heap, name);
                return existing.description + " exists as " + existing.kind + " with capacity " + existing.capacity
                        + " (asked: " + kind + " with capacity " + capacity + ")";
            });
        } catch (ShmFullException e) {
            throw RingRoom.refused(named(name), capacity, heap, e);
        }
    }

    /**
     * @return this ring
     * @throws ShmTypeMismatchException if it is of another kind
     */
    private SharedRing requireKind(Kind expected) {
        if (kind != Objects.requireNonNull(expected, "kind")) {
            throw new ShmTypeMismatchException(description + " is " + kind + " (expected: " + expected + ")");
        }
        return this;
    }

    /**
     * Lays out an empty ring over the {@link #requiredBytes(int)} bytes at {@code offset} of a native segment (for
     * memory shared by other means), zeroing them.
     *
     * @throws IllegalArgumentException  if the capacity is invalid or the address is not 8-byte aligned
     * @throws IndexOutOfBoundsException if the bytes are not inside the segment
     */
    public static SharedRing format(MemorySegment segment, long offset, Kind kind, int capacity) {
        Objects.requireNonNull(kind, "kind"); // before the bytes are zeroed: a refused format leaves them as they were
        MemorySegment block = Blocks.wrap(segment, offset, Blocks.ringBlockSize(KIND, capacity), Long.BYTES, KIND);
        block.fill((byte) 0);
        RingHeaders.format(block, kind, capacity);
        return new SharedRing(Blocks.wrapped(block, SyncLayout.RING), Blocks.describe(KIND, block.address()));
    }

    /**
     * Views a ring laid out by {@link #format(MemorySegment, long, Kind, int)} at {@code offset} of a native segment.
     * The header is checked before anything is sized from it: magic and layout version first, then the geometry.
     *
     * @throws IndexOutOfBoundsException if the 1024-byte header is not inside the segment
     * @throws IllegalArgumentException  if the address is not 8-byte aligned
     * @throws ShmFormatException        if the header there is not a valid ring's, or the segment ends before the
     *                                   capacity it gives
     */
    public static SharedRing wrap(MemorySegment segment, long offset) {
        MemorySegment header = Blocks.wrap(segment, offset, RING_HEADER_SIZE, Long.BYTES, KIND);
        String what = Blocks.describe(KIND, header.address());
        int cap = RingHeaders.check(header, what);
        long available = segment.byteSize() - offset - RING_HEADER_SIZE;
        if (cap > available) {
            throw Blocks.corrupt(what, "capacity", cap, "<= the " + available + " bytes after the header in the "
                    + "segment");
        }
        return new SharedRing(Blocks.wrapped(segment.asSlice(offset, RING_HEADER_SIZE + cap), SyncLayout.RING), what);
    }

    /**
     * @return the bytes a ring of {@code capacity} needs: the 1024-byte header and the data
     * @throws IllegalArgumentException if the capacity is not a power of two from 1024 to 2<sup>30</sup>
     */
    public static long requiredBytes(int capacity) {
        return Blocks.ringBlockSize(KIND, capacity);
    }

    /**
     * @return the type its creator declared that every message has ({@link #create(SharedHeap, String, Kind, int,
     *         int)}), or empty if it declared none
     */
    public OptionalInt messageType() {
        return (messageType & RING_TYPE_DECLARED) == 0 ? OptionalInt.empty() : OptionalInt.of((int) messageType);
    }

    /** @return the kind of ring */
    public Kind kind() {
        return kind;
    }

    /** @return data capacity in bytes */
    public int capacity() {
        return capacity;
    }

    /** @return the longest message payload: capacity / 8 - 8 */
    public int maxMessageLength() {
        return maxMessageLength;
    }

    /**
     * @return bytes of records (with headers and padding) not yet freed, the room producers cannot use: those not yet
     *         consumed, and those a consumer took but has not freed yet (for an instant after each poll, or, after a
     *         consumer died there, until the next consumer frees them); a snapshot
     */
    public long size() {
        try {
            while (true) {
                long head = (long) LONG.getVolatile(block, RING_HEAD_OFFSET);
                long tail = (long) LONG.getVolatile(block, RING_TAIL_OFFSET);
                if ((long) LONG.getVolatile(block, RING_HEAD_OFFSET) == head) {
                    return tail - head;
                }
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return true if every claimed record has been consumed: a snapshot */
    public boolean isEmpty() {
        return size() == 0;
    }

    /**
     * Copies {@code length} bytes of {@code source} from {@code sourceOffset} into the ring as one message.
     *
     * @param type a message type, {@code >= 1}
     * @return false if the ring has no room now
     * @throws IllegalArgumentException  if the type is not positive or the length is negative or over
     *                                   {@link #maxMessageLength()}
     * @throws IndexOutOfBoundsException if the bytes are not inside {@code source}
     * @throws IllegalStateException if another live process holds the producer's role (SPSC; see Roles), or
     *                               {@code source} is closed (found so only once room is claimed: the claim is
     *                               given up)
     */
    public boolean offer(int type, MemorySegment source, long sourceOffset, int length) {
        try {
            checkMessage(type, length);
            Blocks.checkRange(description, "source", source, sourceOffset, length); // before a claim: none to abandon
            long index = claim(length);
            if (index < 0) {
                return false;
            }
            try {
                RingRecords.copyPayload(source, sourceOffset, block, RING_HEADER_SIZE + RING_RECORD_HEADER + index,
                        length);
            } catch (RuntimeException | Error e) { // a source out of bounds, closed, or faulting (a truncated file)
                abandon(index, length, e);
                if (e instanceof IllegalStateException failure) {
                    throw sourceClosedOr(failure, source);
                }
                throw e;
            }
            publish(index, type, length);
            return true;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Copies {@code length} bytes of {@code source} from {@code sourceOffset} into the ring as one message.
     *
     * @return false if the ring has no room now
     * @see #offer(int, MemorySegment, long, int)
     */
    public boolean offer(int type, byte[] source, int sourceOffset, int length) {
        try {
            checkMessage(type, length); // before the array range, which a negative length also fails
            Blocks.checkArrayRange(description, "source", source, sourceOffset, length);
            long index = claim(length);
            if (index < 0) {
                return false;
            }
            MemorySegment.copy(source, sourceOffset, block, JAVA_BYTE, RING_HEADER_SIZE + RING_RECORD_HEADER + index,
                    length);
            publish(index, type, length);
            return true;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Copies a message into the ring, waiting up to {@code timeout} for room.
     *
     * @return false if there was no room within {@code timeout}
     * @throws InterruptedException if the thread is interrupted while waiting
     * @see #offer(int, byte[], int, int)
     */
    public boolean offer(int type, byte[] source, int sourceOffset, int length, Duration timeout, WaitStrategy strategy)
            throws InterruptedException {
        try {
            return RingWaits.retry(block, () -> offer(type, source, sourceOffset, length), timeout, strategy);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Copies a message into the ring, waiting up to {@code timeout} for room.
     *
     * @return false if there was no room within {@code timeout}
     * @throws InterruptedException if the thread is interrupted while waiting
     * @see #offer(int, MemorySegment, long, int)
     */
    public boolean offer(int type, MemorySegment source, long sourceOffset, int length, Duration timeout,
                         WaitStrategy strategy) throws InterruptedException {
        try {
            return RingWaits.retry(block, () -> offer(type, source, sourceOffset, length), timeout, strategy);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Claims room for a message of {@code length} bytes to be written in place through {@code claim}, which must
     * then be committed or aborted.
     *
     * @return false if the ring has no room now
     * @throws IllegalStateException if {@code claim} is still in progress, or another live process holds the
     *                               producer's role (SPSC; see Roles)
     */
    public boolean tryClaim(int type, int length, RingClaim claim) {
        try {
            if (Objects.requireNonNull(claim, "claim").isActive()) {
                throw new IllegalStateException("claim is still in progress: commit or abort it first");
            }
            checkMessage(type, length);
            long index = claim(length);
            if (index < 0) {
                return false;
            }
            claim.start(this, index, type, length);
            return true;
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Claims room for a message, waiting up to {@code timeout} for it.
     *
     * @return false if there was no room within {@code timeout}
     * @throws InterruptedException if the thread is interrupted while waiting
     * @see #tryClaim(int, int, RingClaim)
     */
    public boolean tryClaim(int type, int length, RingClaim claim, Duration timeout, WaitStrategy strategy)
            throws InterruptedException {
        try {
            return RingWaits.retry(block, () -> tryClaim(type, length, claim), timeout, strategy);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Hands the next message, if any, to {@code handler}. An MPMC ring's poll waits for the consumers' turn at most
     * 1 s, as {@link #drain} does.
     *
     * @return 1 if a message was handled, else 0
     * @throws IllegalStateException if another live process holds the consumer's role (SPSC, MPSC; see Roles)
     */
    public int poll(MessageHandler handler) {
        if (kind != Kind.SPSC) {
            return drain(handler, 1);
        }
        try { // SPSC: straight to the path the JIT inlines into a poll loop, which marks its handler call itself
            long claimed = consumerClaimed.plain();
            if (claimed != RingRoles.releases()) {
                checkConsumer(claimed);
            }
            return RingConsumer.pollSpsc(this, Objects.requireNonNull(handler, "handler"));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Hands the next message to {@code handler}, waiting up to {@code timeout} for one.
     *
     * @return 1 if a message was handled, 0 if none came within {@code timeout}
     * @throws InterruptedException if the thread is interrupted while waiting
     * @throws IllegalStateException if another live process holds the consumer's role (SPSC, MPSC; see Roles)
     */
    public int poll(MessageHandler handler, Duration timeout, WaitStrategy strategy) throws InterruptedException {
        return awaitAsConsumer(Objects.requireNonNull(handler, "handler"), timeout, strategy);
    }

    /**
     * Waits up to {@code timeout} until a committed message is queued ({@link #hasMessage()}), without taking it, as
     * Python's {@code Connection.poll(timeout)} does. A consuming call: it claims the consumer's role as a poll does
     * (SPSC, MPSC) and applies the stall rule while it waits, so that a claim a dead producer left at the consumer's
     * position does not hide the messages behind it for long (see A producer that dies). True says that a committed
     * message is queued, not that a poll returns it at once: a claim before it that its producer is still writing
     * (MPSC, MPMC), or left when it died (until the stall rule skips it), holds the poll back. Of an MPMC ring's
     * consumers, another may take the message before this one polls.
     *
     * @return true if a committed message is queued, false if none came within {@code timeout}
     * @throws InterruptedException if the thread is interrupted while waiting
     * @throws IllegalStateException if another live process holds the consumer's role (SPSC, MPSC; see Roles), or a
     *                               consuming call of this object is under way in another thread
     */
    public boolean awaitMessage(Duration timeout, WaitStrategy strategy) throws InterruptedException {
        return awaitAsConsumer(null, timeout, strategy) > 0;
    }

    /**
     * {@link RingConsumer#poll} in the consumer's role: hands a message to {@code handler}, or with none only
     * waits for one.
     */
    private int awaitAsConsumer(MessageHandler handler, Duration timeout, WaitStrategy strategy)
            throws InterruptedException {
        try {
            long timeoutNanos = Timeouts.nanos(timeout);
            if (consumers != null) {
                return RingConsumer.poll(this, handler, timeoutNanos, strategy);
            }
            long claimed = enterConsumer();
            try {
                return RingConsumer.poll(this, handler, timeoutNanos, strategy);
            } finally {
                consumerClaimed.setPlain(claimed);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Hands the next message to {@code handler}, waiting for one as long as it takes.
     *
     * @throws InterruptedException if the thread is interrupted while waiting
     * @throws IllegalStateException if another live process holds the consumer's role (SPSC, MPSC; see Roles)
     */
    public void take(MessageHandler handler, WaitStrategy strategy) throws InterruptedException {
        while (poll(handler, FOREVER, strategy) == 0) {
            Thread.onSpinWait(); // 292 years passed: wait again
        }
    }

    /**
     * Sets how long a record at head may stay claimed but uncommitted (while tail is ahead) before a consumer takes
     * its producer for dead and skips it; see the class documentation. The timeout lives in the ring's header: it
     * applies to every consumer, in every process, from their next stall check on, and is timed from when any
     * consumer first noted the record stuck (the header's stall clock), not from each consumer's first look.
     *
     * @throws IllegalArgumentException if {@code timeout} is not positive
     */
    public void setStallTimeout(Duration timeout) {
        try {
            LONG.setVolatile(block, RING_STALL_TIMEOUT_OFFSET, stallNanos(description, timeout));
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @param what the ring, as its refusal names it
     * @return a stall timeout in nanoseconds, saturated to {@link Long#MAX_VALUE} (about 292 years: never) if longer
     * @throws IllegalArgumentException if it is not positive
     */
    private static long stallNanos(String what, Duration timeout) {
        return Timeouts.positiveNanos(what, "stallTimeout", timeout);
    }

    /** @return the stall timeout every consumer of this ring applies (default 5 s) */
    public Duration stallTimeout() {
        try {
            return Duration.ofNanos(stallRule.timeoutNanos());
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return what the ring's rules did so far (skips, consumer recoveries and take-overs), from its header */
    public RingStats stats() {
        try {
            return new RingStats(size(), stallTimeout(), recovery.skippedRecords(), recovery.consumerRecoveries(),
                    consumers == null ? 0 : consumers.recoveries());
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Whether {@link #messageCount()} is above 0, found by a walk that stops at the first committed message: unlike
     * {@link #isEmpty()}, a claim not committed yet (a producer's offer under way, or one that died there) and
     * padding do not count. A snapshot, made without the consumers' turn.
     *
     * @return true if a committed message is queued
     */
    public boolean hasMessage() {
        try {
            return recovery.hasMessage();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /** @return what {@link RingRecovery#firstQueued()} finds: see {@link RingScan#firstQueued} */
    private int firstQueued() {
        try {
            return recovery.firstQueued();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return the consumer's position, which is the record's own while a handler of this object's poll or drain runs:
     *         see {@link RingScan#handledPosition}; called by a handler, off the poll path
     */
    private long handledPosition() {
        return (long) LONG.getOpaque(block, positionOffset); // opaque: written by this thread (the consumer) itself
    }

    /**
     * Counts the messages committed and not yet handed to a consumer, by walking the records from the consumer's
     * position to tail (so it costs a read per queued record, and nothing on the offer and poll paths). A snapshot:
     * producers and consumers may move on meanwhile. Messages behind a claim whose producer has not yet marked it
     * (MPSC and MPMC producers do so right after claiming; one that died there until the stall rule skips it) are
     * not counted, since where they start cannot be known.
     *
     * @return the number of messages queued, not counting claims not yet committed
     */
    public long messageCount() {
        try {
            return recovery.messageCount();
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Hands up to {@code limit} messages to {@code handler}, in order. SPSC and MPSC rings allow one consuming
     * thread, of one process, at a time; MPMC consumers take turns, waiting for the turn at most 1 s (see the class
     * documentation: 0 if another live consumer holds it longer). If the handler throws, the message it threw on
     * counts as consumed, and what it threw passes through as it was thrown (a checked exception thrown sneakily,
     * an {@link InterruptedException} too).
     *
     * @return the number of messages handled
     * @throws IllegalArgumentException if {@code limit} is negative
     * @throws IllegalStateException if another live process holds the consumer's role (SPSC, MPSC; see Roles)
     */
    public int drain(MessageHandler handler, int limit) {
        try {
            Objects.requireNonNull(handler, "handler");
            if (limit < 0) {
                throw new IllegalArgumentException(description + ": drain limit=" + limit + " (expected: >= 0)");
            }
            if (consumers == null) {
                long claimed = enterConsumer();
                try {
                    return RingConsumer.drainAsConsumer(this, handler, limit);
                } finally {
                    consumerClaimed.setPlain(claimed);
                }
            }
            try {
                return RingConsumer.drainInTurn(this, handler, limit, RingConsumer.UNTIMED_TURN_NANOS, false);
            } catch (InterruptedException e) { // the handler's, thrown sneakily: the turn's acquire is uninterruptible
                throw Rethrow.asThrown(e);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Hands the next message to {@code handler} without taking it: the next poll or drain hands it over again (of an
     * MPMC ring's consumers, maybe another one). A consuming call otherwise, as {@link #poll(MessageHandler)}: it
     * claims the consumer's role (SPSC, MPSC; see Roles), or takes the consumers' turn (MPMC: not when nothing is
     * committed, as a poll; waiting for it at most 1 s), frees padding before the message and applies the stall rule
     * to a claim before it, so a dead producer's claim is skipped as a poll would skip it. The handler must not keep
     * the buffer: the bytes are freed once a consumer takes the message.
     *
     * @return 1 if a message was handed over, 0 if none is queued (or, MPMC, the turn did not come)
     * @throws IllegalStateException if another live process holds the consumer's role (SPSC, MPSC; see Roles)
     */
    public int peek(MessageHandler handler) {
        try {
            Objects.requireNonNull(handler, "handler");
            if (consumers == null) {
                long claimed = enterConsumer();
                try {
                    return RingConsumer.peekAsConsumer(this, handler);
                } finally {
                    consumerClaimed.setPlain(claimed);
                }
            }
            return RingConsumer.peekInTurn(this, handler);
        } catch (InterruptedException e) { // the handler's, thrown sneakily: the turn's acquire is not interruptible
            throw Rethrow.asThrown(e);
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Unblocks the consumer after a producer died holding a claim: if the record at the consumer's position is claimed
     * but not committed, or was never marked although tail is ahead, it becomes padding (the class documentation
     * says over which bytes). It cannot tell a dead producer from a slow one: call it only when no live producer can
     * have claimed without committing for a while (for example a second), from the consumer thread of an SPSC or
     * MPSC ring (or while it does not consume); for MPMC it takes the consumers' turn (over from a holder whose
     * process died, too), and returns false at once if another live consumer has it (that consumer applies the stall
     * rule itself). For SPSC and MPSC it does not claim the consumer's role (see Roles), but is refused while another
     * live process holds it: that process's polls apply the stall rule themselves, and an unblock at a position its
     * consumer has just left could pad over a live producer's new claim.
     *
     * @return true if a record was turned into padding
     * @throws IllegalStateException if another live process holds the consumer's role of this SPSC or MPSC ring
     */
    public boolean unblock() {
        try {
            MemorySegment consumerGone = kind == Kind.MPMC ? MemorySegment.NULL
                    : RingRoles.refuseIfHeldElsewhere(block, RING_CONSUMER_PROCESS_OFFSET, description, "consumer");
            try {
                return stallRule.unblock();
            } finally {
                HeapMappings.endTakeOver(consumerGone);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * Gives up the roles this process holds in the ring, so that another process may take them while this one lives
     * (see Roles): the consumer's of an SPSC or MPSC ring and the producer's of an SPSC ring. Call it once no thread
     * of this process polls (or, SPSC, offers) any more; a later poll or offer through any ring object of this process
     * claims the role again, and throws if another live process holds it by then. Roles this process does not hold,
     * and the shared roles of MPSC producers and MPMC rings, are left as they are. A process that exits or is killed,
     * or closes its last view of the ring's heap, gives its roles up without it.
     *
     * @throws IllegalStateException if a poll, drain or take through this ring object is under way (a handler
     *                               releasing its own ring: another process could then consume beside it), or the
     *                               memory the ring lives in is closed (as for every other method)
     */
    public void release() {
        if (consumerClaimed.plain() == IN_USE) {
            throw new IllegalStateException(description + ": release() while a poll, drain or take through this ring"
                    + " object is under way (from its handler, or another thread): the role would pass to another"
                    + " process while this one still consumes");
        }
        requireOpen(); // an MPMC ring's release touches no memory, which would let it pass
        try {
            if (kind != Kind.MPMC) {
                RingRoles.release(block, RING_CONSUMER_PROCESS_OFFSET);
            }
            if (kind == Kind.SPSC) {
                RingRoles.release(block, RING_PRODUCER_PROCESS_OFFSET);
            }
        } catch (IllegalStateException | IllegalArgumentException e) {
            throw closedOr(e);
        }
    }

    /**
     * @return what a public method throws for {@code failure}: a message naming this ring if the memory it lives in
     *         was closed, else {@code failure} itself. Called only from catch blocks, so the hot paths pay nothing.
     */
    RuntimeException closedOr(RuntimeException failure) {
        return Blocks.closedOr(failure, block.scope(), closedMessage());
    }

    /**
     * @return for an offer's copy that failed with {@code failure}: if the caller's {@code source} is closed and this
     *         ring's memory is not, an {@link IllegalStateException} naming this ring and the caller's segment, with
     *         the JDK's bare "Already closed" as its cause; else {@code failure} itself. Called only from a catch
     *         block, so the offer pays nothing.
     */
    private RuntimeException sourceClosedOr(IllegalStateException failure, MemorySegment source) {
        if (source.scope().isAlive() || !block.scope().isAlive()) {
            return failure;
        }
        return new IllegalStateException(description + ": the caller's source segment is closed", failure);
    }

    /** @throws IllegalStateException naming this ring if the memory it lives in is closed */
    private void requireOpen() {
        if (!block.scope().isAlive()) {
            throw new IllegalStateException(closedMessage());
        }
    }

    private String closedMessage() {
        return description + " cannot be used: the heap or segment it lives in is closed";
    }

    /**
     * @return the ring's name, kind, capacity and bytes in use, as
     *         {@code "ring 'jobs' (MPMC, capacity 4096, 32 bytes in use)"}; once its memory is closed, its name and
     *         that it is closed
     */
    @Override
    public String toString() {
        return Blocks.describeUnlessClosed(block.scope(), description, () -> description + " (" + kind + ", capacity "
                + capacity + ", " + size() + " bytes in use)");
    }

    /** @return false once the memory this ring lives in is closed (for claims: theirs is over then) */
    boolean isOpen() {
        return block.scope().isAlive();
    }

    /**
     * @return the data memory (for claims)
     * @throws IllegalStateException naming this ring if the memory it lives in is closed
     */
    MemorySegment dataSegment() {
        requireOpen(); // not a closed segment, whose first write would say only "Already closed"
        return data;
    }

    /** Commits the record at {@code index}: its whole header with one release store. */
    void publish(long index, int type, int length) {
        // release: the payload first
        LONG.setRelease(block, RING_HEADER_SIZE + index, RingRecords.header(length + RING_RECORD_HEADER, type));
        RingWaits.signalNotEmpty(block);
    }

    /**
     * Gives up the claim at {@code index}, whose payload could not be copied in (the caller's source failed with
     * {@code failure}, which the caller throws), as {@link RingClaim#abort()} does: consumers pass it at once instead
     * of waiting the stall timeout for it.
     */
    private void abandon(long index, int length, Throwable failure) {
        try {
            publishIfClaimed(index, RING_PADDING_TYPE, length);
        } catch (RuntimeException closed) {
            failure.addSuppressed(closed);
        }
    }

    /**
     * Publishes the message (or, with {@link SyncLayout#RING_PADDING_TYPE}, the padding) claimed at {@code index} only
     * if the claim is still marked as this producer marked it: the stall rule or {@link #unblock()} may have padded
     * it over meanwhile, and the space may be another claim's by now, which a plain store would overwrite.
     *
     * @return false if the claim was skipped
     */
    boolean publishIfClaimed(long index, int type, int length) {
        long mark = RingRecords.header(-RingRecords.align(length + RING_RECORD_HEADER), ProducerMarks.THIS_PROCESS);
        // volatile CAS: the payload first (as publish's release), and fails if a consumer padded the claim
        if (!LONG.compareAndSet(block, RING_HEADER_SIZE + index, mark,
                RingRecords.header(length + RING_RECORD_HEADER, type))) {
            return false;
        }
        RingWaits.signalNotEmpty(block);
        return true;
    }

    /**
     * Renames what this process holds in the ring block {@code block} as a gone process's, for a process that opens
     * again a heap it had closed (see {@link ReopenSweep}; that close gave it all up, see Roles): its roles' words
     * ({@link RingRoles#abandon}) and its producer slot ({@link RingProducerTable#abandon}), then an MPMC ring's
     * consumers' mutex ({@link RobustMutex#abandon}), then its claim marks ({@link #abandonMarks}), so that records
     * found damaged leave nothing of the header unrenamed. The header is checked first, as an open checks it; a
     * damaged one throws before anything is renamed.
     *
     * @throws ShmFormatException if the block is not a valid ring's, or a record header on the way from the
     *                            consumer's position to tail is not one
     */
    private static void abandonHeld(MemorySegment block) {
        String what = Blocks.describe(KIND, block.address());
        int cap = RingHeaders.checkBlock(block, what);
        Kind kind = Kind.values()[block.get(JAVA_INT, RING_KIND_OFFSET) - 1]; // plain: checked, set before the magic
        RingHeaders.checkPositions(block, cap, kind, what);
        RingHeaders.checkRoles(block, kind, what);
        if (kind != Kind.MPMC) {
            RingRoles.abandon(block, RING_CONSUMER_PROCESS_OFFSET);
        }
        if (kind == Kind.SPSC) {
            RingRoles.abandon(block, RING_PRODUCER_PROCESS_OFFSET);
        } else {
            RingProducerTable.abandon(block);
        }
        if (kind == Kind.MPMC) {
            RobustMutex.abandon(block, RING_CONSUMER_MUTEX_OFFSET);
        }
        abandonMarks(block);
    }

    /**
     * Renames the marks of the claims this process's close cut short in the ring block {@code block}
     * ({@link RingProducer#abandonMarks}; see {@link RingClaim}), its header checked again first.
     *
     * @throws ShmFormatException if the block is not a valid ring's, or a record header on the way from the
     *                            consumer's position to tail is not one
     */
    private static void abandonMarks(MemorySegment block) {
        String what = Blocks.describe(KIND, block.address());
        int cap = RingHeaders.checkBlock(block, what);
        boolean spsc = block.get(JAVA_INT, RING_KIND_OFFSET) == Kind.SPSC.ordinal() + 1; // plain: checked above
        RingProducer.abandonMarks(block, cap, SyncLayout.ringConsumerPosition(spsc), !spsc, what);
    }

    /** @throws IllegalArgumentException if {@code messageType} is not one a message can have */
    private static void checkDeclaredType(String name, int messageType) {
        if (messageType < 1) {
            throw new IllegalArgumentException(named(name) + ": messageType=" + messageType
                    + " (expected: >= 1, the type every message of the ring has)");
        }
    }

    private static String named(String name) {
        return KIND + " '" + name + "'";
    }

    /** Checks a message's type and length before anything is claimed. */
    private void checkMessage(int type, int length) {
        if (type < 1) {
            throw new IllegalArgumentException(description + ": message type=" + type + " (expected: >= 1)");
        }
        if (length < 0 || length > maxMessageLength) {
            throw Blocks.messageTooLong(description, "message length", length, capacity);
        }
    }

    /** @return the record index claimed for a message of {@code length} checked bytes, or -1 if there is no room */
    private long claim(int length) {
        int required = RingRecords.align(length + RING_RECORD_HEADER);
        if (kind == Kind.SPSC) {
            if (producerClaimed != RingRoles.releases()) {
                claimProducer();
            }
            return RingProducer.claimSingle(block, capacity, mask, headCache, required);
        }
        if (!named) {
            nameThisProcess();
        }
        return RingProducer.claimShared(block, capacity, mask, headCache, required);
    }

    /**
     * Starts a consuming call of an SPSC or MPSC ring through this object: claims the consumer's role for this process
     * if this object has not since the last release, then marks the call under way until the caller puts back what
     * this returns.
     *
     * @return the value of {@link #consumerClaimed} to put back when the call ends
     * @throws IllegalStateException if a consuming call of this object is under way, or another live process holds
     *                               the role
     */
    private long enterConsumer() {
        long claimed = consumerClaimed.plain();
        if (claimed != RingRoles.releases()) {
            claimed = checkConsumer(claimed);
        }
        consumerClaimed.setPlain(IN_USE);
        return claimed;
    }

    /**
     * For a consuming call that found {@link #consumerClaimed} holding {@code claimed}, other than
     * {@link RingRoles#releases()}: refuses it if a consuming call of this object is under way, else claims the
     * consumer's role for this process.
     *
     * @return the value {@link #consumerClaimed} holds now
     * @throws IllegalStateException if a consuming call of this object is under way, or another live process holds
     *                               the role
     */
    private long checkConsumer(long claimed) {
        if (claimed == IN_USE) {
            throw new IllegalStateException(description + ": a poll, drain or take through this ring object while"
                    + " another is under way (a second thread, or a handler using its own ring): an " + kind
                    + " ring has one consumer thread at a time");
        }
        long now = RingRoles.claim(block, RING_CONSUMER_PROCESS_OFFSET, description, "consumer");
        consumerClaimed.setPlain(now);
        return now;
    }

    /** Claims the producer's role of an SPSC ring for this process before this object's first claim. */
    private void claimProducer() {
        producerClaimed = RingRoles.claim(block, RING_PRODUCER_PROCESS_OFFSET, description, "producer");
    }

    /**
     * Names this process in the producer table before its first claim through this object (a claim's tail CAS then
     * comes after it), so that the stall rule can tell whether a claim it never marked may be a dead producer's.
     */
    private void nameThisProcess() {
        producers.register();
        named = true;
    }
}
