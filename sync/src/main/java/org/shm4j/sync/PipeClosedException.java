package org.shm4j.sync;

import org.shm4j.core.ShmException;

import java.io.Serial;

/**
 * The other end of a {@link SharedPipe} is gone: its holder {@linkplain SharedPipe.End#close() closed} it, or the
 * process holding it died (or exited, or closed its last view of the heap, without closing it). Thrown by {@link
 * SharedPipe.End#recv(java.time.Duration)} as end of stream, once every message sent before the end went has been
 * received (Python's {@code EOFError} from {@code Connection.recv}), and by {@link SharedPipe.End#send(byte[],
 * java.time.Duration)} as a broken pipe.
 *
 * <p>Unchecked, as every shm4j exception is; a receive loop ends with it as a stream loop ends at {@code -1}:
 * <pre>{@code
 * try {
 *     while (true) {
 *         byte[] message = end.recv(Duration.ofSeconds(1));
 *         if (message != null) {
 *             handle(message);
 *         }
 *     }
 * } catch (PipeClosedException e) {
 *     // the peer is done: everything it sent has been handled
 * }
 * }</pre>
 */
public class PipeClosedException extends ShmException {
    @Serial
    private static final long serialVersionUID = 1L;

    /** @serial the pipe's name in its heap */
    private final String pipeName;
    /** @serial the end that is gone, {@code "first"} or {@code "second"} */
    private final String endName;
    /** @serial pid of the process that held that end */
    private final long pid;
    /** @serial whether that process died instead of closing the end */
    private final boolean holderDied;

    /**
     * @param message    what happened, naming the pipe, the end and the process
     * @param pipeName   the pipe's name in its heap
     * @param endName    the end that is gone, {@code "first"} or {@code "second"}
     * @param pid        pid of the process that held that end
     * @param holderDied true if that process died (or exited, or closed its last view of the heap) without closing
     *                   the end, false if it closed it
     */
    public PipeClosedException(String message, String pipeName, String endName, long pid, boolean holderDied) {
        super(message);
        this.pipeName = pipeName;
        this.endName = endName;
        this.pid = pid;
        this.holderDied = holderDied;
    }

    /** @return the pipe's name in its heap */
    public String pipeName() {
        return pipeName;
    }

    /** @return the end that is gone: {@code "first"} or {@code "second"} */
    public String endName() {
        return endName;
    }

    /** @return pid of the process that held the end that is gone */
    public long pid() {
        return pid;
    }

    /**
     * @return true if that process died (or exited, or closed its last view of the heap) without closing its end;
     *         false if it closed it
     */
    public boolean holderDied() {
        return holderDied;
    }
}
