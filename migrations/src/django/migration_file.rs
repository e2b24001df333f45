//! Reading one Django migration file: its `class Migration` and the fields the loader uses to
//! build the graph (`dependencies`, `run_before`, `replaces`) plus `initial` and `atomic`, read
//! from the syntax tree as literals, never by importing the module.

use super::source::{dotted, string, Source};
use crate::{Problem, ProblemKind};
use rustpython_parser::ast::{self, Constant, Expr, Ranged, Stmt};
use std::collections::HashMap;
use std::path::Path;

/// One entry of `dependencies` or `run_before`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dep {
    /// `("app_label", "0001_name")`, or `__first__` / `__latest__` as the name.
    Key(String, String),
    /// `migrations.swappable_dependency(value)`: Django reads `value` (`"app.Model"`) and depends
    /// on that app's `__first__`.
    Swappable(Swappable),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Swappable {
    pub value: SwapValue,
    /// The argument as written, for messages (`settings.AUTH_USER_MODEL`).
    pub text: String,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SwapValue {
    /// `swappable_dependency("accounts.User")`.
    Literal(String),
    /// `swappable_dependency(settings.NAME)`, with `settings` Django's `django.conf.settings`.
    Setting(String),
    /// Anything else (`oauth2_settings.ACCESS_TOKEN_MODEL`): known only by running code.
    Computed,
}

/// What a migration file declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// Line of `class Migration(`.
    pub line: usize,
    pub dependencies: Vec<Dep>,
    pub run_before: Vec<Dep>,
    pub replaces: Vec<(String, String)>,
    pub initial: bool,
    pub atomic: Option<bool>,
    pub message: Option<String>,
}

const FIELDS: [&str; 3] = ["dependencies", "run_before", "replaces"];

/// Reads a migration file; a problem names the file and line of what Django would refuse or
/// mrt cannot read without running code.
pub(crate) fn read(path: &Path) -> Result<Declared, Box<Problem>> {
    let source = Source::read(path)?;
    declared(path, &source)
}

#[cfg(test)]
pub(crate) fn parse(path: &Path, text: &str) -> Result<Declared, Box<Problem>> {
    let source = Source::parse(path, text.to_string())?;
    declared(path, &source)
}

fn declared(path: &Path, source: &Source) -> Result<Declared, Box<Problem>> {
    let reader = Reader::new(path, source, &[]);
    // The module's last binding of `Migration` is what the loader gets.
    let mut class: Option<(usize, &ast::StmtClassDef)> = None;
    let mut other_binding: Option<&Stmt> = None;
    for (i, stmt) in source.suite.iter().enumerate() {
        match stmt {
            Stmt::ClassDef(c) if c.name.as_str() == "Migration" => {
                class = Some((i, c));
                other_binding = None;
            }
            s if binds_migration(s) => other_binding = Some(s),
            _ => {}
        }
    }
    if let Some(stmt) = other_binding {
        return Err(reader.problem(
            ProblemKind::NotLiteral,
            stmt,
            "`Migration` is imported or assigned here, not a class of this file; mrt reads migrations without running them".into(),
        ));
    }
    let Some((index, class)) = class else {
        return Err(Box::new(Problem::new(
            ProblemKind::Malformed,
            path,
            "no `class Migration` in this file: Django stops loading migrations with BadMigrationError (\"has no Migration class\"); move helpers to a module whose name starts with `_`, or out of the migrations folder",
        ).at(1, None)));
    };
    for later in &source.suite[index + 1..] {
        let text = source.snippet(later);
        if let Some(field) = FIELDS
            .iter()
            .find(|f| text.contains(&format!("Migration.{f}")))
        {
            return Err(reader.problem(
                ProblemKind::NotLiteral,
                later,
                format!("`Migration.{field}` is changed by code here; mrt reads migrations without running them"),
            ));
        }
    }
    Reader::new(path, source, &source.suite[..index]).class(class)
}

/// `from x import Migration`, `Migration = ...`: a binding mrt cannot follow.
fn binds_migration(stmt: &Stmt) -> bool {
    let is_migration = |e: &Expr| matches!(e, Expr::Name(n) if n.id.as_str() == "Migration");
    match stmt {
        Stmt::Assign(a) => a.targets.iter().any(is_migration),
        Stmt::AnnAssign(a) => is_migration(&a.target),
        Stmt::ImportFrom(i) => i
            .names
            .iter()
            .any(|a| a.asname.as_ref().unwrap_or(&a.name).as_str() == "Migration"),
        Stmt::FunctionDef(f) => f.name.as_str() == "Migration",
        _ => false,
    }
}

struct Reader<'a> {
    path: &'a Path,
    source: &'a Source,
    /// Names bound to `django.conf.settings` by the module's imports (`settings` by default).
    settings_names: Vec<String>,
    /// Module-level names assigned before the class (the last assignment of each), for
    /// `dependencies = DEPENDENCIES` and `("app", PREVIOUS)`.
    constants: HashMap<&'a str, &'a Expr>,
}

impl<'a> Reader<'a> {
    fn new(path: &'a Path, source: &'a Source, before: &'a [Stmt]) -> Self {
        let mut constants: HashMap<&str, &Expr> = HashMap::new();
        for stmt in before {
            if let Stmt::Assign(a) = stmt {
                for t in &a.targets {
                    if let Expr::Name(n) = t {
                        constants.insert(n.id.as_str(), &a.value);
                    }
                }
            }
        }
        let mut settings_names = vec!["settings".to_string()];
        for stmt in &source.suite {
            if let Stmt::ImportFrom(i) = stmt {
                if i.module
                    .as_ref()
                    .is_some_and(|m| m.as_str() == "django.conf")
                {
                    for a in &i.names {
                        if a.name.as_str() == "settings" {
                            if let Some(alias) = &a.asname {
                                settings_names.push(alias.to_string());
                            }
                        }
                    }
                }
            }
        }
        settings_names.push("django.conf.settings".into());
        Reader {
            path,
            source,
            settings_names,
            constants,
        }
    }

    fn class(&self, class: &ast::StmtClassDef) -> Result<Declared, Box<Problem>> {
        let mut out = Declared {
            line: self.source.line_of(class),
            dependencies: Vec::new(),
            run_before: Vec::new(),
            replaces: Vec::new(),
            initial: false,
            atomic: None,
            message: self.source.docstring_first_line(),
        };
        let mut seen_dependencies = false;
        for stmt in &class.body {
            let (targets, value, extend): (Vec<&Expr>, &Expr, bool) = match stmt {
                Stmt::Assign(a) => (a.targets.iter().collect(), &a.value, false),
                Stmt::AnnAssign(ast::StmtAnnAssign {
                    target,
                    value: Some(value),
                    ..
                }) => (vec![target.as_ref()], value, false),
                Stmt::AugAssign(a) if matches!(a.op, ast::Operator::Add) => {
                    (vec![a.target.as_ref()], &a.value, true)
                }
                other => {
                    self.not_changed_by_code(other)?;
                    continue;
                }
            };
            let value = self.constant(value);
            for target in targets {
                let Expr::Name(name) = target else { continue };
                match name.id.as_str() {
                    "dependencies" => {
                        seen_dependencies = true;
                        let deps = self.deps(value, "dependencies")?;
                        assign(&mut out.dependencies, deps, extend);
                    }
                    "run_before" => {
                        let deps = self.deps(value, "run_before")?;
                        assign(&mut out.run_before, deps, extend);
                    }
                    "replaces" => {
                        let keys = self.keys(value, "replaces")?;
                        assign(&mut out.replaces, keys, extend);
                    }
                    "initial" => out.initial = boolean(value).unwrap_or(false),
                    "atomic" => out.atomic = boolean(value),
                    _ => {}
                }
            }
        }
        if !seen_dependencies {
            if let Some(base) = class.bases.iter().find(|b| !is_django_migration(b)) {
                return Err(self.problem(
                    ProblemKind::NotLiteral,
                    base,
                    format!(
                        "`Migration` inherits from `{}` and declares no `dependencies`; mrt reads only what the class itself declares",
                        self.source.snippet(base)
                    ),
                ));
            }
        }
        Ok(out)
    }

    /// A statement in the class body other than an assignment must not touch the graph fields
    /// (`dependencies.append(...)`, `if ...: dependencies = ...`).
    fn not_changed_by_code(&self, stmt: &Stmt) -> Result<(), Box<Problem>> {
        let text = self.source.snippet(stmt);
        match FIELDS.iter().find(|f| mentions(text, f)) {
            Some(field) => Err(self.problem(
                ProblemKind::NotLiteral,
                stmt,
                format!(
                    "`{field}` is changed by code here; mrt reads migrations without running them"
                ),
            )),
            None => Ok(()),
        }
    }

    /// The entries of a literal list, also when written as a concatenation of lists (`[...] +
    /// [...]`) or a conditional one (`[...] if app_settings.SITES_ENABLED else []`, as
    /// django-allauth writes them): a condition on settings is not evaluated, both branches are
    /// taken. Django takes one of them; their union orders the graph safely either way.
    fn items<'e>(&self, value: &'e Expr, field: &str) -> Result<Vec<&'e Expr>, Box<Problem>>
    where
        'a: 'e,
    {
        match self.constant(value) {
            Expr::List(l) => Ok(l.elts.iter().collect()),
            Expr::Tuple(t) => Ok(t.elts.iter().collect()),
            Expr::BinOp(b) if matches!(b.op, ast::Operator::Add) => {
                let mut items = self.items(&b.left, field)?;
                items.extend(self.items(&b.right, field)?);
                Ok(items)
            }
            Expr::IfExp(e) => {
                let mut items = self.items(&e.body, field)?;
                items.extend(self.items(&e.orelse, field)?);
                Ok(items)
            }
            other => Err(self.problem(
                ProblemKind::NotLiteral,
                other,
                format!(
                    "`{field}` must be a literal list; mrt reads migrations without running them"
                ),
            )),
        }
    }

    fn deps(&self, value: &Expr, field: &str) -> Result<Vec<Dep>, Box<Problem>> {
        self.items(value, field)?
            .into_iter()
            .map(|item| match item {
                Expr::Call(call) if is_swappable(&call.func) && call.args.len() == 1 => {
                    Ok(Dep::Swappable(self.swappable(&call.args[0])))
                }
                other => self.key(other, field).map(|(a, n)| Dep::Key(a, n)),
            })
            .collect()
    }

    fn keys(&self, value: &Expr, field: &str) -> Result<Vec<(String, String)>, Box<Problem>> {
        self.items(value, field)?
            .into_iter()
            .map(|item| self.key(item, field))
            .collect()
    }

    /// A module-level name's value (its last assignment before the class), else `e`.
    fn constant<'e>(&self, e: &'e Expr) -> &'e Expr
    where
        'a: 'e,
    {
        match e {
            Expr::Name(n) => self.constants.get(n.id.as_str()).copied().unwrap_or(e),
            _ => e,
        }
    }

    /// `("app_label", "migration_name")`.
    fn key(&self, item: &Expr, field: &str) -> Result<(String, String), Box<Problem>> {
        let item = self.constant(item);
        let elts = match item {
            Expr::Tuple(t) => &t.elts,
            Expr::List(l) => &l.elts,
            _ => &Vec::new(),
        };
        match elts.as_slice() {
            [app, name] => match (string(self.constant(app)), string(self.constant(name))) {
                (Some(a), Some(n)) => Ok((a.to_string(), n.to_string())),
                _ => Err(self.not_a_key(item, field)),
            },
            _ => Err(self.not_a_key(item, field)),
        }
    }

    fn not_a_key(&self, item: &Expr, field: &str) -> Box<Problem> {
        self.problem(
            ProblemKind::NotLiteral,
            item,
            format!(
                "`{field}` entry `{}` must be a literal (\"app_label\", \"migration_name\") pair{}; mrt reads migrations without running them",
                self.source.snippet(item),
                if field == "replaces" { "" } else { " or migrations.swappable_dependency(...)" }
            ),
        )
    }

    fn swappable(&self, arg: &Expr) -> Swappable {
        let value = match (string(arg), dotted(arg)) {
            (Some(s), _) => SwapValue::Literal(s.to_string()),
            (None, Some(path)) => match path.rsplit_once('.') {
                Some((obj, name)) if self.settings_names.iter().any(|s| s == obj) => {
                    SwapValue::Setting(name.to_string())
                }
                _ => SwapValue::Computed,
            },
            _ => SwapValue::Computed,
        };
        Swappable {
            value,
            text: self.source.snippet(arg).to_string(),
            line: self.source.line_of(arg),
        }
    }

    fn problem(&self, kind: ProblemKind, at: &impl Ranged, message: String) -> Box<Problem> {
        let (line, column) = self.source.locate(at.start());
        Box::new(Problem::new(kind, self.path, message).at(line, Some(column)))
    }
}

fn assign<T>(field: &mut Vec<T>, items: Vec<T>, extend: bool) {
    if !extend {
        field.clear();
    }
    field.extend(items);
}

fn boolean(e: &Expr) -> Option<bool> {
    match e {
        Expr::Constant(ast::ExprConstant {
            value: Constant::Bool(b),
            ..
        }) => Some(*b),
        _ => None,
    }
}

fn is_swappable(func: &Expr) -> bool {
    dotted(func)
        .is_some_and(|d| d == "swappable_dependency" || d.ends_with(".swappable_dependency"))
}

/// `migrations.Migration`, `Migration`, `django.db.migrations.Migration`,
/// `migrations.migration.Migration`.
fn is_django_migration(base: &Expr) -> bool {
    dotted(base).is_some_and(|d| {
        matches!(
            d.as_str(),
            "Migration"
                | "migrations.Migration"
                | "migration.Migration"
                | "migrations.migration.Migration"
                | "django.db.migrations.Migration"
                | "django.db.migrations.migration.Migration"
        )
    })
}

/// Whether `word` appears in `text` as a whole identifier.
fn mentions(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(src: &str) -> Declared {
        parse(Path::new("app/migrations/0002_x.py"), src).unwrap_or_else(|p| panic!("{p}"))
    }

    fn err(src: &str) -> Problem {
        *parse(Path::new("app/migrations/0002_x.py"), src).expect_err("a problem")
    }

    const HEADER: &str =
        "from django.conf import settings\nfrom django.db import migrations, models\n\n";

    #[test]
    fn reads_the_generated_shape() {
        let m = ok(&format!(
            "{HEADER}\nclass Migration(migrations.Migration):\n    initial = True\n    atomic = False\n    dependencies = [\n        ('auth', '0012_x'),\n        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n        (\"blog\", \"__first__\"),\n    ]\n    run_before = [('shop', '0001_initial')]\n    replaces = [('app', '0001_a'), ('app', '0002_b')]\n    operations = []\n"
        ));
        assert_eq!(m.line, 5);
        assert!(m.initial);
        assert_eq!(m.atomic, Some(false));
        assert_eq!(
            m.dependencies,
            [
                Dep::Key("auth".into(), "0012_x".into()),
                Dep::Swappable(Swappable {
                    value: SwapValue::Setting("AUTH_USER_MODEL".into()),
                    text: "settings.AUTH_USER_MODEL".into(),
                    line: 10,
                }),
                Dep::Key("blog".into(), "__first__".into()),
            ]
        );
        assert_eq!(
            m.run_before,
            [Dep::Key("shop".into(), "0001_initial".into())]
        );
        assert_eq!(m.replaces.len(), 2);
        assert_eq!(m.message, None);
    }

    #[test]
    fn defaults_when_fields_are_absent() {
        let m = ok("\"\"\"Add the phone field.\n\nlonger\"\"\"\nfrom django.db import migrations\nclass Migration(migrations.Migration):\n    operations = []\n");
        assert!(m.dependencies.is_empty() && m.replaces.is_empty() && !m.initial);
        assert_eq!(m.atomic, None);
        assert_eq!(m.message.as_deref(), Some("Add the phone field."));
    }

    #[test]
    fn swappable_forms() {
        let m = ok("from django.conf import settings as conf\nfrom django.db import migrations\nfrom django.db.migrations import swappable_dependency\nfrom x import oauth2_settings\nclass Migration(migrations.Migration):\n    dependencies = [swappable_dependency('accounts.User'), migrations.swappable_dependency(conf.MY_MODEL), migrations.swappable_dependency(oauth2_settings.TOKEN_MODEL)]\n");
        let values: Vec<SwapValue> = m
            .dependencies
            .into_iter()
            .map(|d| match d {
                Dep::Swappable(s) => s.value,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            values,
            [
                SwapValue::Literal("accounts.User".into()),
                SwapValue::Setting("MY_MODEL".into()),
                SwapValue::Computed,
            ]
        );
    }

    #[test]
    fn module_constant_and_augmented_assignment_are_followed() {
        let m = ok("from django.db import migrations\nDEPS = [('a', '0001_x')]\nPREVIOUS = '0001_y'\nclass Migration(migrations.Migration):\n    dependencies = DEPS\n    dependencies += [('b', PREVIOUS)]\n");
        assert_eq!(
            m.dependencies,
            [
                Dep::Key("a".into(), "0001_x".into()),
                Dep::Key("b".into(), "0001_y".into())
            ]
        );
    }

    #[test]
    fn concatenated_and_conditional_lists_take_every_branch() {
        let m = ok("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = (\n        [('sites', '0001_initial')]\n        if app_settings.SITES_ENABLED\n        else []\n    ) + [\n        migrations.swappable_dependency(settings.AUTH_USER_MODEL),\n    ]\n");
        assert_eq!(m.dependencies.len(), 2);
        assert_eq!(
            m.dependencies[0],
            Dep::Key("sites".into(), "0001_initial".into())
        );
        assert!(matches!(m.dependencies[1], Dep::Swappable(_)));
        let p = err("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = [('a', '0001')] + extra()\n");
        assert_eq!(p.line, Some(3));
    }

    #[test]
    fn last_assignment_and_last_class_win() {
        let m = ok("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = [('a', '1')]\n\nclass Migration(migrations.Migration):\n    dependencies = [('a', '2')]\n    dependencies = [('a', '3')]\n");
        assert_eq!(m.line, 5);
        assert_eq!(m.dependencies, [Dep::Key("a".into(), "3".into())]);
    }

    #[test]
    fn computed_dependencies_are_problems_with_their_line() {
        let p = err("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = [\n        ('a', '0001_x'),\n        ('a', make_name()),\n    ]\n");
        assert_eq!((p.kind.clone(), p.line), (ProblemKind::NotLiteral, Some(5)));
        assert!(p.message.contains("make_name()"), "{}", p.message);
        let p = err("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = base_deps()\n");
        assert_eq!((p.kind.clone(), p.line), (ProblemKind::NotLiteral, Some(3)));
        let p = err("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = []\n    if FLAG:\n        dependencies.append(('b', '0001'))\n");
        assert_eq!(p.line, Some(4));
        let p = err("from django.db import migrations\nclass Migration(migrations.Migration):\n    dependencies = []\nMigration.run_before = [('c', '0001')]\n");
        assert_eq!(p.line, Some(4));
        let p = err("from django.db import migrations\nclass Migration(migrations.Migration):\n    replaces = [('a', '0001'), 'a.0002']\n");
        assert_eq!(p.line, Some(3));
    }

    #[test]
    fn files_without_a_migration_class_are_named() {
        let p = err("def helper():\n    return 1\n");
        assert_eq!(p.kind, ProblemKind::Malformed);
        assert!(p.message.contains("BadMigrationError"));
        let p = err("from .base import Migration\n");
        assert_eq!(p.kind, ProblemKind::NotLiteral);
        let p = err("class Migration(BaseMigration):\n    operations = []\n");
        assert!(p.message.contains("BaseMigration"), "{}", p.message);
        // A custom base is fine when the class says what it depends on.
        ok("class Migration(BaseMigration):\n    dependencies = [('a', '0001')]\n");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let p = err(
            "from django.db import migrations\nclass Migration(migrations.Migration:\n    pass\n",
        );
        assert_eq!(p.kind, ProblemKind::Syntax);
        assert_eq!(p.line, Some(2));
    }
}
