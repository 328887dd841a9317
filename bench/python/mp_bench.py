#!/usr/bin/env python3
"""The seed comparison: shm4j's workloads run with Python's multiprocessing (standard library only).

Writes bench/results/python-<time>.json, which ResultsReport puts beside shm4j's figures in the README:
  value_locked_increment     Value('q') += 1 under its own lock, 1 process            ops/µs
  value_locked_increment_2   the same from 2 processes at once (total)                 ops/µs
  value_unlocked_increment   Value('q', lock=False) += 1, 1 process (not atomic)       ops/µs
  array_set                  Array('q', lock=False)[i] = x, 1 process                  ops/µs
  queue_transfer             Queue of ints, 1 producer process -> 1 consumer process   ops/µs
  pipe_round_trip            Pipe ping-pong of an int between 2 processes, median      µs
  manager_dict               Manager().dict() set + get, 1 process                     ops/µs
Run from the project root: python3 bench/python/mp_bench.py [--quick]
"""
import json
import multiprocessing as mp
import os
import platform
import statistics
import sys
import time


def rate(operations, seconds):
    return operations / (seconds * 1e6)


def locked_increments(value, n):
    for _ in range(n):
        with value.get_lock():
            value.value += 1


def value_locked_increment(n):
    value = mp.Value('q', 0)
    start = time.perf_counter()
    locked_increments(value, n)
    return rate(n, time.perf_counter() - start)


def value_locked_increment_2(n):
    value = mp.Value('q', 0)
    workers = [mp.Process(target=locked_increments, args=(value, n // 2)) for _ in range(2)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    elapsed = time.perf_counter() - start
    assert value.value == 2 * (n // 2), f"lost updates: {value.value}"
    return rate(2 * (n // 2), elapsed)


def value_unlocked_increment(n):
    value = mp.Value('q', 0, lock=False)
    start = time.perf_counter()
    for _ in range(n):
        value.value += 1
    return rate(n, time.perf_counter() - start)


def array_set(n):
    array = mp.Array('q', 1024, lock=False)
    start = time.perf_counter()
    for i in range(n):
        array[i & 1023] = i
    return rate(n, time.perf_counter() - start)


def produce(queue, n):
    for i in range(n):
        queue.put(i)


def queue_transfer(n):
    queue = mp.Queue()
    producer = mp.Process(target=produce, args=(queue, n))
    start = time.perf_counter()
    producer.start()
    for i in range(n):
        got = queue.get(timeout=60)
        assert got == i, f"expected {i}, got {got}"
    elapsed = time.perf_counter() - start
    producer.join(timeout=60)
    return rate(n, elapsed)


def echo(end):
    while True:
        message = end.recv()
        if message is None:
            return
        end.send(message)


def pipe_round_trip(n):
    ours, theirs = mp.Pipe()
    child = mp.Process(target=echo, args=(theirs,))
    child.start()
    trips = []
    for i in range(n):
        start = time.perf_counter_ns()
        ours.send(i)
        if not ours.poll(60) or ours.recv() != i:
            raise RuntimeError("no echo")
        trips.append(time.perf_counter_ns() - start)
    ours.send(None)
    child.join(timeout=60)
    return statistics.median(trips[n // 10:]) / 1000.0


def manager_dict(n):
    with mp.Manager() as manager:
        shared = manager.dict()
        start = time.perf_counter()
        for i in range(n):
            shared[i & 1023] = i
            shared[i & 1023]
        return rate(2 * n, time.perf_counter() - start)


WORKLOADS = [
    ("value_locked_increment", "Value += 1 under its lock, 1 process", "ops/µs", value_locked_increment, 1_000_000),
    ("value_locked_increment_2", "Value += 1 under its lock, 2 processes", "ops/µs", value_locked_increment_2,
     1_000_000),
    ("value_unlocked_increment", "Value(lock=False) += 1, 1 process (not atomic)", "ops/µs",
     value_unlocked_increment, 1_000_000),
    ("array_set", "Array(lock=False)[i] = x, 1 process", "ops/µs", array_set, 1_000_000),
    ("queue_transfer", "Queue of ints, producer process to consumer process", "ops/µs", queue_transfer, 200_000),
    ("pipe_round_trip", "Pipe ping-pong between 2 processes, p50 round trip", "µs", pipe_round_trip, 20_000),
    ("manager_dict", "Manager().dict() set + get, 1 process", "ops/µs", manager_dict, 20_000),
]


def machine():
    model = "unknown CPU"
    vm = False
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name") and model == "unknown CPU":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and " hypervisor" in line:
                    vm = True
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {'a VM (hypervisor flag)' if vm else 'bare metal'}"


def main():
    quick = "--quick" in sys.argv
    results = []
    for name, label, unit, workload, n in WORKLOADS:
        value = workload(n // 10 if quick else n)
        results.append({"name": name, "label": label, "unit": unit, "value": value})
        print(f"{label:55s} {value:12.4f} {unit}", flush=True)
    os.makedirs(os.path.join("bench", "results"), exist_ok=True)
    path = os.path.join("bench", "results", time.strftime("python-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as out:
        json.dump({"python": platform.python_version(), "machine": machine(), "workloads": results}, out, indent=2)
        out.write("\n")
    print(f"Results: {path}")


if __name__ == "__main__":
    main()
