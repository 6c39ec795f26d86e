-- The role the services log in as, created once by the postgres image's entrypoint: it
-- runs the files of /docker-entrypoint-initdb.d (docker-compose.yml mounts this one there)
-- as the superuser, in database POSTGRES_DB (`app`), on an empty data volume only.
--
-- `app` owns database `app` and so may create and change the schema there (every service
-- runs the migrations at start-up; they need nothing a superuser alone may do), but it is
-- no superuser and cannot create databases or roles, replicate or bypass row security.
-- The superuser (`postgres`, password POSTGRES_SUPERUSER_PASSWORD) is for operators only.
--
-- Its password comes from APP_DB_PASSWORD, which docker-compose.yml fills from
-- POSTGRES_PASSWORD (the one in the services' DATABASE_URL). A value still holding the
-- .env.example placeholder stops the initialisation, for either password.

\getenv app_password APP_DB_PASSWORD
\getenv superuser_password POSTGRES_PASSWORD

\if :{?app_password}
\else
  DO $$ BEGIN RAISE EXCEPTION 'APP_DB_PASSWORD is not set (docker-compose.yml passes POSTGRES_PASSWORD as it)'; END $$;
\endif
\if :{?superuser_password}
\else
  \set superuser_password ''
\endif

SELECT :'app_password' = '' AS app_password_empty,
       :'app_password' ~* 'change_me' AS app_password_placeholder,
       :'superuser_password' ~* 'change_me' AS superuser_password_placeholder
\gset

\if :app_password_empty
  DO $$ BEGIN RAISE EXCEPTION 'APP_DB_PASSWORD is empty'; END $$;
\endif
\if :app_password_placeholder
  DO $$ BEGIN RAISE EXCEPTION 'POSTGRES_PASSWORD is still the .env.example placeholder; set a real secret'; END $$;
\endif
\if :superuser_password_placeholder
  DO $$ BEGIN RAISE EXCEPTION 'POSTGRES_SUPERUSER_PASSWORD is still the .env.example placeholder; set a real secret'; END $$;
\endif

CREATE ROLE app LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
  PASSWORD :'app_password';

-- The owner of a database owns its `public` schema too (PostgreSQL 15: the schema belongs
-- to pg_database_owner), which is where the migrations create their tables and functions.
ALTER DATABASE app OWNER TO app;
-- Nobody else may connect to it (PUBLIC gets CONNECT by default).
REVOKE ALL ON DATABASE app FROM PUBLIC;
