"""The replica tier on the real binary, as an operator uses it (issue 7).

Usage: replica_check.py ATS_BIN [WORK_DIR]

Every server is the real `ats serve`, every restore the real `ats restore`, over real sockets
and a real folder target. When run as root, servers and commands run as `nobody` (setpriv), so
that `chmod 000` really makes the target unwritable (root ignores permissions).

1. Replication on: rounds of random API writes (creates, updates, deletes of candidates,
   clients, jobs, applications, notes) plus a schema change made by another process (a
   `CREATE TABLE`, an `ALTER TABLE ... ADD COLUMN`, an index: what a newer binary's migration
   does), each round ended by a graceful stop (the server ships everything before it exits)
   and a dump of the primary. Then `ats restore` of the latest state and of each recorded
   instant (`--at`, then `--generation/--txn` of the txn it reported) must dump exactly like
   the primary did at that instant: `sqlite3 .dump` of both, compared whole; nothing is
   ignored (the restore is page-exact, so even the FTS shadow tables and the job queue match).
   `--dry-run` prints a plan and creates nothing; `ats replicas list` shows the chain.
2. A flipped byte in a copy of the target (a segment, then a snapshot): `ats restore` fails
   naming the object and leaves no database behind; on the live target, `ats verify` fails
   naming it and `ats_replica_verify_ok` drops to 0, then both recover once the byte is back.
3. An unwritable target (`chmod 000`): API writes still answer 2xx without slowing down,
   `/readyz` reports the lag, errors are counted; once writable again the replica catches up
   and a restore dumps like the primary.
4. `kill -9` during a stream of acknowledged writes: the target as the kill left it restores
   every write acknowledged more than the sync interval before the kill (the figure is
   printed); after a restart every acknowledged write is there.
5. A warm standby (`serve --standby`): follows the primary, answers writes with 503
   problem+json, and after `ats promote` (primary killed) takes writes and replicates them.
6. Replication off: the checkpointer keeps the WAL small (every connection has
   wal_autocheckpoint=0); `ats snapshot` refuses beside a server without replication and works
   one-shot with `--replica DIR` when no server runs.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
Environment: KEEP_TMP=1 keeps the work folder; REPLICA_WRITES (per round, default 700).
"""

import glob
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checks  # noqa: E402
from checks import Client, free_port, report  # noqa: E402

ATS = os.path.abspath(sys.argv[1])
AS_NOBODY = os.geteuid() == 0
PREFIX = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"] if AS_NOBODY else []
WRITES = int(os.environ.get("REPLICA_WRITES", "700"))
SYNC_SECONDS = 1.0
rng = random.Random(7)

if AS_NOBODY:
    # The work folder must be reachable by nobody: its own folder under /tmp, not inside a 0700 one.
    WORK = tempfile.mkdtemp(prefix="ats-replica.", dir="/tmp")
    os.chown(WORK, 65534, 65534)
    os.chmod(WORK, 0o755)
elif len(sys.argv) > 2:
    WORK = os.path.join(os.path.abspath(sys.argv[2]), "replica")
    os.makedirs(WORK, exist_ok=True)
else:
    WORK = tempfile.mkdtemp(prefix="ats-replica.")
procs = []


def path(*parts):
    return os.path.join(WORK, *parts)


def mkdir(p):
    os.makedirs(p, exist_ok=True)
    if AS_NOBODY:
        os.chown(p, 65534, 65534)
    return p


def env_for(data, **extra):
    env = dict(os.environ, ATS_DATA=data, ATS_LOG_FORMAT="json", ATS_RATE_LIMIT_RPS="0", ATS_TRACE_SAMPLE="0",
               ATS_REPLICA_SYNC_SECONDS=str(SYNC_SECONDS), HOME=WORK)
    for key in [k for k in env if k.startswith("ATS_REPLICA_DIR") or k == "ATS_STANDBY_FROM" or k == "ATS_CONFIG"]:
        del env[key]
    env.update({k: str(v) for k, v in extra.items()})
    return env


def ats(*args, data, timeout=300, **extra):
    """Runs an `ats` command (as nobody when root); returns (status, stdout + stderr)."""
    try:
        done = subprocess.run(PREFIX + [ATS, *args], env=env_for(data, **extra), capture_output=True, text=True,
                              timeout=timeout)
        return done.returncode, done.stdout + done.stderr
    except subprocess.TimeoutExpired as err:
        return 124, f"timed out after {timeout} s: {err.stdout or ''}{err.stderr or ''}"


class Server:
    def __init__(self, name, data, *args, **extra):
        self.name = name
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = path(f"{name}.log")
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            PREFIX + [ATS, "serve", "--host", "127.0.0.1", "--port", str(self.port), *args],
            env=env_for(data, **extra), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        procs.append(self.proc)

    def wait_up(self, seconds=90, path_="/healthz"):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                if Client(self.base).call("GET", path_).status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def stop(self, timeout=60):
        """SIGTERM and wait: the exit status (124 when it had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return 124

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log_tail(self, n=3000):
        try:
            return open(self.log_path).read()[-n:]
        except OSError:
            return ""

    def metrics(self):
        text = Client(self.base).call("GET", "/metrics").raw.decode("utf-8", "replace")
        values = {}
        for line in text.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)", line)
            if m and not m.group(2):
                try:
                    values[m.group(1)] = float(m.group(3))
                except ValueError:
                    pass
        return values, text


def wait_for(seconds, condition, interval=0.2):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if condition():
                return True
        except OSError:
            pass
        time.sleep(interval)
    return False


def dump(db):
    """`sqlite3 .dump` of a database (as nobody when root, so no root-owned -shm appears)."""
    if shutil.which("sqlite3"):
        # Read-only: a read-write connection closing last would checkpoint and delete the WAL,
        # which is the replicator's to do.
        done = subprocess.run(PREFIX + ["sqlite3", "-readonly", db, ".dump"], capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise RuntimeError(f"sqlite3 .dump {db}: {done.stderr}")
        return done.stdout
    code = "import sqlite3, sys\nfor line in sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).iterdump(): print(line)"
    python = "/usr/bin/python3" if AS_NOBODY else sys.executable
    done = subprocess.run(PREFIX + [python, "-c", code, db], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"iterdump {db}: {done.stderr}")
    return done.stdout


def sql(db, statements):
    """Another process writing beside the server, as a newer binary's migration would: with
    wal_autocheckpoint=0 like every connection of the appliance (a checkpoint is the server's)."""
    script = ".timeout 10000\nPRAGMA wal_autocheckpoint=0;\n" + statements
    done = subprocess.run(PREFIX + ["sqlite3", db], input=script, capture_output=True, text=True, timeout=60)
    return done.returncode, done.stdout + done.stderr


def query(db, statement):
    done = subprocess.run(PREFIX + ["sqlite3", "-readonly", db, statement], capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        raise RuntimeError(done.stderr)
    return done.stdout.split()


def diff_summary(a, b, limit=8):
    la, lb = a.splitlines(), b.splitlines()
    out = [f"{len(la)} lines vs {len(lb)} lines"]
    sa, sb = set(la), set(lb)
    only_a = [line for line in la if line not in sb][:limit]
    only_b = [line for line in lb if line not in sa][:limit]
    out += ["only in the primary: " + line[:200] for line in only_a]
    out += ["only in the restore: " + line[:200] for line in only_b]
    return "\n".join(out)


def blob_files(root):
    found = {}
    for file in glob.glob(os.path.join(root, "blobs", "*", "*", "*")):
        name = os.path.basename(file)
        if re.fullmatch(r"[0-9a-f]{64}(\.zst)?", name):
            with open(file, "rb") as f:
                found[name] = f.read()
    return found


# --- Random API writes ------------------------------------------------------------------------

class Writer:
    """Random creates, updates and deletes through the API, from a few threads."""

    def __init__(self, base, key, seed):
        self.client = Client(base, key)
        self.rng = random.Random(seed)
        self.lock = threading.Lock()
        self.candidates, self.clients, self.jobs = [], [], []
        self.errors = []
        self.count = 0
        self.slowest = 0.0

    def pick(self, items):
        with self.lock:
            return self.rng.choice(items) if items else None

    def one(self, n):
        r = self.rng.random()
        start = time.time()
        if r < 0.35 or not self.candidates:
            resp = self.client.call("POST", "/api/v1/candidates", {
                "firstName": self.rng.choice(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken"]),
                "lastName": f"Replica{n}", "email": f"r{n}.{self.rng.randrange(10**9)}@replica.example",
                "technicalSkills": self.rng.sample(["Python", "Go", "Swift", "SQL", "Rust", "Kubernetes"], 2)})
            if resp.status == 201:
                with self.lock:
                    self.candidates.append(resp.json["id"])
            expected = (201,)
        elif r < 0.55:
            cid = self.pick(self.candidates)
            resp = self.client.call("PATCH", f"/api/v1/candidates/{cid}",
                                    {"currentTitle": f"Engineer {self.rng.randrange(1000)}"})
            expected = (200, 404)
        elif r < 0.65:
            cid = self.pick(self.candidates)
            resp = self.client.call("DELETE", f"/api/v1/candidates/{cid}")
            if resp.status in (200, 204):
                with self.lock:
                    if cid in self.candidates:
                        self.candidates.remove(cid)
            expected = (200, 204, 404)
        elif r < 0.72 or not self.clients:
            resp = self.client.call("POST", "/api/v1/clients", {"name": f"Client {n} {self.rng.randrange(10**6)}"})
            if resp.status == 201:
                with self.lock:
                    self.clients.append(resp.json["id"])
            expected = (201,)
        elif r < 0.80 or not self.jobs:
            resp = self.client.call("POST", "/api/v1/jobs", {
                "clientId": self.pick(self.clients), "title": f"Role {n}", "status": "active",
                "pipelineStages": ["sourced", "screening", "interview", "offer", "hired"]})
            if resp.status == 201:
                with self.lock:
                    self.jobs.append(resp.json["id"])
            expected = (201,)
        elif r < 0.92:
            resp = self.client.call("POST", "/api/v1/applications",
                                    {"candidateId": self.pick(self.candidates), "jobId": self.pick(self.jobs)})
            expected = (201, 404, 409, 422)  # 422: the candidate was deleted meanwhile
        else:
            resp = self.client.call("PATCH", f"/api/v1/clients/{self.pick(self.clients)}",
                                    {"name": f"Client renamed {self.rng.randrange(10**6)}"})
            expected = (200, 404)
        elapsed = time.time() - start
        with self.lock:
            self.count += 1
            self.slowest = max(self.slowest, elapsed)
            if resp.status not in expected:
                self.errors.append(f"{resp.status} {resp.raw[:200]!r}")

    def run(self, total, threads=4):
        counter = iter(range(total))
        guard = threading.Lock()

        def work():
            while True:
                with guard:
                    n = next(counter, None)
                if n is None:
                    return
                try:
                    self.one(n)
                except OSError as err:
                    with self.lock:
                        self.errors.append(f"{type(err).__name__}: {err}")

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()


def restore(target, into, *options):
    status, out = ats("restore", "--from", target, "--to", into, *options, data=path("cli-data"))
    match = re.search(r"txn (\d+) of generation (\S+)", out)
    return status, out, (match.group(2), match.group(1)) if match else None


def latest_objects(target, kind):
    """Object keys of the newest generation: kind 'wal' (segments) or 'snapshots'."""
    generations = sorted(glob.glob(os.path.join(target, "generations", "*")))
    if not generations:
        return []
    files = sorted(glob.glob(os.path.join(generations[-1], kind, "*")))
    return [os.path.relpath(f, target) for f in files if not f.endswith(".tmp")]


def flip(file, offset=None):
    with open(file, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        offset = size - max(1, size // 3) if offset is None else offset
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x5A]))
    return offset


# --- The checks ---------------------------------------------------------------------------------

def prepare(data):
    mkdir(data)
    ats("migrate", data=data)
    ats("org", "create", "--slug", "acme", "--name", "Acme", data=data)
    status, out = ats("token", "create", "--org", "acme", "--role", "admin", "--name", "replica", data=data)
    return out.strip().splitlines()[-1] if status == 0 else None


def start_primary(data, target, name, **extra):
    server = Server(name, data, "--replica", target, ATS_REPLICA_MAX_LAG_SECONDS="3", **extra)
    return server, server.wait_up()


def check_replication(data, target, key):
    """Rounds of writes, graceful stops, dumps; restores of the latest state and of each instant."""
    db = os.path.join(data, "ats.sqlite")
    instants = []
    final_dump = None
    for round_ in (1, 2, 3):
        server, up = start_primary(data, target, f"primary-{round_}")
        if not up:
            report(False, f"round {round_}: ats serve --replica starts", server.log_tail())
            return None
        if round_ == 1:
            r = Client(server.base).call("GET", "/readyz")
            report(r.status == 200, "/readyz is ready with replication on", r)
            values, text = server.metrics()
            names = ["ats_replica_lag_seconds", "ats_replica_shipped_txn", "ats_replica_bytes_total",
                     "ats_replica_errors_total", "ats_replica_verify_ok", "ats_replica_last_snapshot_timestamp_seconds"]
            missing = [n for n in names if n not in text]
            report(not missing, "/metrics has the replica figures", f"missing: {missing}")
        writer = Writer(server.base, key, seed=round_)
        started = time.time()
        writer.run(WRITES)
        rate = writer.count / max(time.time() - started, 1e-9)
        report(not writer.errors, f"round {round_}: {writer.count} random API writes with replication on "
               f"({rate:.0f}/s, slowest {writer.slowest * 1000:.0f} ms)", "\n".join(writer.errors[:10]))
        if round_ == 2:
            status, out = sql(db, """
                CREATE TABLE replica_check_extra (id INTEGER PRIMARY KEY, label TEXT NOT NULL);
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)
                INSERT INTO replica_check_extra (label) SELECT 'row ' || i FROM n;
                CREATE INDEX replica_check_extra_label ON replica_check_extra(label);
                """)
            report(status == 0, "round 2: a schema change (CREATE TABLE, INSERT, CREATE INDEX) by another process", out)
        if round_ == 3:
            status, out = sql(db, """
                ALTER TABLE replica_check_extra ADD COLUMN weight REAL DEFAULT 1.5;
                UPDATE replica_check_extra SET weight = id * 0.25 WHERE id % 3 = 0;
                DELETE FROM replica_check_extra WHERE id % 7 = 0;
                DROP INDEX replica_check_extra_label;
                """)
            report(status == 0, "round 3: ALTER TABLE ADD COLUMN, UPDATE, DELETE, DROP INDEX by another process", out)
        # A moment without writes, then a graceful stop: the server ships its last transactions.
        status = server.stop()
        report(status == 0, f"round {round_}: SIGTERM stops the replicating server cleanly (status {status})",
               server.log_tail())
        instant = time.time()
        primary = dump(db)
        instants.append((instant, primary))
        final_dump = primary
        time.sleep(1.2)  # the next server's transactions are observed after this instant

    # Latest state.
    into = path("restore-latest")
    status, out, latest = restore(target, into)
    report(status == 0 and latest, "ats restore --from TARGET --to NEWDIR (latest)", out)
    if status == 0:
        restored = dump(os.path.join(into, "ats.sqlite"))
        report(restored == final_dump, f"the latest restore dumps exactly like the primary ({len(final_dump)} bytes of SQL)",
               diff_summary(final_dump, restored))
        report("integrity" in out.lower(), "the restore reports its integrity check", out)
        report(blob_files(into) == blob_files(data), "the restore brings the files (blobs) back with the database",
               f"{len(blob_files(into))} vs {len(blob_files(data))} files")
    # Dry run: a plan, nothing written.
    status, out = ats("restore", "--from", target, "--to", path("restore-dry"), "--dry-run", data=path("cli-data"))
    report(status == 0 and not os.path.exists(path("restore-dry", "ats.sqlite")) and "snapshot" in out.lower(),
           "ats restore --dry-run prints the plan and writes nothing", out)
    # Each recorded instant, by time and then by the txn that time resolved to.
    for index, (instant, expected) in enumerate(instants[:-1], start=1):
        at = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(instant)) + f".{int((instant % 1) * 1000):03d}Z"
        into = path(f"restore-at-{index}")
        status, out, resolved = restore(target, into, "--at", at)
        same = status == 0 and dump(os.path.join(into, "ats.sqlite")) == expected
        report(same, f"ats restore --at {at} gives exactly the state at instant {index}",
               out if status else diff_summary(expected, dump(os.path.join(into, "ats.sqlite"))))
        if resolved:
            generation, txn = resolved
            into = path(f"restore-txn-{index}")
            status, out, _ = restore(target, into, "--generation", generation, "--txn", txn)
            same = status == 0 and dump(os.path.join(into, "ats.sqlite")) == expected
            report(same, f"ats restore --generation G --txn {txn} gives the same state", out)
    status, out = ats("replicas", "list", "--from", target, data=path("cli-data"))
    report(status == 0 and "generation" in out.lower() and "snapshot" in out.lower(),
           "ats replicas list shows generations, snapshots and the restorable window", out)
    print("    " + "\n    ".join(out.strip().splitlines()[:12]))
    return final_dump


def check_flipped_bytes(target, data, key):
    cli = path("cli-data")
    # A segment, in a copy of the target.
    segments = latest_objects(target, "wal")
    if segments:
        copy = path("target-bad-segment")
        shutil.copytree(target, copy)
        flip(os.path.join(copy, segments[-1]))
        into = path("restore-bad-segment")
        status, out = ats("restore", "--from", copy, "--to", into, data=cli)
        report(status != 0 and segments[-1] in out and not os.path.exists(os.path.join(into, "ats.sqlite")),
               "a flipped byte in a segment: ats restore fails naming the object and leaves no database", out)
    else:
        report(False, "a segment to corrupt in the newest generation", str(latest_objects(target, "")))
    snapshots = latest_objects(target, "snapshots")
    if snapshots:
        copy = path("target-bad-snapshot")
        shutil.copytree(target, copy)
        flip(os.path.join(copy, snapshots[-1]))
        into = path("restore-bad-snapshot")
        status, out = ats("restore", "--from", copy, "--to", into, data=cli)
        report(status != 0 and snapshots[-1] in out and not os.path.exists(os.path.join(into, "ats.sqlite")),
               "a flipped byte in a snapshot: ats restore fails naming the object and leaves no database", out)
    else:
        report(False, "a snapshot to corrupt in the newest generation")

    # On the live target, with the server running: ats verify, and the metric.
    server, up = start_primary(data, target, "primary-verify")
    if not up:
        report(False, "ats serve --replica starts again", server.log_tail())
        return
    try:
        Writer(server.base, key, seed=11).run(60)
        status, out = ats("verify", data=data, timeout=600)
        report(status == 0, "ats verify on a healthy replica succeeds (asks the running server)", out)
        values, _ = server.metrics()
        report(values.get("ats_replica_verify_ok") == 1, "ats_replica_verify_ok is 1 after a good verification",
               str({k: v for k, v in values.items() if k.startswith("ats_replica")}))
        wait_for(10, lambda: server.metrics()[0].get("ats_replica_lag_seconds", 1) == 0)
        segments = latest_objects(target, "wal") or latest_objects(target, "snapshots")
        victim = os.path.join(target, segments[-1])
        offset = flip(victim)
        status, out = ats("verify", data=data, timeout=600)
        report(status != 0 and segments[-1] in out, "a flipped byte on the live target: ats verify fails naming the object", out)
        values, _ = server.metrics()
        report(values.get("ats_replica_verify_ok") == 0, "ats_replica_verify_ok drops to 0",
               str({k: v for k, v in values.items() if k.startswith("ats_replica")}))
        flip(victim, offset)
        status, out = ats("verify", data=data, timeout=600)
        report(status == 0, "with the byte restored, ats verify succeeds again", out)
        report(server.metrics()[0].get("ats_replica_verify_ok") == 1, "ats_replica_verify_ok is back to 1")
        # An on-demand snapshot through the running server.
        before = len(glob.glob(os.path.join(target, "generations", "*", "snapshots", "*")))
        status, out = ats("snapshot", data=data, timeout=600)
        after = len(glob.glob(os.path.join(target, "generations", "*", "snapshots", "*")))
        report(status == 0 and after == before + 1, "ats snapshot beside the running server adds one snapshot", out)
        values, _ = server.metrics()
        report(values.get("ats_replica_last_snapshot_timestamp_seconds", 0) > time.time() - 120,
               "ats_replica_last_snapshot_timestamp_seconds moved", str(values.get("ats_replica_last_snapshot_timestamp_seconds")))
    finally:
        server.stop()


def check_unwritable(data, target, key):
    server, up = start_primary(data, target, "primary-unwritable")
    if not up:
        report(False, "ats serve --replica starts (unwritable phase)", server.log_tail())
        return
    try:
        os.chmod(target, 0o000)
        writer = Writer(server.base, key, seed=21)
        started = time.time()
        writer.run(300)
        elapsed = time.time() - started
        report(not writer.errors and writer.slowest < 2.0,
               f"target unwritable (chmod 000): {writer.count} API writes all 2xx, slowest {writer.slowest * 1000:.0f} ms "
               f"({writer.count / elapsed:.0f}/s)", "\n".join(writer.errors[:10]))
        lagging = wait_for(20, lambda: Client(server.base).call("GET", "/readyz").status == 503)
        r = Client(server.base).call("GET", "/readyz")
        report(lagging and "problem+json" in r.content_type and "replica" in r.raw.decode().lower(),
               "/readyz answers 503 naming the replication lag", r)
        values, _ = server.metrics()
        report(values.get("ats_replica_errors_total", 0) > 0 and values.get("ats_replica_lag_seconds", 0) > 3,
               f"the lag ({values.get('ats_replica_lag_seconds')} s) and the errors "
               f"({values.get('ats_replica_errors_total')}) are exported", "")
        os.chmod(target, 0o755)
        caught_up = wait_for(30, lambda: server.metrics()[0].get("ats_replica_lag_seconds", 1) == 0
                             and Client(server.base).call("GET", "/readyz").status == 200)
        report(caught_up, "writable again: the replica catches up and /readyz is ready",
               str({k: v for k, v in server.metrics()[0].items() if k.startswith("ats_replica")}))
    finally:
        os.chmod(target, 0o755)
        server.stop()
    expected = dump(os.path.join(data, "ats.sqlite"))
    into = path("restore-after-unwritable")
    status, out, _ = restore(target, into)
    same = status == 0 and dump(os.path.join(into, "ats.sqlite")) == expected
    report(same, "after the outage a restore dumps exactly like the primary", out)


def check_kill9(data, target, key):
    server, up = start_primary(data, target, "primary-kill9")
    if not up:
        report(False, "ats serve --replica starts (kill -9 phase)", server.log_tail())
        return
    acked = []  # (ack time, id)
    stop = threading.Event()

    def stream(seed):
        client = Client(server.base, key)
        n = 0
        while not stop.is_set():
            n += 1
            try:
                resp = client.call("POST", "/api/v1/candidates", {
                    "firstName": "Kill", "lastName": f"Nine {seed}-{n}", "email": f"k{seed}.{n}@kill9.example"})
            except OSError:
                return
            if resp.status == 201:
                acked.append((time.time(), resp.json["id"]))

    threads = [threading.Thread(target=stream, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    time.sleep(5)
    killed_at = time.time()
    server.kill9()
    stop.set()
    for t in threads:
        t.join()
    report(len(acked) > 50, f"{len(acked)} acknowledged creates before kill -9")
    # The target as the kill left it: what a lost VM leaves behind.
    into = path("restore-after-kill")
    status, out, _ = restore(target, into)
    if status == 0:
        present = set(query(os.path.join(into, "ats.sqlite"), "SELECT id FROM candidates"))
        missing = [(t, i) for t, i in acked if i not in present]
        window = killed_at - min(t for t, _ in missing) if missing else 0.0
        report(window <= SYNC_SECONDS + 0.5,
               f"restored from the target left by kill -9: every write acknowledged more than {window:.2f} s before the "
               f"kill is there ({len(acked) - len(missing)}/{len(acked)}; sync interval {SYNC_SECONDS:g} s)",
               f"missing {len(missing)}, oldest missing acknowledged {window:.2f} s before the kill")
    else:
        report(False, "ats restore after kill -9", out)
    server, up = start_primary(data, target, "primary-after-kill")
    if up:
        present = set(query(os.path.join(data, "ats.sqlite"), "SELECT id FROM candidates"))
        missing = [i for _, i in acked if i not in present]
        report(not missing, f"after the restart every acknowledged write is there ({len(acked)})", f"missing {len(missing)}")
        Writer(server.base, key, seed=31).run(50)
        server.stop()
        expected = dump(os.path.join(data, "ats.sqlite"))
        into = path("restore-after-restart")
        status, out, _ = restore(target, into)
        same = status == 0 and dump(os.path.join(into, "ats.sqlite")) == expected
        report(same, "replication resumes after the crash: a restore dumps like the primary", out)
    else:
        report(False, "ats serve --replica restarts after kill -9", server.log_tail())


def check_standby(data, target, key):
    primary, up = start_primary(data, target, "primary-standby")
    if not up:
        report(False, "ats serve --replica starts (standby phase)", primary.log_tail())
        return
    standby_data = mkdir(path("standby-data"))
    second_target = mkdir(path("target-after-promotion"))
    standby = Server("standby", standby_data, "--standby", target, "--replica", second_target,
                     ATS_REPLICA_MAX_LAG_SECONDS="5")
    try:
        ready = standby.wait_up(120, "/readyz")
        report(ready, "ats serve --standby TARGET restores and becomes ready", standby.log_tail())
        if not ready:
            return
        admin = Client(primary.base, key)
        resp = admin.call("POST", "/api/v1/candidates", {"firstName": "Stan", "lastName": "By", "email": "stan@standby.example"})
        cid = (resp.json or {}).get("id")
        reader = Client(standby.base, key)
        seen = wait_for(15, lambda: reader.call("GET", f"/api/v1/candidates/{cid}").status == 200)
        report(seen, "a write on the primary is readable on the standby within seconds",
               f"{reader.call('GET', f'/api/v1/candidates/{cid}')}\n{standby.log_tail(1500)}")
        r = reader.call("GET", "/api/v1/search/candidates?q=stan")
        report(r.status == 200, "the standby answers searches", r)
        r = reader.call("POST", "/api/v1/candidates", {"firstName": "No", "lastName": "Write", "email": "no@standby.example"})
        report(r.status == 503 and "problem+json" in r.content_type and "standby" in r.raw.decode().lower(),
               "a write on the standby answers 503 problem+json", r)
        r = reader.call("PATCH", f"/api/v1/candidates/{cid}", {"currentTitle": "x"})
        report(r.status == 503, "a PATCH on the standby answers 503 too", r)
        values, text = standby.metrics()
        report("ats_replica_lag_seconds" in text, "the standby exports its lag", "")
        # The primary restarts after a CLI command wrote while it was down (that process, last to
        # close the database, checkpoints its WAL: the primary may have to start a new generation).
        primary.stop()
        ats("token", "create", "--org", "acme", "--role", "viewer", data=data)
        primary, up = start_primary(data, target, "primary-standby-2")
        report(up, "the primary restarts", primary.log_tail())
        admin = Client(primary.base, key)
        resp = admin.call("POST", "/api/v1/candidates", {"firstName": "Re", "lastName": "Start", "email": "restart@standby.example"})
        cid2 = (resp.json or {}).get("id")
        seen = wait_for(30, lambda: reader.call("GET", f"/api/v1/candidates/{cid2}").status == 200)
        reopened = "fresh copy" in standby.log_tail(100000)
        report(seen, "the standby follows the restarted primary" + (" (new generation: it reopened on a fresh copy)" if reopened else ""),
               standby.log_tail(2000))
        # The primary is lost; the standby is promoted.
        primary.kill9()
        status, out = ats("promote", data=standby_data, timeout=120)
        report(status == 0, "ats promote on the standby", out)
        promoted = wait_for(60, lambda: Client(standby.base, key).call(
            "POST", "/api/v1/candidates", {"firstName": "After", "lastName": "Promotion",
                                           "email": f"after.{time.time()}@standby.example"}).status == 201)
        report(promoted, "after ats promote the server takes writes as the primary", standby.log_tail())
        r = Client(standby.base, key).call("GET", f"/api/v1/candidates/{cid}")
        report(r.status == 200, "what the standby had followed is there after promotion", r)
        has_generation = wait_for(20, lambda: bool(glob.glob(os.path.join(second_target, "generations", "*", "snapshots", "*"))))
        report(has_generation, "the promoted server replicates to its own --replica target")
    finally:
        standby.stop()
        primary.stop()


def check_replication_off():
    data = path("plain-data")
    key = prepare(data)
    # Embeddings unthrottled, so the background work ends and the server goes idle within the wait.
    server = Server("plain", data, ATS_QUEUES="embeddings=5/100000")
    if not server.wait_up():
        report(False, "ats serve without replication starts", server.log_tail())
        return
    try:
        Writer(server.base, key, seed=41).run(800)
        wal = os.path.join(data, "ats.sqlite-wal")
        peak = os.path.getsize(wal) if os.path.exists(wal) else 0
        small = wait_for(60, lambda: not os.path.exists(wal) or os.path.getsize(wal) < 1 << 20, interval=0.5)
        size = os.path.getsize(wal) if os.path.exists(wal) else 0
        report(small, f"replication off: the checkpointer truncates the WAL once idle ({peak} bytes after the writes, {size} idle)")
        status, out = ats("snapshot", "--replica", path("target-plain"), data=data)
        report(status != 0 and "replication" in out.lower(),
               "ats snapshot beside a server without replication refuses with a clear message", out)
    finally:
        server.stop()
    target = mkdir(path("target-plain"))
    status, out = ats("snapshot", "--replica", target, data=data)
    report(status == 0 and glob.glob(os.path.join(target, "generations", "*", "snapshots", "*")),
           "ats snapshot --replica DIR without a server takes a one-shot snapshot", out)
    into = path("restore-plain")
    status, out, _ = restore(target, into)
    same = status == 0 and dump(os.path.join(into, "ats.sqlite")) == dump(os.path.join(data, "ats.sqlite"))
    report(same, "that snapshot restores to exactly the database", out)


def main():
    mkdir(path("cli-data"))
    data = path("data")
    target = mkdir(path("target"))
    key = prepare(data)
    report(bool(key), "setup: migrate, an organization and an admin key")
    if not key:
        return
    sections = [
        ("replication, restores at several instants", lambda: check_replication(data, target, key)),
        ("flipped bytes", lambda: check_flipped_bytes(target, data, key)),
        ("unwritable target", lambda: check_unwritable(data, target, key)),
        ("kill -9", lambda: check_kill9(data, target, key)),
        ("standby and promotion", lambda: check_standby(data, target, key)),
        ("replication off", check_replication_off),
    ]
    only = os.environ.get("REPLICA_SECTIONS")
    for name, body in sections:
        if only and not any(word in name for word in only.split(",")):
            continue
        print(f"# {name}")
        sys.stdout.flush()
        started = time.time()
        try:
            body()
        except Exception as err:  # a broken step fails its section, the others still run
            report(False, f"{name}: unexpected {type(err).__name__}", str(err))
        print(f"# {name}: {time.time() - started:.1f} s")
        sys.stdout.flush()


if __name__ == "__main__":
    try:
        main()
    except BaseException as err:  # noqa: BLE001 - an escaped error must still count as a failure
        report(False, f"replica_check stopped: {type(err).__name__}", str(err))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
        if os.path.isdir(path("target")):
            os.chmod(path("target"), 0o755)
        if checks.failures or os.environ.get("KEEP_TMP") == "1":
            print(f"replica_check: work folder kept in {WORK}")
        else:
            shutil.rmtree(WORK, ignore_errors=True)
    sys.exit(1 if checks.failures else 0)
