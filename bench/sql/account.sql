-- GET /api/account's statements (account::profile): the token check, then the record.
-- Appended to token_check.sql by bench/run.sh; pgbench -M prepared, -D uid=<user> -D sid=<login>.
SELECT u.id AS user_id, u.username, u.email, u.email_verified_at IS NOT NULL,
       u.email_verified_at, c.email, u.first_name, u.last_name, u.city, u.dni, u.updated_at
FROM "user" u
LEFT JOIN email_confirmation c
  ON c.user_id = u.id AND c.purpose = 'email_change' AND c.expires_at > clock_timestamp()
WHERE u.id = :uid;
