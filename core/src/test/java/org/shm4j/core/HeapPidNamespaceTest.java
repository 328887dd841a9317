package org.shm4j.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledOnOs;
import org.junit.jupiter.api.condition.OS;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.shm4j.core.internal.HeapLayout;
import org.shm4j.core.internal.ProcessIdentity;
import org.shm4j.testing.HeapHeaders;
import org.shm4j.testing.ShmNames;
import org.shm4j.testing.Unshare;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assumptions.assumeThat;

/**
 * A heap records its creator's pid namespace, and a process of another namespace (a container sharing the heap's
 * file but not its processes) is refused: the pids in owner tokens would not name its processes, so it would take
 * live owners for dead.
 */
@EnabledOnOs(OS.LINUX)
class HeapPidNamespaceTest {
    private static final long WAIT_SECONDS = 60;

    @RegisterExtension
    final ShmNames names = new ShmNames();

    @Test
    void shouldRecordTheCreatorsPidNamespace() throws IOException {
        String link = Files.readSymbolicLink(Path.of("/proc/self/ns/pid")).toString();
        long mine = Long.parseLong(link.substring(link.indexOf('[') + 1, link.indexOf(']')));
        assertThat(ProcessIdentity.currentPidNamespace()).isEqualTo(mine);
        String name = names.unique("ns-record");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedMemory raw = SharedMemory.open(name)) {
            assertThat(raw.segment().get(JAVA_LONG, HeapLayout.CREATOR_PID_NAMESPACE_OFFSET)).isEqualTo(mine);
        }
    }

    @Test
    void shouldRefuseToAttachToOrRemoveAHeapOfAnotherPidNamespace() {
        String name = names.unique("ns-other");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16); SharedMemory raw = SharedMemory.open(name)) {
            long other = ProcessIdentity.currentPidNamespace() + 1;
            HeapHeaders.setCreatorPidNamespace(raw.segment(), other);
            assertThatThrownBy(() -> SharedHeap.open(name)).isInstanceOf(ShmException.class)
                    .hasMessageContaining("heap").hasMessageContaining(name)
                    .hasMessageContaining("pid namespace " + other)
                    .hasMessageContaining(Long.toString(ProcessIdentity.currentPidNamespace()));
            assertThatThrownBy(() -> SharedHeap.unlinkIfStale(name)).isInstanceOf(ShmException.class)
                    .hasMessageContaining("pid namespace");
            try (SharedHeap inspected = SharedHeap.openReadOnly(name)) {
                assertThat(inspected.attachedProcesses()).hasSize(1); // the tool may still look
            }
            HeapHeaders.setCreatorPidNamespace(raw.segment(), 0); // a creator that could not tell: not refused
            try (SharedHeap again = SharedHeap.open(name)) {
                assertThat(again.attachedProcesses()).singleElement().extracting(HeapProcess::attachments)
                        .isEqualTo(2L);
            }
        }
    }

    @Test
    void shouldRefuseAProcessInItsOwnPidNamespace() throws IOException, InterruptedException {
        assumeThat(Unshare.works("--pid", "--fork", "--mount-proc")).as("unshare --pid (root) is available").isTrue();
        String name = names.unique("ns-child");
        try (SharedHeap heap = SharedHeap.create(name, 1 << 16)) {
            Process child = Unshare.java(List.of("--pid", "--fork", "--mount-proc"), OpenChild.class, name);
            assertThat(child.waitFor(WAIT_SECONDS, TimeUnit.SECONDS)).isTrue();
            String output = new String(child.getInputStream().readAllBytes());
            assertThat(output).as("the child's own words").contains("refused: heap")
                    .contains("pid namespace " + ProcessIdentity.currentPidNamespace());
        }
    }

    /** Opens the heap named by its argument from its own pid namespace and prints what happened. */
    public static final class OpenChild {
        public static void main(String[] args) {
            try (SharedHeap heap = SharedHeap.open(args[0])) {
                System.out.println("attached: " + heap);
            } catch (ShmException e) {
                System.out.println("refused: " + e.getMessage());
            }
        }
    }
}
