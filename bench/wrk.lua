-- Usage: wrk ... -s wrk.lua <url> -- <path> [random <highest id> [<lowest id>]]
-- With "random", each request asks for <path><n> with n uniform in lowest (1)..highest.
-- At the end it prints one machine-readable summary line and the latency quantiles in
-- microseconds, per mille, so that several wrk processes can be merged (bench/loadgen.py).
local path, lowest, highest

init = function(args)
  path = args[1]
  if args[2] == "random" then
    highest = tonumber(args[3])
    lowest = tonumber(args[4] or "1")
    math.randomseed(os.time())
  end
end

request = function()
  if highest then
    return wrk.format("GET", path .. math.random(lowest, highest))
  end
  return wrk.format("GET", path)
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("hiload-summary %d %d %d %d %d %d %d\n", summary.duration,
    summary.requests, e.connect, e.read, e.write, e.status, e.timeout))
  for permille = 1, 999 do
    io.write(string.format("hiload-quantile %d %d\n", permille, latency:percentile(permille / 10)))
  end
  io.write(string.format("hiload-quantile 1000 %d\n", latency.max))
end
