//! Which tool owns a project's SQL migrations, and where they are.
//!
//! The folder: the one a tool's own configuration names (diesel.toml `[migrations_directory]
//! dir`, `DBMATE_MIGRATIONS_DIR` in `.env`, `flyway.locations` in flyway.conf or `locations` in
//! flyway.toml), then the conventional ones: `migrations/`, `db/migrations/`, `db/migration/`,
//! `src/main/resources/db/migration/`. The first that holds migrations wins.
//!
//! The tool: the folder's layout first (diesel folders with `up.sql`, dbmate `-- migrate:up`
//! sections, `.up.sql`/`.down.sql` pairs, `V<n>__` files, simple `<n>_<name>.sql` files). Two
//! layouts are shared: `.up.sql`/`.down.sql` (sqlx and golang-migrate) and `V<n>__<name>.sql`
//! (Flyway and refinery). The project's markers decide those (Cargo.toml depending on sqlx or
//! refinery, go.mod requiring golang-migrate, flyway.conf, a pom.xml or build.gradle naming
//! Flyway); when nothing decides, the choice is fixed (sqlx; refinery in `migrations/`, Flyway
//! elsewhere) and [`Detection::detected_by`] says so, so the user knows to set `[sql] tool`.

use super::SqlTool;
use std::path::{Path, PathBuf};

/// A tool and its migrations folder, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detection {
    pub tool: SqlTool,
    pub dir: PathBuf,
    /// Why, for "read as sqlx (Cargo.toml depends on sqlx; migrations in migrations/)".
    pub detected_by: String,
}

/// Folders tried after the ones a tool's configuration names, in order.
const CONVENTIONAL: &[&str] = &[
    "migrations",
    "db/migrations",
    "db/migration",
    "src/main/resources/db/migration",
];

/// Auto-detection from a project root: which tool and which migrations folder; `None` if no
/// SQL migrations are found.
pub fn detect(root: &Path) -> Option<(SqlTool, PathBuf)> {
    detect_with_reason(root).map(|d| (d.tool, d.dir))
}

/// [`detect`] with the reason for the choice.
pub fn detect_with_reason(root: &Path) -> Option<Detection> {
    let markers = Markers::read(root);
    for candidate in candidates(root, &markers, None) {
        let Some(layout) = Layout::of(&candidate.path) else {
            continue;
        };
        let (tool, why) = match candidate.tool {
            Some(tool) if layout.fits(tool) => (tool, candidate.why.clone()),
            _ => choose(layout, &markers, root, &candidate.path),
        };
        return Some(Detection {
            tool,
            detected_by: format!("{why}; migrations in {}", shown_dir(root, &candidate.path)),
            dir: candidate.path,
        });
    }
    None
}

/// The tool for a folder given in the configuration, from its layout and the project's
/// markers; `None` when the folder holds no migration file of any tool.
pub(crate) fn classify(root: &Path, dir: &Path) -> Option<(SqlTool, String)> {
    let markers = Markers::read(root);
    let layout = Layout::of(dir)?;
    Some(choose(layout, &markers, root, dir))
}

pub(crate) struct Found {
    pub path: PathBuf,
    pub why: String,
}

/// The folder of a tool given in the configuration without `[sql] dir`.
pub(crate) fn default_dir(root: &Path, tool: SqlTool) -> Option<Found> {
    let markers = Markers::read(root);
    candidates(root, &markers, Some(tool))
        .into_iter()
        .find(|c| c.path.is_dir())
        .map(|c| Found {
            why: format!("{} ({})", shown_dir(root, &c.path), c.why),
            path: c.path,
        })
}

/// The folders detection looks in, for an error message.
pub(crate) fn looked_for(root: &Path, tool: Option<SqlTool>) -> String {
    let markers = Markers::read(root);
    candidates(root, &markers, tool)
        .iter()
        .map(|c| shown_dir(root, &c.path))
        .collect::<Vec<_>>()
        .join(", ")
}

fn shown_dir(root: &Path, dir: &Path) -> String {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let text = rel.display().to_string();
    if text.is_empty() {
        "./".into()
    } else {
        format!("{text}/")
    }
}

struct Candidate {
    path: PathBuf,
    /// The tool whose configuration names this folder.
    tool: Option<SqlTool>,
    why: String,
}

/// Configured folders first, then conventional ones; only `tool`'s when given.
fn candidates(root: &Path, markers: &Markers, tool: Option<SqlTool>) -> Vec<Candidate> {
    let mut out: Vec<Candidate> = Vec::new();
    let wanted = |t: SqlTool| tool.is_none_or(|w| w == t);
    if let Some(dir) = markers
        .diesel_dir
        .as_ref()
        .filter(|_| wanted(SqlTool::Diesel))
    {
        out.push(Candidate {
            path: dir.clone(),
            tool: Some(SqlTool::Diesel),
            why: "diesel.toml sets migrations_directory".into(),
        });
    }
    if let Some(dir) = markers
        .dbmate_dir
        .as_ref()
        .filter(|_| wanted(SqlTool::Dbmate))
    {
        out.push(Candidate {
            path: dir.clone(),
            tool: Some(SqlTool::Dbmate),
            why: ".env sets DBMATE_MIGRATIONS_DIR".into(),
        });
    }
    if wanted(SqlTool::Flyway) {
        if let Some((file, dirs)) = &markers.flyway_locations {
            for dir in dirs {
                out.push(Candidate {
                    path: dir.clone(),
                    tool: Some(SqlTool::Flyway),
                    why: format!("{file} sets the locations"),
                });
            }
        }
    }
    let conventional: Vec<&str> = match tool {
        None => CONVENTIONAL.to_vec(),
        Some(SqlTool::Dbmate) => vec!["db/migrations", "migrations"],
        Some(SqlTool::Flyway) => vec![
            "src/main/resources/db/migration",
            "db/migration",
            "sql",
            "migrations",
            "db/migrations",
        ],
        Some(_) => vec!["migrations", "db/migrations"],
    };
    for rel in conventional {
        let path = root.join(rel);
        if out.iter().any(|c| same_dir(&c.path, &path)) {
            continue;
        }
        let why = match tool {
            Some(t) => format!("{t}'s conventional folder"),
            None => "a conventional migrations folder".into(),
        };
        out.push(Candidate {
            path,
            tool: None,
            why,
        });
    }
    out
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// What a folder holds, by the most files of one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    /// `<version>_<name>/up.sql` folders.
    DieselDirs,
    /// `<version>*.sql` files with `-- migrate:up`.
    Dbmate,
    /// `<version>_<name>.up.sql` / `.down.sql`.
    UpDown,
    /// `V<version>__<name>.sql` (and `U...`).
    Versioned { dotted: bool },
    /// `<version>_<name>.sql` without direction or dbmate sections.
    Simple,
}

impl Layout {
    fn fits(self, tool: SqlTool) -> bool {
        matches!(
            (self, tool),
            (Layout::DieselDirs, SqlTool::Diesel)
                | (Layout::Dbmate, SqlTool::Dbmate)
                | (Layout::UpDown, SqlTool::Sqlx | SqlTool::GolangMigrate)
                | (
                    Layout::Versioned { .. },
                    SqlTool::Flyway | SqlTool::Refinery
                )
                | (Layout::Simple, SqlTool::Sqlx)
        )
    }

    fn of(dir: &Path) -> Option<Layout> {
        let entries = super::files::list(dir).ok()?;
        let (mut diesel, mut dbmate, mut updown, mut versioned, mut simple) = (0, 0, 0, 0, 0);
        let mut dotted = false;
        for e in &entries {
            let Some(name) = e.name.as_deref() else {
                continue;
            };
            if e.target == super::files::Target::Dir {
                if !name.starts_with('.') && e.path.join("up.sql").is_file() {
                    diesel += 1;
                }
                // Flyway locations are scanned recursively: one level of sub-folders.
                if let Ok(inner) = super::files::list(&e.path) {
                    for i in inner.iter().filter_map(|i| i.name.as_deref()) {
                        if let Some(d) = versioned_name(i) {
                            versioned += 1;
                            dotted |= d;
                        }
                    }
                }
                continue;
            }
            let digits = name.bytes().take_while(u8::is_ascii_digit).count();
            if let Some(d) = versioned_name(name) {
                versioned += 1;
                dotted |= d;
            } else if digits > 0 && name.ends_with(".sql") {
                if name.ends_with(".up.sql") || name.ends_with(".down.sql") {
                    updown += 1;
                } else if head(&e.path).is_some_and(|t| !super::dbmate_directives(&t).is_empty()) {
                    dbmate += 1;
                } else if name[digits..].starts_with('_') {
                    simple += 1;
                }
            }
        }
        let ranked = [
            (diesel, Layout::DieselDirs),
            (dbmate, Layout::Dbmate),
            (updown, Layout::UpDown),
            (versioned, Layout::Versioned { dotted }),
            (simple, Layout::Simple),
        ];
        // The most files win; on a tie, the earlier (more specific) layout.
        ranked
            .into_iter()
            .filter(|(n, _)| *n > 0)
            .fold(None::<(usize, Layout)>, |best, (n, l)| match best {
                Some((b, _)) if b >= n => best,
                _ => Some((n, l)),
            })
            .map(|(_, l)| l)
    }
}

/// `V<digit>...__...sql` or `U...`: `Some(dotted)` when the version has `.` or `_`.
fn versioned_name(name: &str) -> Option<bool> {
    let rest = name.strip_prefix(['V', 'U'])?.strip_suffix(".sql")?;
    let (version, _) = rest.split_once("__")?;
    let ok = version.starts_with(|c: char| c.is_ascii_digit())
        && version
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b'_');
    ok.then(|| version.contains(['.', '_']))
}

/// The first 64 KiB of a file, enough for a migration's header.
fn head(path: &Path) -> Option<String> {
    use std::io::Read;
    let mut buf = vec![0; 65536];
    let n = std::fs::File::open(path).ok()?.read(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The tool for a layout, decided by the project's markers where two tools share it.
fn choose(layout: Layout, m: &Markers, root: &Path, dir: &Path) -> (SqlTool, String) {
    match layout {
        Layout::DieselDirs => (
            SqlTool::Diesel,
            if m.diesel_toml {
                "diesel.toml and migration folders holding up.sql".into()
            } else {
                "migration folders holding up.sql, diesel's layout".into()
            },
        ),
        Layout::Dbmate => (
            SqlTool::Dbmate,
            "files with '-- migrate:up' sections, dbmate's layout".into(),
        ),
        Layout::Simple => (
            SqlTool::Sqlx,
            "<version>_<name>.sql files without up/down suffixes or dbmate sections, sqlx's simple migrations".into(),
        ),
        Layout::UpDown => {
            let shared = "<version>_<name>.up.sql/.down.sql files (sqlx and golang-migrate share this layout)";
            if m.cargo.sqlx {
                (SqlTool::Sqlx, "Cargo.toml depends on sqlx".into())
            } else if m.go_migrate {
                (
                    SqlTool::GolangMigrate,
                    "go.mod requires github.com/golang-migrate/migrate".into(),
                )
            } else if m.go_mod {
                (SqlTool::GolangMigrate, format!("a Go module (go.mod) with {shared}"))
            } else if m.cargo.present {
                (SqlTool::Sqlx, format!("a Rust package (Cargo.toml) with {shared}"))
            } else {
                (
                    SqlTool::Sqlx,
                    format!("{shared}; no Cargo.toml or go.mod tells which: read as sqlx"),
                )
            }
        }
        Layout::Versioned { dotted } => {
            let shared = "V<version>__<name>.sql files (Flyway and refinery share this layout)";
            if m.cargo.refinery {
                (SqlTool::Refinery, "Cargo.toml depends on refinery".into())
            } else if let Some((file, _)) = &m.flyway_locations {
                (SqlTool::Flyway, format!("{file} configures Flyway"))
            } else if let Some(file) = &m.flyway_config {
                (SqlTool::Flyway, format!("{file} configures Flyway"))
            } else if let Some(file) = &m.java_flyway {
                (SqlTool::Flyway, format!("{file} names Flyway"))
            } else if dotted {
                (
                    SqlTool::Flyway,
                    "dotted versions (V1.1__), which refinery refuses".into(),
                )
            } else if m.cargo.present {
                (SqlTool::Refinery, format!("a Rust package (Cargo.toml) with {shared}"))
            } else if m.java_build.is_some() || !same_dir(dir, &root.join("migrations")) {
                (
                    SqlTool::Flyway,
                    format!("{shared}; outside migrations/ and no Cargo.toml: read as Flyway"),
                )
            } else {
                (
                    SqlTool::Refinery,
                    format!("{shared}; in migrations/ (refinery's default folder) with no Flyway configuration: read as refinery"),
                )
            }
        }
    }
}

#[derive(Debug, Default)]
struct CargoDeps {
    present: bool,
    sqlx: bool,
    refinery: bool,
}

/// What a project root says about its migration tool.
#[derive(Debug, Default)]
struct Markers {
    cargo: CargoDeps,
    go_mod: bool,
    go_migrate: bool,
    diesel_toml: bool,
    /// diesel.toml `[migrations_directory] dir`, resolved against the root.
    diesel_dir: Option<PathBuf>,
    /// `DBMATE_MIGRATIONS_DIR` from `.env`, resolved (the first when it lists several).
    dbmate_dir: Option<PathBuf>,
    /// The Flyway configuration file and the filesystem folders of its locations.
    flyway_locations: Option<(String, Vec<PathBuf>)>,
    /// flyway.conf / flyway.toml without locations.
    flyway_config: Option<String>,
    /// pom.xml / build.gradle(.kts) naming flyway.
    java_flyway: Option<String>,
    /// Any pom.xml / build.gradle(.kts).
    java_build: Option<String>,
}

impl Markers {
    fn read(root: &Path) -> Markers {
        let text = |name: &str| std::fs::read_to_string(root.join(name)).ok();
        let mut m = Markers::default();
        if let Some(cargo) = text("Cargo.toml") {
            m.cargo = cargo_deps(&cargo);
        }
        if let Some(go) = text("go.mod") {
            m.go_mod = true;
            m.go_migrate = go.contains("github.com/golang-migrate/migrate");
        }
        if let Some(diesel) = text("diesel.toml") {
            m.diesel_toml = true;
            m.diesel_dir = toml::from_str::<toml::Value>(&diesel).ok().and_then(|v| {
                v.get("migrations_directory")?
                    .get("dir")?
                    .as_str()
                    .map(|d| super::files::join_clean(root, d))
            });
        }
        if let Some(env) = text(".env") {
            m.dbmate_dir = dotenv_value(&env, "DBMATE_MIGRATIONS_DIR").and_then(|v| {
                let first = v.split(',').next()?.trim();
                (!first.is_empty()).then(|| super::files::join_clean(root, first))
            });
        }
        for file in ["flyway.conf", "conf/flyway.conf", "flyway.toml"] {
            let Some(config) = text(file) else {
                continue;
            };
            let locations = if file.ends_with(".toml") {
                flyway_toml_locations(&config)
            } else {
                flyway_conf_locations(&config)
            };
            let dirs: Vec<PathBuf> = locations
                .iter()
                .filter_map(|l| location_dir(root, l))
                .collect();
            if dirs.is_empty() {
                m.flyway_config.get_or_insert_with(|| file.to_string());
            } else if m.flyway_locations.is_none() {
                m.flyway_locations = Some((file.to_string(), dirs));
            }
        }
        for file in ["pom.xml", "build.gradle", "build.gradle.kts"] {
            if let Some(build) = text(file) {
                m.java_build.get_or_insert_with(|| file.to_string());
                if build.to_ascii_lowercase().contains("flyway") {
                    m.java_flyway.get_or_insert_with(|| file.to_string());
                }
            }
        }
        m
    }
}

/// Whether a Cargo.toml depends on sqlx or refinery, in any dependency table.
fn cargo_deps(text: &str) -> CargoDeps {
    let mut deps = CargoDeps {
        present: true,
        ..CargoDeps::default()
    };
    let Ok(value) = toml::from_str::<toml::Value>(text) else {
        return deps;
    };
    let mut tables: Vec<&toml::Value> = Vec::new();
    for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.extend(value.get(section));
        tables.extend(value.get("workspace").and_then(|w| w.get(section)));
    }
    if let Some(targets) = value.get("target").and_then(toml::Value::as_table) {
        for t in targets.values() {
            for section in ["dependencies", "dev-dependencies", "build-dependencies"] {
                tables.extend(t.get(section));
            }
        }
    }
    for table in tables.iter().filter_map(|t| t.as_table()) {
        for (key, spec) in table {
            // `name = { package = "sqlx" }` renames count by package.
            let package = spec
                .get("package")
                .and_then(toml::Value::as_str)
                .unwrap_or(key);
            deps.sqlx |= package == "sqlx" || package == "sqlx-core";
            deps.refinery |= package == "refinery" || package == "refinery-core";
        }
    }
    deps
}

/// `KEY=value` from a `.env` file (`export` prefix, quotes and a trailing comment allowed).
pub(crate) fn dotenv_value(text: &str, key: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let line = line.trim();
        let line = line.strip_prefix("export ").unwrap_or(line).trim_start();
        let (k, v) = line.split_once('=')?;
        if k.trim() != key {
            return None;
        }
        let v = v.trim();
        let v = if let Some(q) = v.strip_prefix('"') {
            q.split('"').next().unwrap_or("")
        } else if let Some(q) = v.strip_prefix('\'') {
            q.split('\'').next().unwrap_or("")
        } else {
            v.split(" #").next().unwrap_or(v).trim()
        };
        Some(v.to_string())
    })
}

/// `flyway.locations=filesystem:sql,classpath:db/migration` from flyway.conf.
fn flyway_conf_locations(text: &str) -> Vec<String> {
    let value = text.lines().find_map(|line| {
        let line = line.trim_start();
        if line.starts_with('#') || line.starts_with('!') {
            return None;
        }
        let cut = line.find(['=', ':'])?;
        (line[..cut].trim() == "flyway.locations").then(|| line[cut + 1..].trim().to_string())
    });
    value
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// `locations` from flyway.toml's `[flyway]` (or an environment's `flyway` table).
fn flyway_toml_locations(text: &str) -> Vec<String> {
    let Ok(value) = toml::from_str::<toml::Value>(text) else {
        return Vec::new();
    };
    let as_list = |v: &toml::Value| -> Vec<String> {
        match v {
            toml::Value::String(s) => s.split(',').map(|s| s.trim().to_string()).collect(),
            toml::Value::Array(items) => items
                .iter()
                .filter_map(|i| i.as_str().map(str::to_string))
                .collect(),
            _ => Vec::new(),
        }
    };
    if let Some(l) = value.get("flyway").and_then(|f| f.get("locations")) {
        return as_list(l);
    }
    value
        .get("environments")
        .and_then(toml::Value::as_table)
        .and_then(|envs| {
            envs.values()
                .find_map(|e| e.get("flyway").and_then(|f| f.get("locations")))
        })
        .map(as_list)
        .unwrap_or_default()
}

/// The folder of a Flyway location: `filesystem:<path>` relative to the root,
/// `classpath:<path>` (and no prefix) under `src/main/resources`.
fn location_dir(root: &Path, location: &str) -> Option<PathBuf> {
    if let Some(p) = location.strip_prefix("filesystem:") {
        Some(super::files::join_clean(root, p))
    } else if let Some(p) = location.strip_prefix("classpath:") {
        Some(
            root.join("src/main/resources")
                .join(p.trim_start_matches('/')),
        )
    } else if location.contains(':') {
        // s3:, gcs:, ...: nothing on disk.
        None
    } else {
        Some(
            root.join("src/main/resources")
                .join(location.trim_start_matches('/')),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_dependency_tables() {
        let d = cargo_deps("[dependencies]\nsqlx = { version = \"0.8\" }\n");
        assert!(d.present && d.sqlx && !d.refinery);
        let d = cargo_deps("[target.'cfg(unix)'.dev-dependencies]\ndb = { package = \"refinery\", version = \"0.8\" }\n");
        assert!(d.refinery && !d.sqlx);
        let d = cargo_deps("[package]\nname = \"sqlx-app\"\n");
        assert!(d.present && !d.sqlx);
        let d = cargo_deps("not toml [");
        assert!(d.present && !d.sqlx);
    }

    #[test]
    fn dotenv_and_flyway_config() {
        let env = "# comment\nDATABASE_URL=x\nexport DBMATE_MIGRATIONS_DIR=\"./sql/migrations\"\n";
        assert_eq!(
            dotenv_value(env, "DBMATE_MIGRATIONS_DIR").as_deref(),
            Some("./sql/migrations")
        );
        assert_eq!(
            flyway_conf_locations(
                "flyway.url=jdbc:x\nflyway.locations = filesystem:sql, classpath:db/migration\n"
            ),
            vec!["filesystem:sql", "classpath:db/migration"]
        );
        assert_eq!(
            flyway_toml_locations("[flyway]\nlocations = [\"filesystem:migrations\"]\n"),
            vec!["filesystem:migrations"]
        );
        assert_eq!(
            flyway_toml_locations(
                "[environments.dev.flyway]\nlocations = \"filesystem:a,filesystem:b\"\n"
            ),
            vec!["filesystem:a", "filesystem:b"]
        );
        let root = Path::new("/p");
        assert_eq!(
            location_dir(root, "filesystem:sql"),
            Some(PathBuf::from("/p/sql"))
        );
        assert_eq!(
            location_dir(root, "db/migration"),
            Some(PathBuf::from("/p/src/main/resources/db/migration"))
        );
        assert_eq!(location_dir(root, "s3:bucket/x"), None);
    }

    #[test]
    fn versioned_names() {
        assert_eq!(versioned_name("V1__init.sql"), Some(false));
        assert_eq!(versioned_name("V1_1__init.sql"), Some(true));
        assert_eq!(versioned_name("U2.0__init.sql"), Some(true));
        assert_eq!(versioned_name("Views.sql"), None);
        assert_eq!(versioned_name("V1__init.txt"), None);
    }
}
