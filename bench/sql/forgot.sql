-- POST /api/account/password/forgot's statements (account::password::forgot) for a login
-- that names no account, as the wrk script sends (each call a login of its own): the
-- lookup, the canonical form, then one transaction: the counters (the login string's and
-- the client address's: one address, as wrk's), the code's insert that inserts nothing
-- without an account, and PasswordResetUnmatched in the outbox. The code's digest (SHA-256
-- in the service) is left out. pgbench -M prepared -D queue=<auth's RABBITMQ_ACCOUNT_QUEUE>.
\set r random(1, 2000000000)
SELECT id, username, email, password FROM "user"
WHERE username = :r::text OR email = :r::text
   OR identity_canonical(username) = identity_canonical(:r::text)
   OR identity_canonical(email) = identity_canonical(:r::text)
ORDER BY CASE WHEN strpos(:r::text, '@') > 0 THEN email = :r::text ELSE username = :r::text END DESC,
         (username = :r::text OR email = :r::text) DESC
LIMIT 2;
SELECT identity_canonical(:r::text);
BEGIN;
INSERT INTO password_reset_throttle AS t (key, requests, window_started)
SELECT k, 1, now()
FROM unnest(ARRAY[concat('login:', encode(sha256(convert_to(:r::text, 'UTF8')), 'hex')), 'addr:127.0.0.1']) AS k
ORDER BY k
ON CONFLICT (key) DO UPDATE SET
  requests = CASE WHEN t.window_started <= now() - make_interval(secs => 3600)
                  THEN 1 ELSE t.requests + 1 END,
  window_started = CASE WHEN t.window_started <= now() - make_interval(secs => 3600)
                        THEN now() ELSE t.window_started END
RETURNING key, requests,
  ceil(extract(epoch FROM window_started + make_interval(secs => 3600) - now()))::bigint;
INSERT INTO password_reset (digest, user_id, expires_at)
SELECT sha256(convert_to(:r::text, 'UTF8')), NULL::uuid, clock_timestamp() + make_interval(secs => 1800)
WHERE NULL::uuid IS NOT NULL;
INSERT INTO outbox (message_id, queue, event, body, correlation_id, traceparent, producer)
VALUES (gen_random_uuid(), :queue, 'PasswordResetUnmatched',
        concat('{"event":"PasswordResetUnmatched","data":{},"timestamp":"', clock_timestamp()::text, '"}'),
        gen_random_uuid()::text, NULL, 'auth');
COMMIT;
