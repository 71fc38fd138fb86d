-- wrk script of the ingest benchmark (tests/bench/bench_ingest.py): POST /v1/posts with a
-- body per request; 1,000 authors per wrk thread, so that the per-author rate limit (20/s, burst
-- 100) is not what is measured.
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

request = function()
  counter = counter + 1
  local body = string.format(
    '{"author_id":"wrk%d-%d","text":"How do I get started with sourdough? My starter never rises and smells of acetone."}',
    tid, counter % 1000)
  return wrk.format("POST", "/v1/posts", nil, body)
end
