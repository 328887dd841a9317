/**
 * Worker processes: child JVMs that run a static method of a class, the JVM's counterpart of Python's
 * {@code multiprocessing.Process}.
 *
 * <p>{@link org.shm4j.core.process.WorkerProcess#of} describes a worker (class, method, arguments, system properties,
 * JVM options, output captured or inherited, daemon or not) and starts it on this JVM's {@code java}, class path or
 * module path and native-access setting; {@link org.shm4j.core.process.WorkerProcess#startAll} and
 * {@link org.shm4j.core.process.WorkerProcess#joinAll} start and join several. A worker finds the shared structures
 * it works on by name, in a {@link org.shm4j.core.SharedHeap} its parent created. The
 * {@link org.shm4j.core.process.WorkerLauncher} is the workers' main class.
 */
package org.shm4j.core.process;
