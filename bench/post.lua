-- wrk script: POST the body in $GOVHUB_BENCH_BODY, every "__ID__" in it replaced by a fresh id
-- per request (the client id, and the case number where the body puts it too).
-- $GOVHUB_BENCH_RATE (requests/s over all connections, optional) paces the load.
local body = os.getenv("GOVHUB_BENCH_BODY")
local key = os.getenv("GOVHUB_BENCH_KEY") or ""
local content_type = os.getenv("GOVHUB_BENCH_CONTENT_TYPE") or "application/json"
local action = os.getenv("GOVHUB_BENCH_SOAP_ACTION") or ""
local rate = tonumber(os.getenv("GOVHUB_BENCH_RATE") or "0")
local connections = tonumber(os.getenv("GOVHUB_BENCH_CONNECTIONS") or "16")
-- every wrk run restarts its counters: a run id keeps ids unique across runs, so each
-- request is a new message, not a repeat answered from the first one
local run = os.getenv("GOVHUB_BENCH_RUN") or tostring(os.time())
local counter = 0
local thread_id = 0

function setup(thread)
  thread_id = thread_id + 1
  thread:set("tid", thread_id)
end

function init(args)
  wrk.method = "POST"
  wrk.headers["Content-Type"] = content_type
  if key ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. key
  end
  if action ~= "" then
    wrk.headers["SOAPAction"] = action
  end
end

function delay()
  if rate > 0 then
    return connections * 1000 / rate
  end
  return 0
end

function request()
  counter = counter + 1
  local id = string.format("b%s-%d-%d", run, tid, counter)
  local filled = body:gsub("__ID__", id)
  return wrk.format(nil, nil, nil, filled)
end
