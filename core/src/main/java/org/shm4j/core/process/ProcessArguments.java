package org.shm4j.core.process;

import java.nio.charset.Charset;
import java.nio.charset.CharsetEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.List;

/**
 * How a worker's strings cross to its JVM's command line. The JDK encodes a process's arguments in the platform's
 * encoding for them ({@code sun.jnu.encoding}, set by the locale), and a character it cannot encode becomes
 * {@code '?'} without a word: under a C or POSIX locale (no {@code LANG}), "ü日本" arrived as "???" (helper-138).
 * So the worker's class and method names and its own arguments, which the launcher receives, are sent as Base64 of
 * their UTF-8 bytes whenever one of them does not fit that encoding; options and system properties, which the
 * worker's JVM reads itself, are refused then. A NUL character fits no argument (C strings end there), and a lone
 * surrogate no encoding.
 */
final class ProcessArguments {
    /** The launcher's argument that says the worker's arguments follow as they are. */
    static final String PLAIN = "-";
    /** The launcher's argument that says the worker's arguments follow as Base64 of their UTF-8 bytes. */
    static final String BASE64 = "base64";

    private ProcessArguments() {
    }

    /**
     * @param what what {@code value} is, for the message (e.g. {@code "args[2]"})
     * @return {@code value}
     * @throws IllegalArgumentException if it holds a NUL character or a lone surrogate
     */
    static String check(String what, String value) {
        if (value.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("WorkerProcess: " + what + " holds a NUL character, which no process "
                    + "argument can carry");
        }
        if (!StandardCharsets.UTF_8.newEncoder().canEncode(value)) {
            throw new IllegalArgumentException("WorkerProcess: " + what + " holds a lone surrogate, which no encoding "
                    + "of a process argument can carry");
        }
        return value;
    }

    /**
     * @param what what {@code value} is, for the message
     * @return {@code value}
     * @throws IllegalArgumentException if the platform's encoding of process arguments cannot carry it: the worker's
     *                                  JVM would read {@code '?'} in place of some characters
     */
    static String requirePlatformEncodable(String what, String value) {
        if (!platform().canEncode(value)) {
            throw new IllegalArgumentException("WorkerProcess: " + what + " cannot be passed to a worker JVM: the "
                    + "encoding of process arguments here (sun.jnu.encoding=" + System.getProperty("sun.jnu.encoding")
                    + ", from the locale) cannot carry all its characters; run under a UTF-8 locale (LANG=C.UTF-8)");
        }
        return value;
    }

    /** @return {@link #PLAIN} if every argument fits the platform's encoding, else {@link #BASE64} */
    static String encodingFor(List<String> args) {
        CharsetEncoder platform = platform();
        return args.stream().allMatch(platform::canEncode) ? PLAIN : BASE64;
    }

    /** @return {@code arg} as the launcher gets it under {@code encoding} */
    static String encode(String encoding, String arg) {
        return encoding.equals(PLAIN) ? arg : Base64.getEncoder().encodeToString(arg.getBytes(StandardCharsets.UTF_8));
    }

    /** @return what {@link #encode} was given */
    static String decode(String encoding, String arg) {
        return encoding.equals(PLAIN) ? arg : new String(Base64.getDecoder().decode(arg), StandardCharsets.UTF_8);
    }

    private static CharsetEncoder platform() {
        String name = System.getProperty("sun.jnu.encoding");
        return (name != null && Charset.isSupported(name) ? Charset.forName(name) : Charset.defaultCharset())
                .newEncoder();
    }
}
