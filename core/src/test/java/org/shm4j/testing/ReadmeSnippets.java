package org.shm4j.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Keeps the README's code examples honest: each example in a test class sits between {@code // README:begin} and
 * {@code // README:end} (indented 8 spaces, inside a test method) and must appear verbatim in the README.
 */
public final class ReadmeSnippets {
    private ReadmeSnippets() {
    }

    /** Checks that the README at the project root shows each of the {@code expected} examples of {@code testSource}. */
    public static void assertShownVerbatim(Path testSource, int expected) throws IOException {
        String readme = Files.readString(Path.of("..", "README.md"));
        String source = Files.readString(testSource);
        List<String> examples = new ArrayList<>();
        Matcher m = Pattern.compile("// README:begin\n(.*?)        // README:end", Pattern.DOTALL).matcher(source);
        while (m.find()) {
            examples.add(m.group(1).replaceAll("(?m)^ {8}", ""));
        }
        assertThat(examples).hasSize(expected);
        for (String example : examples) {
            assertThat(readme).contains(example);
        }
    }
}
