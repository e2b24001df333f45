//! Failures written down as they happen. libtest prints a failure's text only in the summary at
//! the end, so a run that is killed or hits a CI job's time limit would lose every verdict it had
//! reached; the file keeps each one the moment it is known.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Run files kept in the folder; older ones are removed when a run starts.
const KEEP: usize = 20;

pub struct Results {
    pub path: PathBuf,
    file: Mutex<Option<std::fs::File>>,
}

impl Results {
    /// `<cache>/mrt/runs/<run>.txt` (`$XDG_CACHE_HOME`, else `~/.cache`); `None` when there is no
    /// such folder or it cannot be made (the run goes on without the file).
    pub fn open(run_id: &str) -> Option<Results> {
        let dir = cache_dir()?.join("mrt").join("runs");
        std::fs::create_dir_all(&dir).ok()?;
        prune(&dir);
        Some(Results {
            path: dir.join(format!("{run_id}.txt")),
            file: Mutex::new(None),
        })
    }

    /// Appends one failure (created on the first one, so a clean run leaves no file).
    pub fn record(&self, test: &str, text: &str) {
        let Ok(mut file) = self.file.lock() else {
            return;
        };
        if file.is_none() {
            *file = std::fs::File::create(&self.path).ok();
        }
        if let Some(f) = file.as_mut() {
            let _ = writeln!(f, "---- {test} ----\n{text}\n");
            let _ = f.flush();
        }
    }
}

fn cache_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty());
    match xdg {
        Some(dir) => Some(PathBuf::from(dir)),
        None => std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|home| Path::new(&home).join(".cache")),
    }
}

/// Removes all but the newest [`KEEP`] run files.
fn prune(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut files: Vec<(std::time::SystemTime, PathBuf)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "txt"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.0));
    for (_, path) in files.into_iter().skip(KEEP) {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_appended_as_they_come_and_old_runs_pruned() {
        let dir = tempfile::tempdir().expect("tempdir");
        let runs = dir.path().join("runs");
        std::fs::create_dir_all(&runs).expect("mkdir");
        for i in 0..KEEP + 3 {
            std::fs::write(runs.join(format!("old{i}.txt")), "x").expect("write");
        }
        prune(&runs);
        assert_eq!(std::fs::read_dir(&runs).expect("read").count(), KEEP);
        let results = Results {
            path: runs.join("r.txt"),
            file: Mutex::new(None),
        };
        assert!(!results.path.exists(), "no file before a failure");
        results.record("sqlite::a", "revision a failed");
        results.record("sqlite::b", "revision b failed");
        let text = std::fs::read_to_string(&results.path).expect("read");
        assert!(text.contains("---- sqlite::a ----\nrevision a failed"));
        assert!(text.contains("---- sqlite::b ----\nrevision b failed"));
    }
}
