#!/usr/bin/env python3
"""The seed comparison: shm4j's workloads run with Python's multiprocessing (standard library only).

Writes bench/results/python-<time>.json, which ResultsReport puts beside shm4j's figures in the README:
  value_locked_increment     Value('q') += 1 under its own lock, 1 process            ops/µs
  value_locked_increment_2   the same from 2 processes at once (total)                 ops/µs
  value_unlocked_increment   Value('q', lock=False) += 1, 1 process (not atomic)       ops/µs
  array_set                  Array('q', lock=False)[i] = x, 1 process                  ops/µs
  queue_transfer             Queue of ints, 1 producer process -> 1 consumer process   ops/µs
  pipe_round_trip            Pipe ping-pong of an int between 2 processes, median      µs
  manager_dict_get           Manager().dict() d[k], 100,000 random int keys, 64-byte values, from a second
                             process (not the one that filled it)                      ops/µs
  manager_dict_put           the same, d[k] = v (every put overwrites)                 ops/µs
  manager_list_get           Manager().list() of 1,024 ints, l[i] at random, from a second process   ops/µs
  manager_list_append        the same, l.append(x) then l.pop() (the list keeps its size)            ops/µs
  shareable_list_get         ShareableList of 1,024 ints, l[i] at random, 1 process    ops/µs
  shareable_list_set         the same, l[i] = x                                        ops/µs
  semaphore                  Semaphore(1) acquire + release, 1 process                 ops/µs
  condition_handoff          Condition notify/wait hand-offs between 2 processes (total)             ops/µs
Run from the project root: python3 bench/python/mp_bench.py [--quick]
"""
import json
import multiprocessing as mp
import os
import platform
import random
import statistics
import sys
import time


def rate(operations, seconds):
    return operations / (seconds * 1e6)


def two_processes(target, args_of):
    """Runs target(*args_of(i)) in processes i = 0 and 1 at once; returns the seconds until both ended."""
    workers = [mp.Process(target=target, args=args_of(i)) for i in (0, 1)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=600)
    return time.perf_counter() - start


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
    elapsed = two_processes(locked_increments, lambda _: (value, n // 2))
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


MAP_KEYS = 100_000
MAP_VALUE = bytes(64)
LIST_SIZE = 1024


def in_second_process(target, *args):
    """Runs target(*args) in a child process and returns what it returns (a rate it measured itself)."""
    ours, theirs = mp.Pipe()
    child = mp.Process(target=send_result, args=(theirs, target, args))
    child.start()
    if not ours.poll(600):
        child.kill()
        raise RuntimeError(f"{target.__name__}: no result from the second process")
    result = ours.recv()
    child.join(timeout=60)
    return result


def send_result(end, target, args):
    end.send(target(*args))


def random_indices(size, n):
    rng = random.Random(7)
    return [rng.randrange(size) for _ in range(n)]


def map_keys():
    rng = random.Random(11)
    return [rng.getrandbits(64) - (1 << 63) for _ in range(MAP_KEYS)]


def dict_gets(shared, keys, n):
    picks = [keys[i] for i in random_indices(len(keys), n)]
    start = time.perf_counter()
    for key in picks:
        shared[key]
    return rate(n, time.perf_counter() - start)


def dict_puts(shared, keys, n):
    picks = [keys[i] for i in random_indices(len(keys), n)]
    start = time.perf_counter()
    for key in picks:
        shared[key] = MAP_VALUE
    return rate(n, time.perf_counter() - start)


def manager_dict(operation, n):
    keys = map_keys()
    with mp.Manager() as manager:
        shared = manager.dict()
        shared.update(dict.fromkeys(keys, MAP_VALUE))
        return in_second_process(operation, shared, keys, n)


def manager_dict_get(n):
    return manager_dict(dict_gets, n)


def manager_dict_put(n):
    return manager_dict(dict_puts, n)


def list_gets(shared, n):
    picks = random_indices(LIST_SIZE, n)
    start = time.perf_counter()
    for i in picks:
        shared[i]
    return rate(n, time.perf_counter() - start)


def list_appends(shared, n):
    start = time.perf_counter()
    for i in range(n):
        shared.append(i)
        shared.pop()
    return rate(n, time.perf_counter() - start)


def manager_list(operation, n):
    with mp.Manager() as manager:
        return in_second_process(operation, manager.list(range(LIST_SIZE)), n)


def manager_list_get(n):
    return manager_list(list_gets, n)


def manager_list_append(n):
    return manager_list(list_appends, n)


def shareable_list(n, write):
    from multiprocessing import shared_memory
    shared = shared_memory.ShareableList(list(range(LIST_SIZE)))
    try:
        picks = random_indices(LIST_SIZE, n)
        start = time.perf_counter()
        if write:
            for i in picks:
                shared[i] = i
        else:
            for i in picks:
                shared[i]
        return rate(n, time.perf_counter() - start)
    finally:
        shared.shm.close()
        shared.shm.unlink()


def shareable_list_get(n):
    return shareable_list(n, False)


def shareable_list_set(n):
    return shareable_list(n, True)


def semaphore(n):
    sem = mp.Semaphore(1)
    start = time.perf_counter()
    for _ in range(n):
        sem.acquire()
        sem.release()
    return rate(n, time.perf_counter() - start)


def pass_turns(condition, turn, me, n):
    """Waits for its turn (even or odd), passes it on and notifies the other process, n times."""
    for _ in range(n):
        with condition:
            while turn.value & 1 != me:
                if not condition.wait(timeout=60):
                    raise RuntimeError("no hand-off within 60 s")
            turn.value += 1
            condition.notify()


def condition_handoff(n):
    condition = mp.Condition()
    turn = mp.Value('q', 0, lock=False)  # guarded by the condition's lock
    elapsed = two_processes(pass_turns, lambda me: (condition, turn, me, n // 2))
    assert turn.value == 2 * (n // 2), f"lost hand-offs: {turn.value}"
    return rate(2 * (n // 2), elapsed)


WORKLOADS = [
    ("value_locked_increment", "Value += 1 under its lock, 1 process", "ops/µs", value_locked_increment, 1_000_000),
    ("value_locked_increment_2", "Value += 1 under its lock, 2 processes", "ops/µs", value_locked_increment_2,
     1_000_000),
    ("value_unlocked_increment", "Value(lock=False) += 1, 1 process (not atomic)", "ops/µs",
     value_unlocked_increment, 1_000_000),
    ("array_set", "Array(lock=False)[i] = x, 1 process", "ops/µs", array_set, 1_000_000),
    ("queue_transfer", "Queue of ints, producer process to consumer process", "ops/µs", queue_transfer, 200_000),
    ("pipe_round_trip", "Pipe ping-pong between 2 processes, p50 round trip", "µs", pipe_round_trip, 20_000),
    ("manager_dict_get", "Manager().dict() get, 100,000 keys, from a second process", "ops/µs", manager_dict_get,
     20_000),
    ("manager_dict_put", "Manager().dict() put, 100,000 keys, from a second process", "ops/µs", manager_dict_put,
     20_000),
    ("manager_list_get", "Manager().list() get, 1,024 ints, from a second process", "ops/µs", manager_list_get,
     20_000),
    ("manager_list_append", "Manager().list() append + pop, from a second process", "ops/µs", manager_list_append,
     10_000),
    ("shareable_list_get", "ShareableList get, 1,024 ints, 1 process", "ops/µs", shareable_list_get, 200_000),
    ("shareable_list_set", "ShareableList set, 1,024 ints, 1 process", "ops/µs", shareable_list_set, 200_000),
    ("semaphore", "Semaphore acquire + release, 1 process", "ops/µs", semaphore, 1_000_000),
    ("condition_handoff", "Condition notify/wait hand-offs between 2 processes", "ops/µs", condition_handoff,
     20_000),
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
        print(f"{label:60s} {value:12.4f} {unit}", flush=True)
    os.makedirs(os.path.join("bench", "results"), exist_ok=True)
    path = os.path.join("bench", "results", time.strftime("python-%Y%m%d-%H%M%S.json"))
    with open(path, "w") as out:
        json.dump({"python": platform.python_version(), "machine": machine(), "workloads": results}, out, indent=2)
        out.write("\n")
    print(f"Results: {path}")


if __name__ == "__main__":
    main()
