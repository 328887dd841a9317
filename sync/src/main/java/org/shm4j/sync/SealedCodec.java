package org.shm4j.sync;

import org.shm4j.sync.internal.SealedShape;

import java.util.List;

/**
 * A {@link Codec} of a sealed interface whose alternatives are records, made by {@link Codec#sealed(Class)}: one
 * queue, pipe, map or list carries values of several record types, and a receiver gets each back as the record it
 * was, ready for a {@code switch} over the interface (what Python's {@code Connection.recv()} gives for any pickled
 * object, here with the types declared):
 * <pre>{@code
 * sealed interface Command permits Put, Remove, Stop {}
 * record Put(long key, String value) implements Command {}
 * record Remove(long key) implements Command {}
 * record Stop() implements Command {}
 *
 * Codec<Command> commands = Codec.sealed(Command.class);
 * pipe.first().send(new Put(7, "seven"), commands, Duration.ofSeconds(1));
 * switch (pipe.second().recv(commands, Duration.ofSeconds(1))) {
 *     case Put(long key, String value) -> store.put(key, value);
 *     case Remove(long key) -> store.remove(key);
 *     case Stop() -> running = false;
 * }
 * }</pre>
 *
 * <h2>Alternatives</h2>
 * The interface's permitted subclasses, in the order its class file lists them (its {@code permits} clause, else
 * their order of declaration in the source file); a permitted sealed interface contributes its own alternatives in
 * its place. Each alternative must be a record (of the components {@link RecordCodec} supports, sealed interfaces
 * included); anything else (a final class, an enum, a non-sealed interface) is refused with an
 * {@link IllegalArgumentException} naming it. A record component whose type is a sealed interface is encoded the
 * same way, with null allowed, by {@link Codec#record(Class)} as well.
 *
 * <h2>Wire format (version 1)</h2>
 * Little-endian: the index of the value's record among the alternatives (a 32-bit int; -1 stands for null in a
 * component, never at the top level), then that record's components in {@link RecordCodec}'s format (no presence
 * flag). Decoding checks the index against the number of alternatives and that the value ends where the message
 * does: damaged bytes give an {@link IllegalStateException} naming this codec.
 *
 * <h2>Schema and fingerprint</h2>
 * {@link #schema()} lists the alternatives with their components, e.g.
 * {@code Command{Put(long key, String value) | Remove(long key) | Stop()}}. The {@link #fingerprint()} (the
 * {@link #typeId()}) hashes the same text without the interface's name but with the alternatives' simple names,
 * since two alternatives of one shape ({@code Start()}, {@code Stop()}) differ by name alone: renaming the interface
 * or moving the types to another package keeps it; adding, removing, renaming or reordering an alternative, or
 * changing one's components, changes it, and a structure that records its codec refuses the other shape with a
 * {@link org.shm4j.core.ShmTypeMismatchException} (a queue's or pipe's saying "sealed shape differs", a map's and a
 * list's giving both type ids). Two alternatives may not share a simple name ({@code P.Stop}, {@code Q.Stop}): the
 * codec is refused, since swapping them would keep the fingerprint.
 *
 * <h2>Access and allocation</h2>
 * As {@link RecordCodec}: the records must be public and exported to {@code org.shm4j.sync}, or reached through
 * {@link Codec#sealed(Class, java.lang.invoke.MethodHandles.Lookup)}; the interface itself need not be. Encoding
 * finds a value's alternative by its class among the alternatives (a scan of a small array) and allocates what a
 * record codec allocates; a queue or pipe writes values as it writes records (see {@link RecordCodec}).
 *
 * @param <T> the sealed interface
 */
public final class SealedCodec<T> extends ShapeCodec<T> {
    private final SealedShape shape;

    SealedCodec(Class<T> type, SealedShape shape) {
        super(type, shape);
        this.shape = shape;
    }

    /** @return the sealed interface */
    public Class<T> sealedType() {
        return valueType();
    }

    /** @return the record types a value may be, in the order of their indexes on the wire */
    public List<Class<?>> alternatives() {
        return shape.alternatives();
    }
}
