//! Connected configuration, read once from the environment at start-up.

use hub_db::PgSettings;
use hub_mongo::MongoSettings;
use hub_runtime::{
    config::{ConfigError, Vars},
    service::ServiceConfig,
};

/// What the service reads besides the skeleton's HTTP settings
/// ([`Settings`](hub_runtime::service::Settings)); each field names its variable and default.
#[derive(Debug, Clone)]
pub struct Config {
    /// PostgreSQL ([`PgSettings`]): `DATABASE_URL` or the originals' parts, required; `DB_*`.
    pub db: PgSettings,
    /// MongoDB ([`MongoSettings`]): `MONGODB_URI` or the original's `MONGO_URI`, required;
    /// `MONGODB_*`.
    pub mongo: MongoSettings,
}

impl ServiceConfig for Config {
    fn from_vars(vars: &Vars<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            db: PgSettings::from_vars(vars)?,
            mongo: MongoSettings::from_vars(vars)?,
        })
    }

    /// `MAX_BODY_BYTES` default: 16 KiB (only GET endpoints; no request needs a body).
    fn default_body_limit(&self) -> usize {
        16 * 1024
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    use hub_runtime::service::{Service as _, Settings};

    fn config(pairs: &[(&str, &str)]) -> Result<Settings<Config>, ConfigError> {
        Settings::from_source(
            &hub_testkit::config_source(pairs, &[]),
            crate::Connected::PORT,
        )
    }

    #[test]
    fn the_originals_pg_and_mongo_variables_are_accepted() {
        let c = config(&[
            ("PG_HOST", "db"),
            ("PG_PORT", "5433"),
            ("PG_DATABASE", "mydb"),
            ("PG_USER", "app"),
            ("PG_PASSWORD", "s3cret"),
            ("MONGO_URI", "mongodb://mongo:27017/CatalogServiceDB"),
        ])
        .unwrap();
        assert_eq!(
            c.service.db.url.expose_secret(),
            "postgres://app:s3cret@db:5433/mydb"
        );
        assert_eq!(c.http.addr.port(), 5020);
        assert_eq!(c.service.mongo.database, None, "taken from the URI path");
        assert_eq!(
            c.service.mongo.operation_timeout,
            std::time::Duration::from_secs(5)
        );
    }

    #[test]
    fn a_missing_mongo_uri_names_the_variable() {
        let err = config(&[("DATABASE_URL", "postgres://u@h/db")])
            .unwrap_err()
            .to_string();
        assert!(err.contains("MONGO_URI"), "{err}");
    }
}
