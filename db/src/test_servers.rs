//! The servers mrt's own test suite and benchmarks run against: `MRT_TEST_POSTGRES_URL` and
//! `MRT_TEST_MYSQL_URL`, or else the default local servers when they answer, so that
//! `cargo test --workspace` on a machine with PostgreSQL and MariaDB running tests on them too.

use std::net::{SocketAddr, TcpStream};
use std::sync::OnceLock;
use std::time::Duration;

/// The servers: variable, the local server tried when it is unset, its port.
const SERVERS: [(&str, &str, u16); 2] = [
    (
        "MRT_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/postgres",
        5432,
    ),
    (
        "MRT_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/mysql",
        3306,
    ),
];

/// The server URL that tests reading variable `var` (`MRT_TEST_POSTGRES_URL`,
/// `MRT_TEST_MYSQL_URL`) use: its value; `off` (or empty): none; unset:
/// the default local server if something listens on its port (said once on stderr, with how to
/// turn it off), else none. Tests without a URL are reported ignored, naming the variable.
pub fn test_server_url(var: &str) -> Option<String> {
    static CHOSEN: [OnceLock<Option<String>>; 2] = [OnceLock::new(), OnceLock::new()];
    let Some(index) = SERVERS.iter().position(|(name, _, _)| *name == var) else {
        return std::env::var(var).ok();
    };
    let (var, default, port) = SERVERS[index];
    CHOSEN[index].get_or_init(|| match std::env::var(var) {
        Ok(v) if v.trim().is_empty() || v.trim().eq_ignore_ascii_case("off") => None,
        Ok(v) => Some(v),
        Err(_) => {
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            let answers = TcpStream::connect_timeout(&addr, Duration::from_millis(300)).is_ok();
            if answers {
                eprintln!("note: {var} is unset: using the local server {default} ({var}=off to skip)");
            }
            answers.then(|| default.to_string())
        }
    })
    .clone()
}
