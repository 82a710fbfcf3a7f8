"""Holds N half-sent HTTP requests open against a server (a slowloris), for the bench.

Usage: hold_half_sent.py PORT COUNT READY_FILE

Opens COUNT connections to 127.0.0.1:PORT, sends `GET / HTTP/1.1\\r\\nHost: x\\r\\n` on each and
nothing more, writes how many are open to READY_FILE, then holds them until killed (SIGTERM).
"""

import resource
import signal
import socket
import sys
import time

port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < hard:
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
held = []
for _ in range(count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    except OSError:
        break
with open(ready, "w") as f:
    f.write(str(len(held)))
while True:
    time.sleep(1)
