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

    /// Every migration in `self` is in `other`.
    fn is_subset_of(&self, other: &Set) -> bool {
        self.0
            .iter()
            .enumerate()
            .all(|(i, w)| w & !other.0.get(i).copied().unwrap_or(0) == 0)
    }

    /// The migrations in it, in slice order.
    fn indices(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(w, bits)| {
            (0..64)
                .filter(move |b| bits & (1 << b) != 0)
                .map(move |b| w * 64 + b)
        })
    }

    fn normalized(mut self) -> Self {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
        self
    }
}

/// The model state each migration is judged against, rebuilt per app from the migration's
/// ancestors. The last few states of each app are kept with the migrations applied to them: a
/// migration whose app history is one of them, or one of them plus later migrations, starts
/// from it (the common cases: the previous migration of the app is its parent; another app
/// depends on the app's state before its latest migration).
pub struct History<'p, 'a> {
    parsed: &'p [Parsed<'a>],
    ids: Vec<String>,
    apps: Vec<String>,
    ancestors: Vec<Set>,
    /// Per app, oldest first: the migrations applied to a kept state, and that state.
    cache: RefCell<HashMap<String, Vec<(Set, AppState)>>>,
}

/// States kept per app.
const KEEP: usize = 4;

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

    /// A squash in `need` beside a migration it replaces: the two carry the same operations,
    /// and only the replaced ones are applied.
    fn squash_beside_original(&self, need: &Set, j: usize) -> bool {
        self.parsed[j]
            .replaces
            .iter()
            .any(|id| need.indices().any(|k| self.ids[k] == *id))
    }

    /// Applies the migrations of `todo` to `state`, in slice order.
    fn apply(&self, state: &mut AppState, todo: impl Iterator<Item = usize>, need: &Set) {
        for j in todo {
            if !self.squash_beside_original(need, j) {
                self.parsed[j].apply(state);
            }
        }
    }

    /// The state of `app` after exactly the migrations in `need`: a kept one, or one built
    /// from the largest kept state it extends (when what is missing all comes after it), or
    /// from nothing. A state built here is kept.
    pub fn state(&self, app: &str, need: &Set) -> AppState {
        let mut cache = self.cache.borrow_mut();
        let kept = cache.entry(app.to_string()).or_default();
        if let Some((_, state)) = kept.iter().find(|(applied, _)| applied == need) {
            return state.clone();
        }
        let start = kept
            .iter()
            .filter(|(applied, _)| {
                let last = applied.indices().last();
                applied.is_subset_of(need)
                    && !applied
                        .indices()
                        .any(|j| self.squash_beside_original(need, j))
                    && need
                        .indices()
                        .filter(|j| !applied.contains(*j))
                        .all(|j| last.is_none_or(|l| j > l))
            })
            .max_by_key(|(applied, _)| applied.indices().count());
        let (mut state, from) = match start {
            Some((applied, state)) => (state.clone(), applied.clone()),
            None => (AppState::default(), Set::default()),
        };
        self.apply(
            &mut state,
            need.indices().filter(|j| !from.contains(*j)),
            need,
        );
        keep(kept, need.clone(), state.clone());
        state
    }

    /// Keeps the state of `app` after `applied`.
    pub fn keep(&self, app: &str, applied: Set, state: AppState) {
        let mut cache = self.cache.borrow_mut();
        keep(cache.entry(app.to_string()).or_default(), applied, state);
    }

    /// A model of another app as migration `i` sees it.
    pub fn model(&self, i: usize, app: &str, model: &str) -> Option<ModelInfo> {
        let state = self.state(app, &self.need(i, app));
        state.shared(model).map(|m| ModelInfo::of(m, app))
    }
}

fn keep(kept: &mut Vec<(Set, AppState)>, applied: Set, state: AppState) {
    let applied = applied.normalized();
    kept.retain(|(a, _)| *a != applied);
    kept.push((applied, state));
    if kept.len() > KEEP {
        kept.remove(0);
    }
}
