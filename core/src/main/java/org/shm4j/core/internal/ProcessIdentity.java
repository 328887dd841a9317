package org.shm4j.core.internal;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;

/**
 * Who a process is, packed into one 64-bit <em>owner token</em> that fits a lock word in shared memory, and whether
 * that process is still alive.
 *
 * <p>Token layout: bits 63..32 hold the pid, bits 31..0 the low 32 bits of the process's <em>start stamp</em>, or
 * {@link #UNKNOWN_START_BITS} where the OS does not tell (or where those 32 bits are 0). A token is never 0, so 0 can
 * mean "no owner". The start stamp guards against a recycled pid: a live process whose stamp differs from the
 * token's is another process, and the token's owner is dead.
 *
 * <p>Start bits 0: no process writes them. A process whose start the OS does not tell ({@code /proc} missing, and
 * {@link ProcessHandle} has none) writes {@link #UNKNOWN_START_BITS}, matched by any stamp, as does one whose stamp's
 * low 32 bits happen to be 0 (one tick in 2<sup>32</sup>); before this rule both wrote 0. So a token or lock word
 * with a pid and start bits 0 is damaged memory, such as a single byte 0x01 in a free word ("pid 1"):
 * {@link #isAlive} takes it for dead, since its pid may be one that never dies, and a structure's check at open
 * refuses it. All-ones bits still stand for an unknown start: a word damaged into a live pid with them is taken for
 * alive, as any word naming a live process with a matching stamp is.
 *
 * <p>Start stamp: on Linux, the process's start time in clock ticks since boot, field 22 ({@code starttime}) of
 * {@code /proc/<pid>/stat}, less the boot-time offset of the reader's time namespace
 * ({@code /proc/self/timens_offsets}, which the kernel adds to that field), so that every process reads it alike,
 * plus a salt below 2<sup>31</sup> drawn from this boot's id ({@code /proc/sys/kernel/random/boot_id}), so that the
 * token of a process of an earlier boot, left in a file-backed heap, does not name the process that got the same pid
 * at the same tick after a reboot. Where {@code /proc} does not describe
 * this process (mounted for another pid namespace) or is missing, the start time in epoch milliseconds that
 * {@link ProcessHandle.Info#startInstant()} reports. Not the epoch time on Linux: the JDK computes it as the boot time
 * from {@code /proc/stat}'s {@code btime}, read once per JVM, plus the ticks, and {@code btime} is the wall clock
 * minus the uptime, recomputed at each read, so it moves with every clock step and drifts a second at a time under
 * NTP; two JVMs started apart then compute different start times for one live process, and each would take the
 * other for dead (and take over its locks).
 *
 * <p>Liveness: a process is alive unless {@code /proc/<pid>/stat} (or, without a {@code /proc} for this pid
 * namespace, {@link ProcessHandle}) shows it as a zombie or with another start stamp, or there is no entry for it
 * at all. An entry that exists but may not be read ({@code hidepid=1}) gives start stamp 0: alive, stamp unknown.
 * A missing entry is checked once more with the kernel ({@link PidProbe}, {@code kill(pid, 0)}), because
 * {@code /proc} mounted with {@code hidepid=2} hides the entries of other users' processes: if the pid exists it is
 * treated like {@code hidepid=1}'s unknown stamp, alive (so an invisible zombie of another user, or a dead owner's
 * pid since reused by another user's process, also counts as alive: a lock is then kept too long, never taken from
 * a live owner). That probe runs only for a missing entry, never for a live owner's visible one. Without native
 * access for this module ({@code --enable-native-access}) the probe cannot ask, and a missing entry means gone, as
 * before the probe: right wherever {@code /proc} shows every process, wrong under {@code hidepid=2}, where another
 * user's live process then looks dead.
 */
public final class ProcessIdentity {
    /**
     * The start bits of a token whose process's start stamp is unknown, or has low 32 bits 0: any stamp matches them.
     * No token has start bits 0 (see the class comment).
     */
    public static final long UNKNOWN_START_BITS = 0xFFFF_FFFFL;

    /** Field 22 of {@code /proc/<pid>/stat}, counted from field 3 (the state), which follows the last ')'. */
    private static final int STARTTIME_AFTER_STATE = 22 - 3;
    /** Clock ticks per second of {@code /proc}'s times ({@code USER_HZ}: 100 on every Linux this runs on). */
    private static final long USER_HZ = 100;
    /** Clock ticks that this process's time namespace adds to every {@code starttime} it reads. */
    private static final long TIME_NAMESPACE_TICKS = timeNamespaceTicks();
    /** Added to every start time in ticks: the same for every process of this boot, another after a reboot. */
    private static final long BOOT_SALT = bootSalt();
    private static final boolean PROC = procDescribesThisProcess();
    private static final long CURRENT_STAMP = startStamp(ProcessHandle.current().pid());
    private static final long CURRENT_TOKEN = token(ProcessHandle.current().pid(), CURRENT_STAMP);
    private static final long ABANDONED_TOKEN = abandoned(CURRENT_TOKEN);
    private static final long PID_NAMESPACE = pidNamespace();
    /** Epoch ms at tick 0 as this JVM sees it (for display only), or 0 without {@code /proc}. */
    private static final long BOOT_MILLIS = bootMillis();

    private ProcessIdentity() {
    }

    /** @return the owner token of this process (computed once) */
    public static long currentToken() {
        return CURRENT_TOKEN;
    }

    /**
     * @return this process's pid with other start bits (never 0 nor {@link #UNKNOWN_START_BITS}): no process's token,
     *         so every process judges a hold named by it a gone holder's ({@link #isAlive} false where this process's
     *         start stamp is known, and no attach table lists it). A hold this process left in a heap it closed is
     *         renamed so when it opens that heap again (see {@code AttachTable}'s sweep), else its name, back in the
     *         attach table, made it this process's again, held by no call
     */
    public static long abandonedToken() {
        return ABANDONED_TOKEN;
    }

    /** @return the start stamp of this process (see the class comment), or 0 where the OS does not tell */
    public static long currentStartStamp() {
        return CURRENT_STAMP;
    }

    /**
     * @return the start stamp of the live process {@code pid}, or -1 if there is none (or it is a zombie); 0 where the
     *         OS does not tell: when {@code /proc/<pid>} exists but may not be read (as under {@code hidepid=1}), or
     *         when it is missing but the kernel says the pid exists (another user's process under {@code hidepid=2};
     *         see the class comment)
     */
    public static long startStamp(long pid) {
        if (PROC) {
            return salted(procStamp(pid));
        }
        Optional<ProcessHandle> process = ProcessHandle.of(pid);
        if (process.isEmpty()) {
            return hiddenOrGone(pid);
        }
        return process.filter(ProcessHandle::isAlive).map(ProcessIdentity::epochMillis).orElse(-1L);
    }

    /**
     * @return the start time in epoch ms that the start stamp {@code stamp} stands for, as this JVM reads the clock
     *         (for display: it moves with the wall clock); 0 for 0
     */
    public static long startMillis(long stamp) {
        if (stamp == 0 || !PROC) {
            return stamp;
        }
        return BOOT_MILLIS + (stamp - BOOT_SALT) * 1000 / USER_HZ;
    }

    /** @return the token of the process {@code pid} whose start stamp is {@code stamp} (0 if unknown) */
    public static long token(long pid, long stamp) {
        return pid << 32 | startBits(stamp);
    }

    /**
     * @return the start bits of a token for the start stamp {@code stamp} (0 if unknown): its low 32 bits, or
     *         {@link #UNKNOWN_START_BITS} for 0 (unknown) or a stamp whose low 32 bits are 0; never 0
     */
    public static long startBits(long stamp) {
        long bits = stamp & 0xFFFF_FFFFL;
        return bits != 0 ? bits : UNKNOWN_START_BITS;
    }

    /** @return true if {@code stamp} (0 if unknown) agrees with the start stamp bits of {@code token} */
    public static boolean startMatches(long token, long stamp) {
        return (token & 0xFFFF_FFFFL) == startBits(stamp);
    }

    /** @return {@code token} with other start bits, neither 0 nor {@link #UNKNOWN_START_BITS} */
    private static long abandoned(long token) {
        return token & ~0xFFFF_FFFFL | otherStartBits(token & 0xFFFF_FFFFL, UNKNOWN_START_BITS);
    }

    /**
     * @param bits   start bits of a name (a token's, or a shorter field's), between 0 and {@code allOnes}
     * @param allOnes those bits all set, which match any start (as {@link #UNKNOWN_START_BITS} does)
     * @return start bits other than {@code bits}, neither 0 (which no process writes) nor {@code allOnes}: the name
     *         of a gone holder with the same pid (see {@link #abandonedToken()})
     */
    public static long otherStartBits(long bits, long allOnes) {
        long other = bits ^ 1;
        return other == 0 || other == allOnes ? bits ^ 2 : other;
    }

    /** @return the pid held in {@code token} */
    public static long pid(long token) {
        return token >>> 32;
    }

    /**
     * @return true unless the process named by {@code token} is known to be gone: no such pid, a zombie, or a live
     *         process with another start stamp (the pid was recycled); false for start bits 0, which no process
     *         writes (damaged memory: see the class comment)
     */
    public static boolean isAlive(long token) {
        if (token == CURRENT_TOKEN) {
            return true;
        }
        long bits = token & 0xFFFF_FFFFL;
        if (bits == 0) {
            return false; // damaged: waiting for its pid (1, say) could last for ever
        }
        long stamp = startStamp(pid(token));
        if (stamp < 0) {
            return false;
        }
        return bits == UNKNOWN_START_BITS || stamp == 0 || startMatches(token, stamp);
    }

    /**
     * @return true if {@code token} names a pid (bits 63..32 not 0) and start bits (31..0) that a process writes:
     *         not 0
     */
    public static boolean isWellFormed(long token) {
        return pid(token) != 0 && (token & 0xFFFF_FFFFL) != 0;
    }

    /**
     * @return true if a process with that pid exists and is not a zombie, as far as this process can tell (a pid that
     *         the kernel has but {@code /proc} hides counts as alive; see the class comment)
     */
    public static boolean isPidAlive(long pid) {
        return startStamp(pid) >= 0;
    }

    /**
     * @return the inode number of this process's pid namespace ({@code /proc/self/ns/pid}), or 0 where it cannot be
     *         read: tokens name processes of one namespace only
     */
    public static long currentPidNamespace() {
        return PID_NAMESPACE;
    }

    /** @return a readable form of a token, e.g. {@code pid 1234} */
    public static String describe(long token) {
        return "pid " + pid(token);
    }

    private static long pidNamespace() {
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString(); // e.g. pid:[4026531836]
            return Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
        } catch (IOException | UnsupportedOperationException | SecurityException | IndexOutOfBoundsException
                 | NumberFormatException e) {
            return 0;
        }
    }

    /** @return {@code ticks} plus this boot's salt, or {@code ticks} itself if it is -1 (gone) or 0 (unknown) */
    private static long salted(long ticks) {
        return ticks > 0 ? ticks + BOOT_SALT : ticks;
    }

    private static long epochMillis(ProcessHandle process) {
        return process.info().startInstant().map(Instant::toEpochMilli).orElse(0L);
    }

    /**
     * @return field 22 of {@code /proc/<pid>/stat} less this time namespace's offset: the start time in clock ticks
     *         since boot; -1 if there is no such process, it is a zombie, or the file cannot be parsed; 0 if it
     *         exists but may not be read, or is hidden
     */
    private static long procStamp(long pid) {
        String stat = procStat(Long.toString(pid));
        if (stat == null) {
            return Files.exists(Path.of("/proc", Long.toString(pid))) ? 0 : hiddenOrGone(pid);
        }
        return parseStamp(stat);
    }

    /**
     * @return 0 (unknown) if the kernel says that {@code pid}, which {@code /proc} or the JDK says does not exist,
     *         exists (hidden by {@code hidepid=2}); -1 (gone) if it says there is none or cannot be asked
     */
    private static long hiddenOrGone(long pid) {
        return PidProbe.exists(pid) ? 0 : -1;
    }

    /**
     * @return field 22 of the {@code /proc/<pid>/stat} text {@code stat} less this time namespace's offset; -1 for
     *         a zombie or text that cannot be parsed
     */
    private static long parseStamp(String stat) {
        int close = stat.lastIndexOf(')'); // the command name, in parentheses, may hold spaces and parentheses
        if (close < 0 || close + 2 >= stat.length()) {
            return -1;
        }
        String[] fields = stat.substring(close + 2).split(" ");
        if (fields.length <= STARTTIME_AFTER_STATE || "ZX".contains(fields[0])) {
            return -1;
        }
        try {
            return Long.parseLong(fields[STARTTIME_AFTER_STATE]) - TIME_NAMESPACE_TICKS;
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** @return {@code /proc/<pid>/stat}, or null if it cannot be read */
    private static String procStat(String pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc", pid, "stat")), StandardCharsets.US_ASCII);
        } catch (IOException | SecurityException e) {
            return null;
        }
    }

    /**
     * @return true if {@code /proc/self/stat} names this process's pid (not so under a {@code /proc} mounted for
     *         another pid namespace, whose entries describe other processes) and gives its start time
     */
    private static boolean procDescribesThisProcess() {
        String stat = procStat("self");
        return stat != null && stat.startsWith(ProcessHandle.current().pid() + " (") && parseStamp(stat) > 0;
    }

    /** @return the boot-time offset of this process's time namespace in clock ticks (0 without time namespaces) */
    private static long timeNamespaceTicks() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/timens_offsets"))) {
                String[] words = line.trim().split("\\s+"); // e.g. "boottime  100000  0": seconds, nanoseconds
                if (words.length == 3 && words[0].equals("boottime")) {
                    return Long.parseLong(words[1]) * USER_HZ + Long.parseLong(words[2]) / (1_000_000_000L / USER_HZ);
                }
            }
        } catch (IOException | SecurityException | NumberFormatException e) {
            // no time namespaces (Linux before 5.6) or not Linux: no offset
        }
        return 0;
    }

    /** @return epoch ms at tick 0 as this JVM's clock reads it (for display), or 0 if unknown */
    private static long bootMillis() {
        long started = epochMillis(ProcessHandle.current());
        return PROC && started != 0 ? started - (CURRENT_STAMP - BOOT_SALT) * 1000 / USER_HZ : 0;
    }

    /** @return a value in [0, 2^31) drawn from this boot's id, or 0 if it cannot be read */
    private static long bootSalt() {
        try {
            UUID bootId = UUID.fromString(Files.readString(Path.of("/proc/sys/kernel/random/boot_id")).strip());
            return (bootId.getMostSignificantBits() ^ bootId.getLeastSignificantBits()) & Integer.MAX_VALUE;
        } catch (IOException | SecurityException | IllegalArgumentException e) {
            return 0;
        }
    }
}
