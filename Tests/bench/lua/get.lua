-- GET the same path every time (BENCH_PATH, else the URL's path): list pages, nginx files.
dofile(os.getenv("BENCH_LUA_DIR") .. "/common.lua")
local path = os.getenv("BENCH_PATH")
if path and path ~= "" then wrk.path = path end
