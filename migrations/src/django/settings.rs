//! The project's settings, read as text: which module `manage.py` names, where that module's
//! file is, and the string settings it assigns (`AUTH_USER_MODEL`, for swappable dependencies),
//! following `from .base import *` the way a split settings package is usually written.

use super::source::{dotted, flat_statements, string, Source};
use rustpython_parser::ast::{self, Expr, Stmt};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// Django's default user model, used when the settings do not set `AUTH_USER_MODEL`.
pub(crate) const DEFAULT_USER_MODEL: &str = "auth.User";

/// The module `manage.py` sets as the default `DJANGO_SETTINGS_MODULE`: the value of
/// `os.environ.setdefault("DJANGO_SETTINGS_MODULE", "...")` or of
/// `os.environ["DJANGO_SETTINGS_MODULE"] = "..."`, wherever in the file (usually in `main()`).
pub(crate) fn manage_py_settings(manage_py: &Path) -> Option<String> {
    let source = Source::read(manage_py).ok()?;
    let mut found = None;
    walk(&source.suite, &mut |stmt| {
        let value = match stmt {
            Stmt::Expr(e) => match e.value.as_ref() {
                Expr::Call(call)
                    if dotted(&call.func).is_some_and(|f| f.ends_with("environ.setdefault")) =>
                {
                    match call.args.as_slice() {
                        [key, value] if string(key) == Some("DJANGO_SETTINGS_MODULE") => {
                            string(value)
                        }
                        _ => None,
                    }
                }
                _ => None,
            },
            Stmt::Assign(a) => a.targets.iter().find_map(|t| match t {
                Expr::Subscript(s)
                    if dotted(&s.value).is_some_and(|v| v.ends_with("environ"))
                        && string(&s.slice) == Some("DJANGO_SETTINGS_MODULE") =>
                {
                    string(&a.value)
                }
                _ => None,
            }),
            _ => None,
        };
        if let Some(v) = value {
            found.get_or_insert_with(|| v.to_string());
        }
    });
    found
}

/// Calls `f` on every statement, entering function, class and block bodies.
fn walk<'a>(suite: &'a [Stmt], f: &mut impl FnMut(&'a Stmt)) {
    for stmt in suite {
        f(stmt);
        match stmt {
            Stmt::FunctionDef(s) => walk(&s.body, f),
            Stmt::ClassDef(s) => walk(&s.body, f),
            Stmt::If(s) => {
                walk(&s.body, f);
                walk(&s.orelse, f);
            }
            Stmt::Try(s) => {
                walk(&s.body, f);
                for ast::ExceptHandler::ExceptHandler(h) in &s.handlers {
                    walk(&h.body, f);
                }
                walk(&s.orelse, f);
                walk(&s.finalbody, f);
            }
            Stmt::With(s) => walk(&s.body, f),
            _ => {}
        }
    }
}

/// The file of a dotted module under one of `bases` (`config.settings` →
/// `config/settings.py` or `config/settings/__init__.py`).
pub(crate) fn module_file(bases: &[PathBuf], module: &str) -> Option<PathBuf> {
    if module.is_empty()
        || module
            .split('.')
            .any(|part| part.is_empty() || part.contains(['/', '\\']))
    {
        return None;
    }
    let rel: PathBuf = module.split('.').collect();
    bases.iter().find_map(|base| {
        let path = base.join(&rel);
        [path.with_extension("py"), path.join("__init__.py")]
            .into_iter()
            .find(|p| p.is_file())
    })
}

/// A setting's value as the file assigns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Literal(String),
    /// Assigned something other than a string literal (`env("USER_MODEL")`).
    Computed,
}

/// Settings read from a settings file and the files it star-imports.
#[derive(Debug, Default)]
pub(crate) struct Values {
    pub values: HashMap<String, Value>,
}

impl Values {
    /// Reads `file`; `bases` are where absolute imports (`from config.settings.base import *`)
    /// are looked up.
    pub fn read(file: &Path, bases: &[PathBuf]) -> Values {
        let mut values = Values::default();
        let mut visiting = HashSet::new();
        values.read_file(file, bases, &mut visiting, None);
        values
    }

    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.get(name)
    }

    /// Reads a file's module-level assignments in order; `only` limits them to names imported
    /// by `from x import NAME`.
    fn read_file(
        &mut self,
        file: &Path,
        bases: &[PathBuf],
        visiting: &mut HashSet<PathBuf>,
        only: Option<&[(String, String)]>,
    ) {
        let real = std::fs::canonicalize(file).unwrap_or_else(|_| file.to_path_buf());
        if visiting.len() > 16 || !visiting.insert(real.clone()) {
            return;
        }
        let Ok(source) = Source::read(file) else {
            visiting.remove(&real);
            return;
        };
        let mut local = Values::default();
        for stmt in flat_statements(&source.suite) {
            match stmt {
                Stmt::Assign(a) => {
                    for t in &a.targets {
                        local.assign(t, &a.value);
                    }
                }
                Stmt::AnnAssign(ast::StmtAnnAssign {
                    target,
                    value: Some(value),
                    ..
                }) => local.assign(target, value),
                Stmt::ImportFrom(i) => {
                    let Some(imported) = import_file(file, i, bases) else {
                        continue;
                    };
                    let names: Vec<(String, String)> = i
                        .names
                        .iter()
                        .filter(|a| a.name.as_str() != "*")
                        .map(|a| {
                            let name = a.name.to_string();
                            (
                                name.clone(),
                                a.asname.as_ref().map_or(name, |n| n.to_string()),
                            )
                        })
                        .collect();
                    let star = i.names.iter().any(|a| a.name.as_str() == "*");
                    if star || !names.is_empty() {
                        local.read_file(&imported, bases, visiting, (!star).then_some(&names[..]));
                    }
                }
                _ => {}
            }
        }
        visiting.remove(&real);
        for (name, value) in local.values {
            match only {
                None => {
                    self.values.insert(name, value);
                }
                Some(names) => {
                    if let Some((_, alias)) = names.iter().find(|(n, _)| *n == name) {
                        self.values.insert(alias.clone(), value);
                    }
                }
            }
        }
    }

    fn assign(&mut self, target: &Expr, value: &Expr) {
        if let Expr::Name(n) = target {
            let v = match string(value) {
                Some(s) => Value::Literal(s.to_string()),
                None => Value::Computed,
            };
            self.values.insert(n.id.to_string(), v);
        }
    }
}

/// The file a `from ... import` names: relative to `file` for `from .base import *`, else
/// under `bases`.
fn import_file(file: &Path, import: &ast::StmtImportFrom, bases: &[PathBuf]) -> Option<PathBuf> {
    let level = import.level.as_ref().map_or(0, |l| l.to_usize());
    let module = import.module.as_ref().map(|m| m.to_string());
    if level == 0 {
        return module_file(bases, module.as_deref()?);
    }
    let mut dir = file.parent()?.to_path_buf();
    for _ in 1..level {
        dir = dir.parent()?.to_path_buf();
    }
    match module {
        Some(m) => module_file(&[dir], &m),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
        let path = dir.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn manage_py_default_in_main_or_assigned() {
        let dir = tempfile::tempdir().unwrap();
        let m = write(
            dir.path(),
            "manage.py",
            "import os, sys\n\ndef main():\n    \"\"\"Run.\"\"\"\n    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'shop.settings')\n    from django.core.management import execute_from_command_line\n\nif __name__ == '__main__':\n    main()\n",
        );
        assert_eq!(manage_py_settings(&m).as_deref(), Some("shop.settings"));
        let m = write(
            dir.path(),
            "manage.py",
            "import os\nos.environ[\"DJANGO_SETTINGS_MODULE\"] = \"a.b.c\"\n",
        );
        assert_eq!(manage_py_settings(&m).as_deref(), Some("a.b.c"));
        let m = write(dir.path(), "manage.py", "print('no settings')\n");
        assert_eq!(manage_py_settings(&m), None);
    }

    #[test]
    fn module_files_and_packages() {
        let dir = tempfile::tempdir().unwrap();
        let f = write(dir.path(), "shop/settings.py", "");
        let p = write(dir.path(), "config/settings/__init__.py", "");
        let bases = [dir.path().to_path_buf()];
        assert_eq!(module_file(&bases, "shop.settings"), Some(f));
        assert_eq!(module_file(&bases, "config.settings"), Some(p));
        assert_eq!(module_file(&bases, "nope.settings"), None);
        assert_eq!(module_file(&bases, "..x"), None);
    }

    #[test]
    fn star_imports_and_later_assignments() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "config/settings/base.py",
            "AUTH_USER_MODEL = 'accounts.User'\nSITE_MODEL = 'sites.Site'\nDEBUG = False\n",
        );
        write(
            dir.path(),
            "config/settings/other.py",
            "OTHER_MODEL = 'x.Y'\nHIDDEN = 'h.H'\n",
        );
        let dev = write(
            dir.path(),
            "config/settings/dev.py",
            "from .base import *\nfrom config.settings.other import OTHER_MODEL as RENAMED\nSITE_MODEL = env('SITE')\nif DEBUG:\n    EXTRA_MODEL = 'a.A'\nelse:\n    EXTRA_MODEL = 'b.B'\n",
        );
        let v = Values::read(&dev, &[dir.path().to_path_buf()]);
        assert_eq!(
            v.get("AUTH_USER_MODEL"),
            Some(&Value::Literal("accounts.User".into()))
        );
        assert_eq!(v.get("SITE_MODEL"), Some(&Value::Computed));
        assert_eq!(v.get("RENAMED"), Some(&Value::Literal("x.Y".into())));
        assert_eq!(v.get("HIDDEN"), None, "only the named import");
        assert_eq!(v.get("EXTRA_MODEL"), Some(&Value::Literal("b.B".into())));
    }

    #[test]
    fn import_cycles_end() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "s/a.py", "from .b import *\nA = 'a.A'\n");
        let b = write(dir.path(), "s/b.py", "from .a import *\nB = 'b.B'\n");
        let v = Values::read(&b, &[dir.path().to_path_buf()]);
        assert_eq!(v.get("A"), Some(&Value::Literal("a.A".into())));
        assert_eq!(v.get("B"), Some(&Value::Literal("b.B".into())));
    }
}
