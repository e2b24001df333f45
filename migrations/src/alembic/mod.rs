//! Alembic projects: where the revision files are (`alembic.ini`, `[tool.alembic]`) and what each
//! file declares.

mod complexity;
mod config;
mod mentions;
mod revision_file;

pub use complexity::too_complex;
pub use config::{locate, AlembicConfigError, AlembicLocations};
pub use mentions::{mentioned_words, sql_words};
pub use revision_file::{parse_revision_source, read_revision_file, FileOutcome};

use crate::{Problem, ProblemKind, Revision};
use rayon::prelude::*;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// What reading a project's version locations produced.
#[derive(Debug, Default)]
pub struct LoadedRevisions {
    pub revisions: Vec<Revision>,
    pub problems: Vec<Problem>,
    /// Python files that declare no revision (e.g. helpers), with the reason; shown at verbose level.
    pub ignored: Vec<(PathBuf, String)>,
    /// Revision ids recovered from files that failed to parse, so graph errors can name the file.
    pub salvaged: Vec<(String, PathBuf)>,
}

/// Reads every revision file under the project's version locations, in parallel.
pub fn load_revisions(locations: &AlembicLocations) -> LoadedRevisions {
    let listing = revision_files(&locations.version_locations, locations.recursive);
    let outcomes: Vec<FileOutcome> = listing
        .files
        .par_iter()
        .map(|p| read_revision_file(p))
        .collect();
    let mut loaded = LoadedRevisions {
        problems: listing.problems,
        ..LoadedRevisions::default()
    };
    for outcome in outcomes {
        match outcome {
            FileOutcome::Revision(rev) => loaded.revisions.push(rev),
            FileOutcome::NotARevision(path, why) => loaded.ignored.push((path, why)),
            FileOutcome::Broken {
                problem,
                salvaged_id,
            } => {
                if let Some(id) = salvaged_id {
                    loaded.salvaged.push((id, problem.path.clone()));
                }
                loaded.problems.push(problem);
            }
        }
    }
    loaded
}

/// The candidate revision files of a project, and what could not be listed or followed.
#[derive(Debug, Default)]
pub struct Listing {
    /// In Alembic's load order, each real file once.
    pub files: Vec<PathBuf>,
    /// Folders that cannot be read and `.py` symbolic links that cannot be followed: files
    /// mrt did not read, so a check must not pass over them.
    pub problems: Vec<Problem>,
}

/// Lists candidate revision files the way Alembic does: `*.py`, not `__init__*` nor editor
/// lock files (`.#*`), each folder's files sorted by name before its sub-folders (which are
/// entered only when `recursive_version_locations` is set), symbolic links to files followed
/// (links to folders are not entered, as `os.walk` does not), and a file reached twice (an
/// overlapping location, a link to a sibling) read once at its first path.
pub fn revision_files(dirs: &[PathBuf], recursive: bool) -> Listing {
    let mut listing = Listing::default();
    let mut seen: HashSet<PathBuf> = HashSet::new();
    for dir in dirs {
        let depth = if recursive { usize::MAX } else { 1 };
        let walker = walkdir::WalkDir::new(dir)
            .max_depth(depth)
            .sort_by(|a, b| {
                let is_dir = |e: &walkdir::DirEntry| e.file_type().is_dir();
                (is_dir(a), a.file_name()).cmp(&(is_dir(b), b.file_name()))
            })
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_skipped_dir(e.path()));
        for entry in walker {
            match entry {
                Ok(entry) => listing.add(entry, &mut seen),
                Err(e) => listing.problems.push(unlisted(dir, &e)),
            }
        }
    }
    listing
}

impl Listing {
    fn add(&mut self, entry: walkdir::DirEntry, seen: &mut HashSet<PathBuf>) {
        let kind = entry.file_type();
        if !(kind.is_file() || kind.is_symlink()) || !is_revision_file_name(entry.path()) {
            return;
        }
        if kind.is_symlink() {
            match std::fs::metadata(entry.path()) {
                Ok(target) if target.is_file() => {}
                Ok(_) => return,
                Err(e) => {
                    self.problems.push(broken_link(entry.path(), &e));
                    return;
                }
            }
        }
        let real = std::fs::canonicalize(entry.path()).unwrap_or_else(|_| entry.path().into());
        if seen.insert(real) {
            self.files.push(entry.into_path());
        }
    }
}

fn broken_link(path: &Path, e: &std::io::Error) -> Problem {
    let target = std::fs::read_link(path)
        .map(|t| format!(" to {}", t.display()))
        .unwrap_or_default();
    Problem::new(
        ProblemKind::Unreadable,
        path,
        format!("symbolic link{target} cannot be followed ({e}); this revision file was not read"),
    )
}

fn unlisted(location: &Path, e: &walkdir::Error) -> Problem {
    let path = e.path().unwrap_or(location);
    let why = e
        .io_error()
        .map_or_else(|| e.to_string(), ToString::to_string);
    Problem::new(
        ProblemKind::Unreadable,
        path,
        format!("cannot read this folder ({why}); the revision files in it were not read"),
    )
}

fn is_skipped_dir(path: &Path) -> bool {
    path.is_dir() && path.file_name().is_some_and(|n| n == "__pycache__")
}

fn is_revision_file_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    name.ends_with(".py") && !name.starts_with("__init__") && !name.starts_with(".#")
}
