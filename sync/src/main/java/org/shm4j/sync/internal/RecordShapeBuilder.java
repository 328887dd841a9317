package org.shm4j.sync.internal;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Builds the {@link RecordShape} of a record type and of the records nested in it (or the alternatives of a sealed
 * interface), once, with reflection; what it builds uses only method handles. A record type that occurs at several
 * places gets a shape per place, as each place's components name their path in messages ({@code Pair.second.label});
 * the later ones take the first's handles and schema.
 */
final class RecordShapeBuilder {
    private static final String SUPPORTED = "supported: primitives and their boxes, String, enums, records, sealed "
            + "interfaces of records, and arrays or Lists of those";
    /**
     * The most parameter slots ({@code long} and {@code double} take two) of a canonical constructor that a method
     * handle can reach: the JVM allows 255 with {@code this}, but {@code findConstructor} refuses 254 or more.
     */
    private static final int MOST_CONSTRUCTOR_SLOTS = 253;

    private final MethodHandles.Lookup lookup;
    private final boolean callersLookup;
    /** The first shape built of each record type: another place of it takes its handles and schema. */
    private final Map<Class<?>, RecordShape> built = new HashMap<>();
    private final Set<Class<?>> building = new LinkedHashSet<>();
    private Class<?> top;
    /** True if the codec being built is {@code Codec.sealed}'s, false if {@code Codec.record}'s. */
    private boolean sealedTop;

    /** @param callersLookup true if {@code lookup} is the caller's, false if it is this module's own */
    RecordShapeBuilder(MethodHandles.Lookup lookup, boolean callersLookup) {
        this.lookup = lookup;
        this.callersLookup = callersLookup;
    }

    /**
     * @param where the path to this record from the top-level one, for messages
     * @return the shape of the record {@code type}
     */
    RecordShape shape(Class<?> type, String where) {
        if (!type.isRecord()) {
            throw new IllegalArgumentException("record codec: " + type.getName() + " is not a record");
        }
        if (top == null) {
            top = type;
        }
        if (!callersLookup) { // a named module reads nothing it did not declare: each record's, nested ones too
            RecordShapeBuilder.class.getModule().addReads(type.getModule());
        }
        if (!building.add(type)) {
            throw new IllegalArgumentException(codecFor() + ": " + where + " is a " + type.getSimpleName()
                    + " again, inside itself; recursive records are not supported");
        }
        RecordShape first = built.get(type);
        RecordComponent[] declared = type.getRecordComponents();
        Component[] components = new Component[declared.length];
        Class<?>[] parameters = new Class<?>[declared.length];
        for (int i = 0; i < declared.length; i++) {
            String at = where + "." + declared[i].getName();
            components[i] = first == null ? component(type, declared[i], at) : placed(first.component(i), declared[i],
                    at);
            parameters[i] = declared[i].getType();
        }
        if (first != null) {
            building.remove(type);
            return first.at(components);
        }
        int slots = Arrays.stream(parameters).mapToInt(p -> p == long.class || p == double.class ? 2 : 1).sum();
        if (slots > MOST_CONSTRUCTOR_SLOTS) { // findConstructor would say "bad parameter count 256", naming nothing
            throw new IllegalArgumentException(codecFor() + ": " + where + " (" + type.getName() + ") has "
                    + declared.length + " components, whose canonical constructor takes " + slots + " parameter "
                    + "slots (long and double take two) (expected: at most " + MOST_CONSTRUCTOR_SLOTS + ", the most"
                    + " a method handle can call; group components into nested records)");
        }
        MethodHandle constructor = find(type, () -> lookup.findConstructor(type,
                MethodType.methodType(void.class, parameters)));
        RecordShape shape = new RecordShape(type, components, constructor.asSpreader(Object[].class,
                parameters.length).asType(MethodType.methodType(Object.class, Object[].class)));
        building.remove(type);
        built.put(type, shape);
        return shape;
    }

    /**
     * @param where the path to this interface from the top-level type, for messages
     * @return the alternatives of the sealed interface {@code type}: its permitted records, those of a permitted
     *         sealed interface in its place
     */
    ValueCodec.OneOf oneOf(Class<?> type, String where) {
        if (top == null) {
            top = type;
            sealedTop = true;
        }
        if (!type.isInterface() || !type.isSealed()) {
            throw new IllegalArgumentException(codecFor() + ": " + type.getName() + " is not a sealed interface");
        }
        List<RecordShape> alternatives = new ArrayList<>();
        addAlternatives(type, where, alternatives);
        Map<String, Class<?>> names = new HashMap<>();
        for (RecordShape alternative : alternatives) {
            Class<?> other = names.putIfAbsent(alternative.type().getSimpleName(), alternative.type());
            if (other != null) { // the fingerprint tells alternatives apart by simple name: these two would swap
                throw new IllegalArgumentException(codecFor() + ": " + where + " has two alternatives named "
                        + other.getSimpleName() + " (" + other.getName() + " and " + alternative.type().getName()
                        + "); their simple names tell alternatives apart in its fingerprint, so rename one");
            }
        }
        return new ValueCodec.OneOf(type, alternatives.toArray(RecordShape[]::new));
    }

    private void addAlternatives(Class<?> sealed, String where, List<RecordShape> alternatives) {
        for (Class<?> permitted : sealed.getPermittedSubclasses()) {
            String at = where + "<" + permitted.getSimpleName() + ">";
            if (permitted.isRecord()) {
                if (alternatives.stream().noneMatch(a -> a.type() == permitted)) { // permitted twice on its way
                    alternatives.add(shape(permitted, at));
                }
            } else if (permitted.isInterface() && permitted.isSealed()) {
                addAlternatives(permitted, at, alternatives);
            } else {
                throw new IllegalArgumentException(codecFor() + ": " + at + " is " + permitted.getName()
                        + ", neither a record nor a sealed interface (a sealed interface's alternatives must be "
                        + "records, or sealed interfaces of records)");
            }
        }
    }

    /** @return how messages name the codec being built: {@code "record codec for a.B"} */
    private String codecFor() {
        return (sealedTop ? "sealed" : "record") + " codec for " + top.getName();
    }

    private Component component(Class<?> record, RecordComponent declared, String where) {
        Class<?> raw = declared.getType();
        MethodHandle getter = find(record, () -> lookup.findVirtual(record, declared.getName(),
                MethodType.methodType(raw)));
        if (raw.isPrimitive()) {
            return new Component.Fixed(declared.getName(), Primitive.of(raw, false),
                    getter.asType(MethodType.methodType(raw, Object.class)));
        }
        return new Component.Variable(declared.getName(), where, value(declared.getGenericType(), where),
                getter.asType(MethodType.methodType(Object.class, Object.class)));
    }

    /** @return {@code same}, a component of the first shape of its record, at the place {@code where} */
    private Component placed(Component same, RecordComponent declared, String where) {
        if (same instanceof Component.Variable v) { // its value may hold records, which name their place too
            return new Component.Variable(v.name(), where, value(declared.getGenericType(), where), v.getter());
        }
        return same; // a primitive: it names no place
    }

    private ValueCodec value(Type type, String where) {
        if (type instanceof Class<?> c) {
            if (c == String.class) {
                return new ValueCodec.Text();
            } else if (Primitive.of(c, true) != null) {
                return new ValueCodec.Box(Primitive.of(c, true));
            } else if (c.isArray() && c.getComponentType().isPrimitive()) {
                return new ValueCodec.PrimitiveArray(Primitive.of(c.getComponentType(), false));
            } else if (c.isArray()) {
                return new ValueCodec.Sequence(value(c.getComponentType(), where + "[]"),
                        MethodHandles.arrayConstructor(c).asType(MethodType.methodType(Object[].class, int.class)));
            } else if (c.isEnum()) {
                return new ValueCodec.EnumValue(c, List.of(c.getEnumConstants()));
            } else if (c.isRecord()) {
                return new ValueCodec.RecordValue(shape(c, where));
            } else if (c.isInterface() && c.isSealed()) {
                return oneOf(c, where);
            }
        } else if (type instanceof ParameterizedType p && p.getRawType() == List.class) {
            Type element = p.getActualTypeArguments()[0];
            if (element instanceof Class<?> || element instanceof ParameterizedType
                    || element instanceof GenericArrayType) {
                return new ValueCodec.Sequence(value(element, where + "[]"), null);
            }
        } else if (type instanceof ParameterizedType p && p.getRawType() instanceof Class<?> c
                && (c.isRecord() || c.isInterface() && c.isSealed())) {
            return value(c, where); // a generic record or sealed interface: its records' components say what it holds
        } else if (type instanceof GenericArrayType a && erasure(a) instanceof Class<?> array) {
            return new ValueCodec.Sequence(value(a.getGenericComponentType(), where + "[]"),
                    MethodHandles.arrayConstructor(array).asType(MethodType.methodType(Object[].class, int.class)));
        }
        throw new IllegalArgumentException(codecFor() + ": " + where + " has type "
                + type.getTypeName() + ", which is not supported (" + SUPPORTED + ")");
    }

    /** @return the class {@code type} erases to, or null for a type variable or wildcard (not supported) */
    private static Class<?> erasure(Type type) {
        if (type instanceof Class<?> c) {
            return c;
        } else if (type instanceof ParameterizedType p && p.getRawType() instanceof Class<?> raw) {
            return raw;
        } else if (type instanceof GenericArrayType a) {
            Class<?> component = erasure(a.getGenericComponentType());
            return component == null ? null : component.arrayType();
        }
        return null;
    }

    /** @return the first remedy for an inaccessible record: public, and exported if its module is named; or "" */
    private static String remedy(Class<?> record) {
        boolean named = record.getModule().isNamed();
        if (Modifier.isPublic(record.getModifiers()) && !named) {
            return ""; // public on the class path: what failed is an enclosing class, which only a lookup reaches
        }
        return named ? "make the record public and export or open its package to org.shm4j.sync, or "
                : "make the record public (and its enclosing classes), or ";
    }

    private MethodHandle find(Class<?> record, Find find) {
        try {
            return find.find();
        } catch (IllegalAccessException e) {
            throw new IllegalArgumentException(codecFor() + ": " + record.getName() + " is not accessible to "
                    + (callersLookup ? "the lookup " + lookup : "org.shm4j.sync") + " (" + e.getMessage() + "); "
                    + remedy(record) + "pass a lookup that can reach it: Codec."
                    + (sealedTop ? "sealed(" : "record(") + top.getSimpleName() + ".class, MethodHandles.lookup())",
                    e);
        } catch (NoSuchMethodException e) { // javac and the JVM make sure that every record has them
            throw new IllegalStateException(codecFor() + ": " + record.getName()
                    + " lacks its canonical constructor or an accessor", e);
        }
    }

    /** A method-handle lookup that may fail. */
    @FunctionalInterface
    private interface Find {
        MethodHandle find() throws IllegalAccessException, NoSuchMethodException;
    }
}
