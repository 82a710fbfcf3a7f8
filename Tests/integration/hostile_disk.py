"""A full disk under a running server, on a small tmpfs.

Usage: hostile_disk.py ATS_BIN TMP_DIR

The data folder is a 12 MiB tmpfs (mounting needs root: without it the script says so and
skips). A server runs on it; a ballast file takes every free byte. Checks: a JSON create, a CV
upload and a CSV import each answer 507 problem+json naming the full disk (never a 500, never
"busy"); `/readyz` answers 503 "disk full"; reads still answer 200; the failures are counted
in `ats_storage_full_total{tier}`; the early file collector removes a deleted document's file
at once (not after 24 h); no temporary upload file is left. Then the ballast is deleted and,
without a restart, `/readyz` is 200 again and the same create, upload and import succeed.
After the server stops, every write acknowledged before is there and `PRAGMA
integrity_check` is ok.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import errno
import os
import re
import sqlite3
import subprocess
import sys
import time

import checks
from checks import Client, report, start, stop, wait_until
from files_check import multipart

CV_TEXT = b"""Ilse Varga-Thornbury
Senior Platform Engineer
ilse.vt@disk-example.test | +41 79 555 77 11 | Zurich
Skills: Go, Kubernetes, Terraform, PostgreSQL
"""


def fill(path):
    """Appends to the ballast file until the volume refuses a single page; returns bytes added."""
    added = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (1 << 20, 64 << 10, 4 << 10, 512):
            block = b"\0" * size
            while True:
                try:
                    written = os.write(fd, block)
                except OSError as error:
                    if error.errno in (errno.ENOSPC, errno.EDQUOT):
                        break
                    raise
                added += written
                if written < size:
                    break
        os.fsync(fd)
    finally:
        os.close(fd)
    return added


def is_full_problem(response):
    body = response.json or {}
    return (
        response.status == 507
        and response.content_type.startswith("application/problem+json")
        and body.get("type", "").endswith("/insufficient-storage")
        and "disk is full" in body.get("detail", ""))


def metric(text, name, labels):
    pattern = re.escape(name) + r"\{" + re.escape(labels) + r"\} ([0-9.e+]+)"
    found = re.search(pattern, text)
    return float(found.group(1)) if found else None


def gauge(text, name):
    found = re.search(r"^" + re.escape(name) + r" ([0-9.e+]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def leftovers(data):
    """Temporary files a failed write must not leave: blob uploads, import uploads, metadata."""
    found = []
    for folder, _, files in os.walk(data):
        for name in files:
            if name.endswith((".part", ".partial")) or (folder.endswith("/blobs/tmp") and name):
                found.append(os.path.join(folder, name))
    return found


def blob_exists(data, sha):
    folder = os.path.join(data, "blobs", sha[:2], sha[2:4])
    return any(os.path.exists(os.path.join(folder, sha + suffix)) for suffix in ("", ".zst"))


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    mountpoint = os.path.join(tmp, "disk-tmpfs")
    os.makedirs(mountpoint, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=12m", "tmpfs", mountpoint], capture_output=True, text=True)
    if mounted.returncode != 0:
        print(f"ok   - SKIPPED: cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
        return 0
    proc = None
    try:
        data = os.path.join(mountpoint, "data")
        key = checks.prepare(ats, data)
        report(bool(key), "migrated and a key made on the 12 MiB tmpfs")
        # The collector's short grace is one second here, so the check need not wait ten minutes.
        proc, base = start(
            ats, data, os.path.join(tmp, "disk-serve.log"),
            {"ATS_LOW_DISK_PERCENT": "0", "ATS_LOW_DISK_GC_GRACE_SECONDS": "1"})
        client = Client(base, key)

        # Writes acknowledged before the disk fills, and a document deleted (its file unreferenced).
        acknowledged = []
        for index in range(5):
            made = client.call("POST", "/api/v1/candidates", {"firstName": f"Before{index}", "lastName": "Disk"})
            if made.status == 201:
                acknowledged.append(made.json["id"])
        report(len(acknowledged) == 5, "candidates created while there is space", acknowledged)
        holder = acknowledged[0]
        body, header = multipart(b"An attachment that will be deleted.\n" * 200, "old-notes.txt", fields={"kind": "attachment"})
        old = client.call("POST", f"/api/v1/candidates/{holder}/documents", raw=body, headers={"Content-Type": header})
        old_sha = (old.json or {}).get("sha256", "")
        gone = client.call("DELETE", f"/api/v1/documents/{(old.json or {}).get('id', '')}")
        report(old.status == 201 and gone.status in (200, 204) and blob_exists(data, old_sha),
               "a document uploaded and deleted: its file is unreferenced but still on disk", f"{old} / {gone}")
        time.sleep(1.5)  # older than the short grace

        # The disk fills up.
        ballast = os.path.join(mountpoint, "ballast")
        added = fill(ballast)
        report(added > 0, f"a ballast file took the remaining {added // 1024} KiB")

        # A JSON create: the WAL may still have room in pages it already holds, so create until one fails.
        failed, attempts = None, 0
        for attempts in range(1, 400):
            fill(ballast)
            made = client.call("POST", "/api/v1/candidates", {"firstName": "Full", "lastName": f"Attempt{attempts}"})
            if made.status == 201:
                acknowledged.append(made.json["id"])
                continue
            failed = made
            break
        report(failed is not None and is_full_problem(failed),
               f"a JSON create answers 507 problem+json naming the full disk (after {attempts} attempt(s))", failed)
        report(failed is not None and failed.status != 503 and "busy" not in failed.raw.decode(errors="replace"),
               "it does not say 'busy or unreachable'", failed)

        fill(ballast)
        body, header = multipart(CV_TEXT * 40, "cv.txt", "text/plain", fields={"kind": "cv"})
        cv = client.call("POST", f"/api/v1/candidates/{holder}/documents", raw=body, headers={"Content-Type": header})
        report(is_full_problem(cv), "a CV upload answers 507 problem+json", cv)

        fill(ballast)
        csv = b"First name,Last name,Email\n" + b"".join(
            f"Csv{i},Import,csv{i}@disk-example.test\n".encode() for i in range(300))
        imported = client.call("POST", "/api/v1/imports/candidates", raw=csv, headers={"Content-Type": "text/csv"})
        report(is_full_problem(imported), "a CSV import answers 507 problem+json (not 500)", imported)

        fill(ballast)
        ready = client.call("GET", "/readyz")
        report(ready.status == 503 and "disk full" in ((ready.json or {}).get("detail") or ""),
               "/readyz answers 503 'store not writable: disk full'", ready)

        reads = [client.call("GET", f"/api/v1/candidates/{cid}").status for cid in acknowledged]
        listing = client.call("GET", "/api/v1/candidates?limit=50")
        report(all(status == 200 for status in reads) and listing.status == 200,
               "reads still answer 200", f"{reads} {listing.status}")

        text = client.call("GET", "/metrics").raw.decode(errors="replace")
        counts = {tier: metric(text, "ats_storage_full_total", f'tier="{tier}"') for tier in ("store", "blobs", "imports")}
        report(all((value or 0) >= 1 for value in counts.values()),
               "ats_storage_full_total counts the failures by tier", counts)
        report(gauge(text, "ats_storage_full") == 1,
               "ats_storage_full is 1 while writes fail", [line for line in text.splitlines() if "storage_full " in line])

        report(wait_until(lambda: not blob_exists(data, old_sha), 10),
               "the early collector removed the deleted document's file at once (not after 24 h)")
        report(not leftovers(data), "no temporary upload file is left behind", leftovers(data))

        # Space is freed: service resumes by itself.
        os.unlink(ballast)
        back = wait_until(lambda: client.call("GET", "/readyz").status == 200, 15)
        report(back, "/readyz is 200 again once space is freed, without a restart", client.call("GET", "/readyz"))
        again = client.call("POST", "/api/v1/candidates", {"firstName": "Full", "lastName": f"Attempt{attempts}"})
        report(again.status == 201, "the same create succeeds now", again)
        if again.status == 201:
            acknowledged.append(again.json["id"])
        cv = client.call("POST", f"/api/v1/candidates/{holder}/documents", raw=body, headers={"Content-Type": header})
        report(cv.status == 201, "the same CV upload succeeds now", cv)
        imported = client.call("POST", "/api/v1/imports/candidates", raw=csv, headers={"Content-Type": "text/csv"})
        import_id = (imported.json or {}).get("id", "")
        finished = wait_until(lambda: (client.call("GET", f"/api/v1/imports/{import_id}").json or {}).get("status")
                              in ("completed", "dead", "failed"), 60) and client.call("GET", f"/api/v1/imports/{import_id}")
        report(imported.status == 202 and finished and (finished.json or {}).get("status") == "completed",
               "the same CSV import is accepted and completes", finished or imported)
        missing = [cid for cid in acknowledged if client.call("GET", f"/api/v1/candidates/{cid}").status != 200]
        report(not missing, f"every acknowledged create ({len(acknowledged)}) is there", missing)
        text = client.call("GET", "/metrics").raw.decode(errors="replace")
        report(gauge(text, "ats_storage_full") == 0, "ats_storage_full is 0 again", gauge(text, "ats_storage_full"))
    finally:
        if proc is not None:
            code = stop(proc)
            report(code == 0, "the server stops cleanly after the episode", code)
        try:
            database = os.path.join(mountpoint, "data", "ats.sqlite")
            if os.path.exists(database):
                with sqlite3.connect(database) as db:
                    check = db.execute("PRAGMA integrity_check").fetchone()[0]
                    count = db.execute("SELECT COUNT(*) FROM candidates WHERE doc LIKE '%Attempt%'").fetchone()[0]
                report(check == "ok", "PRAGMA integrity_check is ok after the server stopped", check)
                report(count >= 1, "the retried create is in the database", count)
        finally:
            if subprocess.run(["umount", mountpoint], capture_output=True).returncode != 0:
                subprocess.run(["umount", "-l", mountpoint], capture_output=True)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
