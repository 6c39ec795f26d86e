-- POST /api/sessions for the seeded user (token from BENCH_TOKEN): one user check in
-- PostgreSQL and one upsert in MongoDB per call.
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN")
wrk.body = '{"data":{"theme":"dark"}}'
