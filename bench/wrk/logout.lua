-- POST /logout, each call with an access token of a login of its own, still live: run.sh
-- makes them (hub-bench tokens, auth's key) into BENCH_LOGOUT_FILE, `<sid> <token>` lines,
-- and wrk thread k of BENCH_WRK_THREADS sends lines k, k + threads, ... once each. When a
-- thread has used its share it sends a token that cannot work, so running short shows as
-- errors, never as a faster figure.
local threads = tonumber(os.getenv("BENCH_WRK_THREADS") or "1")
local created = 0
function setup(thread)
  thread:set("tid", created)
  created = created + 1
end
local queue, next_i = {}, 1
function init(args)
  local i = 0
  for line in io.lines((assert(os.getenv("BENCH_LOGOUT_FILE"), "BENCH_LOGOUT_FILE"))) do
    if i % threads == tid then
      table.insert(queue, string.match(line, "%S+%s+(%S+)"))
    end
    i = i + 1
  end
end
function request()
  local token = queue[next_i] or "used-up"
  next_i = next_i + 1
  return wrk.format("POST", "/logout", { ["Authorization"] = "Bearer " .. token })
end
