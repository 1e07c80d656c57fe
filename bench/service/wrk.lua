-- Usage: wrk ... -s wrk.lua <url> -- <path> [random <highest id>]
-- With "random", each request asks for <path><n> with n uniform in 1..<highest id>.
local path, highest

init = function(args)
  path = args[1]
  if args[2] == "random" then
    highest = tonumber(args[3])
    math.randomseed(os.time())
  end
end

request = function()
  if highest then
    return wrk.format("GET", path .. math.random(1, highest))
  end
  return wrk.format("GET", path)
end
