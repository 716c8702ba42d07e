-- wrk script for bench/bench_customer.py: POST one SOAP envelope, read from a file.
--
--   wrk -s bench/soap_post.lua URL -- BODY_FILE [USERNAME_PREFIX]
--
-- With USERNAME_PREFIX, every "@@USERNAME@@" in the body is replaced per request by
-- PREFIX-<thread>-<n>, so each request (addAccount) asks for a username never used before.
-- done() prints one "BENCH_JSON {...}" line with exact counts and percentiles in µs.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  local f = assert(io.open(args[1], "rb"), "cannot open body file " .. tostring(args[1]))
  body = f:read("*a")
  f:close()
  prefix = args[2]
  n = 0
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "text/xml; charset=UTF-8"
  wrk.headers["SOAPAction"] = '""'
  wrk.headers["User-Agent"] = "PEAR-SOAP 0.11.0-beta"
  if prefix == nil or prefix == "" then
    fixed = wrk.format(nil, nil, nil, body)
  end
end

function request()
  if fixed then
    return fixed
  end
  n = n + 1
  local name = prefix .. "-" .. tid .. "-" .. n
  return wrk.format(nil, nil, nil, (string.gsub(body, "@@USERNAME@@", name)))
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "connect": %d, "read": %d, ' ..
    '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
