"""The S3-compatible endpoint of the real binary, driven by boto3 as a real S3 client.

Usage: s3_check.py ATS_BIN TMP_DIR

1. `ats s3-key create --org SLUG` prints exactly `ACCESS_KEY_ID SECRET` on one line;
   `ats s3-key list` shows keys without secrets; `ats s3-key revoke` makes a key useless.
2. A server with a 1 MiB object limit (ATS_BLOB_MAX_MB=1). boto3, pointed at
   http://127.0.0.1:PORT/s3 with path-style addressing and SigV4 (`signature_version="s3v4"`:
   boto3 presigns with the legacy SigV2 otherwise): put_object, upload_fileobj,
   download_fileobj, get_object (whole and Range), head_object, head_bucket, list_objects_v2
   with prefixes, delimiter, start-after and pagination (the paginator), keys with spaces,
   `+` and accents, copy_object, delete_object; errors parsed from S3's XML (NoSuchKey ...).
3. generate_presigned_url fetched with plain urllib: GET and PUT work; expired and tampered
   URLs answer 403.
4. Another organization's bucket, a bucket that does not exist and a revoked key: 403
   AccessDenied. Keys with `..`,
   absolute paths, NUL or percent-encoded traversal: 400. An object over the limit: 413
   EntityTooLarge. A wrong checksum: 400 BadDigest. Nothing of those is stored.
5. A PUT does not stall a second on `Expect: 100-continue` (botocore sends it on every PUT).

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import hashlib
import io
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

import checks
from checks import free_port, report, run

LIMIT = 1024 * 1024


def fetch(url, method="GET", data=None, headers=None):
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def error_of(call):
    """(HTTP status, S3 error code) of a boto3 call expected to fail; (200, None) if it did not."""
    try:
        call()
        return 200, None
    except ClientError as err:
        return err.response["ResponseMetadata"]["HTTPStatusCode"], err.response.get("Error", {}).get("Code")


def client(base, key_id, secret):
    return boto3.client(
        "s3", endpoint_url=base + "/s3", aws_access_key_id=key_id, aws_secret_access_key=secret,
        region_name="us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30))


def create_key(ats, env, org):
    out = run(ats, "s3-key", "create", "--org", org, env=env)
    lines = out.stdout.splitlines()
    ok = out.returncode == 0 and len(lines) == 1 and re.fullmatch(r"[A-Z0-9]{16,128} [A-Za-z0-9+/]{30,128}", lines[0])
    report(bool(ok), f"ats s3-key create --org {org} prints exactly `ACCESS_KEY_ID SECRET` on one line",
           f"exit {out.returncode}: {out.stdout!r} {out.stderr[-500:]!r}")
    return lines[0].split(" ") if ok else (None, None)


def cli_checks(ats, env):
    for slug in ("acme", "globex"):
        out = run(ats, "org", "create", "--slug", slug, "--name", slug.capitalize(), env=env)
        if out.returncode != 0:
            report(False, f"ats org create {slug}", out.stderr[-500:])
    acme = create_key(ats, env, "acme")
    globex = create_key(ats, env, "globex")
    doomed = create_key(ats, env, "acme")
    out = run(ats, "s3-key", "create", "--org", "no-such-org", env=env)
    report(out.returncode != 0 and out.stdout == "", "ats s3-key create for a missing organization fails, printing nothing",
           out.stdout + out.stderr)
    if doomed[0]:
        out = run(ats, "s3-key", "revoke", "--org", "acme", doomed[0], env=env)
        report(out.returncode == 0, "ats s3-key revoke", out.stdout + out.stderr)
        out = run(ats, "s3-key", "revoke", "--org", "globex", acme[0] or "x", env=env)
        report(out.returncode != 0, "ats s3-key revoke refuses another organization's key", out.stdout + out.stderr)
    out = run(ats, "s3-key", "list", "--org", "acme", env=env)
    listed = out.stdout
    report(out.returncode == 0 and (acme[0] or "?") in listed and "revoked" in listed
           and (acme[1] or "?") not in listed and (doomed[1] or "?") not in listed,
           "ats s3-key list shows the keys and their state, never a secret", listed + out.stderr)
    return acme, globex, doomed


def start_server(ats, env, tmp):
    port = free_port()
    log = open(os.path.join(tmp, "s3-serve.log"), "w")
    server = subprocess.Popen([ats, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                              stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            break
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2):
                return server, base
        except OSError:
            time.sleep(0.2)
    report(False, "ats serve starts for the S3 checks", open(os.path.join(tmp, "s3-serve.log")).read()[-2000:])
    server.kill()
    return None, base


def object_checks(s3):
    body = os.urandom(300_000)
    md5 = hashlib.md5(body).hexdigest()
    put = s3.put_object(Bucket="acme", Key="cvs/ada.pdf", Body=body, ContentType="application/pdf")
    report(put["ETag"] == f'"{md5}"', "put_object: ETag is the quoted MD5 of the object", put["ETag"])

    got = s3.get_object(Bucket="acme", Key="cvs/ada.pdf")
    data = got["Body"].read()
    report(data == body and got["ContentType"] == "application/pdf" and got["ETag"] == f'"{md5}"',
           "get_object returns the bytes, the declared Content-Type and the ETag")
    part = s3.get_object(Bucket="acme", Key="cvs/ada.pdf", Range="bytes=100-199")
    report(part["ResponseMetadata"]["HTTPStatusCode"] == 206 and part["Body"].read() == body[100:200]
           and part["ContentRange"] == "bytes 100-199/300000", "get_object with Range answers 206 and the range")
    head = s3.head_object(Bucket="acme", Key="cvs/ada.pdf")
    report(head["ContentLength"] == len(body) and head["ETag"] == f'"{md5}"', "head_object: length and ETag")
    status, _ = error_of(lambda: s3.get_object(Bucket="acme", Key="cvs/ada.pdf", IfNoneMatch=f'"{md5}"'))
    report(status == 304, f"get_object with If-None-Match of its ETag answers 304 (got {status})")

    streamed = os.urandom(200_000)
    s3.upload_fileobj(io.BytesIO(streamed), "acme", "uploads/stream.bin")
    back = io.BytesIO()
    s3.download_fileobj("acme", "uploads/stream.bin", back)
    report(back.getvalue() == streamed, "upload_fileobj then download_fileobj round-trips the bytes")

    odd = "people/Zoë O'Brien + CV (final) 100%.pdf"
    s3.put_object(Bucket="acme", Key=odd, Body=b"odd")
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="acme", Prefix="people/").get("Contents", [])]
    report(listed == [odd] and s3.get_object(Bucket="acme", Key=odd)["Body"].read() == b"odd",
           "a key with spaces, '+', '%', quotes and accents round-trips through put, list and get", repr(listed))

    s3.copy_object(Bucket="acme", Key="cvs/ada-copy.pdf", CopySource={"Bucket": "acme", "Key": "cvs/ada.pdf"})
    report(s3.get_object(Bucket="acme", Key="cvs/ada-copy.pdf")["Body"].read() == body, "copy_object within the bucket")

    s3.delete_object(Bucket="acme", Key="cvs/ada-copy.pdf")
    status, code = error_of(lambda: s3.get_object(Bucket="acme", Key="cvs/ada-copy.pdf"))
    report((status, code) == (404, "NoSuchKey"), f"after delete_object, get_object raises NoSuchKey (got {status} {code})")
    status, _ = error_of(lambda: s3.head_object(Bucket="acme", Key="cvs/ada-copy.pdf"))
    report(status == 404, f"head_object of a deleted key: 404 (got {status})")
    status, _ = error_of(lambda: s3.head_bucket(Bucket="acme"))
    report(status == 200, f"head_bucket of the organization's bucket (got {status})")
    status, code = error_of(lambda: s3.list_objects_v2(Bucket="no-such-agency"))
    # Not 404 NoSuchBucket any more: that told anyone which organizations exist.
    report((status, code) == (403, "AccessDenied"),
           f"an unknown bucket answers 403 AccessDenied, like another organization's (got {status} {code})")
    return body


def listing_checks(s3):
    keys = [f"list/{folder}/{i:02}.txt" for folder in ("a", "b", "c") for i in range(5)]
    keys += [f"list/top-{i}.txt" for i in range(4)] + ["list/a/deep/x.txt", "list/a/deep/y.txt"]
    for key in keys:
        s3.put_object(Bucket="acme", Key=key, Body=key.encode())
    everything = s3.list_objects_v2(Bucket="acme", Prefix="list/")
    report(sorted(o["Key"] for o in everything["Contents"]) == sorted(keys) and everything["KeyCount"] == len(keys)
           and not everything["IsTruncated"], "list_objects_v2 with a prefix lists exactly its keys")
    folder = s3.list_objects_v2(Bucket="acme", Prefix="list/", Delimiter="/")
    prefixes = [p["Prefix"] for p in folder.get("CommonPrefixes", [])]
    report(prefixes == ["list/a/", "list/b/", "list/c/"]
           and [o["Key"] for o in folder["Contents"]] == [f"list/top-{i}.txt" for i in range(4)]
           and folder["KeyCount"] == 7, "Delimiter='/' rolls sub-folders into CommonPrefixes", repr(folder)[:800])
    sub = s3.list_objects_v2(Bucket="acme", Prefix="list/a/", Delimiter="/")
    report([p["Prefix"] for p in sub.get("CommonPrefixes", [])] == ["list/a/deep/"] and len(sub["Contents"]) == 5,
           "a nested prefix with the delimiter")

    pages = list(s3.get_paginator("list_objects_v2").paginate(Bucket="acme", Prefix="list/", PaginationConfig={"PageSize": 4}))
    paged = [o["Key"] for page in pages for o in page.get("Contents", [])]
    report(paged == sorted(keys) and len(pages) == -(-len(keys) // 4) and all(p["KeyCount"] <= 4 for p in pages)
           and all(p["IsTruncated"] for p in pages[:-1]) and not pages[-1]["IsTruncated"],
           f"the paginator walks {len(keys)} keys in pages of 4 with continuation tokens ({len(pages)} pages)")
    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket="acme", Prefix="list/", Delimiter="/", PaginationConfig={"PageSize": 2}))
    entries = [o["Key"] for p in pages for o in p.get("Contents", [])] + \
        [c["Prefix"] for p in pages for c in p.get("CommonPrefixes", [])]
    report(sorted(entries) == sorted(["list/a/", "list/b/", "list/c/"] + [f"list/top-{i}.txt" for i in range(4)])
           and len(pages) == 4, "pagination with a delimiter counts each common prefix once", repr(entries))
    after = s3.list_objects_v2(Bucket="acme", Prefix="list/", StartAfter="list/c/04.txt")
    report([o["Key"] for o in after["Contents"]] == [f"list/top-{i}.txt" for i in range(4)], "StartAfter")
    one = s3.list_objects_v2(Bucket="acme", Prefix="list/", MaxKeys=1)
    report(one["KeyCount"] == 1 and one["IsTruncated"] and one.get("NextContinuationToken"), "MaxKeys=1 truncates")


def presigned_checks(s3, body):
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": "cvs/ada.pdf"}, ExpiresIn=300)
    status, _, data = fetch(url)
    report(status == 200 and data == body and "X-Amz-Signature=" in url,
           f"generate_presigned_url (SigV4) fetched with plain urllib: 200 and the bytes (got {status})")
    status, headers, data = fetch(url, headers={"Range": "bytes=0-9"})
    report(status == 206 and data == body[:10], f"a presigned GET honours Range (got {status})")
    tampered = url.replace("cvs/ada.pdf", "cvs/adb.pdf")
    status, _, data = fetch(tampered)
    report(status == 403 and b"<Code>SignatureDoesNotMatch</Code>" in data,
           f"a presigned URL for another key answers 403 SignatureDoesNotMatch (got {status})", data[:300])
    signature = re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1)
    flipped = url.replace(signature, signature[:-1] + ("0" if signature[-1] != "0" else "1"))
    status, _, _ = fetch(flipped)
    report(status == 403, f"a presigned URL with a changed signature answers 403 (got {status})")
    status, _, _ = fetch(url, method="DELETE")
    report(status == 403, f"a presigned GET URL used for DELETE answers 403 (got {status})")
    short = s3.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": "cvs/ada.pdf"}, ExpiresIn=1)
    time.sleep(2.1)
    status, _, data = fetch(short)
    report(status == 403 and b"expired" in data, f"an expired presigned URL answers 403 (got {status})", data[:300])

    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "acme", "Key": "presigned/upload.txt"}, ExpiresIn=300)
    status, headers, _ = fetch(put_url, method="PUT", data=b"uploaded through a presigned URL")
    stored = s3.get_object(Bucket="acme", Key="presigned/upload.txt")["Body"].read() if status == 200 else b""
    report(status == 200 and stored == b"uploaded through a presigned URL",
           f"a presigned PUT URL uploads with plain urllib (got {status})")


def legacy_presign_checks(base, key_id, secret, body):
    """A client left at its defaults in us-east-1 presigns with SigV2; those URLs work too."""
    s3 = boto3.client("s3", endpoint_url=base + "/s3", aws_access_key_id=key_id, aws_secret_access_key=secret,
                      region_name="us-east-1", config=Config(s3={"addressing_style": "path"}))
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": "cvs/ada.pdf"}, ExpiresIn=300)
    status, _, data = fetch(url)
    report(status == 200 and data == body and "AWSAccessKeyId=" in url,
           f"a default client's generate_presigned_url (legacy SigV2) fetched with urllib: 200 (got {status})")
    status, _, _ = fetch(url.replace("cvs/ada.pdf", "cvs/adb.pdf"))
    report(status == 403, f"a tampered SigV2 URL answers 403 (got {status})")
    short = s3.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": "cvs/ada.pdf"}, ExpiresIn=1)
    time.sleep(2.1)
    status, _, _ = fetch(short)
    report(status == 403, f"an expired SigV2 URL answers 403 (got {status})")


def refusal_checks(s3, other, revoked, base):
    for name, call in [
        ("get_object", lambda: s3.get_object(Bucket="globex", Key="anything.txt")),
        ("put_object", lambda: s3.put_object(Bucket="globex", Key="planted.txt", Body=b"x")),
        ("list_objects_v2", lambda: s3.list_objects_v2(Bucket="globex")),
        ("delete_object", lambda: s3.delete_object(Bucket="globex", Key="anything.txt")),
    ]:
        status, code = error_of(call)
        report((status, code) == (403, "AccessDenied"), f"{name} on another organization's bucket: 403 AccessDenied (got {status} {code})")
    listed = other.list_objects_v2(Bucket="globex").get("KeyCount", -1)
    report(listed == 0, f"nothing was planted in the other bucket (KeyCount {listed})")
    url = other.generate_presigned_url("get_object", Params={"Bucket": "acme", "Key": "cvs/ada.pdf"}, ExpiresIn=300)
    status, _, _ = fetch(url)
    report(status == 403, f"a URL presigned by another organization's key answers 403 (got {status})")
    status, code = error_of(lambda: revoked.list_objects_v2(Bucket="acme"))
    report(status == 403, f"a revoked key answers 403 (got {status} {code})")
    status, _, data = fetch(base + "/s3/acme/cvs/ada.pdf")
    report(status == 403 and b"<Code>AccessDenied</Code>" in data, f"an unsigned GET answers 403 AccessDenied (got {status})")
    status, _, missing = fetch(base + "/s3/no-such-agency/cvs/ada.pdf")
    report(status == 403 and b"<Code>AccessDenied</Code>" in missing,
           f"an unsigned GET on a bucket that does not exist answers the same 403 AccessDenied (got {status})")

    for key in ["../escape.txt", "a/../../b.txt", "/etc/passwd", "a\x00b.txt", "%2e%2e/x.txt", "dir/./x.txt"]:
        status, code = error_of(lambda key=key: s3.put_object(Bucket="acme", Key=key, Body=b"evil"))
        report(status == 400, f"put_object with key {key!r}: 400 (got {status} {code})")
    status, _ = error_of(lambda: s3.get_object(Bucket="acme", Key="../escape.txt"))
    report(status == 400, f"get_object with a '..' key: 400 (got {status})")

    status, code = error_of(lambda: s3.put_object(Bucket="acme", Key="big.bin", Body=b"\0" * (LIMIT + 1)))
    report((status, code) == (413, "EntityTooLarge"), f"an object over ATS_BLOB_MAX_MB: 413 EntityTooLarge (got {status} {code})")
    status, _ = error_of(lambda: s3.head_object(Bucket="acme", Key="big.bin"))
    report(status == 404, "nothing was stored for the refused object")
    fits = s3.put_object(Bucket="acme", Key="fits.bin", Body=b"\1" * LIMIT)
    report(fits["ResponseMetadata"]["HTTPStatusCode"] == 200, "an object of exactly the limit is accepted")

    status, code = error_of(lambda: s3.put_object(Bucket="acme", Key="checked.bin", Body=b"payload", ChecksumCRC32="AAAAAA=="))
    report((status, code) == (400, "BadDigest"), f"a wrong x-amz-checksum-crc32: 400 BadDigest (got {status} {code})")
    status, code = error_of(lambda: s3.put_object(
        Bucket="acme", Key="checked.bin", Body=b"payload", ChecksumSHA256="47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="))
    report((status, code) == (400, "BadDigest"), f"a wrong x-amz-checksum-sha256: 400 BadDigest (got {status} {code})")
    status, _ = error_of(lambda: s3.head_object(Bucket="acme", Key="checked.bin"))
    report(status == 404, "nothing was stored for the bad checksums")
    ok = s3.put_object(Bucket="acme", Key="checked.bin", Body=b"payload", ChecksumAlgorithm="SHA256")
    report(ok["ResponseMetadata"]["HTTPStatusCode"] == 200, "a right x-amz-checksum-sha256 is accepted")


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    data = os.path.join(tmp, "s3-data")
    os.makedirs(data, exist_ok=True)
    env = dict(os.environ, ATS_DATA=data, ATS_BLOB_MAX_MB="1", ATS_RATE_LIMIT_RPS="100000",
               ATS_RATE_LIMIT_BURST="100000", ATS_LOG_FORMAT="json")
    out = run(ats, "migrate", env=env)
    if out.returncode != 0:
        report(False, "ats migrate for the S3 checks", out.stderr[-1000:])
        return 1
    acme, globex, doomed = cli_checks(ats, env)
    if not acme[0] or not globex[0]:
        return 1
    server, base = start_server(ats, env, tmp)
    if server is None:
        return 1
    try:
        s3 = client(base, *acme)
        other = client(base, *globex)
        revoked = client(base, *doomed)
        start = time.monotonic()
        s3.put_object(Bucket="acme", Key="warmup.txt", Body=io.BytesIO(b"warm"))
        s3.put_object(Bucket="acme", Key="timed.txt", Body=io.BytesIO(b"timed"))
        elapsed = time.monotonic() - start
        report(elapsed < 0.9, f"two PUTs with Expect: 100-continue take {elapsed:.2f} s (no 1 s stall each)")
        body = object_checks(s3)
        listing_checks(s3)
        presigned_checks(s3, body)
        legacy_presign_checks(base, *acme, body)
        refusal_checks(s3, other, revoked, base)
    except Exception as err:  # noqa: BLE001 - an unexpected exception is a failed check, with its story
        import traceback
        report(False, f"the S3 checks ran to the end ({type(err).__name__})", traceback.format_exc())
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            status = server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            status = "killed"
        report(status == 0, f"the server stops on SIGTERM after the S3 checks (status {status})")
    log = open(os.path.join(tmp, "s3-serve.log")).read()
    report("Zoë" not in log and "ada.pdf" not in log, "object keys do not appear in the server's logs")
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
