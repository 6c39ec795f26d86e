-- POST /register with a new user each call (username, dni and email must be unique).
-- `tid` is a global set per thread by setup() (a `local tid` here would shadow it and
-- give every thread the same usernames).
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads + 1)
  table.insert(threads, thread)
end
function init(args)
  math.randomseed(os.time() + tid * 7919)
  prefix = string.format("%x%06x", tid, math.random(0, 0xffffff))
end
request = function()
  counter = counter + 1
  local tag = prefix .. "_" .. counter
  local body = '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:user="http://example.com/user"><soapenv:Body><user:RegisterUser>'
    .. '<user:username>b' .. tag .. '</user:username><user:password>bench-password</user:password>'
    .. '<user:first_name>Bench</user:first_name><user:last_name>Mark</user:last_name>'
    .. '<user:dni>' .. string.sub(tag, 1, 20) .. '</user:dni><user:email>' .. tag .. '@bench.example.com</user:email>'
    .. '<user:city>Bench</user:city></user:RegisterUser></soapenv:Body></soapenv:Envelope>'
  return wrk.format("POST", "/register", {["Content-Type"] = "text/xml; charset=utf-8"}, body)
end
