package org.shm4j.core.internal;

import java.nio.charset.StandardCharsets;

/**
 * Validation of region names (file names in {@code /dev/shm}) and of heap block names (catalog keys).
 */
public final class Names {
    /** Longest region name: leaves room below the 255-byte file name limit. */
    public static final int MAX_REGION_NAME_LENGTH = 200;

    private Names() {
    }

    /**
     * Checks a region name: 1 to {@value #MAX_REGION_NAME_LENGTH} characters of {@code [A-Za-z0-9._-]}, not starting
     * with a dot (so neither {@code .} nor {@code ..} nor a hidden file), with no {@code /}.
     *
     * @return {@code name}
     * @throws IllegalArgumentException if the name breaks a rule, saying which
     */
    public static String checkRegionName(String name) {
        if (name == null) {
            throw new NullPointerException("name");
        }
        if (name.isEmpty() || name.length() > MAX_REGION_NAME_LENGTH) {
            throw new IllegalArgumentException("name='" + printable(name) + "' length=" + name.length()
                    + " (expected: 1.." + MAX_REGION_NAME_LENGTH + ")");
        }
        if (name.charAt(0) == '.') {
            throw new IllegalArgumentException("name='" + printable(name) + "' (expected: not starting with '.')");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
                    || c == '.' || c == '_' || c == '-';
            if (!ok) {
                throw new IllegalArgumentException("name='" + printable(name) + "' has character U+"
                        + String.format("%04X", (int) c) + " at index " + i + " (expected: [A-Za-z0-9._-])");
            }
        }
        return name;
    }

    /**
     * Checks a heap block name: not empty, no ISO control characters, UTF-8 encoding at most {@code maxBytes}.
     *
     * @param heap the heap, named by its {@code toString()} in a message (only built when the name is refused)
     * @return the UTF-8 bytes of {@code name}
     * @throws IllegalArgumentException if the name breaks a rule, saying which
     */
    public static byte[] checkBlockName(String name, int maxBytes, Object heap) {
        if (name == null) {
            throw new NullPointerException("name");
        }
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        if (utf8.length == 0 || utf8.length > maxBytes) {
            throw new IllegalArgumentException(heap + ": block name UTF-8 length=" + utf8.length + " (expected: 1.."
                    + maxBytes + ")");
        }
        if (!new String(utf8, StandardCharsets.UTF_8).equals(name)) {
            throw new IllegalArgumentException(heap + ": block name='" + printable(name) + "' has a lone surrogate");
        }
        for (int i = 0; i < name.length(); i++) {
            if (Character.isISOControl(name.charAt(i))) {
                throw new IllegalArgumentException(heap + ": block name='" + printable(name)
                        + "' has a control character at index " + i);
            }
        }
        return utf8;
    }

    private static String printable(String s) {
        StringBuilder b = new StringBuilder();
        s.codePoints().forEach(cp -> {
            if (Character.isISOControl(cp)) {
                b.append(String.format("\\u%04X", cp));
            } else {
                b.appendCodePoint(cp);
            }
        });
        return b.toString();
    }
}
