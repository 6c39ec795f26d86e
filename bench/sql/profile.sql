-- PATCH /api/account/profile's transaction (account::profile::update): the token check,
-- the row locked, a city that differs from every other request's (so each call writes, as
-- the wrk script's calls do), and the UserUpdated event in the outbox (a body of the
-- service's size, to the queue the service writes to: its relay publishes both alike), then
-- the record read back as the answer.
-- pgbench -M prepared, -D uid=<user> -D sid=<login> -D queue=<auth's RABBITMQ_USER_QUEUE>.
\set r random(1, 1000000000)
BEGIN;
SELECT u.id, u.username, u.email, u.password, u.tokens_valid_after,
       f.created_at, f.revoked_at IS NOT NULL, u.deactivated_at IS NOT NULL
FROM "user" u LEFT JOIN token_family f ON f.id = :sid AND f.user_id = u.id
WHERE u.id = :uid;
SELECT username, first_name, last_name, city FROM "user" WHERE id = :uid FOR NO KEY UPDATE;
UPDATE "user" SET first_name = 'B', last_name = 'M', city = concat('P', :client_id::text, '-', :r::text)
WHERE id = :uid RETURNING updated_at;
INSERT INTO outbox (message_id, queue, event, body, correlation_id, traceparent, producer)
VALUES (gen_random_uuid(), :queue, 'UserUpdated',
        concat('{"event":"UserUpdated","data":{"user_id":"', :uid::text, '","username":"bench_login","changed":["city"],"first_name":"B","last_name":"M","city":"P', :client_id::text, '-', :r::text, '","updated_at":"', clock_timestamp()::text, '"},"timestamp":"', clock_timestamp()::text, '"}'),
        NULL, NULL, 'auth');
SELECT u.id AS user_id, u.username, u.email, u.email_verified_at IS NOT NULL,
       u.email_verified_at, c.email, u.first_name, u.last_name, u.city, u.dni, u.updated_at
FROM "user" u
LEFT JOIN email_confirmation c
  ON c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > clock_timestamp()
WHERE u.id = :uid;
COMMIT;
