-- PATCH BENCH_PREFIX .. id with a changing headline, rotating through the ids in BENCH_IDS:
-- updates that each rewrite a record, its search document and its cache entries (a hundred
-- texts per thread, so updates alone do not grow the vocabulary).
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
wrk.headers["Content-Type"] = "application/json"
local ids = read_lines(os.getenv("BENCH_IDS"))
local prefix = os.getenv("BENCH_PREFIX") or "/api/v1/candidates/"
local i = nil
local n = 0
request = function()
    if i == nil then i = ((thread_id or 1) * 7919) % #ids end
    i = i % #ids + 1
    n = n + 1
    local body = string.format('{"professionalHeadline":"Bench headline %d of thread %d"}', n % 100, thread_id or 0)
    return wrk.format("PATCH", prefix .. ids[i], nil, body)
end
