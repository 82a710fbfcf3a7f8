#!/usr/bin/env python3
"""The RQ + Redis anchor of the jobs table in `make bench`.

Starts its own redis-server on a free loopback port (append-only file, fsync every second:
durable within a second, like the appliance's WAL with synchronous=NORMAL), then
1. throughput: enqueues COUNT no-op jobs and drains them with one SimpleWorker in burst mode;
2. latency: with a worker process running, enqueues LATENCY_COUNT jobs at a steady pace and
   reads each job's enqueued_at -> started_at.
Prints one line: RQ_RESULT <jobs/s end to end> <enqueue/s> <p50 ms> <p99 ms> <count>.
"""
import os
import socket
import subprocess
import sys
import tempfile
import time

from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rq_noop  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = min(len(values) - 1, max(0, int(round(p / 100 * (len(values) - 1)))))
    return values[k]


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    latency_count = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    folder = tempfile.mkdtemp(prefix="rq-bench-")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
         "--appendfsync", "everysec", "--dir", folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker_process = None
    try:
        redis = Redis(host="127.0.0.1", port=port)
        for _ in range(100):
            try:
                if redis.ping():
                    break
            except Exception:
                time.sleep(0.05)
        queue = Queue("bench", connection=redis)

        start = time.perf_counter()
        for index in range(count):
            queue.enqueue(rq_noop.noop, index)
        enqueued = time.perf_counter()
        SimpleWorker([queue], connection=redis).work(burst=True, logging_level="WARNING")
        done = time.perf_counter()
        end_to_end = count / (done - start)
        enqueue_rate = count / (enqueued - start)

        latency_queue = Queue("latency", connection=redis)
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))
        worker_process = subprocess.Popen(
            [sys.executable, "-c",
             "import sys; from redis import Redis; from rq import Queue, SimpleWorker; "
             f"r = Redis(host='127.0.0.1', port={port}); "
             "SimpleWorker([Queue('latency', connection=r)], connection=r).work(logging_level='WARNING')"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        ids = []
        for index in range(latency_count):
            ids.append(latency_queue.enqueue(rq_noop.noop, index).id)
            time.sleep(0.004)
        deadline = time.time() + 60
        latencies = []
        while time.time() < deadline:
            jobs = [job for job in Job.fetch_many(ids, connection=redis) if job is not None]
            started = [job for job in jobs if job.started_at is not None]
            if len(started) == len(ids):
                latencies = [(job.started_at - job.enqueued_at).total_seconds() * 1000 for job in started]
                break
            time.sleep(0.2)
        p50 = percentile(latencies, 50)
        p99 = percentile(latencies, 99)
        print(f"RQ_RESULT {end_to_end:.1f} {enqueue_rate:.1f} {p50:.3f} {p99:.3f} {count}", flush=True)
    finally:
        if worker_process is not None:
            worker_process.terminate()
            worker_process.wait(timeout=10)
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
