-- GET /api/account/logins's statements (store::tokens::logins): the token check, then the list.
-- Appended to token_check.sql by bench/run.sh; pgbench -M prepared, -D uid=<user> -D sid=<login>.
SELECT f.id, f.created_at, f.expires_at, f.address, f.user_agent,
       coalesce((SELECT max(r.rotated_at) FROM refresh_token r WHERE r.family_id = f.id),
                f.created_at)
FROM token_family f JOIN "user" u ON u.id = f.user_id
WHERE f.user_id = :uid AND f.revoked_at IS NULL AND f.expires_at > clock_timestamp()
  AND (u.tokens_valid_after IS NULL OR f.created_at > u.tokens_valid_after)
ORDER BY 6 DESC, f.id;
