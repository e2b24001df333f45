//! Alembic projects: where the revision files are (`alembic.ini`, `[tool.alembic]`) and what each
//! file declares.

mod config;
mod mentions;
mod revision_file;

pub use config::{locate, AlembicConfigError, AlembicLocations};
pub use mentions::{mentioned_words, sql_words};
pub use revision_file::{parse_revision_source, read_revision_file, FileOutcome};

use crate::{Problem, Revision};
use rayon::prelude::*;
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
    let files = revision_files(&locations.version_locations, locations.recursive);
    let outcomes: Vec<FileOutcome> = files.par_iter().map(|p| read_revision_file(p)).collect();
    let mut loaded = LoadedRevisions::default();
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

/// Lists candidate revision files the way Alembic does: `*.py`, not `__init__*` nor editor
/// lock files (`.#*`), sorted for a deterministic order, descending into sub-folders only when
/// `recursive_version_locations` is set.
pub fn revision_files(dirs: &[PathBuf], recursive: bool) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        let depth = if recursive { usize::MAX } else { 1 };
        let walker = walkdir::WalkDir::new(dir)
            .max_depth(depth)
            .sort_by_file_name()
            .into_iter()
            .filter_entry(|e| e.depth() == 0 || !is_skipped_dir(e.path()));
        for entry in walker.flatten() {
            if entry.file_type().is_file() && is_revision_file_name(entry.path()) {
                files.push(entry.into_path());
            }
        }
    }
    files
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
