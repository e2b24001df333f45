//! `mrt check --watch`: the check again whenever a file it reads changes, until Ctrl-C.
//!
//! Every run is a plain `mrt check` (the same [`check::run`], so the same output, and the
//! project opened afresh: revisions come and go between runs). File events are filtered to the
//! files a check reads and debounced, so one save, or a `git checkout` of many files, gives one
//! run instead of dozens.

use super::check::{self, CheckArgs};
use crate::exit;
use crate::project;
use crate::report::Format;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::BTreeSet;
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

/// Quiet time after the last change before checking: editors and git write files in bursts.
const DEBOUNCE: Duration = Duration::from_millis(300);
/// Changes that never pause (a generator writing hundreds of files) are still checked this often.
const MAX_DEBOUNCE: Duration = Duration::from_secs(3);
/// What a check reads: revisions, SQL scripts, `mrt.toml` / `pyproject.toml`, `alembic.ini`.
const WATCHED_EXTENSIONS: &[&str] = &["py", "sql", "toml", "ini"];
/// Folders that hold no migrations but change a lot. Hidden ones (`.git`, `.venv`, `.tox`) are
/// left out too, as are hidden files (editor swap and lock files such as `.#0001.py`).
const IGNORED_DIRS: &[&str] = &["__pycache__", "target", "node_modules"];

/// Why the watch could not start; once it runs, nothing but Ctrl-C ends it.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot start watching files: {0}")]
    Start(#[source] notify::Error),
    #[error("cannot watch {}: {source}", .path.display())]
    Dir {
        path: PathBuf,
        #[source]
        source: notify::Error,
    },
    #[error("cannot install the Ctrl-C handler: {0}")]
    CtrlC(#[source] ctrlc::Error),
}

/// What the loop waits for: from the file watcher's thread and from the Ctrl-C handler.
enum Signal {
    /// Files (absolute) that may read differently now.
    Changed(Vec<PathBuf>),
    /// The watcher lost events or a folder; said on stderr, the watch goes on.
    Failed(notify::Error),
    Stop,
}

/// Checks once, then again after each batch of changes; exit 0 on Ctrl-C whatever the last
/// check found, since stopping is how a watch ends, not a verdict.
pub fn run(args: &CheckArgs, verbose: bool) -> anyhow::Result<u8> {
    let once = CheckArgs {
        watch: false,
        ..args.clone()
    };
    let dirs = watched_dirs(&once);
    let (tx, rx) = mpsc::channel();
    // Started before the first check, so a change made while it runs is not missed.
    let _watcher = start_watcher(&dirs, tx.clone())?;
    stop_on_ctrl_c(tx)?;
    eprintln!("mrt: watching {} (Ctrl-C to stop)", shown(&dirs));
    check_once(&once, verbose);
    while let Some(changed) = next_batch(&rx) {
        if announce(changed, args.format).is_err() {
            break; // stdout closed (`mrt check --watch | head`): nobody reads the next run
        }
        check_once(&once, verbose);
    }
    Ok(exit::OK)
}

/// One `mrt check`. An error (a config that no longer parses, an `alembic.ini` half written) is
/// printed as `mrt check` prints it and the watch goes on: the next save may well fix it.
fn check_once(args: &CheckArgs, verbose: bool) {
    if let Err(e) = check::run(args, verbose) {
        let text = mrt_db::scrub_secrets(&format!("{e:#}"));
        eprintln!("error: {}", mrt_migrations::escape_lines(&text));
    }
}

/// The separator before a re-check. On stdout for the table, which people read; on stderr for
/// the other formats, so stdout stays one complete document after another (`jq` reads a stream
/// of JSON documents, but not a line of text between them).
fn announce(changed: usize, format: Format) -> io::Result<()> {
    let files = if changed == 1 { "file" } else { "files" };
    let line = format!("-- mrt check: re-checked after {changed} changed {files} --");
    if format == Format::Table {
        let mut out = io::stdout().lock();
        writeln!(out, "{line}")?;
        out.flush()
    } else {
        eprintln!("{line}");
        Ok(())
    }
}

/// The project folder and any migration folder outside it (a `script_location` or `[sql] dir`
/// elsewhere), absolute; only the folder given when the project cannot be opened yet (its
/// `alembic.ini` may be about to be written). Folders a later config adds are not watched.
fn watched_dirs(args: &CheckArgs) -> Vec<PathBuf> {
    let mut dirs = vec![absolute(args.project.dir())];
    let Ok(project) = project::open(&args.project) else {
        return dirs;
    };
    for dir in project.framework.migration_dirs() {
        let dir = absolute(&dir);
        if dir.is_dir() && !dirs.iter().any(|d| dir.starts_with(d)) {
            dirs.push(dir);
        }
    }
    dirs
}

/// Canonical where it exists, so event paths (which start with the watched path) compare.
fn absolute(path: &Path) -> PathBuf {
    std::fs::canonicalize(path)
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf())
}

fn shown(dirs: &[PathBuf]) -> String {
    let names: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    mrt_migrations::escape(&names.join(", ")).into_owned()
}

/// Watches `dirs` recursively; relevant events go to `tx` as [`Signal::Changed`]. The watcher
/// stops when the returned value is dropped.
fn start_watcher(dirs: &[PathBuf], tx: Sender<Signal>) -> Result<RecommendedWatcher, WatchError> {
    let roots = dirs.to_vec();
    let mut watcher = notify::recommended_watcher(move |event: notify::Result<Event>| {
        let signal = match event {
            Ok(event) => match relevant_paths(&event, &roots) {
                paths if paths.is_empty() => return,
                paths => Signal::Changed(paths),
            },
            Err(e) => Signal::Failed(e),
        };
        // A send fails only once the loop has ended: nothing is waiting for changes any more.
        let _ = tx.send(signal);
    })
    .map_err(WatchError::Start)?;
    for dir in dirs {
        (watcher.watch(dir, RecursiveMode::Recursive)).map_err(|source| WatchError::Dir {
            path: dir.clone(),
            source,
        })?;
    }
    Ok(watcher)
}

/// Ctrl-C (or SIGTERM) stops the watch between two runs. A second one, while a long check is
/// still running, exits at once (130, as a shell reports an interrupted command).
fn stop_on_ctrl_c(tx: Sender<Signal>) -> Result<(), WatchError> {
    let stopping = AtomicBool::new(false);
    ctrlc::set_handler(move || {
        if stopping.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        let _ = tx.send(Signal::Stop);
    })
    .map_err(WatchError::CtrlC)
}

/// What the loop got from [`receive`].
enum Received {
    /// Files changed (none after a watcher error, which is printed).
    Paths(Vec<PathBuf>),
    /// The debounce time passed without a change.
    Quiet,
    Stop,
}

/// Waits for a change, then until [`DEBOUNCE`] passes without one; how many distinct files
/// changed, or `None` once the watch is to stop.
fn next_batch(rx: &Receiver<Signal>) -> Option<usize> {
    let mut changed = BTreeSet::new();
    while changed.is_empty() {
        match receive(rx, None) {
            Received::Paths(paths) => changed.extend(paths),
            Received::Quiet => {}
            Received::Stop => return None,
        }
    }
    let started = Instant::now();
    while started.elapsed() < MAX_DEBOUNCE {
        match receive(rx, Some(DEBOUNCE)) {
            Received::Paths(paths) => changed.extend(paths),
            Received::Quiet => break,
            Received::Stop => return None,
        }
    }
    Some(changed.len())
}

/// The next signal within `timeout` (or whenever it comes, when `None`).
fn receive(rx: &Receiver<Signal>, timeout: Option<Duration>) -> Received {
    let signal = match timeout {
        None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        Some(t) => rx.recv_timeout(t),
    };
    match signal {
        Ok(Signal::Changed(paths)) => Received::Paths(paths),
        Ok(Signal::Failed(e)) => {
            eprintln!(
                "mrt: watching files: {}",
                mrt_migrations::escape(&e.to_string())
            );
            Received::Paths(Vec::new())
        }
        Err(RecvTimeoutError::Timeout) => Received::Quiet,
        Ok(Signal::Stop) | Err(RecvTimeoutError::Disconnected) => Received::Stop,
    }
}

/// The paths of an event that a check may read differently now. Opening and reading files is
/// not a change (the check itself does it: counting it would start the next run, forever).
fn relevant_paths(event: &Event, roots: &[PathBuf]) -> Vec<PathBuf> {
    if event.need_rescan() {
        return roots.to_vec(); // events were lost: anything may have changed
    }
    let gone = match event.kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
        EventKind::Access(_) => return Vec::new(),
        EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_)) => true,
        _ => false,
    };
    (event.paths.iter())
        .filter(|p| is_watched(p, roots, gone))
        .cloned()
        .collect()
}

/// A file a check reads, or a folder (a folder of revisions moved in or away), outside the
/// ignored folders. A path that is `gone` (removed, renamed away) can no longer say whether it
/// was a folder: one without an extension counts.
fn is_watched(path: &Path, roots: &[PathBuf], gone: bool) -> bool {
    let inside = roots.iter().find_map(|r| path.strip_prefix(r).ok());
    let Some(inside) = inside else {
        return false;
    };
    let ignored = inside.components().any(|c| match c {
        Component::Normal(name) => {
            let name = name.to_string_lossy();
            name.starts_with('.') || IGNORED_DIRS.contains(&name.as_ref())
        }
        _ => false,
    });
    if ignored || inside.as_os_str().is_empty() {
        return false;
    }
    match path.extension() {
        Some(ext) => WATCHED_EXTENSIONS.iter().any(|w| ext == *w),
        None => gone || path.is_dir(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, DataChange, RemoveKind};

    fn event(kind: EventKind, path: &str) -> Event {
        Event::new(kind).add_path(PathBuf::from(path))
    }

    fn relevant(kind: EventKind, path: &str) -> bool {
        let roots = [PathBuf::from("/p")];
        !relevant_paths(&event(kind, path), &roots).is_empty()
    }

    #[test]
    fn migration_files_and_config_count() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        assert!(relevant(write, "/p/migrations/versions/a1_x.py"));
        assert!(relevant(write, "/p/sql/0001_init.up.sql"));
        assert!(relevant(write, "/p/mrt.toml"));
        assert!(relevant(write, "/p/alembic.ini"));
        let created = EventKind::Create(CreateKind::File);
        assert!(relevant(created, "/p/migrations/versions/b2_y.py"));
    }

    #[test]
    fn reads_bytecode_swap_files_and_build_output_do_not() {
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        let open = EventKind::Access(AccessKind::Open(AccessMode::Read));
        assert!(!relevant(open, "/p/migrations/versions/a1_x.py"));
        assert!(!relevant(
            write,
            "/p/migrations/versions/__pycache__/a1_x.cpython-311.pyc"
        ));
        assert!(!relevant(
            write,
            "/p/migrations/versions/__pycache__/a1_x.py"
        ));
        assert!(!relevant(write, "/p/migrations/versions/.a1_x.py.swp"));
        assert!(!relevant(write, "/p/migrations/versions/.#a1_x.py"));
        assert!(!relevant(write, "/p/migrations/versions/a1_x.py~"));
        assert!(!relevant(write, "/p/target/debug/build/x.py"));
        assert!(!relevant(write, "/p/.venv/lib/site.py"));
        assert!(!relevant(write, "/elsewhere/a.py"));
    }

    #[test]
    fn hidden_folders_above_the_project_do_not_hide_it() {
        let roots = [PathBuf::from("/tmp/.tmpAb12/p")];
        let write = EventKind::Modify(ModifyKind::Data(DataChange::Content));
        let e = event(write, "/tmp/.tmpAb12/p/migrations/versions/a1_x.py");
        assert_eq!(relevant_paths(&e, &roots).len(), 1);
    }

    #[test]
    fn a_removed_folder_counts() {
        let removed = EventKind::Remove(RemoveKind::Folder);
        assert!(relevant(removed, "/p/migrations/versions"));
        assert!(!relevant(removed, "/p/migrations/versions/__pycache__"));
    }
}
