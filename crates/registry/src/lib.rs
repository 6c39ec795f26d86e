//! The service registry: `services.toml` at the repository root, one `[[service]]` entry
//! per service (name, historical port, legacy health path, protocol).
//!
//! This is its one reader. The tests crate reads it through this library; the shell
//! scripts through the `registry` binary (src/bin/registry.rs, run by
//! scripts/lib/registry.sh), which prints [`Service::line`]s. tests/tests/it/registry.rs
//! checks that every file which cannot read the registry (compose, Dockerfile,
//! Prometheus, README, the services' sources) agrees with it.

use std::{collections::HashSet, fmt};

use serde::Deserialize;

/// The registry's path, relative to the repository root.
pub const FILE: &str = "services.toml";

/// How a service talks to its clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// HTTP with JSON bodies.
    Rest,
    /// SOAP envelopes over HTTP.
    Soap,
}

impl Protocol {
    /// As written in services.toml: `rest` or `soap`.
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Rest => "rest",
            Protocol::Soap => "soap",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `[[service]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Folder under services/, package and binary name.
    pub name: String,
    /// The historical port: the default of `PORT`.
    pub port: u16,
    /// The legacy health path (served besides `/health`).
    pub health: String,
    /// REST or SOAP.
    pub protocol: Protocol,
}

impl Service {
    /// The service as the scripts read it: `name port health protocol`, separated by
    /// single spaces (no field can hold a space: [`parse`] refuses one).
    pub fn line(&self) -> String {
        format!(
            "{} {} {} {}",
            self.name, self.port, self.health, self.protocol
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Registry {
    service: Vec<Service>,
}

/// Parses a registry's text: at least one service, names and ports unique, names that can be
/// folder and package names, health paths that start with `/`.
pub fn parse(text: &str) -> Result<Vec<Service>, String> {
    let registry: Registry = toml::from_str(text).map_err(|e| e.to_string())?;
    if registry.service.is_empty() {
        return Err("no [[service]] entries".into());
    }
    let (mut names, mut ports) = (HashSet::new(), HashSet::new());
    for s in &registry.service {
        let valid_name = s.name.starts_with(|c: char| c.is_ascii_lowercase())
            && s.name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !valid_name {
            return Err(format!("{:?}: not a folder/package name", s.name));
        }
        if !names.insert(s.name.as_str()) {
            return Err(format!("{}: listed twice", s.name));
        }
        if !ports.insert(s.port) {
            return Err(format!("{}: port {} already taken", s.name, s.port));
        }
        if !s.health.starts_with('/') || s.health.contains(char::is_whitespace) {
            return Err(format!("{}: health {:?} is not a path", s.name, s.health));
        }
    }
    Ok(registry.service)
}
