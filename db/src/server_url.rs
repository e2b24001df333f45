//! Parsing a server URL once, so that everything shown to a user (labels, errors, display URLs)
//! is built from parts that never include the password, and the password is only ever put back
//! where a client really needs it (sqlx connect options, the Python worker's SQLAlchemy URL).

use url::Url;

use crate::{DbError, Dialect};

/// A PostgreSQL or MySQL server URL taken apart.
#[derive(Clone)]
pub(crate) struct ServerUrl {
    pub(crate) dialect: Dialect,
    /// The URL as given (normalised scheme), with the admin database in its path.
    url: Url,
    pub(crate) host: String,
    pub(crate) port: u16,
    /// The admin database named in the URL (`postgres`, `mysql`, ...), possibly empty for MySQL.
    pub(crate) admin_db: String,
}

/// Never print the URL: it may hold a password.
impl std::fmt::Debug for ServerUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label())
    }
}

impl ServerUrl {
    /// Parse `postgres://`, `postgresql://`, `mysql://` or `mariadb://` URLs. A driver suffix
    /// such as `postgresql+psycopg://` (SQLAlchemy style) is accepted and dropped. The error
    /// never repeats the URL, since it may contain a password.
    pub(crate) fn parse(raw: &str) -> Result<ServerUrl, DbError> {
        let invalid = |message: String| DbError::Invalid {
            dialect: "server",
            db: "(server URL)".into(),
            message,
        };
        let (scheme, rest) = raw
            .split_once("://")
            .ok_or_else(|| invalid("server URL must look like postgres://user@host:port/db or mysql://user@host:port/db".into()))?;
        let base = scheme
            .split('+')
            .next()
            .unwrap_or(scheme)
            .to_ascii_lowercase();
        let (dialect, canonical) = match base.as_str() {
            "postgres" | "postgresql" => (Dialect::Postgres, "postgres"),
            "mysql" | "mariadb" => (Dialect::Mysql, "mysql"),
            other => {
                return Err(invalid(format!(
                    "unsupported URL scheme {other:?} (expected postgres://, postgresql://, mysql:// or mariadb://)"
                )))
            }
        };
        let url = Url::parse(&format!("{canonical}://{rest}"))
            .map_err(|e| invalid(format!("cannot parse server URL: {e}")))?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .unwrap_or("localhost")
            .to_string();
        let port = url.port().unwrap_or(match dialect {
            Dialect::Postgres => 5432,
            _ => 3306,
        });
        let admin_db = url.path().trim_start_matches('/').to_string();
        if let Some(p) = url.password().filter(|p| !p.is_empty()) {
            remember_secret(p);
            remember_secret(&decode(p));
        }
        Ok(ServerUrl {
            dialect,
            url,
            host,
            port,
            admin_db,
        })
    }

    /// `postgres 127.0.0.1:5432`: names the server without credentials.
    pub(crate) fn label(&self) -> String {
        format!("{} {}", self.dialect, self.host_port())
    }

    pub(crate) fn host_port(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// The user name (percent-decoded), defaulting like the clients do.
    pub(crate) fn user(&self) -> String {
        let raw = self.url.username();
        if raw.is_empty() {
            match self.dialect {
                Dialect::Mysql => "root".into(),
                _ => "postgres".into(),
            }
        } else {
            decode(raw)
        }
    }

    /// The URL sqlx connects with, pointed at `database` (query options kept, e.g. sslmode).
    pub(crate) fn connect_url(&self, database: &str) -> Url {
        let mut url = self.url.clone();
        url.set_path(&format!("/{database}"));
        url
    }

    /// A URL without driver suffix, pointed at `database`, for SQLAlchemy (the Python side picks
    /// the driver). With `mask`, the password is replaced by `***`. Query options are dropped:
    /// they are sqlx/libpq options that SQLAlchemy drivers do not all accept.
    pub(crate) fn sqlalchemy_url(&self, database: &str, mask: bool) -> String {
        let scheme = match self.dialect {
            Dialect::Postgres => "postgresql",
            _ => "mysql",
        };
        let mut auth = self.url.username().to_string();
        if auth.is_empty() {
            auth = self.user();
        }
        if let Some(p) = self.url.password() {
            auth.push(':');
            auth.push_str(if mask { "***" } else { p });
        }
        format!("{scheme}://{auth}@{}/{database}", self.host_port())
    }

    /// A server-level error (unreachable, refused login, CREATE/DROP DATABASE, catalog reads)
    /// naming this server by `host:port`, with the password scrubbed from the message.
    pub(crate) fn error(&self, dialect: &'static str, message: impl Into<String>) -> DbError {
        DbError::Server {
            dialect,
            server: self.host_port(),
            message: self.scrub(&message.into()),
        }
    }

    /// Remove the password (raw and percent-decoded) from a message that a client library
    /// produced, in case it ever echoes connection parameters.
    pub(crate) fn scrub(&self, message: &str) -> String {
        let mut out = message.to_string();
        if let Some(p) = self.url.password().filter(|p| !p.is_empty()) {
            out = out.replace(p, "***");
            let decoded = decode(p);
            if !decoded.is_empty() {
                out = out.replace(&decoded, "***");
            }
        }
        out
    }
}

/// Passwords of every server URL this process parsed: user code may echo `$DATABASE_URL` in
/// an error, and that text reaches mrt's output through paths no one URL knows of.
static SECRETS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn remember_secret(secret: &str) {
    if secret.is_empty() {
        return;
    }
    if let Ok(mut secrets) = SECRETS.lock() {
        if !secrets.iter().any(|s| s == secret) {
            secrets.push(secret.to_string());
            // Longest first, so a password that contains another is replaced whole.
            secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        }
    }
}

/// `text` with every password mrt knows (see [`SECRETS`]) replaced by `***`.
pub fn scrub_secrets(text: &str) -> String {
    let Ok(secrets) = SECRETS.lock() else {
        return text.to_string();
    };
    let mut out = text.to_string();
    for secret in secrets.iter() {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

fn decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_and_masking() {
        let u = ServerUrl::parse(
            "postgresql+psycopg://bob:s%40cret@db.example:6543/admin?sslmode=disable",
        )
        .expect("parse");
        assert_eq!(u.dialect, Dialect::Postgres);
        assert_eq!(u.label(), "postgres db.example:6543");
        assert_eq!(u.user(), "bob");
        assert_eq!(u.admin_db, "admin");
        assert_eq!(
            u.sqlalchemy_url("mrt_x_1", false),
            "postgresql://bob:s%40cret@db.example:6543/mrt_x_1"
        );
        assert_eq!(
            u.sqlalchemy_url("mrt_x_1", true),
            "postgresql://bob:***@db.example:6543/mrt_x_1"
        );
        assert_eq!(u.connect_url("mrt_x_1").path(), "/mrt_x_1");
        assert_eq!(u.scrub("bad s@cret and s%40cret"), "bad *** and ***");
        // Every text mrt prints can be scrubbed, e.g. a user error that echoes $DATABASE_URL.
        assert_eq!(
            scrub_secrets("KeyError: postgresql://u:s@cret@h/db (s%40cret)"),
            "KeyError: postgresql://u:***@h/db (***)"
        );

        let m = ServerUrl::parse("mariadb://root@127.0.0.1/mysql").expect("parse");
        assert_eq!(m.dialect, Dialect::Mysql);
        assert_eq!(m.port, 3306);
        assert_eq!(m.sqlalchemy_url("d", true), "mysql://root@127.0.0.1:3306/d");

        let err = ServerUrl::parse("oracle://u:pw@h/x").expect_err("scheme");
        assert!(!err.to_string().contains("pw"), "{err}");
    }
}
