//! `mrt.toml` or `[tool.mrt]` in `pyproject.toml`. Flags override; unknown keys are errors so a
//! typo never silently changes nothing.

use mrt_migrations::ProjectKind;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Every key mrt reads. Relative paths are relative to the file that sets them.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Project kind; detected when absent.
    pub kind: Option<ProjectKind>,
    /// Path to alembic.ini, when it is not `<project>/alembic.ini`.
    pub alembic_config: Option<PathBuf>,
    /// `[sql]`: SQL-file projects (the tool and folder, when detection should not decide).
    #[serde(default)]
    pub sql: SqlConfig,
    /// `[django]`: Django projects (the settings module, which apps are the project's).
    #[serde(default)]
    pub django: DjangoConfig,
    /// `mrt check`: the database engine (`generic`, `sqlite`, `postgresql`, `mysql`) when
    /// `--dialect` is not given; otherwise read from the ini's `sqlalchemy.url`.
    pub dialect: Option<String>,
    /// `mrt check`: revisions not linted, each with the reason shown in the report.
    #[serde(default)]
    pub skip: BTreeMap<String, String>,
    /// `mrt check`: only this revision and its descendants are checked.
    pub minimum_revision: Option<String>,
    /// `mrt check`: rule code or name -> `error`, `warning`, `info` or `off`.
    #[serde(default)]
    pub severity: BTreeMap<String, String>,
    /// `mrt check`: opt-in rules to run (codes or names).
    #[serde(default)]
    pub opt_in: Vec<String>,
    /// `mrt test`: databases to run every revision on (`"sqlite"`, the embedded default).
    pub databases: Option<Vec<String>>,
    /// `mrt test`: run seed for generated rows (`--seed` and `MRT_SEED` take precedence).
    pub seed: Option<u64>,
    /// `mrt test`: rows generated per table.
    pub rows: Option<usize>,
    /// `mrt test`: generated cases per trial (each passing trial runs again with new rows).
    pub cases: Option<u64>,
    /// `mrt test`: hard timeout of one migration step, in seconds.
    pub step_timeout: Option<f64>,
    /// `mrt test`: the Python interpreter that runs Alembic.
    pub python: Option<PathBuf>,
    /// `mrt test`: environment variable env.py reads the database URL from.
    pub url_env: Option<String>,
    /// `mrt test`: Alembic's version table (when env.py sets `version_table`).
    pub version_table: Option<String>,
    /// `mrt test`: run `drift::<db>` (the database at head against env.py's target_metadata).
    pub drift: Option<bool>,
    /// `mrt test`: custom rows per table (`rows` inline, or a `file` .json/.csv; `mode` replace or
    /// extend), used instead of or besides generated ones.
    #[serde(default)]
    pub seeds: BTreeMap<String, mrt_generators::CustomSeed>,
    /// `mrt test`: where snapshots of database states are kept, and how much room they take.
    #[serde(default)]
    pub cache: CacheConfig,
    /// `[bench]`: `mrt bench` defaults (table sizes, repetitions, CI gates).
    #[serde(default)]
    pub bench: BenchConfig,
    /// `[report]`: the HTML report.
    #[serde(default)]
    pub report: ReportConfig,
}

/// `[report]` in config.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Link from a finding to its file and line, `{path}` (from the repository root) and
    /// `{line}` replaced: `https://github.com/o/r/blob/main/{path}#L{line}`.
    pub link: Option<String>,
}

/// `[bench]` in config; flags override each key.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchConfig {
    /// Table sizes to measure at (`[0, 10000, 100000]` unless set).
    pub rows: Option<Vec<usize>>,
    /// Measured repetitions per size and direction.
    pub repeat: Option<usize>,
    /// Fail (exit 2) when a step takes longer, e.g. `"30s"`.
    pub fail_over: Option<String>,
    /// Fail (exit 2) when a step blocks reads or writes longer, e.g. `"1s"`.
    pub fail_on_block: Option<String>,
    /// A change within this percentage of the baseline is noise (default 20).
    pub noise: Option<f64>,
}

/// `[cache]` in config.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheConfig {
    /// The cache folder, relative to the config file (`--cache-dir` overrides it).
    pub dir: Option<PathBuf>,
    /// Snapshots kept per database server, in MiB (least recently used removed first).
    pub max_mb: Option<u64>,
    /// `false`: no snapshots (`--no-cache`).
    pub enabled: Option<bool>,
}

/// `[sql]` in config.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqlConfig {
    /// `sqlx`, `diesel`, `golang-migrate`, `dbmate`, `flyway` or `refinery`.
    pub tool: Option<mrt_migrations::sql::SqlTool>,
    /// The migrations folder, relative to the config file.
    pub dir: Option<PathBuf>,
}

/// `[django]` in config.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DjangoConfig {
    /// `DJANGO_SETTINGS_MODULE` (`--settings` overrides it; it overrides the environment's and
    /// manage.py's default).
    pub settings: Option<String>,
    /// The apps (labels) that are the project's own: tested and checked; every other app is the
    /// environment. Default: every app whose migrations folder lies under the project.
    pub apps: Option<Vec<String>>,
}

/// A loaded config and the file it came from (none when the project has no config).
#[derive(Debug, Default, Clone)]
pub struct Loaded {
    pub config: Config,
    pub source: Option<PathBuf>,
}

impl Loaded {
    /// A path from the config, made relative to the config file's directory.
    /// Absolute, because the project code joins relative paths onto the project directory
    /// again (`[sql] dir = "migrations"` in `p/mrt.toml` must not become `p/p/migrations`).
    pub fn resolve(&self, p: &Path) -> PathBuf {
        let joined = match self.source.as_deref().and_then(Path::parent) {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        };
        std::path::absolute(&joined).unwrap_or(joined)
    }
}

/// Loads `mrt.toml` from `dir`, else `[tool.mrt]` from `dir/pyproject.toml`, else defaults.
pub fn load(dir: &Path) -> Result<Loaded, ConfigError> {
    let mrt_toml = dir.join("mrt.toml");
    if mrt_toml.is_file() {
        let text = read(&mrt_toml)?;
        let config = parse(&mrt_toml, &text)?;
        validate(&config, &mrt_toml, &text, "")?;
        return Ok(Loaded {
            config,
            source: Some(mrt_toml),
        });
    }
    let pyproject = dir.join("pyproject.toml");
    if pyproject.is_file() {
        let text = read(&pyproject)?;
        // Deserialized from the text itself (not via a `toml::Value`) so errors keep their line.
        let doc: Pyproject = toml::from_str(&text).map_err(|e| {
            let mut err = invalid(&pyproject, &text, e);
            if let ConfigError::Invalid { message, .. } = &mut err {
                *message = format!("[tool.mrt]: {message}");
            }
            err
        })?;
        if let Some(config) = doc.tool.and_then(|t| t.mrt) {
            validate(&config, &pyproject, &text, "[tool.mrt]: ")?;
            return Ok(Loaded {
                config,
                source: Some(pyproject),
            });
        }
    }
    Ok(Loaded::default())
}

/// The parts of a pyproject.toml mrt reads; other tools' sections are not looked at.
#[derive(Deserialize)]
struct Pyproject {
    tool: Option<Tool>,
}

#[derive(Deserialize)]
struct Tool {
    mrt: Option<Config>,
}

/// Values that parse but cannot work: rejected here, naming the key and its line, instead of
/// a run that tests nothing (`rows = 0`) or hands env.py an unnamed variable (`url_env = ""`).
fn validate(config: &Config, path: &Path, text: &str, section: &str) -> Result<(), ConfigError> {
    let fail = |key: &str, message: String| {
        let line = line_of_key(text, key)
            .map(|l| format!("line {l}: "))
            .unwrap_or_default();
        Err(ConfigError::Invalid {
            path: path.to_path_buf(),
            message: format!("{section}{line}{key}: {message}"),
        })
    };
    if config.rows == Some(0) {
        return fail(
            "rows",
            "0 rows per table tests nothing; at least 1 is needed (default 8)".into(),
        );
    }
    if config.cases == Some(0) {
        return fail(
            "cases",
            "0 cases per trial tests nothing; at least 1 is needed (default 1)".into(),
        );
    }
    for (key, value) in [
        ("url_env", &config.url_env),
        ("version_table", &config.version_table),
    ] {
        if let Some(v) = value {
            if let Err(why) = check_name(v) {
                return fail(key, why);
            }
        }
    }
    Ok(())
}

/// A name mrt passes on (an environment variable, a table): not empty, no `=` or NUL.
pub fn check_name(value: &str) -> Result<(), String> {
    if value.trim().is_empty() {
        Err("an empty name cannot work; remove the key to use the default".into())
    } else if value.contains(['=', '\0']) || value.trim() != value {
        Err(format!(
            "{value:?} is not a usable name (no `=`, NUL or surrounding spaces)"
        ))
    } else {
        Ok(())
    }
}

/// The first line that assigns `key` (`key = ...`), for messages about a value that parsed.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|l| {
            l.trim_start()
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
        .map(|i| i + 1)
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
    toml::from_str(text).map_err(|e| invalid(path, text, e))
}

fn invalid(path: &Path, text: &str, e: toml::de::Error) -> ConfigError {
    let location = e
        .span()
        .map(|span| format!("line {}: ", line_of(text, span.start)))
        .unwrap_or_default();
    ConfigError::Invalid {
        path: path.to_path_buf(),
        message: format!("{location}{}", e.message()),
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    1 + text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_is_named() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mrt.toml"),
            "kind = \"alembic\"\nalembic_cfg = \"x\"\n",
        )
        .unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("alembic_cfg") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn pyproject_section_is_read_and_unknown_keys_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let py = dir.path().join("pyproject.toml");
        std::fs::write(&py, "[tool.mrt]\nalembic_config = \"db/alembic.ini\"\n").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(
            loaded.resolve(loaded.config.alembic_config.as_deref().unwrap()),
            dir.path().join("db/alembic.ini")
        );
        std::fs::write(&py, "[tool.mrt]\nbogus = 1\n").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bogus") && err.contains("[tool.mrt]"), "{err}");
    }

    #[test]
    fn check_keys_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mrt.toml"),
            "dialect = \"postgresql\"\nminimum_revision = \"a1\"\nopt_in = [\"MRT701\"]\n\
             [skip]\nb2 = \"data fix, reviewed\"\n[severity]\nMRT201 = \"warning\"\n\"drop-table\" = \"off\"\n",
        )
        .unwrap();
        let c = load(dir.path()).unwrap().config;
        assert_eq!(c.dialect.as_deref(), Some("postgresql"));
        assert_eq!(c.minimum_revision.as_deref(), Some("a1"));
        assert_eq!(c.opt_in, vec!["MRT701".to_string()]);
        assert_eq!(
            c.skip.get("b2").map(String::as_str),
            Some("data fix, reviewed")
        );
        assert_eq!(
            c.severity.get("MRT201").map(String::as_str),
            Some("warning")
        );
        assert_eq!(
            c.severity.get("drop-table").map(String::as_str),
            Some("off")
        );
    }

    #[test]
    fn check_keys_have_types() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mrt.toml"), "skip = [\"b2\"]\n").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 1") && err.contains("map"), "{err}");
    }

    #[test]
    fn values_that_cannot_work_name_the_key_and_line() {
        let dir = tempfile::tempdir().unwrap();
        for (text, key, line) in [
            ("seed = 1\nrows = 0\n", "rows", 2),
            ("url_env = \"\"\n", "url_env", 1),
            ("cases = 0\n", "cases", 1),
            ("\nversion_table = \" \"\n", "version_table", 2),
        ] {
            std::fs::write(dir.path().join("mrt.toml"), text).unwrap();
            let err = load(dir.path()).unwrap_err().to_string();
            assert!(
                err.contains(&format!("line {line}: {key}:")),
                "{text:?}: {err}"
            );
        }
        std::fs::write(
            dir.path().join("mrt.toml"),
            "rows = 1\nurl_env = \"APP_DB\"\n",
        )
        .unwrap();
        assert_eq!(load(dir.path()).unwrap().config.rows, Some(1));
    }

    #[test]
    fn pyproject_errors_name_the_line_and_reject_wrong_types() {
        let dir = tempfile::tempdir().unwrap();
        let py = dir.path().join("pyproject.toml");
        std::fs::write(
            &py,
            "[project]\nname = \"x\"\n\n[tool.black]\nline-length = 99\n\n[tool.mrt]\nrows = \"8\"\n",
        )
        .unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("[tool.mrt]") && err.contains("line 8"),
            "{err}"
        );
        std::fs::write(&py, "[tool.mrt]\n\nbogus = 1\n").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("bogus") && err.contains("line 3"), "{err}");
        std::fs::write(&py, "[tool.mrt]\nurl_env = \"\"\n").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("[tool.mrt]: line 2: url_env"), "{err}");
    }

    #[test]
    fn mrt_toml_wins_and_missing_config_is_default() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap().config, Config::default());
        std::fs::write(
            dir.path().join("pyproject.toml"),
            "[tool.mrt]\nkind = \"alembic\"\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("mrt.toml"), "").unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.source, Some(dir.path().join("mrt.toml")));
        assert_eq!(loaded.config.kind, None);
    }
}
