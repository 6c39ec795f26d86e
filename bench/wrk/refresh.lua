-- POST /token/refresh with a valid refresh token on every call. Each refresh uses its token
-- up and answers the next one, so each connection walks a chain of its own: run.sh logs in
-- once per connection (and once more) and passes the refresh tokens in
-- BENCH_REFRESH_TOKENS (space separated), BENCH_REFRESH_PER_THREAD of them to each wrk thread; a thread keeps the tokens
-- its answers bring and sends each once. A refused refresh (a status >= 400, which wrk
-- counts as an error) ends its chain: its connection then sends a token that cannot work,
-- so a broken chain shows as errors, never as a silent stop.
local all = {}
for t in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS") or "", "%S+") do
  table.insert(all, t)
end
local per = tonumber(os.getenv("BENCH_REFRESH_PER_THREAD") or "1")
local threads = 0
-- Thread 0 takes one more: wrk calls its request() once before the run (to check what it
-- returns), which uses a token up.
function setup(thread)
  local first = threads * per + 1 + (threads > 0 and 1 or 0)
  thread:set("tokens", table.concat(all, " ", first, math.min(#all, (threads + 1) * per + 1)))
  threads = threads + 1
end
local queue = {}
function init(args)
  for t in string.gmatch(tokens or "", "%S+") do
    table.insert(queue, t)
  end
end
local headers = { ["Content-Type"] = "application/json" }
function request()
  local token = table.remove(queue, 1) or "chain-broken"
  return wrk.format("POST", "/token/refresh", headers, '{"refresh_token":"' .. token .. '"}')
end
local told = false
function response(status, headers, body)
  if status == 200 then
    local next = string.match(body, '"refresh_token"%s*:%s*"([^"]+)"')
    if next then
      table.insert(queue, next)
    end
  elseif not told then
    -- The first refusal, once per thread, to BENCH_REFRESH_LOG: what broke a chain.
    told = true
    local f = io.open(os.getenv("BENCH_REFRESH_LOG") or "/dev/stderr", "a")
    if f then
      f:write("refresh.lua: a refresh answered " .. status .. ": " .. string.sub(body or "", 1, 200) .. "\n")
      f:close()
    end
  end
end
