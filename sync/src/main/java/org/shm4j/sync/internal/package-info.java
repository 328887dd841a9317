/**
 * Implementation of the sync module: layout constants ({@code SyncLayout}), the robust futex mutex, futex calls and
 * their fallback, waiting and stall rules. Not exported: nothing here is API.
 */
package org.shm4j.sync.internal;
