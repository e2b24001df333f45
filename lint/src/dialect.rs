//! The database a project targets. Some rules only make sense on one engine (PostgreSQL cannot
//! drop an enum value; SQLite has no `CONCURRENTLY`), and SQL is parsed with that engine's grammar.

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    /// Unknown engine: SQL is parsed with a permissive grammar.
    #[default]
    Generic,
    Sqlite,
    Postgresql,
    Mysql,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Generic => "generic",
            Dialect::Sqlite => "sqlite",
            Dialect::Postgresql => "postgresql",
            Dialect::Mysql => "mysql",
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownDialect(pub String);

impl fmt::Display for UnknownDialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unknown dialect `{}` (expected generic, sqlite, postgresql or mysql)",
            self.0
        )
    }
}

impl std::error::Error for UnknownDialect {}

impl FromStr for Dialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "generic" => Ok(Dialect::Generic),
            "sqlite" | "sqlite3" => Ok(Dialect::Sqlite),
            "postgresql" | "postgres" | "pg" => Ok(Dialect::Postgresql),
            "mysql" | "mariadb" => Ok(Dialect::Mysql),
            _ => Err(UnknownDialect(s.to_string())),
        }
    }
}

/// Reads the engine from an SQLAlchemy-style URL (`postgresql+psycopg://...`, `sqlite:///x.db`,
/// `mysql+pymysql://...`, `mariadb://...`); the driver after `+` is ignored.
pub fn dialect_from_url(url: &str) -> Option<Dialect> {
    let scheme = url.trim().split_once(':')?.0;
    let engine = scheme.split('+').next().unwrap_or(scheme);
    engine.parse().ok().filter(|d| *d != Dialect::Generic)
}
