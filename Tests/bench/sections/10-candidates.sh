# shellcheck shell=bash disable=SC2154 # tmp, base, key, ... come from bench.sh
# Sourced by Tests/bench/bench.sh with the server up: candidate reads, a filtered list page
# and creates, beside nginx serving the very same JSON bytes as static files.

# Candidate ids to rotate through: a few pages of the list.
ids_file="$tmp/candidate-ids.txt"
: >"$ids_file"
cursor=""
for _ in 1 2 3 4 5; do
    page="$(ats_get "/api/v1/candidates?limit=200${cursor:+&cursor=$cursor}")"
    jq -r '.items[].id' <<<"$page" >>"$ids_file"
    cursor="$(jq -r '.nextCursor // empty' <<<"$page")"
    [ -n "$cursor" ] || break
done
log "$(wc -l <"$ids_file") candidate ids"

list_path="/api/v1/candidates?status=active&limit=50"
ats_get "/api/v1/candidates/$(head -n 1 "$ids_file")" >"$tmp/candidate.json"
ats_get "$list_path" >"$tmp/candidates-page.json"
log "list page: $(jq '.items | length' "$tmp/candidates-page.json") items, $(wc -c <"$tmp/candidates-page.json") B"

bench_wrk "GET /api/v1/candidates/{id} (rotating ids)" "$base" get_rotating.lua \
    BENCH_KEY="$key" BENCH_IDS="$ids_file" BENCH_PREFIX="/api/v1/candidates/"
bench_nginx "one candidate's JSON" "$tmp/candidate.json"
bench_wrk "GET $list_path" "$base" get.lua BENCH_KEY="$key" BENCH_PATH="$list_path"
bench_nginx "that list page's JSON" "$tmp/candidates-page.json"
bench_wrk "POST /api/v1/candidates (unique emails)" "$base" post_candidate.lua \
    BENCH_KEY="$key" BENCH_RUN="$$"

aim_ratio "GET /api/v1/candidates/{id}" "nginx 1 worker: one candidate" 0.5 "candidate reads vs nginx 1 worker"
aim_ratio "GET $list_path" "nginx 1 worker: that list page" 0.5 "list page vs nginx 1 worker"
aim_min "POST /api/v1/candidates" 5000 "creates"
bench_note "aims (issue 2): reads >= half of nginx's rate on the same bytes; creates >= 5,000/s (WAL mode)"
