-- GET BENCH_PREFIX .. id .. BENCH_SUFFIX, rotating through the ids in the file BENCH_IDS (one
-- per line); each thread starts at a different place.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local ids = read_lines(os.getenv("BENCH_IDS"))
local prefix = os.getenv("BENCH_PREFIX")
local suffix = os.getenv("BENCH_SUFFIX") or ""
local i = nil
request = function()
    if i == nil then i = ((thread_id or 1) * 7919) % #ids end
    i = i % #ids + 1
    return wrk.format("GET", prefix .. ids[i] .. suffix)
end
