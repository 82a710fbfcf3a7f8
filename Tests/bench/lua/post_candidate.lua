-- POST /api/v1/candidates with a unique email per request (run, thread and counter),
-- so duplicate detection never answers 409.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local run = os.getenv("BENCH_RUN") or "0"
local n = 0
request = function()
    n = n + 1
    local body = string.format(
        '{"firstName":"Bench","lastName":"Candidate %d","email":"bench.%s.%d.%d@example.com"}',
        n, run, thread_id or 0, n)
    return wrk.format("POST", "/api/v1/candidates", nil, body)
end
