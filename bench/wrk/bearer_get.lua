-- A GET with the seeded user's access token (BENCH_TOKEN): GET /api/account,
-- GET /api/account/logins.
wrk.method = "GET"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
