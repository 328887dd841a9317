package org.shm4j.sync.testing;

import com.sun.jdi.IncompatibleThreadStateException;
import com.sun.jdi.ReferenceType;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.ClassPrepareEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.request.ClassPrepareRequest;
import org.shm4j.testing.ChildJvm;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;

/**
 * A child JVM run under a debugger, as {@link KilledAtCall} runs one, that is held (not killed) at exact steps of the
 * library's code, one after another, and let go on: the whole child stays suspended at a step, alive and attached
 * to its heaps, while the test makes other processes move, then runs on to its next step. For races between a
 * check and the atomic that acts on it, which a kill cannot show.
 *
 * <p>Use: {@link #start}, {@link #awaitStopped} at step 0 (bounded), act, {@link #resume()}, and so on for the next
 * steps; each step is armed from the start and stops the child the first time it is reached after the step before.
 */
public final class StoppedAtSteps extends DebuggedChild {
    private static final String STEP = "step";

    private final List<KilledAtCall.Step> steps;
    private final List<CompletableFuture<String>> stops;
    /** The events of the step the child is held at, resumed by {@link #resume()}; null while it runs. */
    private volatile EventSet held;

    private StoppedAtSteps(ChildJvm child, VirtualMachine vm, List<KilledAtCall.Step> steps) {
        super(child, vm);
        this.steps = List.copyOf(steps);
        this.stops = IntStream.range(0, steps.size()).mapToObj(i -> new CompletableFuture<String>()).toList();
        Thread events = new Thread(this::run, "jdi events of child " + child.pid());
        events.setDaemon(true);
        events.start();
    }

    /**
     * Starts {@code mainClass} suspended under a debugger, arms every step (each a statement: {@link
     * KilledAtCall.Step#atLine}), and lets it run.
     *
     * @return the child, running until it reaches the first step
     */
    public static StoppedAtSteps start(List<KilledAtCall.Step> steps, Class<?> mainClass, String... args)
            throws InterruptedException {
        return start(mainClass, args, (child, vm) -> new StoppedAtSteps(child, vm, steps));
    }

    /**
     * Waits until the child is held at step {@code index}, or until it prints a line holding {@code unless}, which
     * says it went past the step's place without reaching it.
     *
     * @return the stack of the thread held at the step, innermost first; null if the child printed {@code unless}
     * @throws AssertionError if neither comes within {@code bound}, or the debugger fails
     */
    public String awaitStoppedUnless(int index, String unless, Duration bound) throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!child.output().contains(unless)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new AssertionError("child " + child.pid() + " did not reach step " + steps.get(index)
                        + " nor print '" + unless + "' within " + bound + "; output:\n" + child.output());
            }
            try {
                return stops.get(index).get(Math.min(left, TimeUnit.MILLISECONDS.toNanos(20)), TimeUnit.NANOSECONDS);
            } catch (TimeoutException notYet) {
                // look at the output again
            } catch (ExecutionException e) {
                throw new AssertionError("the debugger of child " + child.pid() + " failed; output:\n"
                        + child.output(), e.getCause());
            }
        }
        return null;
    }

    /**
     * Waits until the child is held at step {@code index}.
     *
     * @return the stack of the thread held there, innermost first
     * @throws AssertionError if it is not within {@code bound}, or the debugger fails
     */
    public String awaitStopped(int index, Duration bound) throws InterruptedException {
        return awaitStoppedUnless(index, "\u0000never printed", bound);
    }

    /** Lets the child held at a step run on. */
    public void resume() {
        EventSet events = held;
        if (events == null) {
            throw new IllegalStateException("child " + child.pid() + " is not held at a step");
        }
        held = null;
        events.resume();
    }

    private void run() {
        try {
            for (int i = 0; i < steps.size(); i++) {
                KilledAtCall.Step step = steps.get(i);
                ClassPrepareRequest prepare = vm.eventRequestManager().createClassPrepareRequest();
                prepare.addClassFilter(step.className());
                prepare.putProperty(STEP, i);
                prepare.enable();
                for (ReferenceType type : vm.classesByName(step.className())) {
                    arm(type, i);
                }
            }
            vm.resume();
            int next = 0;
            int hits = 0;
            while (true) { // until the child ends: a step reached again later is let go on
                EventSet events = vm.eventQueue().remove();
                boolean resume = true;
                for (Event event : events) {
                    if (event instanceof ClassPrepareEvent prepared) {
                        arm(prepared.referenceType(), (Integer) event.request().getProperty(STEP));
                    } else if (event instanceof BreakpointEvent breakpoint
                            && (Integer) event.request().getProperty(STEP) == next
                            && ++hits == steps.get(next).hit()) {
                        held = events;
                        resume = false;
                        stops.get(next).complete(KilledAtCall.stack(breakpoint.thread()));
                        next++;
                        hits = 0;
                    }
                }
                if (resume) {
                    events.resume();
                }
            }
        } catch (RuntimeException | InterruptedException | IncompatibleThreadStateException e) {
            // the child ended (VMDisconnectedException), or the debugger failed
            stops.forEach(stop -> stop.completeExceptionally(e));
        }
    }

    private void arm(ReferenceType type, int index) {
        KilledAtCall.setBreakpoints(type, steps.get(index)).forEach(request -> request.putProperty(STEP, index));
    }
}
