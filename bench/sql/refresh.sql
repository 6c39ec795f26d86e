-- POST /token/refresh's transaction (store::tokens::rotate): the presented token marked
-- rotated, its login (family) and user checked, its successor stored. Each pgbench client
-- walks its own chain of digests, as each wrk connection does: digest n is rotated to
-- n + 1. bench/run.sh seeds digest 0 of every client under the level's tag in a family of
-- the bench user; pgbench -M prepared -D tag=<tag> -D n=0.
BEGIN;
UPDATE refresh_token SET rotated_at = clock_timestamp(),
       successor = sha256(convert_to(concat(:tag::text, ':', :client_id::text, ':', :n::int + 1), 'UTF8'))
WHERE digest = sha256(convert_to(concat(:tag::text, ':', :client_id::text, ':', :n::int), 'UTF8'))
  AND rotated_at IS NULL
RETURNING family_id \gset
SELECT f.user_id, u.username, u.roles, u.tokens_valid_after, f.created_at,
       f.revoked_at IS NOT NULL, u.deactivated_at IS NOT NULL
FROM token_family f JOIN "user" u ON u.id = f.user_id
WHERE f.id = :family_id AND f.expires_at > clock_timestamp();
INSERT INTO refresh_token (digest, family_id)
VALUES (sha256(convert_to(concat(:tag::text, ':', :client_id::text, ':', :n::int + 1), 'UTF8')), :family_id);
COMMIT;
\set n :n + 1
