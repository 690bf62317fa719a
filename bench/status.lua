-- wrk script for gatehouse's extra measurements (bench/run.sh): the anchor's
-- bench/wrk.lua (same requests, same SCENARIO/BENCH_DIR/AUTH_PATH/ORIGIN env), plus a
-- count of HTTP statuses, because wrk itself lumps every non-2xx into "errors".
--
-- Env: ANCHOR_WRK  path of the anchor's bench/wrk.lua (required)
-- done() prints one line:
--   STATUS requests=N sent=N duration_s=S s2xx=N s503=N sother=N no_retry_after=N mean_ms=..
--          p50_ms=.. p90_ms=.. p99_ms=.. max_ms=.. err_connect=N err_read=N err_write=N err_timeout=N
--          codes=200:N,503:N,...
-- (sent = request() calls; no_retry_after = 503 responses without a Retry-After header)

dofile(assert(os.getenv("ANCHOR_WRK"), "ANCHOR_WRK is not set"))

local anchor_setup = setup
local threads = {}

function setup(thread)
  anchor_setup(thread)
  threads[#threads + 1] = thread
end

local anchor_request = request
sent = 0
function request()
  sent = sent + 1
  return anchor_request()
end

codes = {}
no_retry_after = 0

function response(status, headers, body)
  codes[status] = (codes[status] or 0) + 1
  if status == 503 and headers["Retry-After"] == nil and headers["retry-after"] == nil then
    no_retry_after = no_retry_after + 1
  end
end

function done(summary, latency, requests)
  local total, nra, nsent = {}, 0, 0
  for _, t in ipairs(threads) do
    nsent = nsent + t:get("sent")
    for code, n in pairs(t:get("codes")) do
      total[code] = (total[code] or 0) + n
    end
    nra = nra + t:get("no_retry_after")
  end
  local s2xx, s503, sother, list = 0, 0, 0, {}
  for code, n in pairs(total) do
    if code >= 200 and code < 300 then
      s2xx = s2xx + n
    elseif code == 503 then
      s503 = s503 + n
    else
      sother = sother + n
    end
    list[#list + 1] = code .. ":" .. n
  end
  table.sort(list)
  io.write(string.format(
    "STATUS requests=%d sent=%d duration_s=%.3f s2xx=%d s503=%d sother=%d no_retry_after=%d " ..
    "mean_ms=%.2f p50_ms=%.2f p90_ms=%.2f p99_ms=%.2f max_ms=%.2f " ..
    "err_connect=%d err_read=%d err_write=%d err_timeout=%d codes=%s\n",
    summary.requests, nsent, summary.duration / 1e6, s2xx, s503, sother, nra,
    latency.mean / 1000, latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000,
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, #list > 0 and table.concat(list, ",") or "none"))
end
