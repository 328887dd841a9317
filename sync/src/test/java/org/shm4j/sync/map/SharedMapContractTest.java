package org.shm4j.sync.map;

import com.google.common.collect.testing.ConcurrentMapTestSuiteBuilder;
import com.google.common.collect.testing.TestStringMapGenerator;
import com.google.common.collect.testing.features.CollectionFeature;
import com.google.common.collect.testing.features.CollectionSize;
import com.google.common.collect.testing.features.MapFeature;
import com.google.common.collect.testing.testers.MapToStringTester;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.TestFactory;
import org.shm4j.core.SharedHeap;
import org.shm4j.sync.Codec;
import org.shm4j.sync.ContractSuites;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@link SharedMap} against the {@code Map} and {@code ConcurrentMap} contracts, method by method, views and
 * iterators included: Guava testlib's suite, the one its authors run on {@code ConcurrentHashMap}, with the same
 * features (general purpose, iterators that remove, no nulls); but for {@code toString}, which names the map
 * instead of listing its entries (see {@link SharedMap#toString()}).
 */
class SharedMapContractTest {
    /** One heap per map the suite makes (a heap's catalog holds 64 blocks), closed at the end. */
    private static final List<SharedHeap> HEAPS = new ArrayList<>();

    @AfterAll
    static void closeHeaps() {
        HEAPS.forEach(SharedHeap::close);
    }

    @TestFactory
    DynamicNode concurrentMapContract() {
        return ContractSuites.dynamic(ConcurrentMapTestSuiteBuilder.using(new TestStringMapGenerator() {
                    @Override
                    protected Map<String, String> create(Map.Entry<String, String>[] entries) {
                        SharedHeap heap = SharedHeap.anonymous(64 << 10);
                        HEAPS.add(heap);
                        SharedMap<String, String> map = SharedMap.create(heap, "contract", Codec.utf8(), Codec.utf8(),
                                new MapSizing(16, 8, 8));
                        for (Map.Entry<String, String> e : entries) {
                            map.put(e.getKey(), e.getValue());
                        }
                        return map;
                    }
                })
                .named("SharedMap")
                .withFeatures(MapFeature.GENERAL_PURPOSE, CollectionFeature.SUPPORTS_ITERATOR_REMOVE,
                        CollectionSize.ANY)
                .suppressing(ContractSuites.testsOf(MapToStringTester.class))
                .createTestSuite());
    }
}
