//! `mrt clean --db URL`: drop the `mrt_<run>_<n>` databases that crashed or killed runs left on a
//! server. Only names of exactly that shape are touched; nothing else on the server is.
//! `--snapshots` also removes the snapshots of database states: the cache folder's, and the
//! `mrt_snap_<key>` databases on each `--db` server.

use anyhow::{Context, Result};

#[derive(Debug, Clone, clap::Args)]
pub struct CleanArgs {
    /// Server URL (postgres://..., mysql://...), or `sqlite` for the temporary folders of
    /// killed SQLite runs; repeatable.
    #[arg(long = "db", value_name = "URL", required_unless_present = "snapshots")]
    pub databases: Vec<String>,
    /// Only runs whose id starts with this (as printed in the database names `mrt_<run>_<n>`).
    #[arg(long, value_name = "RUN")]
    pub run: Option<String>,
    /// Also remove every snapshot: the cache folder's and those on each `--db` server.
    #[arg(long)]
    pub snapshots: bool,
    /// Project directory, to find its cache folder (as `mrt test` does).
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub project: std::path::PathBuf,
    /// The cache folder (as `mrt test --cache-dir`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<std::path::PathBuf>,
}

pub fn run(args: &CleanArgs) -> Result<u8> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let run = args.run.as_deref().unwrap_or("");
    for url in &args.databases {
        let found = runtime.block_on(mrt_db::drop_leftovers(url, run))?;
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
    if args.snapshots {
        remove_snapshots(args, &runtime)?;
    }
    Ok(crate::exit::OK)
}

/// Removes the cache folder's snapshots and those on each `--db` server.
fn remove_snapshots(args: &CleanArgs, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let loaded = crate::config::load(&args.project)?;
    let cache = crate::commands::test::cache_dir(&args.project, &loaded, args.cache_dir.as_deref());
    let mut servers = Vec::new();
    for url in &args.databases {
        let server = runtime
            .block_on(mrt_db::Server::connect(url, "clean"))
            .with_context(|| format!("{}: cannot list its snapshots", mask(url)))?;
        servers.push(server);
    }
    if !args
        .databases
        .iter()
        .any(|u| u.trim().starts_with("sqlite"))
    {
        servers.push(mrt_db::Server::sqlite("clean")?);
    }
    let removed = runtime.block_on(mrt_harness::snapshots::remove_all(&cache, &servers));
    for server in &servers {
        let _ = runtime.block_on(server.cleanup());
    }
    let removed = removed?;
    if removed.is_empty() {
        println!("snapshots: none in {}", cache.display());
    } else {
        println!("snapshots: removed {}", removed.len());
        for what in removed {
            println!("  {what}");
        }
    }
    Ok(())
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
