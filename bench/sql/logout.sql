-- POST /logout's statements (routes::tokens::logout): the token check, then the login
-- (family) revoked. Each pgbench client revokes its own chain of live logins, seeded by
-- bench/run.sh under the level's tag (id = md5('<tag>:<client>:<n>')); revoking one that is
-- not there stops the client (\gset wants one row), counted as a failure, so running short
-- never shows as a faster limit. pgbench -M prepared -D uid=<user> -D tag=<tag> -D n=0.
SELECT u.id, u.username, u.email, u.password, u.tokens_valid_after,
       f.created_at, f.revoked_at IS NOT NULL, u.deactivated_at IS NOT NULL
FROM "user" u
LEFT JOIN token_family f ON f.id = md5(concat(:tag::text, ':', :client_id::text, ':', :n::int))::uuid
                        AND f.user_id = u.id
WHERE u.id = :uid;
UPDATE token_family SET revoked_at = clock_timestamp(), revoked_reason = 'logout'
WHERE id = md5(concat(:tag::text, ':', :client_id::text, ':', :n::int))::uuid AND user_id = :uid
  AND revoked_at IS NULL
RETURNING id \gset
\set n :n + 1
