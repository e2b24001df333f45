//! The model state each migration is judged against: every file read once, and per app the
//! state its ancestors leave, rebuilt from them (never from migrations that merely come
//! earlier in the graph order), with the last state of each app kept for the next migration
//! that needs exactly it.

use super::code::ModelInfo;
use super::parse::{migration_class, operation, MigrationClass, Op, Source};
use super::state::AppState;
use super::DjangoMigration;
use rustpython_parser::ast;
use rustpython_parser::Parse;
use std::cell::RefCell;
use std::collections::HashMap;

pub fn parse_file(m: &DjangoMigration) -> Option<ast::Suite> {
    // Parsing it would overflow the stack; the project reports it.
    if mrt_migrations::alembic::too_complex(m.source).is_some() {
        return None;
    }
    ast::Suite::parse(m.source, &m.path.display().to_string()).ok()
}

/// One file, read.
pub struct Parsed<'a> {
    pub file: Option<File<'a>>,
    /// Ids of the migrations it replaces (a squash).
    pub replaces: Vec<String>,
}

pub struct File<'a> {
    pub src: Source<'a>,
    pub class: MigrationClass<'a>,
    /// `None` when `operations` is not a list mrt can read.
    pub ops: Option<Vec<Op<'a>>>,
}

impl<'a> Parsed<'a> {
    pub fn new(suite: Option<&'a [ast::Stmt]>) -> Self {
        let Some(suite) = suite else {
            return Parsed {
                file: None,
                replaces: Vec::new(),
            };
        };
        let src = Source::new(suite);
        let Some(class) = migration_class(suite, &src) else {
            return Parsed {
                file: None,
                replaces: Vec::new(),
            };
        };
        let ops = class
            .operations
            .as_ref()
            .map(|list| list.iter().map(|e| operation(e, &src)).collect());
        let replaces = class.replaces.clone();
        Parsed {
            file: Some(File { src, class, ops }),
            replaces,
        }
    }

    /// Applies its operations to a state (no lowering): how an ancestor's history is rebuilt.
    fn apply(&self, state: &mut AppState) {
        state.applying_initial = self.file.as_ref().is_some_and(|f| f.class.initial);
        match self.file.as_ref().and_then(|f| f.ops.as_ref()) {
            Some(ops) => ops.iter().for_each(|op| state.apply(op)),
            None => state.taint(),
        }
    }
}

/// A set of migrations by their index in the slice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Set(Vec<u64>);

impl Set {
    pub fn insert(&mut self, i: usize) {
        let (w, b) = (i / 64, i % 64);
        if self.0.len() <= w {
            self.0.resize(w + 1, 0);
        }
        self.0[w] |= 1 << b;
    }

    fn contains(&self, i: usize) -> bool {
        self.0.get(i / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
    }

    fn union(&mut self, other: &Set) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    fn normalized(mut self) -> Self {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }
}

/// The model state each migration is judged against, rebuilt per app from the migration's
/// ancestors, with the last state of each app kept for the next migration that needs exactly
/// it (the common case: the previous migration of the app is its parent).
pub struct History<'p, 'a> {
    parsed: &'p [Parsed<'a>],
    ids: Vec<String>,
    apps: Vec<String>,
    ancestors: Vec<Set>,
    /// Per app: the migrations applied to the kept state, and that state.
    cache: RefCell<HashMap<String, (Set, AppState)>>,
}

impl<'p, 'a> History<'p, 'a> {
    pub fn new(migrations: &[DjangoMigration], parsed: &'p [Parsed<'a>]) -> Self {
        let index: HashMap<&str, usize> = migrations
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id, i))
            .collect();
        let mut ancestors: Vec<Set> = Vec::with_capacity(migrations.len());
        for (i, m) in migrations.iter().enumerate() {
            let mut set = Set::default();
            for dep in m.dependencies {
                // Only earlier migrations: a dependency given out of order cannot be a cycle.
                if let Some(&d) = index.get(dep.as_str()).filter(|&&d| d < i) {
                    set.insert(d);
                    set.union(&ancestors[d]);
                }
            }
            ancestors.push(set);
        }
        History {
            parsed,
            ids: migrations.iter().map(|m| m.id.to_string()).collect(),
            apps: migrations.iter().map(|m| m.app.to_string()).collect(),
            ancestors,
            cache: RefCell::new(HashMap::new()),
        }
    }

    /// The migrations of `app` that must be applied before migration `i`.
    pub fn need(&self, i: usize, app: &str) -> Set {
        let mut set = Set::default();
        for (j, a) in self.apps.iter().enumerate().take(i) {
            if a == app && self.ancestors[i].contains(j) {
                set.insert(j);
            }
        }
        set.normalized()
    }

    /// The state of `app` after exactly the migrations in `need`.
    fn build(&self, need: &Set) -> AppState {
        let mut state = AppState::default();
        let in_need: Vec<usize> = (0..self.apps.len()).filter(|&j| need.contains(j)).collect();
        for &j in &in_need {
            // A squash and the migrations it replaces carry the same operations: apply the
            // replaced ones only.
            let replaced_present = self.parsed[j]
                .replaces
                .iter()
                .any(|id| in_need.iter().any(|&k| self.ids[k] == *id));
            if !replaced_present {
                self.parsed[j].apply(&mut state);
            }
        }
        state
    }

    /// Takes the state of `app` after `need` out of the cache (building it if the kept one
    /// differs).
    pub fn take(&self, app: &str, need: &Set) -> AppState {
        let mut cache = self.cache.borrow_mut();
        match cache.remove(app) {
            Some((applied, state)) if applied == *need => state,
            _ => self.build(need),
        }
    }

    pub fn put(&self, app: &str, applied: Set, state: AppState) {
        self.cache
            .borrow_mut()
            .insert(app.to_string(), (applied.normalized(), state));
    }

    /// A model of another app as migration `i` sees it.
    pub fn model(&self, i: usize, app: &str, model: &str) -> Option<ModelInfo> {
        let need = self.need(i, app);
        let state = self.take(app, &need);
        let info = state.model(model).map(|m| ModelInfo::of(m, app));
        self.put(app, need, state);
        info
    }
}
