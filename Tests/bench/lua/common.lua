-- Shared by every wrk script of Tests/bench: auth header, thread ids, and one result line.
-- wrk loads a script into the main Lua state and into one state per thread; `setup` and
-- `done` run in the main state, `request` in the threads.
local key = os.getenv("BENCH_KEY")
if key and key ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. key
end

-- BENCH_DELAY_MS: a pause before each request of a connection, so a background load (the
-- soak's creates and updates) runs at a bounded rate instead of as fast as it can.
local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "")
if delay_ms and delay_ms > 0 then
    function delay() return delay_ms end
end

local next_thread_id = 0
function setup(thread)
    next_thread_id = next_thread_id + 1
    thread:set("thread_id", next_thread_id)
end

function read_lines(path)
    local lines = {}
    for line in io.lines(path) do
        if line ~= "" then lines[#lines + 1] = line end
    end
    assert(#lines > 0, "no lines in " .. path)
    return lines
end

-- BENCH_RESULT req/s p50_ms p99_ms requests non2xx socket_errors
function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format("BENCH_RESULT %.1f %.3f %.3f %d %d %d\n",
        summary.requests / (summary.duration / 1e6),
        latency:percentile(50) / 1000, latency:percentile(99) / 1000,
        summary.requests, e.status, e.connect + e.read + e.write + e.timeout))
end
