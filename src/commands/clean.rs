//! `mrt clean --db URL`: drop the `mrt_<run>_<n>` databases that crashed or killed runs left on a
//! server. Only names of exactly that shape are touched; nothing else on the server is.

use anyhow::{Context, Result};

#[derive(Debug, Clone, clap::Args)]
pub struct CleanArgs {
    /// Server URL (postgres://..., mysql://...), or `sqlite` for the temporary folders of
    /// killed SQLite runs; repeatable.
    #[arg(long = "db", value_name = "URL", required = true)]
    pub databases: Vec<String>,
    /// Only runs whose id starts with this (as printed in the database names `mrt_<run>_<n>`).
    #[arg(long, value_name = "RUN", default_value = "")]
    pub run: String,
}

pub fn run(args: &CleanArgs) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    for url in &args.databases {
        let found = runtime.block_on(mrt_db::drop_leftovers(url, &args.run))?;
        let server = mask(url);
        // SQLite runs leave temporary folders of database files, servers databases.
        let what = if url.trim().starts_with("sqlite") {
            "temporary folder(s)"
        } else {
            "database(s)"
        };
        if found.dropped.is_empty() {
            println!("{server}: nothing left behind by mrt runs");
        } else {
            println!(
                "{server}: removed {} {what}: {}",
                found.dropped.len(),
                found.dropped.join(", ")
            );
        }
        if !found.live.is_empty() {
            println!(
                "{server}: kept {} {what} of runs still going: {}",
                found.live.len(),
                found.live.join(", ")
            );
        }
    }
    Ok(crate::exit::OK)
}

/// The URL without its password, for output.
fn mask(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_string()
            };
            format!("{}{masked}{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn password_is_masked() {
        assert_eq!(
            mask("postgres://bob:s3cret@db:5432/postgres"),
            "postgres://bob:***@db:5432/postgres"
        );
        assert_eq!(
            mask("mysql://root@127.0.0.1/mysql"),
            "mysql://root@127.0.0.1/mysql"
        );
    }
}
