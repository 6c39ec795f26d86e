-- auth's check of an access token, on every authenticated request (store::users::find_for_token):
-- the user row and the token's login (family) in one indexed read.
SELECT u.id, u.username, u.email, u.password, u.tokens_valid_after,
       f.created_at, f.revoked_at IS NOT NULL, u.deactivated_at IS NOT NULL
FROM "user" u LEFT JOIN token_family f ON f.id = :sid AND f.user_id = u.id
WHERE u.id = :uid;
