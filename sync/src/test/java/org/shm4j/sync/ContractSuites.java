package org.shm4j.sync;

import junit.framework.AssertionFailedError;
import junit.framework.TestCase;
import junit.framework.TestResult;
import junit.framework.TestSuite;
import org.junit.jupiter.api.DynamicContainer;
import org.junit.jupiter.api.DynamicNode;
import org.junit.jupiter.api.DynamicTest;

import java.lang.reflect.Method;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

/**
 * Runs a JUnit 3 suite, as Guava's testlib builds them (the JDK collection contracts, method by method), as JUnit
 * Jupiter dynamic tests, so that it runs beside the others without a JUnit 4 engine.
 */
public final class ContractSuites {
    private ContractSuites() {
    }

    /** @return {@code test} as a tree of dynamic tests: a suite as a container, a test case as a test */
    public static DynamicNode dynamic(junit.framework.Test test) {
        if (test instanceof TestSuite suite) {
            return DynamicContainer.dynamicContainer(suite.getName(),
                    Collections.list(suite.tests()).stream().map(ContractSuites::dynamic));
        }
        String name = test instanceof TestCase testCase ? testCase.getName() : test.toString();
        return DynamicTest.dynamicTest(name, () -> run(test));
    }

    /**
     * @return the test methods of {@code tester}, to suppress in a suite: for a contract shm4j departs from on
     *         purpose, as its Javadoc says
     */
    public static List<Method> testsOf(Class<?> tester) {
        return Stream.of(tester.getDeclaredMethods()).filter(m -> m.getName().startsWith("test")).toList();
    }

    private static void run(junit.framework.Test test) throws Throwable {
        TestResult result = new TestResult();
        test.run(result);
        if (result.errorCount() > 0) {
            throw result.errors().nextElement().thrownException();
        }
        if (result.failureCount() > 0) {
            Throwable failure = result.failures().nextElement().thrownException();
            throw failure instanceof AssertionFailedError ? new AssertionError(failure.getMessage(), failure) : failure;
        }
    }
}
