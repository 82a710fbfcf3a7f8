# shellcheck shell=bash disable=SC2154 # tmp, ats, data, base, current_section, results ... come from bench.sh
# Sourced by Tests/bench/bench.sh: the file tier (issue 6), each figure beside its anchor in the
# same run:
#   - a presigned GET of a 10 MB file through the S3-compatible endpoint (SigV4 query
#     signature checked, the blob verified (cached), Range-capable streaming), against nginx
#     serving the same file from disk;
#   - uploads of that file (a presigned PUT: hashed SHA-256 + MD5, written, fsynced, renamed or
#     deduplicated) in MB/s, against `sha256sum` of the same file (the hashing floor);
#   - CV parsing in documents/s on the demo CVs (`ats cv-bench`: PDF through pdftotext, DOCX
#     through the built-in reader, and the whole ingestion job).
# Rows: wrk rows in req/s as usual (the notes turn them into MB/s). The sha256sum row has
# MB/s in the req/s column and seconds per run in p50. CV rows: documents/s in the req/s column.
#
# Environment: BENCH_FILE_MB (default 10), BENCH_UPLOAD_CONNECTIONS (default 4).

file_mb="${BENCH_FILE_MB:-10}"
upload_connections="${BENCH_UPLOAD_CONNECTIONS:-4}"
file_path="$tmp/file-$file_mb-MB.bin"
head -c "$((file_mb * 1048576))" /dev/urandom >"$file_path"
file_bytes="$(stat -c %s "$file_path")"
host_port="${base#http://}"

# mb_per_s LABEL: the row's req/s times the file's size, in MB/s ("" when no figure).
mb_per_s() {
    local rps
    rps="$(rps_of "$1")"
    [ -n "$rps" ] || return 0
    awk -v r="$rps" -v b="$file_bytes" 'BEGIN { printf "%.0f", r * b / 1048576 }'
}

# presign METHOD KEY: a presigned SigV4 URL's path and query for /s3/demo/KEY (Python's
# standard library only: the bench needs no S3 client).
presign() {
    python3 - "$1" "/s3/demo/$2" "$host_port" "$s3_id" "$s3_secret" <<'PY'
import datetime, hashlib, hmac, sys, urllib.parse
method, path, host, key_id, secret = sys.argv[1:]
now = datetime.datetime.now(datetime.timezone.utc)
amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
scope = f"{day}/us-east-1/s3/aws4_request"
quote = lambda s: urllib.parse.quote(s, safe="-_.~")
params = {"X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{key_id}/{scope}", "X-Amz-Date": amz_date,
          "X-Amz-Expires": "3600", "X-Amz-SignedHeaders": "host"}
query = "&".join(f"{quote(k)}={quote(v)}" for k, v in sorted(params.items()))
canonical = "\n".join([method, urllib.parse.quote(path, safe="/-_.~"), query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"])
to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
key = ("AWS4" + secret).encode()
for part in (day, "us-east-1", "s3", "aws4_request"):
    key = hmac.new(key, part.encode(), hashlib.sha256).digest()
print(f"{path}?{query}&X-Amz-Signature={hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()}")
PY
}

read -r s3_id s3_secret < <("$ats" s3-key create --data "$data" --org demo --label bench 2>"$tmp/s3-key.err") || true
if [ -z "${s3_id:-}" ] || [ -z "${s3_secret:-}" ]; then
    log "files: ats s3-key create failed:"; cat "$tmp/s3-key.err" >&2
    bench_note "no S3 key (ats s3-key create failed): the file rows are missing"
else
    # 1. Presigned GET of the file through /s3, then nginx serving the same bytes.
    put_path="$(presign PUT "bench/file-$file_mb-MB.bin")"
    code="$(curl -sS --max-time 120 -o "$tmp/s3-put.out" -w '%{http_code}' -T "$file_path" "$base$put_path" 2>"$tmp/s3-put.err" || true)"
    [ "$code" = 200 ] || { log "files: presigned PUT answered ${code:-nothing}:"; cat "$tmp/s3-put.out" "$tmp/s3-put.err" >&2 || true; }
    get_path="$(presign GET "bench/file-$file_mb-MB.bin")"
    if curl -fsS --max-time 120 "$base$get_path" 2>/dev/null | cmp -s - "$file_path"; then
        bench_wrk "presigned GET ${file_mb} MB file (/s3, SigV4 query)" "$base" get.lua BENCH_PATH="$get_path"
    else
        log "files: the presigned GET does not return the file"
        printf '%s\t%s\t-\t-\t-\t-\n' "$current_section" "presigned GET ${file_mb} MB file (/s3, SigV4 query)" >>"$results"
    fi
    bench_nginx "the same ${file_mb} MB file" "$file_path"

    # 2. Uploads: the same bytes PUT again and again to one presigned URL (each one streamed,
    # hashed, written to a temporary file and fsynced, then deduplicated), fewer connections.
    saved_connections="$bench_connections"
    bench_connections="$upload_connections"
    bench_wrk "presigned PUT ${file_mb} MB file (/s3), -c$upload_connections" "$base" ../sections/60-files-put.lua \
        BENCH_PATH="$put_path" BENCH_FILE="$file_path"
    bench_connections="$saved_connections"
fi

# 3. The hashing floor: sha256sum of the same file (in the page cache), best of 3 x 10 runs.
best=""
for _ in 1 2 3; do
    start="$(date +%s.%N)"
    for _ in 1 2 3 4 5 6 7 8 9 10; do sha256sum "$file_path" >/dev/null; done
    seconds="$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.4f", (b - a) / 10 }')"
    if [ -z "$best" ] || awk -v s="$seconds" -v b="$best" 'BEGIN { exit !(s < b) }'; then best="$seconds"; fi
done
sha_rate="$(awk -v s="$best" -v b="$file_bytes" 'BEGIN { printf "%.0f", b / 1048576 / s }')"
printf '%s\t%s\t%s\t%s\t-\t-\n' "$current_section" "sha256sum of the same file (MB/s; p50 = s per run)" "$sha_rate" \
    "$(awk -v s="$best" 'BEGIN { printf "%.1f", s * 1000 }')" >>"$results"

# 4. CV parsing on demo CVs, in a data folder of its own.
cv_count="${BENCH_CV_COUNT:-200}"
if "$ats" cv-bench --data "$tmp/cv-bench" --count "$cv_count" >"$tmp/cv-bench.out" 2>"$tmp/cv-bench.log"; then
    while read -r _ name value; do
        case "$name" in
            parse_*_per_second)
                format="${name#parse_}"; format="${format%_per_second}"
                printf '%s\t%s\t%s\t-\t-\t-\n' "$current_section" "CV extract + parse, $format (docs/s)" "$value" >>"$results" ;;
            job_per_second)
                printf '%s\t%s\t%s\t-\t-\t-\n' "$current_section" "CV ingestion job: read, extract, parse, fill (docs/s)" "$value" >>"$results" ;;
        esac
    done <"$tmp/cv-bench.out"
    bench_note "CV rows: $(awk '$2 == "documents" { print $3 }' "$tmp/cv-bench.out") demo CVs (PDF and DOCX) of $cv_count demo candidates, one task"
else
    log "files: ats cv-bench failed:"; tail -n 20 "$tmp/cv-bench.log" >&2
    bench_note "ats cv-bench failed: no CV rows"
fi

# Notes: the wrk rows in MB/s, beside their anchors.
get_rate="$(mb_per_s "presigned GET")"
nginx1_rate="$(mb_per_s "nginx 1 worker: the same")"
nginx2_rate="$(mb_per_s "nginx 2 workers: the same")"
put_rate="$(mb_per_s "presigned PUT")"
[ -n "$get_rate" ] && bench_note "presigned GET: $get_rate MB/s; nginx on the same file: ${nginx1_rate:--} MB/s (1 worker), ${nginx2_rate:--} MB/s (2 workers)"
[ -n "$get_rate" ] && [ -n "$nginx1_rate" ] && bench_note "$(awk -v a="$get_rate" -v b="$nginx1_rate" 'BEGIN { printf "presigned GET / nginx 1 worker: %.2f", a / b }')"
[ -n "$put_rate" ] && bench_note "upload: $put_rate MB/s against sha256sum's $sha_rate MB/s on one core ($(awk -v a="$put_rate" -v b="$sha_rate" 'BEGIN { printf "%.2f", a / b }') of the hashing floor; the server also computes MD5, the x-amz checksums and writes the file)"
bench_note "file: $file_bytes random bytes (incompressible, so stored raw); wrk -c$bench_connections for GETs, -c$upload_connections for PUTs"
