"""The file tier on the real binary, as a recruiter's browser and an agency's scripts use it.

Usage: files_check.py ATS_BIN TMP_DIR

A server with a 2 MiB file limit and 20-second links. Checks: a DOCX CV uploaded to a
candidate is parsed by a job into the candidate's empty fields (what the recruiter typed is
kept) and its text is searchable; a candidate is created from a PDF CV; presigned links are
fetched with plain HTTP (no key): whole, a range, If-None-Match, and 403 when tampered, used
with another method, or expired; a presigned PUT upload; a candidate's files as a zip; an
export downloaded through its presigned link. Hostile files: a DOCX zip bomb, an encrypted PDF
and a malformed PDF each end in a failed extraction with a reason (document and job), a file
over the limit answers 413 before anything is stored, content that contradicts its declared
type answers 415, a traversal filename is cut to its last component, and another
organization gets 404 for a document's link.

Prints `ok   - ...` / `FAIL - ...` lines; exits non-zero when any check failed.
"""

import io
import json
import os
import sys
import time
import urllib.error
import urllib.request
import uuid
import zipfile

import checks
import sample_files
from checks import Client, report, run, start, stop, wait_until

CV_LINES = [
    "Marguerite Okonkwo-Lindqvist",
    "Principal Data Engineer",
    "marguerite.ol@files-example.test | +41 79 555 01 23 | Basel, Switzerland",
    "",
    "Profile",
    "Data engineer who built the zanzibarite ingestion platform on Kafka and Spark.",
    "",
    "Experience",
    "2015 - present  Principal Data Engineer, Example AG",
    "2010 - 2015  Data Engineer, Initech",
    "",
    "Skills",
    "Python, Apache Spark, Kafka, Airflow, SQL, Kubernetes",
    "",
    "Languages",
    "English, German",
    "",
    "Education",
    "MSc Computer Science, ETH Zurich, 2010",
]


def fetch(url, method="GET", headers=None, data=None):
    """A plain HTTP request with no credentials: what a browser does with a link."""
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=data)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()
    except (urllib.error.URLError, ValueError) as error:
        return 0, {}, str(error).encode()


def multipart(file_bytes, filename, content_type=None, fields=None):
    boundary = "ats-check-" + uuid.uuid4().hex
    out = io.BytesIO()
    for name, value in (fields or {}).items():
        out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    out.write(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'.encode())
    if content_type:
        out.write(f"Content-Type: {content_type}\r\n".encode())
    out.write(b"\r\n" + file_bytes + f"\r\n--{boundary}--\r\n".encode())
    return out.getvalue(), f"multipart/form-data; boundary={boundary}"


def upload(client, path, file_bytes, filename, content_type=None, fields=None):
    body, header = multipart(file_bytes, filename, content_type, fields)
    return client.call("POST", path, raw=body, headers={"Content-Type": header})


def wait_parsed(client, document_id, seconds=60):
    def state():
        doc = client.call("GET", f"/api/v1/documents/{document_id}").json or {}
        return doc if doc.get("parseStatus") in ("parsed", "failed") else None
    return wait_until(state, seconds) or {}


def blob_files(data):
    root = os.path.join(data, "blobs")
    return sorted(
        os.path.join(d, f) for d, _, files in os.walk(root) for f in files
        if not d.endswith("tmp") and len(f) >= 64)


def main():
    ats, tmp = sys.argv[1], sys.argv[2]
    data = os.path.join(tmp, "files-data")
    key = checks.prepare(ats, data)
    env = dict(os.environ, ATS_DATA=data)
    run(ats, "org", "create", "--slug", "globex", "--name", "Globex", env=env)
    other_key = run(ats, "token", "create", "--org", "globex", "--role", "admin", env=env).stdout.strip()
    proc, base = start(
        ats, data, os.path.join(tmp, "files-serve.log"),
        {"ATS_BLOB_MAX_MB": "2", "ATS_PRESIGN_SECONDS": "20"})
    client, other = Client(base, key), Client(base, other_key)
    try:
        # A candidate the recruiter started, then the CV.
        person = client.call("POST", "/api/v1/candidates", {"firstName": "Marguerite", "lastName": "O.-L."})
        report(person.status == 201, "a candidate with only a name", person)
        cid = (person.json or {}).get("id", "")
        docx = sample_files.docx(CV_LINES)
        up = upload(client, f"/api/v1/candidates/{cid}/documents", docx, "cv.docx")
        doc = up.json or {}
        report(up.status == 201 and doc.get("parseStatus") == "pending" and doc.get("sha256"),
               "a DOCX CV uploaded as multipart: 201, pending, with its SHA-256", up)
        report("wordprocessingml" in doc.get("contentType", ""), "the type is decided from the content", doc.get("contentType"))
        parsed = wait_parsed(client, doc.get("id", ""))
        report(parsed.get("parseStatus") == "parsed", "the extraction job parses the CV", parsed.get("parseError") or parsed.get("parseStatus"))
        confidence = (parsed.get("parsed") or {}).get("overall")
        report(isinstance(confidence, (int, float)) and 0 < confidence <= 1, "the parse result and its confidence are visible", parsed.get("parsed"))
        candidate = client.call("GET", f"/api/v1/candidates/{cid}").json or {}
        report(candidate.get("email") == "marguerite.ol@files-example.test" and "Data Engineer" in (candidate.get("currentTitle") or ""),
               "the CV filled the candidate's empty fields (email, title)", candidate)
        report(candidate.get("lastName") == "O.-L.", "what the recruiter typed is not overwritten", candidate.get("lastName"))
        found = wait_until(lambda: any(
            item.get("id") == cid
            for item in (client.call("GET", "/api/v1/search/candidates?q=zanzibarite").json or {}).get("hits", [])), 20)
        report(found, "a word only in the CV finds the candidate through search")

        # From a PDF.
        pdf = sample_files.pdf(["Tobias Fenwick-Arroyo", "Site Reliability Engineer",
                                "tobias.fa@files-example.test  +44 20 7946 0958", "Skills: Go, Terraform, AWS, Kubernetes"])
        made = upload(client, "/api/v1/candidates/from-cv", pdf, "tobias.pdf", "application/pdf")
        body = made.json or {}
        report(made.status == 201 and (body.get("candidate") or {}).get("lastName") == "Fenwick-Arroyo",
               "a candidate is created from a PDF CV (pdftotext)", made)

        # Presigned download links, fetched with no key.
        link = client.call("GET", f"/api/v1/documents/{doc.get('id')}/download-url").json or {}
        url = link.get("url", "")
        status, headers, content = fetch(url)
        report(status == 200 and content == docx, "a presigned GET serves the file with plain HTTP", f"{status} {len(content)}")
        report("attachment" in headers.get("content-disposition", "") and "wordprocessingml" in headers.get("content-type", ""),
               "with a safe Content-Disposition and the sniffed Content-Type", headers)
        status, headers, part = fetch(url, headers={"Range": "bytes=10-19"})
        report(status == 206 and part == docx[10:20], "Range: bytes=10-19 answers 206 with those bytes", status)
        status, _, _ = fetch(url, headers={"If-None-Match": headers.get("etag", "")})
        report(status == 304, "If-None-Match with the ETag answers 304", status)
        status, _, _ = fetch(url.replace("X-Amz-Expires=20", "X-Amz-Expires=21"))
        report(status == 403, "a tampered link answers 403", status)
        status, _, _ = fetch(url, method="PUT", data=b"x")
        report(status == 403, "a GET link used for PUT answers 403", status)
        report(other.call("GET", f"/api/v1/documents/{doc.get('id')}/download-url").status == 404,
               "another organization gets 404 for the document's link")

        # Presigned upload.
        link = client.call("POST", f"/api/v1/candidates/{cid}/documents/upload-url", {"filename": "letter.txt", "kind": "cover_letter"}).json or {}
        status, _, put_body = fetch(link.get("url", ""), method="PUT", data=b"Dear hiring manager,\n", headers={"Content-Type": "text/plain"})
        report(status == 201 and json.loads(put_body or b"{}").get("kind") == "cover_letter", "a presigned PUT upload makes a document", status)

        # Zip of the candidate's files.
        zipped = client.call("POST", f"/api/v1/candidates/{cid}/documents/zip").json or {}
        status, _, archive = fetch(zipped.get("url", ""))
        names = zipfile.ZipFile(io.BytesIO(archive)).namelist() if status == 200 else []
        report(sorted(names) == ["cv.docx", "letter.txt"], "the candidate's files as one zip through a presigned link", names)

        # An export kept as a blob, handed out as a presigned link.
        export = client.call("POST", "/api/v1/exports", {"kind": "candidates", "format": "csv"}).json or {}
        done = wait_until(lambda: (lambda e: e if e.get("status") == "completed" else None)(
            client.call("GET", f"/api/v1/exports/{export.get('id')}").json or {}), 60) or {}
        status, _, csv = fetch(done.get("downloadUrl") or "http://127.0.0.1:1/none")
        report(status == 200 and b"firstName" in csv and b"Fenwick-Arroyo" in csv, "an export downloads through its presigned link", status)

        # Hostile files: each extraction fails with a reason, visibly.
        for name, payload, filename, needle in [
            ("a DOCX zip bomb", sample_files.docx_bomb(300), "bomb.docx", ""),
            ("an encrypted PDF", sample_files.pdf(["secret"], encrypt_password="hunter2"), "locked.pdf", "password"),
            ("a malformed PDF", b"%PDF-1.7\n" + os.urandom(3000), "broken.pdf", ""),
        ]:
            up = upload(client, f"/api/v1/candidates/{cid}/documents", payload, filename)
            result = wait_parsed(client, (up.json or {}).get("id", "")) if up.status == 201 else {}
            reason = result.get("parseError") or ""
            report(up.status == 201 and result.get("parseStatus") == "failed" and reason and needle in reason.lower(),
                   f"{name}: the extraction fails with a reason", f"{up.status} {result.get('parseStatus')} {reason!r}")
        jobs = client.call("GET", "/api/v1/admin/jobs?type=document.extract&limit=50").json or {}
        failed = [j for j in jobs.get("items", []) if j.get("state") in ("failed", "dead") and j.get("lastError")]
        report(len(failed) >= 3, "the failed extraction jobs show their reason in the job list", [j.get("state") for j in jobs.get("items", [])])

        before = blob_files(data)
        big = upload(client, f"/api/v1/candidates/{cid}/documents", b"A" * (3 << 20), "big.txt", "text/plain")
        report(big.status == 413 and "problem+json" in big.content_type, "a file over the limit answers 413 problem+json", big)
        report(blob_files(data) == before, "and nothing of it is stored")
        fake = upload(client, f"/api/v1/candidates/{cid}/documents", b"\x7fELF\x02\x01\x01" + bytes(200), "cv.pdf", "application/pdf")
        report(fake.status == 415, "content that is not the declared PDF answers 415", fake)
        sneaky = upload(client, f"/api/v1/candidates/{cid}/documents", b"notes", "../../../etc/passwd", fields={"kind": "other"})
        report(sneaky.status == 201 and (sneaky.json or {}).get("filename") == "passwd", "a traversal filename keeps only its last component", sneaky)
        report(client.call("GET", f"/api/v1/documents/{doc.get('id')}").json.get("sha256") == doc.get("sha256"),
               "the first CV is untouched by all of that")

        time.sleep(21)
        status, _, body = fetch(url)
        report(status == 403 and b"expired" in body, "after its 20 seconds the link answers 403 (expired)", status)
    finally:
        stop(proc)
    return 1 if checks.failures else 0


if __name__ == "__main__":
    sys.exit(main())
