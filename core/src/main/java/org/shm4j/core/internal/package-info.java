/**
 * Implementation of the core module: heap header and catalog layouts, mapping of files, name rules, process
 * identity (pid and start time) and the owner lock of heap allocation. Exported only to {@code org.shm4j.sync}.
 */
package org.shm4j.core.internal;
