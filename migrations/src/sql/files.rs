//! Reading a migrations folder the way the tools do: one listing per folder with what each entry
//! is behind its symbolic link, and file text read as UTF-8 with a [`Problem`] (never a panic)
//! when it cannot be.

use crate::{Problem, ProblemKind};
use std::path::{Path, PathBuf};

/// What an entry of a folder is once symbolic links are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    File,
    Dir,
    /// A symbolic link whose target does not exist (or cannot be read).
    Broken,
    /// A socket, FIFO, device: nothing a tool reads.
    Other,
}

#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// The file name; `None` when it is not UTF-8 (no tool mrt reads handles those alike).
    pub name: Option<String>,
    pub path: PathBuf,
    /// The entry itself is a symbolic link.
    pub is_link: bool,
    pub target: Target,
}

impl Entry {
    pub fn shown_name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

/// The entries of `dir`, sorted by file name so every run reads them in one order (the tools'
/// own order comes from sorting afterwards; `read_dir` order is the file system's).
pub(crate) fn list(dir: &Path) -> std::io::Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        // The entry's own type comes with the listing on most file systems (no `stat` per
        // file: a test process lists its folder again each time); only a link is followed.
        let own = entry.file_type().ok();
        let is_link = own.is_some_and(|t| t.is_symlink());
        let target = match own.filter(|_| !is_link) {
            Some(t) => kind(t.is_file(), t.is_dir()),
            None => match std::fs::metadata(&path) {
                Ok(m) => kind(m.is_file(), m.is_dir()),
                Err(_) => Target::Broken,
            },
        };
        entries.push(Entry {
            name: entry.file_name().to_str().map(str::to_owned),
            path,
            is_link,
            target,
        });
    }
    entries.sort_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    Ok(entries)
}

fn kind(file: bool, dir: bool) -> Target {
    match (file, dir) {
        (true, _) => Target::File,
        (_, true) => Target::Dir,
        _ => Target::Other,
    }
}

/// The text of a migration file, or the problem that keeps it from being read: an I/O error
/// (`Unreadable`) or bytes that are not UTF-8 (`NotUtf8`, at the line of the first bad byte).
pub(crate) fn read_text(path: &Path) -> Result<String, Problem> {
    let bytes = std::fs::read(path).map_err(|e| {
        Problem::new(
            ProblemKind::Unreadable,
            path,
            format!("cannot read this migration file ({e})"),
        )
    })?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..valid]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        Problem::new(
            ProblemKind::NotUtf8,
            path,
            format!("not UTF-8 (byte {valid}); this migration file was not read"),
        )
        .at(line, None)
    })
}

/// `path` relative to `base`, `/`-separated, as the tools name scripts.
pub(crate) fn relative_name(base: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(base).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

/// 1-based line of byte offset `at` in `text`.
pub(crate) fn line_of(text: &str, at: usize) -> usize {
    1 + text.as_bytes()[..at.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

/// A problem for an entry a tool takes for a migration file but cannot read as one: a broken
/// symbolic link, or a link to a folder (read as a file by its name).
pub(crate) fn broken(entry: &Entry, what: &str) -> Problem {
    let target = std::fs::read_link(&entry.path)
        .map(|t| format!(" to {}", t.display()))
        .unwrap_or_default();
    let is = match entry.target {
        Target::Dir => format!("symbolic link{target} leads to a folder, not a file"),
        Target::Other => "not a regular file".to_string(),
        _ => format!("symbolic link{target} cannot be followed"),
    };
    Problem::new(
        ProblemKind::Unreadable,
        &entry.path,
        format!("{is}; {what}"),
    )
}

/// `base` joined with a configured relative path, without `.` components
/// (`DBMATE_MIGRATIONS_DIR=./db/migrations`).
pub(crate) fn join_clean(base: &Path, rel: &str) -> PathBuf {
    let mut out = base.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            std::path::Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}
