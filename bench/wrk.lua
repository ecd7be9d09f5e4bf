-- wrk script: cycles through a mix of searches, quoted, unquoted and
-- filtered, so the load test is not one cached query.
local paths = {
  "/api/search?q=%22%E9%98%B2%E6%B2%99%E6%B2%BB%E6%B2%99%22",
  "/api/search?q=%E6%96%B0%E8%83%BD%E6%BA%90",
  "/api/search?q=%22%E4%BA%BF%E5%85%83%22&region=%E8%B5%A4%E5%B3%B0",
  "/api/search?q=%22%E5%8F%91%E5%B1%95%22&sector=%E5%B7%A5%E4%B8%9A",
  "/api/search?unit=%E4%BA%A9&min=100%E4%B8%87&max=500%E4%B8%87",
  "/api/search?q=%E4%B9%A1%E6%9D%91%E6%8C%AF%E5%85%B4+%E4%BA%A7%E4%B8%9A",
  "/api/search?q=%22%E4%B8%93%E7%B2%BE%E7%89%B9%E6%96%B0%22&offset=10",
  "/api/search?q=%E8%82%89%E7%89%9B+OR+%E5%A5%B6%E4%B8%9A",
}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format("wrk: %.0f requests/s, p50 %.2f ms, p99 %.2f ms, %d requests, %d non-2xx, %d socket errors\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, summary.requests, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
