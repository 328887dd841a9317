package org.shm4j.sync.list;

import com.google.common.collect.testing.ListTestSuiteBuilder;
import com.google.common.collect.testing.TestStringListGenerator;
import com.google.common.collect.testing.features.CollectionFeature;
import com.google.common.collect.testing.features.CollectionSize;
import com.google.common.collect.testing.features.ListFeature;
import com.google.common.collect.testing.testers.CollectionToStringTester;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import org.shm4j.core.SharedMemory;
import org.shm4j.sync.ContractSuites;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * {@link ShareableList} against the {@code List} contract of a fixed-size list whose items may be set (as
 * {@code Arrays.asList}'s, and Python's {@code ShareableList}): Guava testlib's suite, method by method, views and
 * iterators included, with {@code null} items (Python's {@code None}); but for {@code toString}, which names the
 * region before the items (see {@link ShareableList#toString()}).
 */
class ShareableListContractTest {
    /** The regions of the lists the suite makes, closed at the end. */
    private static final List<SharedMemory> REGIONS = new ArrayList<>();

    @AfterAll
    static void closeRegions() {
        REGIONS.forEach(SharedMemory::close);
    }

    @TestFactory
    DynamicNode listContract() {
        return ContractSuites.dynamic(ListTestSuiteBuilder.using(new TestStringListGenerator() {
                    @Override
                    protected List<String> create(String[] elements) {
                        List<String> items = Arrays.asList(elements);
                        SharedMemory region = SharedMemory.anonymous(Math.max(64, ShareableList.byteSize(items)));
                        REGIONS.add(region);
                        @SuppressWarnings("unchecked") // its items are these strings, or null
                        List<String> list = (List<String>) (List<?>) ShareableList.create(region, items);
                        return list;
                    }
                })
                .named("ShareableList")
                .withFeatures(ListFeature.SUPPORTS_SET, CollectionFeature.ALLOWS_NULL_VALUES, CollectionSize.ANY)
                .suppressing(ContractSuites.testsOf(CollectionToStringTester.class))
                .createTestSuite());
    }
}
