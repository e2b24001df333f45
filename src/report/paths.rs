//! Where a report's paths are read from. A person reads them from where they ran mrt (the table
//! format: relative to the current directory when below it, else absolute, as every other message
//! of mrt shows a path, so they can be opened or clicked as printed); tools
//! read them from the repository root (SARIF's `%SRCROOT%`, GitHub annotations, JSON, JUnit), which
//! mrt finds from the project upwards (`.git`), or takes from `--path-prefix`.

use super::Format;
use std::path::{Path, PathBuf};

/// The prefixes that turn a project-relative path into what each format shows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prefixes {
    /// The project root as seen from the current directory (`""`, `"a/b/"` or an absolute path).
    pub cwd: String,
    /// The project root inside its repository (`""` or `"services/api/"`).
    pub repo: String,
    /// The project root itself (absolute).
    pub root: PathBuf,
}

impl Prefixes {
    /// For a project at `root`; `path_prefix` (from `--path-prefix`) replaces the repository one.
    pub fn new(root: &Path, path_prefix: Option<&str>) -> Self {
        let root = absolute(root);
        let cwd = std::env::current_dir()
            .ok()
            .and_then(|cwd| root.strip_prefix(absolute(&cwd)).ok().map(slashed))
            .unwrap_or_else(|| slashed(&root));
        let repo = match path_prefix {
            Some(p) => p.trim_start_matches("./").to_string(),
            None => repo_root(&root)
                .and_then(|r| relative_from(&r, &root))
                .unwrap_or_default(),
        };
        Prefixes {
            cwd: as_dir(cwd),
            repo: as_dir(repo),
            root,
        }
    }

    /// The file a tool-format path (from the repository root) names, if it exists.
    pub fn resolve(&self, shown: &str) -> Option<PathBuf> {
        let inside = shown.strip_prefix(self.repo.as_str()).unwrap_or(shown);
        Some(self.root.join(inside)).filter(|p| p.is_file())
    }

    /// The prefix `format` puts before a project-relative path.
    pub fn for_format(&self, format: Format) -> &str {
        match format {
            Format::Table => &self.cwd,
            Format::Json | Format::Sarif | Format::Github | Format::Junit => &self.repo,
        }
    }
}

/// `prefix` + `path`, unless `path` is absolute (a file outside the project, shown as it is).
pub fn join(prefix: &str, path: &str) -> String {
    if prefix.is_empty() || Path::new(path).is_absolute() {
        path.to_string()
    } else {
        format!("{prefix}{path}")
    }
}

fn as_dir(p: String) -> String {
    match p.as_str() {
        "" | "." => String::new(),
        _ if p.ends_with('/') => p,
        _ => format!("{p}/"),
    }
}

fn absolute(p: &Path) -> PathBuf {
    let p = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    p.canonicalize().unwrap_or(p)
}

/// The nearest folder at or above `dir` holding `.git` (a folder, or a file in a worktree).
pub fn repo_root(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .find(|d| d.join(".git").exists())
        .map(Path::to_path_buf)
}

/// `to` inside `from`, with `/` separators; `None` when it is not inside.
fn relative_from(from: &Path, to: &Path) -> Option<String> {
    to.strip_prefix(from).ok().map(slashed)
}

fn slashed(p: &Path) -> String {
    let parts: Vec<String> = (p.components())
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    match p.has_root() {
        true => p.to_string_lossy().replace('\\', "/"),
        false => parts.join("/"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_only_below() {
        let rel = |a: &str, b: &str| relative_from(Path::new(a), Path::new(b));
        assert_eq!(rel("/r", "/r/p/q").as_deref(), Some("p/q"));
        assert_eq!(rel("/r/p/q", "/r/p/q").as_deref(), Some(""));
        assert_eq!(rel("/r/x", "/r/p"), None);
        assert_eq!(slashed(Path::new("/r/p")), "/r/p");
    }

    #[test]
    fn prefixes_join_project_paths() {
        assert_eq!(join("a/b/", "versions/x.py"), "a/b/versions/x.py");
        assert_eq!(join("", "versions/x.py"), "versions/x.py");
        assert_eq!(join("a/", "/abs/x.py"), "/abs/x.py");
        assert_eq!(as_dir("p".into()), "p/");
        assert_eq!(as_dir(".".into()), "");
    }

    #[test]
    fn repository_prefix_comes_from_git_or_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let project = dir.path().join("services").join("api");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        assert_eq!(Prefixes::new(&project, None).repo, "services/api/");
        assert_eq!(Prefixes::new(&project, Some("x")).repo, "x/");
        assert_eq!(Prefixes::new(&project, Some("")).repo, "");
    }
}
