package org.shm4j.sync;

/**
 * Two versions of one record, as two programs sharing a map or a queue may have: the same shape, so the same
 * fingerprint, but the second's compact constructor refuses a value the first wrote (a negative quantity).
 */
public final class RecordVersions {
    private RecordVersions() {
    }

    /** The version that takes any quantity. */
    public record Lenient(int quantity) {
    }

    /** The version that refuses a negative quantity. */
    public record Strict(int quantity) {
        public Strict {
            if (quantity < 0) {
                throw new IllegalArgumentException("quantity=" + quantity + " (expected: >= 0)");
            }
        }
    }
}
