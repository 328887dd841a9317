package org.shm4j.core.internal;

import java.time.Instant;
import java.util.Optional;

/**
 * Who a process is, packed into one 64-bit <em>owner token</em> that fits a lock word in shared memory, and whether
 * that process is still alive.
 *
 * <p>Token layout: bits 63..32 hold the pid, bits 31..0 the low 32 bits of the process start time in epoch
 * milliseconds (as {@link ProcessHandle.Info#startInstant()} reports it), or 0 where the OS does not tell. A token is
 * never 0, so 0 can mean "no owner". The start time guards against a recycled pid: a live process whose start time
 * differs from the token's is another process, and the token's owner is dead.
 */
public final class ProcessIdentity {
    private static final long CURRENT_START_MILLIS = startMillis(ProcessHandle.current());
    private static final long CURRENT_TOKEN = token(ProcessHandle.current().pid(), CURRENT_START_MILLIS);

    private ProcessIdentity() {
    }

    /** @return the owner token of this process (computed once) */
    public static long currentToken() {
        return CURRENT_TOKEN;
    }

    /** @return the start time of this process in epoch milliseconds, or 0 where the OS does not tell */
    public static long currentStartMillis() {
        return CURRENT_START_MILLIS;
    }

    /** @return the token of the process {@code pid} that started at {@code startMillis} (0 if unknown) */
    public static long token(long pid, long startMillis) {
        return pid << 32 | startMillis & 0xFFFF_FFFFL;
    }

    /** @return true if {@code startMillis} (0 if unknown) agrees with the start time bits of {@code token} */
    public static boolean startMatches(long token, long startMillis) {
        return (token & 0xFFFF_FFFFL) == (startMillis & 0xFFFF_FFFFL);
    }

    /** @return the pid held in {@code token} */
    public static long pid(long token) {
        return token >>> 32;
    }

    /**
     * @return true unless the process named by {@code token} is known to be gone: no such pid, a zombie, or a live
     *         process with another start time (the pid was recycled)
     */
    public static boolean isAlive(long token) {
        if (token == CURRENT_TOKEN) {
            return true;
        }
        Optional<ProcessHandle> handle = ProcessHandle.of(pid(token));
        if (handle.isEmpty() || !handle.get().isAlive()) {
            return false;
        }
        long startBits = token & 0xFFFF_FFFFL;
        return startBits == 0 || startBits == startBits(handle.get());
    }

    /** @return true if a process with that pid exists and is not a zombie */
    public static boolean isPidAlive(long pid) {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    private static long startBits(ProcessHandle process) {
        return startMillis(process) & 0xFFFF_FFFFL;
    }

    private static long startMillis(ProcessHandle process) {
        return process.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    }

    /** @return a readable form of a token, e.g. {@code pid 1234} */
    public static String describe(long token) {
        return "pid " + pid(token);
    }
}
