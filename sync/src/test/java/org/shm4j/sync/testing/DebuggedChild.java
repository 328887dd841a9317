package org.shm4j.sync.testing;

import com.sun.jdi.Bootstrap;
import com.sun.jdi.VirtualMachine;
import com.sun.jdi.connect.AttachingConnector;
import com.sun.jdi.connect.Connector;
import com.sun.jdi.connect.IllegalConnectorArgumentsException;
import org.shm4j.testing.ChildJvm;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;

/**
 * A child JVM started suspended under a debugger (JDI over a local socket) and attached to: what {@link KilledAtCall}
 * and {@link StoppedAtSteps} share. Closing it kills the child if it still runs.
 */
abstract class DebuggedChild implements AutoCloseable {
    private static final String LISTENING = "Listening for transport dt_socket at address: ";
    private static final Duration ATTACH_BOUND = Duration.ofSeconds(60);

    final ChildJvm child;
    final VirtualMachine vm;

    DebuggedChild(ChildJvm child, VirtualMachine vm) {
        this.child = child;
        this.vm = vm;
    }

    /**
     * Starts {@code mainClass} suspended, attaches a debugger and makes the object that drives it; kills the child
     * if either fails.
     */
    static <T extends DebuggedChild> T start(Class<?> mainClass, String[] args,
                                             BiFunction<ChildJvm, VirtualMachine, T> driver)
            throws InterruptedException {
        ChildJvm child = ChildJvm.start(List.of("-agentlib:jdwp=transport=dt_socket,server=y,suspend=y,"
                + "address=127.0.0.1:0"), mainClass, args);
        boolean debugged = false;
        try {
            T driven = driver.apply(child, attach(child));
            debugged = true;
            return driven;
        } finally {
            if (!debugged) {
                child.close();
            }
        }
    }

    /** @return a debugger attached to {@code child}, started suspended */
    private static VirtualMachine attach(ChildJvm child) throws InterruptedException {
        try {
            String port = child.awaitLine(LISTENING, ATTACH_BOUND).substring(LISTENING.length()).trim();
            AttachingConnector socket = Bootstrap.virtualMachineManager().attachingConnectors().stream()
                    .filter(c -> c.name().equals("com.sun.jdi.SocketAttach")).findFirst().orElseThrow();
            Map<String, Connector.Argument> arguments = socket.defaultArguments();
            arguments.get("hostname").setValue("127.0.0.1");
            arguments.get("port").setValue(port);
            arguments.get("timeout").setValue(Long.toString(ATTACH_BOUND.toMillis()));
            return socket.attach(arguments);
        } catch (IOException | IllegalConnectorArgumentsException e) {
            throw new IllegalStateException("cannot debug child " + child.pid(), e);
        }
    }

    /** @return the child's pid */
    public long pid() {
        return child.pid();
    }

    /** Waits (bounded) for a line of the child's output, as {@link ChildJvm#awaitLine} does. */
    public String awaitLine(String prefix, Duration timeout) throws InterruptedException {
        return child.awaitLine(prefix, timeout);
    }

    /** @return everything the child printed so far */
    public String output() {
        return child.output();
    }

    /** Kills the child if it still runs. */
    @Override
    public void close() {
        child.close();
    }
}
