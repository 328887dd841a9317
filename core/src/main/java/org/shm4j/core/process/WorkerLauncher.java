package org.shm4j.core.process;

import org.shm4j.core.internal.ProcessIdentity;

import java.lang.reflect.Constructor;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;

/**
 * The main class of every {@link WorkerProcess}: it watches the parent if the worker is a daemon, then calls the
 * worker's static method (or its instance method on a new instance, as Java 25's launcher runs an instance
 * {@code main}). Started by {@link WorkerProcess.Builder#start()}; not meant to be run by hand.
 *
 * <p>Arguments: how the next but one and the later ones are encoded ({@code -}: as they are; {@code base64}: Base64
 * of their UTF-8 bytes, when the platform's encoding of process arguments cannot carry one of them), the parent to
 * watch ({@code pid:startStamp}, {@code pid:-} when the parent's start time is unknown, or {@code -} for none), the
 * worker class's binary name, the method's name, then the worker's own arguments.
 * A failure inside the method propagates as it would from a {@code main}: the JVM prints it and exits with 1.
 */
public final class WorkerLauncher {
    /**
     * The exit code of a daemon worker whose parent is gone. The worker halts without running shutdown hooks or
     * {@code finally} blocks, as after {@code SIGKILL}.
     */
    public static final int PARENT_GONE_EXIT_CODE = 86;

    /** How often a daemon worker checks that its parent is alive: it exits within about this long of its death. */
    public static final Duration PARENT_POLL = Duration.ofMillis(100);

    static final String NO_PARENT = "-";
    private static final int FIXED_ARGS = 4;

    private WorkerLauncher() {
    }

    /**
     * Runs a worker.
     *
     * @param args the worker class, its method, the parent to watch, then the worker's arguments
     * @throws Throwable whatever the worker's method throws
     */
    public static void main(String[] args) throws Throwable {
        if (args.length < FIXED_ARGS) {
            throw new IllegalArgumentException("WorkerLauncher: expected <encoding> <parent> <class> <method> "
                    + "[args...], got " + Arrays.toString(args));
        }
        String encoding = args[0];
        if (!NO_PARENT.equals(args[1])) {
            watchParent(args[1]);
        }
        Class<?> type = Class.forName(ProcessArguments.decode(encoding, args[2]), true,
                ClassLoader.getSystemClassLoader());
        Method method = findMethod(type, ProcessArguments.decode(encoding, args[3]));
        method.setAccessible(true);
        String[] workerArgs = new String[args.length - FIXED_ARGS];
        for (int i = 0; i < workerArgs.length; i++) {
            workerArgs[i] = ProcessArguments.decode(encoding, args[FIXED_ARGS + i]);
        }
        try {
            Object target = null;
            if (!Modifier.isStatic(method.getModifiers())) { // an instance main, as Java 25's launcher runs it
                Constructor<?> constructor = type.getDeclaredConstructor();
                constructor.setAccessible(true);
                target = constructor.newInstance();
            }
            method.invoke(target, method.getParameterCount() == 0 ? new Object[0] : new Object[] {workerArgs});
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    /**
     * Finds the method {@code name} as Java 25's {@code java} launcher finds {@code main} (JEP 512,
     * {@code jdk.internal.misc.MethodFinder}): {@code void name(String[])}, else {@code void name()}, not private,
     * static or instance, public ones first (declared, inherited, or an interface's default), then any declared by
     * {@code type} or a superclass (as the launcher runs an inherited {@code main}); {@link Object}'s are not run.
     * So an instance {@code main(String[])} wins over a static {@code main()}. An instance method needs a class that
     * is not abstract and has a constructor without parameters that is not private (called on a new instance).
     *
     * @throws IllegalArgumentException naming the class and the method if there is none, or the one found is an
     *                                  instance method of a class that cannot be made so
     */
    static Method findMethod(Class<?> type, String name) {
        Method method = find(type, name, String[].class);
        if (method == null) {
            method = find(type, name);
        }
        if (method == null || !Modifier.isStatic(method.getModifiers()) && !instantiable(type)) {
            throw new IllegalArgumentException("worker class " + type.getName() + " has no method static void "
                    + name + "(String[]) or static void " + name + "(), declared or inherited, nor a concrete class's "
                    + "instance method void " + name + "(String[]) or void " + name + "() (not private) and its "
                    + "constructor without parameters (not private)");
        }
        return method;
    }

    /**
     * @return the method {@code name(parameters)} of {@code type} that the launcher would run: public (also
     *         inherited or an interface's default), else declared by {@code type} or a superclass; null if that one
     *         does not return void, is private or is {@link Object}'s
     */
    private static Method find(Class<?> type, String name, Class<?>... parameters) {
        Method method = null;
        try {
            method = type.getMethod(name, parameters);
        } catch (NoSuchMethodException e) {
            for (Class<?> declaring = type; declaring != null && method == null;
                    declaring = declaring.getSuperclass()) {
                try {
                    method = declaring.getDeclaredMethod(name, parameters);
                } catch (NoSuchMethodException notHere) {
                    // the superclass next
                }
            }
        }
        return method == null || method.getReturnType() != void.class || Modifier.isPrivate(method.getModifiers())
                || method.getDeclaringClass() == Object.class ? null : method;
    }

    /** @return whether {@code type} is a class, not abstract, with a constructor without parameters, not private */
    private static boolean instantiable(Class<?> type) {
        if (type.isInterface() || Modifier.isAbstract(type.getModifiers())) {
            return false;
        }
        try {
            return !Modifier.isPrivate(type.getDeclaredConstructor().getModifiers());
        } catch (NoSuchMethodException e) {
            return false;
        }
    }

    /** Starts the daemon thread that halts this JVM once the parent ({@code pid:startStamp}) is gone. */
    private static void watchParent(String parentSpec) {
        int colon = parentSpec.indexOf(':');
        long pid = Long.parseLong(parentSpec.substring(0, colon));
        String start = parentSpec.substring(colon + 1);
        Optional<ProcessHandle> parent = ProcessHandle.of(pid).filter(
                p -> NO_PARENT.equals(start) || ProcessIdentity.startStamp(pid) == Long.parseLong(start));
        if (parent.isEmpty()) {
            parentGone(pid);
        }
        ProcessHandle handle = parent.get();
        // After its parent's death a process is re-parented (to init or a subreaper) at once, even while the dead
        // parent is still an unreaped zombie that ProcessHandle may still report alive.
        boolean childOfParent = ProcessHandle.current().parent().map(ProcessHandle::pid).orElse(-1L) == pid;
        Thread.ofPlatform().daemon().name("shm4j-parent-watch").start(() -> {
            while (handle.isAlive() && (!childOfParent || ProcessHandle.current().parent()
                    .map(ProcessHandle::pid).orElse(-1L) == pid)) {
                try {
                    Thread.sleep(PARENT_POLL);
                } catch (InterruptedException e) {
                    return;
                }
            }
            parentGone(pid);
        });
    }

    private static void parentGone(long pid) {
        System.err.println("shm4j worker " + ProcessHandle.current().pid() + ": parent " + pid
                + " is gone; halting (daemon worker)");
        Runtime.getRuntime().halt(PARENT_GONE_EXIT_CODE);
    }
}
