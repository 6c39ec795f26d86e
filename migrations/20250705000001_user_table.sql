-- The shared "user" table, exactly as the user-soap original creates it at start-up
-- (shared/originals.md §2.1): same columns, types and implicit constraint names
-- (user_pkey, user_username_key, user_dni_key, user_email_key), and IF NOT EXISTS so a
-- database already populated by the originals is adopted untouched.
--
-- password holds either the legacy 128-hex-character hash or a PHC string
-- ($pbkdf2-sha256$i=...,l=32$salt$hash, under 100 characters); both fit VARCHAR(200),
-- so the new password format needs no schema change.
CREATE TABLE IF NOT EXISTS "user" (
  id         UUID PRIMARY KEY,
  username   VARCHAR(80)  UNIQUE NOT NULL,
  password   VARCHAR(200) NOT NULL,
  first_name VARCHAR(100) NOT NULL,
  last_name  VARCHAR(100) NOT NULL,
  dni        VARCHAR(20)  UNIQUE NOT NULL,
  email      VARCHAR(120) UNIQUE NOT NULL,
  city       VARCHAR(100) NOT NULL
);
