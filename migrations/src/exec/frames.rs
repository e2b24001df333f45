//! Python tracebacks cut down to the frames in the user's own files, which is where the user
//! needs to look; Alembic's and SQLAlchemy's frames are noise there.

use std::path::PathBuf;

/// Where the user's own Python lives, as [`user_frames`] takes it: the project root first (paths
/// under it are shown relative to it), then every other folder of theirs (a script location, version
/// locations outside the project, even in an installed package), each as given and canonical,
/// since Python names files by the path it loaded them from.
pub fn user_dirs(root: &std::path::Path, others: &[PathBuf]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for dir in std::iter::once(root.to_path_buf()).chain(others.iter().cloned()) {
        let canonical = dir.canonicalize().unwrap_or_else(|_| dir.clone());
        for text in [dir.display().to_string(), canonical.display().to_string()] {
            if !out.contains(&text) {
                out.push(text);
            }
        }
    }
    out
}

/// The traceback frames in the user's files (`at versions/x.py:23 in downgrade: raise ...`).
/// `dirs[0]` is the project root (frames under it are shown relative to it); frames under the
/// other folders are shown with their full path. Frames in `env.py` are kept only when no other
/// frame is the user's.
pub fn user_frames(traceback: &str, dirs: &[String]) -> Vec<String> {
    let root = dirs.first().map_or("", String::as_str);
    let lines: Vec<&str> = traceback.lines().collect();
    let mut frames = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let Some(rest) = line.trim_start().strip_prefix("File \"") else {
            continue;
        };
        let Some((path, tail)) = rest.split_once('"') else {
            continue;
        };
        let inside = |dir: &String| {
            path.strip_prefix(dir.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
        };
        if !dirs.iter().any(inside) {
            continue;
        }
        let shown = match path.strip_prefix(root) {
            Some(rest) if rest.starts_with('/') => rest.trim_start_matches('/'),
            _ => path,
        };
        let location = tail
            .trim_start_matches(", line ")
            .replacen(", in ", " in ", 1);
        let code = lines
            .get(i + 1)
            .map(|c| c.trim())
            .filter(|c| !c.starts_with("File \""))
            .unwrap_or("");
        frames.push((
            shown.ends_with("env.py"),
            format!("at {shown}:{location}: {code}"),
        ));
    }
    let only_env = frames.iter().all(|(env, _)| *env);
    frames
        .into_iter()
        .filter(|(env, _)| only_env || !env)
        .map(|(_, f)| f)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_frames_keep_only_project_files() {
        let tb = "Traceback (most recent call last):\n  File \"/usr/lib/alembic/command.py\", line 3, in upgrade\n    script.run()\n  File \"/proj/migrations/versions/t08.py\", line 23, in downgrade\n    raise RuntimeError(\"x\")\nRuntimeError: x\n";
        assert_eq!(
            user_frames(tb, &["/proj".into()]),
            ["at migrations/versions/t08.py:23 in downgrade: raise RuntimeError(\"x\")"]
        );
        // A sibling folder whose name starts like the root is not the project.
        assert!(user_frames(&tb.replace("/proj/", "/project2/"), &["/proj".into()]).is_empty());
    }

    #[test]
    fn user_frames_include_version_locations_outside_the_project() {
        let tb = "Traceback (most recent call last):\n  File \"/usr/lib/alembic/command.py\", line 3, in upgrade\n    script.run()\n  File \"/site/pkg/migrations/r1.py\", line 9, in upgrade\n    op.drop_column(\"t\", \"c\")\nKeyError: c\n";
        let dirs = ["/proj".to_string(), "/site/pkg/migrations".to_string()];
        assert_eq!(
            user_frames(tb, &dirs),
            ["at /site/pkg/migrations/r1.py:9 in upgrade: op.drop_column(\"t\", \"c\")"]
        );
    }
}
