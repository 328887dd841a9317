package org.shm4j.sync;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** The built-in codecs of {@link Codec} as a caller sees them. */
class CodecTest {
    /** A built-in codec prints as the call that made it, as its messages name it, not as {@code Codec$1@1b2c3d}. */
    @Test
    void shouldNameEachBuiltInCodecAsTheCallThatMadeIt() {
        assertThat(Codec.longs()).hasToString("Codec.longs()");
        assertThat(Codec.utf8()).hasToString("Codec.utf8()");
        assertThat(Codec.bytes()).hasToString("Codec.bytes()");
    }
}
