-- wrk script: POST the message in $GOVHUB_BENCH_BODY with a fresh client id per request.
local body = os.getenv("GOVHUB_BENCH_BODY")
local key = os.getenv("GOVHUB_BENCH_KEY") or ""
-- every wrk run restarts its counters: a run id keeps client ids unique across runs,
-- so each request is a new message, not a repeat answered from the first one
local run = os.getenv("GOVHUB_BENCH_RUN") or tostring(os.time())
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if key ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. key
  end
end

function request()
  counter = counter + 1
  local id = string.format("bench-%s-%d-%d", run, tid, counter)
  return wrk.format(nil, nil, nil, string.format(body, id))
end
