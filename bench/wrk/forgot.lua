-- POST /api/account/password/forgot, each call for a login no other call sends and no
-- account has (thread and counter): the answer and the work are those of any login, and
-- no login string reaches its limit. run.sh lifts the per-address limit (one address here).
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local headers = { ["Content-Type"] = "application/json" }
function request()
  n = n + 1
  return wrk.format("POST", "/api/account/password/forgot", headers,
    '{"login":"nobody-' .. (tid or 0) .. '-' .. n .. '"}')
end
