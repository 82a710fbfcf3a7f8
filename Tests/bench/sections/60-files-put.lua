-- PUT the same file to the same presigned URL every time (BENCH_PATH: path and query of a
-- presigned PUT URL; BENCH_FILE: the body). Used by sections/60-files.sh for upload MB/s.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local file = assert(io.open(os.getenv("BENCH_FILE"), "rb"))
wrk.method = "PUT"
wrk.body = file:read("*a")
file:close()
wrk.path = os.getenv("BENCH_PATH")
wrk.headers["Content-Type"] = "application/octet-stream"
