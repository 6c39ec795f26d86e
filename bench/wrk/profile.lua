-- PATCH /api/account/profile for the seeded user (BENCH_TOKEN), with a city no other call
-- sends (thread and counter), so every call changes the row and records UserUpdated.
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
local headers = { ["Content-Type"] = "application/json",
                  ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") }
function request()
  n = n + 1
  return wrk.format("PATCH", "/api/account/profile", headers,
    '{"city":"W' .. (tid or 0) .. '-' .. n .. '"}')
end
