package org.shm4j.sync.internal;

import org.shm4j.core.internal.Downcall;

import java.lang.foreign.FunctionDescriptor;
import java.lang.invoke.MethodHandle;
import java.util.Optional;

import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Linux {@code membarrier(2)}, called through {@link java.lang.foreign.Linker}: {@link #barrier()} makes every running
 * thread of this process ({@code MEMBARRIER_CMD_PRIVATE_EXPEDITED}) and of every process registered for the global
 * command ({@code MEMBARRIER_CMD_GLOBAL_EXPEDITED}) execute a full memory barrier before the call returns (the kernel
 * interrupts the CPUs it finds running them, and its scheduler orders the threads that are not running; with the one
 * exception below; 1-12 µs on the bench VM). It moves the cost of a StoreLoad fence from a frequent path (a {@link
 * RobustMutex} release) to a rare one (a waiter about to sleep long): see {@link RobustMutex#ASYMMETRIC}.
 *
 * <p>Why both commands. The global command picks CPUs by a per-CPU copy of each process's membarrier state.
 * Registration refreshes that copy only on CPUs then running a thread of the process, and a context switch refreshes it
 * only when the memory map actually changes ({@code membarrier_switch_mm(rq, prev->active_mm, next->mm)}). So a CPU
 * that was idle, or running a kernel thread, while lazily keeping the process's map when it registered keeps the old
 * copy after it returns to a thread of the process, and the global command skips it, until a task of another process
 * has run there and a thread of the process is switched back in (seen on Linux 6.18; the same code through 7.0, by a
 * reading of the source; the kernel's list discussed the stale copy in 2020 as a cost of extra interrupts only).
 * Measured here: with a thread of this process spinning on the other vCPU, the global command returned in 0.7 µs
 * (nobody interrupted) in 2 of 4 fresh JVMs, the private one in 9-12 µs in all four; and jcstress {@code
 * MutexWakeStress}, with the global command alone, saw the release's store missed after the barrier once in 9 to 120
 * million samples (in CI and here). The private command picks this process's CPUs by the thread each runs, so it covers
 * every release in this process. A release in another process on such a CPU is not covered; the waiter's barrier comes
 * at least 10 ms after it counted itself (see {@link WakeWord#sleep}), long after any such release's store was visible
 * on a real CPU, so only the memory model's worst case is left to the waiter's 50 ms liveness check there.
 *
 * <p>This process registers for both when the class is initialised ({@code MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED},
 * Linux 4.16+, and {@code MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED}, 4.14+). Available only where {@link Futex}
 * could be (Linux on x86-64 or aarch64, native access enabled), when the kernel offers the four commands, both
 * registrations succeeded, and the system property {@code shm4j.membarrier} is not {@code false}; otherwise
 * {@link #isAvailable()} is false, {@link #fallbackReason()} says why, and mutexes release with a CAS as before. A
 * process without it still shares locks with processes that have it: see {@link RobustMutex#ASYMMETRIC} for the one
 * difference.
 */
public final class Membarrier {
    private static final int CMD_QUERY = 0;
    private static final int CMD_GLOBAL_EXPEDITED = 1 << 1;
    private static final int CMD_REGISTER_GLOBAL_EXPEDITED = 1 << 2;
    private static final int CMD_PRIVATE_EXPEDITED = 1 << 3;
    private static final int CMD_REGISTER_PRIVATE_EXPEDITED = 1 << 4;
    private static final long SYS_MEMBARRIER = Syscalls.number(324, 283);
    private static final Downcall LINKED = link();
    private static final MethodHandle SYSCALL = LINKED.handle();

    private Membarrier() {
    }

    /** @return true if this process is registered and {@link #barrier()} may be called */
    public static boolean isAvailable() {
        return SYSCALL != null;
    }

    /** @return why mutexes release with a CAS here, or empty if they release with a store */
    public static Optional<String> fallbackReason() {
        return LINKED.reason();
    }

    /**
     * Returns once every thread of this process and of every registered process has executed, or is ordered after, a
     * full memory barrier (see the class doc for the one case the second part misses), so that each of their stores
     * made before it is visible to the caller. Only where {@link #isAvailable()}.
     *
     * @return false if a call failed (it cannot once registered, unless the kernel runs out of memory): the caller
     *         must then not rely on it, and sleeps in bounded steps instead
     */
    public static boolean barrier() {
        return call(CMD_PRIVATE_EXPEDITED) && call(CMD_GLOBAL_EXPEDITED);
    }

    private static boolean call(int command) {
        try {
            return (long) SYSCALL.invokeExact(SYS_MEMBARRIER, command, 0, 0) == 0;
        } catch (Throwable t) { // a downcall that links does not throw; if it did, the same answer
            return false;
        }
    }

    private static Downcall link() {
        if (SYS_MEMBARRIER <= 0 || !Futex.isAvailable()) {
            return Downcall.none("no futex here: " + Futex.fallbackReason().orElse("?"));
        }
        if ("false".equals(System.getProperty("shm4j.membarrier"))) {
            return Downcall.none("turned off by -Dshm4j.membarrier=false");
        }
        try {
            MethodHandle handle = Syscalls.link(FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_INT, JAVA_INT,
                    JAVA_INT)).orElse(null);
            if (handle == null) {
                return Downcall.none("the C library has no syscall function");
            }
            long commands = (long) handle.invokeExact(SYS_MEMBARRIER, CMD_QUERY, 0, 0);
            int needed = CMD_GLOBAL_EXPEDITED | CMD_REGISTER_GLOBAL_EXPEDITED | CMD_PRIVATE_EXPEDITED
                    | CMD_REGISTER_PRIVATE_EXPEDITED;
            if (commands < 0 || (commands & needed) != needed) {
                return Downcall.none("the kernel offers no expedited global and private membarrier (query gave "
                        + commands + ")");
            }
            long registered = (long) handle.invokeExact(SYS_MEMBARRIER, CMD_REGISTER_GLOBAL_EXPEDITED, 0, 0);
            if (registered == 0) {
                registered = (long) handle.invokeExact(SYS_MEMBARRIER, CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
            }
            return registered == 0 ? Downcall.of(handle)
                    : Downcall.none("membarrier registration returned " + registered);
        } catch (Throwable e) { // a refused link or call: releases keep their CAS
            return Downcall.none("membarrier could not be called: " + e);
        }
    }
}
