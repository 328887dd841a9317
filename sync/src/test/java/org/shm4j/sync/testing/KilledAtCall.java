package org.shm4j.sync.testing;

import com.sun.jdi.AbsentInformationException;
import com.sun.jdi.IncompatibleThreadStateException;
import com.sun.jdi.Location;
import com.sun.jdi.Method;
import com.sun.jdi.ReferenceType;
import com.sun.jdi.StackFrame;
import com.sun.jdi.ThreadReference;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.event.BreakpointEvent;
import com.sun.jdi.event.ClassPrepareEvent;
import com.sun.jdi.event.Event;
import com.sun.jdi.event.EventSet;
import com.sun.jdi.request.BreakpointRequest;
import com.sun.jdi.request.ClassPrepareRequest;
import com.sun.jdi.request.EventRequest;
import org.shm4j.testing.ChildJvm;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.stream.IntStream;

/**
 * A child JVM run under a debugger (JDI over a local socket) that is SIGKILLed at an exact step of the library's
 * code: when one of its threads enters a chosen method called from a chosen caller, or reaches a chosen statement
 * (found by its text in the source). The breakpoint suspends the whole child, so nothing runs past the step before
 * the SIGKILL; the test needs no hook in the library. A step is named by methods or code rather than line numbers,
 * so that it survives edits of the code around it.
 *
 * <p>Use: {@link #start}, let the child run into the step, {@link #awaitKilled} (bounded), then check what a third
 * process finds.
 */
public final class KilledAtCall extends DebuggedChild {

    /**
     * The step: a thread enters {@code method} of {@code className} (any overload) from a frame of {@code caller}
     * (the calling method's name, of any class) for the {@code hit}-th time (from 1) in the child; or, with a
     * {@code line}, reaches that line of {@code method} (null: of whichever method holds it).
     */
    public record Step(String className, String method, String caller, int hit, int line) {
        /** The {@code hit}-th entry of {@code method} from {@code caller}. */
        public Step(String className, String method, String caller, int hit) {
            this(className, method, caller, hit, 0);
        }

        /** The first such entry. */
        public Step(String className, String method, String caller) {
            this(className, method, caller, 1, 0);
        }

        /**
         * The step where a thread of the child reaches, for the {@code hit}-th time, the statement of {@code method}
         * whose source line holds {@code code}, before it runs (for steps between two accesses, where no call marks
         * them). The line is looked up in this module's source, or in the core module's beside it for a class of
         * core, so the step moves with edits around it.
         *
         * @throws IllegalArgumentException if the class's source has no such line, or more than one
         */
        public static Step atLine(Class<?> type, String method, String code, int hit) throws IOException {
            Path file = Path.of("src", "main", "java", type.getName().replace('.', '/') + ".java");
            Path source = Files.exists(file) ? file : Path.of("..", "core").resolve(file);
            List<String> lines = Files.readAllLines(source);
            List<Integer> found = IntStream.range(0, lines.size()).filter(i -> lines.get(i).contains(code)).boxed()
                    .toList();
            if (found.size() != 1) {
                throw new IllegalArgumentException(source + ": " + found.size() + " lines hold '" + code
                        + "' (expected: 1)");
            }
            return new Step(type.getName(), method, null, hit, found.getFirst() + 1);
        }

        /**
         * As {@link #atLine(Class, String, String, int)}, in whichever method of {@code type} the line lies: for a
         * statement that moves between methods (a helper split off, or folded back).
         */
        public static Step atLine(Class<?> type, String code, int hit) throws IOException {
            return atLine(type, null, code, hit);
        }
    }

    private final CompletableFuture<String> hit = new CompletableFuture<>();

    private KilledAtCall(ChildJvm child, VirtualMachine vm, Step step) {
        super(child, vm);
        Thread events = new Thread(() -> run(step), "jdi events of child " + child.pid());
        events.setDaemon(true);
        events.start();
    }

    /**
     * Starts {@code mainClass} suspended under a debugger, sets the breakpoint, and lets it run.
     *
     * @return the child, running until it reaches {@code step}
     */
    public static KilledAtCall start(Step step, Class<?> mainClass, String... args) throws InterruptedException {
        return start(mainClass, args, (child, vm) -> new KilledAtCall(child, vm, step));
    }

    /**
     * Waits until a thread of the child reaches the step, then SIGKILLs the child while it is suspended there.
     *
     * @return the stack of the thread at the step, innermost first, for messages
     * @throws AssertionError if the step is not reached within {@code bound}, or the child ends or its debugger
     *                        fails first (the child is killed then too)
     */
    public String awaitKilled(Duration bound) throws InterruptedException {
        try {
            return hit.get(bound.toNanos(), TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new AssertionError("child " + child.pid() + " did not reach the step within " + bound
                    + "; output:\n" + child.output(), e);
        } catch (ExecutionException e) {
            throw new AssertionError("child " + child.pid() + " ended, or its debugger failed, before it reached the"
                    + " step; output:\n" + child.output(), e.getCause());
        } finally {
            child.kill();
        }
    }

    private void run(Step step) {
        try {
            ClassPrepareRequest prepare = vm.eventRequestManager().createClassPrepareRequest();
            prepare.addClassFilter(step.className());
            prepare.enable();
            vm.classesByName(step.className()).forEach(type -> setBreakpoints(type, step));
            vm.resume();
            int hits = 0;
            while (!hit.isDone()) {
                EventSet events = vm.eventQueue().remove();
                boolean resume = true;
                for (Event event : events) {
                    if (event instanceof ClassPrepareEvent prepared) {
                        setBreakpoints(prepared.referenceType(), step);
                    } else if (event instanceof BreakpointEvent breakpoint && calledFrom(breakpoint.thread(), step)
                            && ++hits == step.hit()) {
                        hit.complete(stack(breakpoint.thread()));
                        resume = false; // the whole child stays suspended at the step until it is killed
                    }
                }
                if (resume) {
                    events.resume();
                }
            }
        } catch (RuntimeException | InterruptedException | IncompatibleThreadStateException e) {
            hit.completeExceptionally(e);
        }
    }

    /** Sets the step's breakpoints in {@code type}, each suspending the whole child; @return their requests */
    static List<BreakpointRequest> setBreakpoints(ReferenceType type, Step step) {
        List<Location> locations = new ArrayList<>();
        try {
            for (Method method : step.method() == null ? type.methods() : type.methodsByName(step.method())) {
                if (step.line() == 0) {
                    locations.add(method.location());
                } else {
                    method.locationsOfLine(step.line()).stream().findFirst().ifPresent(locations::add);
                }
            }
        } catch (AbsentInformationException e) {
            throw new IllegalStateException(type.name() + " has no line numbers", e);
        }
        if (locations.isEmpty()) {
            throw new IllegalStateException("no method " + (step.method() == null ? "" : step.method() + " ")
                    + (step.line() == 0 ? "" : "with line " + step.line() + " ") + "in " + type.name());
        }
        List<BreakpointRequest> requests = new ArrayList<>();
        for (Location location : locations) {
            BreakpointRequest request = type.virtualMachine().eventRequestManager().createBreakpointRequest(location);
            request.setSuspendPolicy(EventRequest.SUSPEND_ALL);
            request.enable();
            requests.add(request);
        }
        return requests;
    }

    /** @return true if the thread is at the step: at its line, or in its method called from its caller */
    private static boolean calledFrom(ThreadReference thread, Step step) throws IncompatibleThreadStateException {
        return step.line() != 0
                || thread.frameCount() > 1 && thread.frame(1).location().method().name().equals(step.caller());
    }

    static String stack(ThreadReference thread) throws IncompatibleThreadStateException {
        StringBuilder stack = new StringBuilder(thread.name()).append('\n');
        for (StackFrame frame : thread.frames()) {
            stack.append("  at ").append(frame.location()).append('\n');
        }
        return stack.toString();
    }
}
