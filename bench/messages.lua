-- wrk script: POSTs distinct pre-signed messages, one per request, read from the file named
-- by BENCH_MESSAGES (one JWS a line). Counts answers by status; with one thread (-t1) the
-- last line printed is JSON for bench.acceptance. "wrapped" > 0 means the file ran out and
-- messages were sent again (duplicates: the gateway answers those without storing).
local bodies = {}
for line in io.lines(os.getenv("BENCH_MESSAGES")) do
  bodies[#bodies + 1] = line
end
local i = 0
wrapped = 0
statuses = {}
local headers = { ["Content-Type"] = "application/jose+json" }
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function request()
  i = i + 1
  if i > #bodies then
    i = 1
    wrapped = wrapped + 1
  end
  return wrk.format("POST", "/v1/messages", headers, bodies[i])
end

function response(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local parts = {}
  local total_wrapped = 0
  local merged = {}
  for _, thread in ipairs(threads) do
    total_wrapped = total_wrapped + thread:get("wrapped")
    for status, n in pairs(thread:get("statuses")) do
      merged[status] = (merged[status] or 0) + n
    end
  end
  for status, n in pairs(merged) do
    parts[#parts + 1] = string.format('"%d":%d', status, n)
  end
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"socket_errors":%d,' ..
    '"wrapped":%d,"statuses":{%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, total_wrapped, table.concat(parts, ",")))
end
