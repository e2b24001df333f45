//! Where an Alembic project keeps its revisions, read from `alembic.ini` and/or
//! `[tool.alembic]` in `pyproject.toml` with Alembic's own precedence (ini first).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum AlembicConfigError {
    #[error("no alembic.ini nor [tool.alembic] in pyproject.toml found in {0} (pass --config PATH/alembic.ini)")]
    NotFound(PathBuf),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid ini file: {message}")]
    Ini { path: PathBuf, message: String },
    #[error("{path} is not valid TOML: {message}")]
    Toml { path: PathBuf, message: String },
    #[error("{0}: no 'script_location' key in [{1}] (or [tool.alembic])")]
    NoScriptLocation(PathBuf, String),
    #[error("{path} has no [{section}] section{}", sections_hint(.sections))]
    NoSection {
        path: PathBuf,
        section: String,
        sections: Vec<String>,
    },
    #[error(
        "{path}: script_location '{value}' names a package folder mrt did not find (looked in {looked}); write the folder's path instead"
    )]
    PackageResource {
        path: PathBuf,
        value: String,
        looked: String,
    },
    #[error("{path}:{line}: [tool.alembic] {key}: {message}")]
    TomlType {
        path: PathBuf,
        line: usize,
        key: &'static str,
        message: &'static str,
    },
    #[error("{path}: {key} = '{value}' is not valid: {message}")]
    BadValue {
        path: PathBuf,
        key: &'static str,
        value: String,
        message: String,
    },
    #[error("{path}: {key} points to {dir}, which does not exist")]
    MissingDir {
        path: PathBuf,
        key: &'static str,
        dir: PathBuf,
    },
}

fn sections_hint(sections: &[String]) -> String {
    if sections.is_empty() {
        String::new()
    } else {
        let names: Vec<String> = sections.iter().map(|s| format!("[{s}]")).collect();
        format!(
            "; it has {}: pass --name {} (Alembic's -n)",
            names.join(", "),
            sections
                .iter()
                .find(|s| *s != DEFAULT_SECTION)
                .unwrap_or(&sections[0])
        )
    }
}

/// The ini section Alembic reads when `--name` is not given.
pub const DEFAULT_SECTION: &str = "alembic";

/// The resolved, absolute places an Alembic project uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlembicLocations {
    pub ini: Option<PathBuf>,
    /// The ini section read (`--name`, Alembic's `-n`; default `alembic`). The Python worker
    /// must build its `Config` with the same `ini_section`.
    pub section: String,
    pub pyproject: Option<PathBuf>,
    pub script_location: PathBuf,
    pub version_locations: Vec<PathBuf>,
    pub recursive: bool,
    /// The ini's `sqlalchemy.url`, used to infer the dialect; never printed (it may hold a password).
    pub sqlalchemy_url: Option<String>,
}

/// Finds the Alembic configuration for a project directory, or uses `ini_override`: the ini
/// is `<dir>/alembic.ini`, else Flask-Migrate's `<dir>/migrations/alembic.ini`; `section` is
/// `--name` (default `alembic`).
pub fn locate(
    dir: &Path,
    ini_override: Option<&Path>,
    section: Option<&str>,
) -> Result<AlembicLocations, AlembicConfigError> {
    let ini_path = match ini_override {
        Some(p) => Some(p.to_path_buf()),
        None => ["alembic.ini", "migrations/alembic.ini"]
            .iter()
            .map(|name| dir.join(name))
            .find(|p| p.is_file()),
    };
    let section = section.unwrap_or(DEFAULT_SECTION);
    let base = ini_path
        .as_deref()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| dir.to_path_buf());
    let base = absolute(&base);
    let ini = ini_path
        .as_deref()
        .map(|p| IniSection::read(p, section))
        .transpose()?;
    let toml = TomlSection::read(&base.join("pyproject.toml"))?;
    if ini.is_none() && toml.is_none() {
        return Err(AlembicConfigError::NotFound(dir.to_path_buf()));
    }
    let options = Options {
        ini,
        toml,
        base,
        section: section.to_string(),
    };
    options.resolve()
}

fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

struct Options {
    ini: Option<IniSection>,
    toml: Option<TomlSection>,
    base: PathBuf,
    section: String,
}

impl Options {
    fn config_path(&self) -> PathBuf {
        match (&self.ini, &self.toml) {
            (Some(ini), _) => ini.path.clone(),
            (None, Some(toml)) => toml.path.clone(),
            (None, None) => self.base.clone(),
        }
    }

    fn resolve(&self) -> Result<AlembicLocations, AlembicConfigError> {
        let script_location = self.script_location()?;
        let version_locations = match self.version_locations()? {
            Some(list) => list.iter().map(|v| self.path(v)).collect(),
            None => vec![script_location.join("versions")],
        };
        for dir in &version_locations {
            if !dir.is_dir() {
                return Err(AlembicConfigError::MissingDir {
                    path: self.config_path(),
                    key: "version_locations",
                    dir: dir.clone(),
                });
            }
        }
        Ok(AlembicLocations {
            ini: self.ini.as_ref().map(|i| absolute(&i.path)),
            section: self.section.clone(),
            pyproject: self.toml.as_ref().map(|t| absolute(&t.path)),
            script_location,
            version_locations,
            recursive: self.recursive()?,
            sqlalchemy_url: self.ini.as_ref().and_then(|i| i.get("sqlalchemy.url")),
        })
    }

    fn script_location(&self) -> Result<PathBuf, AlembicConfigError> {
        let value = self
            .ini
            .as_ref()
            .and_then(|i| i.get("script_location"))
            .or_else(|| self.toml.as_ref().and_then(|t| t.string("script_location")));
        let Some(value) = value else {
            return self.flask_migrate_dir().ok_or_else(|| {
                AlembicConfigError::NoScriptLocation(self.config_path(), self.section.clone())
            });
        };
        let dir = if is_package_resource(&value) {
            self.package_dir(&value)?
        } else {
            self.path(&value)
        };
        if !dir.is_dir() {
            return Err(AlembicConfigError::MissingDir {
                path: self.config_path(),
                key: "script_location",
                dir,
            });
        }
        Ok(dir)
    }

    /// `package:dir` (Alembic imports the package and takes `dir` inside it): found without
    /// importing anything, as the package's folder under the ini's directory or its `src/`.
    fn package_dir(&self, value: &str) -> Result<PathBuf, AlembicConfigError> {
        let (package, dir) = value.trim().split_once(':').unwrap_or((value, ""));
        let relative: PathBuf = package.split('.').collect::<PathBuf>().join(dir.trim());
        let roots = [self.base.clone(), self.base.join("src")];
        let found = roots
            .iter()
            .map(|root| absolute(&root.join(&relative)))
            .find(|candidate| candidate.is_dir());
        found.ok_or_else(|| AlembicConfigError::PackageResource {
            path: self.config_path(),
            value: value.to_string(),
            looked: roots
                .iter()
                .map(|r| absolute(&r.join(&relative)).display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        })
    }

    /// Flask-Migrate writes `migrations/alembic.ini` without `script_location` and sets it to
    /// the ini's own folder at run time: that folder, when it holds an `env.py`.
    fn flask_migrate_dir(&self) -> Option<PathBuf> {
        let dir = absolute(self.ini.as_ref()?.path.parent()?);
        dir.join("env.py").is_file().then_some(dir)
    }

    /// Alembic resolves relative paths against the working directory; users run it next to the
    /// ini file, so mrt resolves them against the ini's (or pyproject's) directory.
    fn path(&self, value: &str) -> PathBuf {
        absolute(&self.base.join(value.trim()))
    }

    fn version_locations(&self) -> Result<Option<Vec<String>>, AlembicConfigError> {
        if let Some(ini) = &self.ini {
            if let Some(raw) = ini
                .get("version_locations")
                .filter(|v| !v.trim().is_empty())
            {
                return split_locations(ini, &raw).map(Some);
            }
        }
        Ok(self.toml.as_ref().and_then(|t| t.list("version_locations")))
    }

    fn recursive(&self) -> Result<bool, AlembicConfigError> {
        if let Some(v) = self
            .ini
            .as_ref()
            .and_then(|i| i.get("recursive_version_locations"))
        {
            return Ok(v.trim() == "true");
        }
        match self
            .toml
            .as_ref()
            .map(|t| t.value("recursive_version_locations"))
        {
            None | Some(None) => Ok(false),
            Some(Some(toml::Value::Boolean(b))) => Ok(b),
            Some(Some(other)) => Err(AlembicConfigError::BadValue {
                path: self.config_path(),
                key: "recursive_version_locations",
                value: other.to_string(),
                message: "a boolean is expected".into(),
            }),
        }
    }
}

fn is_package_resource(value: &str) -> bool {
    let v = value.trim();
    match v.split_once(':') {
        // `C:\...` is a Windows drive, not `package:dir`.
        Some((pkg, _)) => pkg.len() > 1 && !pkg.contains(['/', '\\']),
        None => false,
    }
}

/// Splits `version_locations` per `path_separator` / `version_path_separator`, or Alembic's
/// legacy rule (spaces and commas) when neither is set.
fn split_locations(ini: &IniSection, raw: &str) -> Result<Vec<String>, AlembicConfigError> {
    let sep_key = ["path_separator", "version_path_separator"]
        .into_iter()
        .find_map(|k| ini.get(k).map(|v| (k, v)));
    let sep = match sep_key {
        None => None,
        Some((key, v)) => Some(match v.trim() {
            "space" => " ",
            "newline" => "\n",
            "os" => ":",
            ":" => ":",
            ";" => ";",
            other => {
                return Err(AlembicConfigError::BadValue {
                    path: ini.path.clone(),
                    key: if key == "path_separator" {
                        "path_separator"
                    } else {
                        "version_path_separator"
                    },
                    value: other.to_string(),
                    message: "expected 'space', 'newline', 'os', ':' or ';'".into(),
                })
            }
        }),
    };
    let parts: Vec<String> = match sep {
        Some(sep) => raw.split(sep).map(|s| s.trim().to_string()).collect(),
        None => raw
            .split([' ', ',', '\n'])
            .map(|s| s.trim().to_string())
            .collect(),
    };
    Ok(parts.into_iter().filter(|s| !s.is_empty()).collect())
}

/// One section of an ini file (`[alembic]`, or the one `--name` names) with configparser's
/// `%(key)s` interpolation and its `[DEFAULT]` values.
struct IniSection {
    path: PathBuf,
    values: HashMap<String, String>,
}

impl IniSection {
    fn read(path: &Path, section: &str) -> Result<Self, AlembicConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| AlembicConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut ini = configparser::ini::Ini::new();
        ini.set_multiline(true);
        ini.set_inline_comment_symbols(Some(&[]));
        let map = ini.read(text).map_err(|message| AlembicConfigError::Ini {
            path: path.to_path_buf(),
            message,
        })?;
        let wanted = section.to_lowercase();
        if !map.contains_key(&wanted) {
            return Err(AlembicConfigError::NoSection {
                path: path.to_path_buf(),
                section: section.to_string(),
                sections: script_sections(&map),
            });
        }
        let here = absolute(path.parent().unwrap_or(Path::new(".")));
        let mut values: HashMap<String, String> = HashMap::new();
        values.insert("here".into(), here.display().to_string());
        for section in ["default", wanted.as_str()] {
            for (k, v) in map.get(section).into_iter().flatten() {
                values.insert(k.clone(), v.clone().unwrap_or_default());
            }
        }
        Ok(IniSection {
            path: path.to_path_buf(),
            values,
        })
    }

    fn get(&self, key: &str) -> Option<String> {
        if key == "here" {
            return None;
        }
        self.values.get(key).map(|v| interpolate(v, &self.values))
    }
}

type IniMap = HashMap<String, HashMap<String, Option<String>>>;

/// Sections that configure a script directory: what `--name` could name.
fn script_sections(map: &IniMap) -> Vec<String> {
    let mut names: Vec<String> = map
        .iter()
        .filter(|(_, keys)| keys.contains_key("script_location"))
        .map(|(name, _)| name.clone())
        .collect();
    names.sort();
    names
}

/// configparser's BasicInterpolation, one level deep: `%(name)s` and `%%`.
fn interpolate(value: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(pos) = rest.find('%') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('%') {
            out.push('%');
            rest = tail;
        } else if let Some((name, tail)) = after
            .strip_prefix('(')
            .and_then(|a| a.split_once(")s"))
            .filter(|(name, _)| vars.contains_key(&name.to_lowercase()))
        {
            out.push_str(&vars[&name.to_lowercase()]);
            rest = tail;
        } else {
            out.push('%');
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

/// A `[tool.alembic]` key, whether a value has its type, and what the type is.
type TypeCheck = (&'static str, fn(&toml::Value) -> bool, &'static str);

/// The keys mrt reads from `[tool.alembic]` must have Alembic's types; a wrong one is an error
/// naming its line instead of being ignored (and the project then read without it).
fn check_types(path: &Path, text: &str, table: &toml::Table) -> Result<(), AlembicConfigError> {
    fn strings(v: &toml::Value) -> bool {
        v.as_array().is_some_and(|a| a.iter().all(|x| x.is_str()))
    }
    let checks: [TypeCheck; 3] = [
        (
            "script_location",
            |v| v.is_str(),
            "expected a string (a path or package:dir)",
        ),
        ("version_locations", strings, "expected a list of strings"),
        (
            "recursive_version_locations",
            |v| v.is_bool(),
            "expected true or false",
        ),
    ];
    for (key, ok, message) in checks {
        if let Some(value) = table.get(key) {
            if !ok(value) {
                return Err(AlembicConfigError::TomlType {
                    path: path.to_path_buf(),
                    line: key_line(text, key),
                    key,
                    message,
                });
            }
        }
    }
    Ok(())
}

/// The 1-based line where `key` is set under `[tool.alembic]` (1 if it cannot be told).
fn key_line(text: &str, key: &str) -> usize {
    let mut inside = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            inside = t.trim_matches(['[', ']', ' ']) == "tool.alembic";
            continue;
        }
        let named = t
            .strip_prefix(key)
            .is_some_and(|rest| rest.trim_start().starts_with('='));
        if inside && named {
            return i + 1;
        }
    }
    1
}

/// `[tool.alembic]` of a pyproject.toml, with `%(here)s` substituted as Alembic does.
struct TomlSection {
    path: PathBuf,
    table: toml::Table,
    here: String,
}

impl TomlSection {
    fn read(path: &Path) -> Result<Option<Self>, AlembicConfigError> {
        if !path.is_file() {
            return Ok(None);
        }
        let text = std::fs::read_to_string(path).map_err(|source| AlembicConfigError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let doc: toml::Table =
            text.parse()
                .map_err(|e: toml::de::Error| AlembicConfigError::Toml {
                    path: path.to_path_buf(),
                    message: e.message().to_string(),
                })?;
        let table = doc
            .get("tool")
            .and_then(|t| t.get("alembic"))
            .and_then(|a| a.as_table())
            .cloned();
        if let Some(table) = &table {
            check_types(path, &text, table)?;
        }
        let here = absolute(path.parent().unwrap_or(Path::new(".")))
            .display()
            .to_string();
        Ok(table.map(|table| TomlSection {
            path: path.to_path_buf(),
            table,
            here,
        }))
    }

    fn value(&self, key: &str) -> Option<toml::Value> {
        self.table.get(key).cloned()
    }

    fn subst(&self, s: &str) -> String {
        s.replace("%(here)s", &self.here).replace("%%", "%")
    }

    fn string(&self, key: &str) -> Option<String> {
        self.table.get(key)?.as_str().map(|s| self.subst(s))
    }

    fn list(&self, key: &str) -> Option<Vec<String>> {
        let items = self.table.get(key)?.as_array()?;
        Some(
            items
                .iter()
                .filter_map(|v| v.as_str())
                .map(|s| self.subst(s))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        HashMap::from([("here".to_string(), "/p".to_string())])
    }

    #[test]
    fn interpolates_here_and_percent() {
        assert_eq!(interpolate("%(here)s/alembic", &vars()), "/p/alembic");
        assert_eq!(
            interpolate("%%(rev)s_%%(slug)s", &vars()),
            "%(rev)s_%(slug)s"
        );
        assert_eq!(interpolate("50% off", &vars()), "50% off");
    }

    #[test]
    fn package_dirs_are_found_under_the_project_or_src() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src/myapp/db/migrations/versions")).unwrap();
        std::fs::write(
            dir.path().join("alembic.ini"),
            "[alembic]\nscript_location = myapp.db:migrations\n",
        )
        .unwrap();
        let found = locate(dir.path(), None, None).unwrap();
        assert!(found.script_location.ends_with("src/myapp/db/migrations"));
        std::fs::write(
            dir.path().join("alembic.ini"),
            "[alembic]\nscript_location = other:migrations\n",
        )
        .unwrap();
        let err = locate(dir.path(), None, None).unwrap_err().to_string();
        assert!(err.contains("other/migrations"), "{err}");
    }

    #[test]
    fn tool_alembic_wrong_types_name_their_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("migrations")).unwrap();
        let text = "[project]\nname = 'x'\n\n[tool.alembic]\nscript_location = 'migrations'\nversion_locations = 'a b'\n";
        std::fs::write(dir.path().join("pyproject.toml"), text).unwrap();
        let err = locate(dir.path(), None, None).unwrap_err().to_string();
        assert!(
            err.contains(
                "pyproject.toml:6: [tool.alembic] version_locations: expected a list of strings"
            ),
            "{err}"
        );
        let text = "[tool.alembic]\nscript_location = 3\n";
        std::fs::write(dir.path().join("pyproject.toml"), text).unwrap();
        let err = locate(dir.path(), None, None).unwrap_err().to_string();
        assert!(
            err.contains(":2: [tool.alembic] script_location: expected a string"),
            "{err}"
        );
    }

    #[test]
    fn package_resource_is_recognised() {
        assert!(is_package_resource("myapp:migrations"));
        assert!(!is_package_resource("C:\\proj\\migrations"));
        assert!(!is_package_resource("./migrations"));
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    fn ini(pairs: &[(&str, &str)]) -> IniSection {
        IniSection {
            path: PathBuf::from("alembic.ini"),
            values: pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    #[test]
    fn legacy_split_on_spaces_and_commas() {
        let got = split_locations(&ini(&[]), "a, b  c").unwrap();
        assert_eq!(got, ["a", "b", "c"]);
    }

    #[test]
    fn explicit_separators() {
        let got = split_locations(&ini(&[("path_separator", ";")]), "a b;c").unwrap();
        assert_eq!(got, ["a b", "c"]);
        let got =
            split_locations(&ini(&[("version_path_separator", "newline")]), "\na\nb").unwrap();
        assert_eq!(got, ["a", "b"]);
        let err = split_locations(&ini(&[("path_separator", "tab")]), "a").unwrap_err();
        assert!(err.to_string().contains("path_separator"), "{err}");
    }
}
