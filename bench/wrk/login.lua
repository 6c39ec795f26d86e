-- POST /login for the seeded user (current-format hash: one PBKDF2 derivation per call).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"username":"bench_login","password":"bench-password"}'
