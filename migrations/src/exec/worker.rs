//! A persistent Python worker process (Alembic or Django) and its protocol.

use super::{
    user_frames, Direction, ExecutorFactory, PythonChoice, Step, StepError, StepExecutor, StepOk,
};
use mrt_db::{SchemaHint, TempDb};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

const ALEMBIC_DRIVER: &str = include_str!("alembic_worker.py");
const DJANGO_DRIVER: &str = include_str!("django_worker.py");

/// Process ids of live workers, so an interrupted run can kill them (a worker stuck in a
/// migration step would otherwise outlive mrt).
static LIVE: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Kills every live worker process with everything it started, and reaps them; for signal
/// handlers, where destructors do not run.
pub fn kill_all_workers() {
    let pids: Vec<u32> = LIVE
        .lock()
        .map(|mut v| std::mem::take(&mut *v))
        .unwrap_or_default();
    for pid in pids {
        kill_group(pid);
        if let Ok(pid) = i32::try_from(pid) {
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
        }
    }
}

/// SIGKILL to a worker's process group (each worker leads its own, see [`Worker::start`]), so a
/// migration's child processes die with it; a signal from Rust, no `kill` program needed.
fn kill_group(pid: u32) {
    if let Ok(pid) = i32::try_from(pid) {
        let group = nix::unistd::Pid::from_raw(pid);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    }
}
/// Lines of the worker's stderr kept to explain a crash.
const STDERR_TAIL: usize = 40;
/// How often a waiting step looks whether its server was marked gone.
const GONE_POLL: Duration = Duration::from_millis(500);
/// Importing alembic and parsing a large script directory can take seconds on a cold cache.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything needed to start a worker for one project.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub python: PythonChoice,
    pub project_root: PathBuf,
    /// The environment variable the project may read the URL from (default `DATABASE_URL`).
    pub url_env: String,
    /// Hard timeout of one step: the worker is killed after it.
    pub timeout: Duration,
    /// Where the user's Python lives (see [`super::user_dirs`]): tracebacks are cut to it.
    pub user_dirs: Arc<Vec<String>>,
    pub kind: WorkerKind,
}

/// Which framework the worker drives, with what it needs to find the project.
#[derive(Debug, Clone)]
pub enum WorkerKind {
    Alembic {
        ini: Option<PathBuf>,
        pyproject: Option<PathBuf>,
        /// The ini section Alembic reads (`alembic`, or `--name`/`-n`).
        section: String,
        /// Alembic's version table, read after each downgrade to report the database's heads.
        version_table: String,
        /// Per revision, the Alembic target that unapplies exactly it (see
        /// `RevisionGraph::downgrade_target`), for a worker whose database is not where mrt
        /// thinks.
        downgrade_targets: Arc<HashMap<String, String>>,
    },
    Django {
        /// `DJANGO_SETTINGS_MODULE` (empty: the environment's).
        settings_module: String,
        /// Labels of the project's own apps.
        apps: Vec<String>,
    },
}

impl WorkerKind {
    fn name(&self) -> &'static str {
        match self {
            WorkerKind::Alembic { .. } => "Alembic",
            WorkerKind::Django { .. } => "Django",
        }
    }

    /// The script and its arguments.
    fn command(&self, spec: &WorkerSpec) -> (&'static str, Vec<String>) {
        let root = spec.project_root.display().to_string();
        let path = |p: &Option<PathBuf>| p.as_ref().map(|p| p.display().to_string());
        match self {
            WorkerKind::Alembic {
                ini,
                pyproject,
                section,
                ..
            } => (
                ALEMBIC_DRIVER,
                vec![
                    root,
                    path(ini).unwrap_or_default(),
                    path(pyproject).unwrap_or_default(),
                    spec.url_env.clone(),
                    section.clone(),
                ],
            ),
            WorkerKind::Django {
                settings_module,
                apps,
            } => (
                DJANGO_DRIVER,
                vec![root, settings_module.clone(), apps.join(",")],
            ),
        }
    }
}

/// The worker script as a file `<cache>/workers/mrt-worker-<framework>-<hash>.py`, written once
/// (beside, then renamed: a concurrent run never reads half of it); `None` when it cannot be.
fn driver_file(framework: &str, source: &str) -> Option<PathBuf> {
    // FNV-1a: the name changes with the script, so an older mrt's file is never run.
    let hash = (source.bytes()).fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let dir = super::user_cache_dir().join("workers");
    let name = format!(
        "mrt-worker-{}-{hash:016x}.py",
        framework.to_ascii_lowercase()
    );
    let path = dir.join(name);
    if std::fs::read_to_string(&path).is_ok_and(|text| text == source) {
        return Some(path);
    }
    std::fs::create_dir_all(&dir).ok()?;
    let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), hash));
    std::fs::write(&tmp, source).ok()?;
    match std::fs::rename(&tmp, &path) {
        Ok(()) => Some(path),
        Err(_) => {
            let _ = std::fs::remove_file(&tmp);
            None
        }
    }
}

/// Starts Python workers for one project ([`ExecutorFactory`]).
pub struct PythonRunner {
    spec: WorkerSpec,
    banner: OnceLock<String>,
}

impl PythonRunner {
    pub fn new(spec: WorkerSpec) -> Self {
        PythonRunner {
            spec,
            banner: OnceLock::new(),
        }
    }
}

impl ExecutorFactory for PythonRunner {
    fn start(&self) -> Result<Box<dyn StepExecutor>, StepError> {
        let worker = Worker::start(&self.spec)?;
        let _ = self.banner.set(worker.banner.clone());
        Ok(Box::new(worker))
    }

    fn what(&self) -> &'static str {
        "a Python worker"
    }

    fn banner(&self) -> String {
        self.banner.get().cloned().unwrap_or_default()
    }
}

/// A request (see the protocol in `alembic_worker.py` and `django_worker.py`).
#[derive(Debug, serde::Serialize)]
struct Request<'a> {
    id: u64,
    op: Op,
    target: &'a str,
    url: &'a str,
    version_table: &'a str,
    revisions: &'a [String],
    from: &'a [String],
    master: bool,
    /// mrt ended the sessions on this database since this worker's last step there.
    reconnect: bool,
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "lowercase")]
enum Op {
    Upgrade,
    Downgrade,
    Drift,
    /// Django: apply the migrations of other apps that the revisions need.
    Environment,
}

/// The worker's first line.
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Hello {
    Ready {
        framework: String,
        version: String,
        python: String,
    },
    Unavailable {
        error: String,
    },
}

/// A reply to one request.
#[derive(Debug, serde::Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Reply {
    Ok {
        #[serde(default)]
        heads: Option<Vec<String>>,
        #[serde(default)]
        statements: Vec<String>,
        /// SQLite's `sqlite_master` texts, when asked for.
        #[serde(default)]
        master: Option<String>,
        #[serde(default)]
        elapsed_ms: f64,
        /// A drift request's differences (`None`: env.py configured no `target_metadata`).
        #[serde(default)]
        drift: Option<Vec<String>>,
    },
    Failed {
        error: String,
        #[serde(default)]
        traceback: String,
    },
    /// env.py connected to a database mrt did not create for the step.
    Refused { message: String },
}

/// What a successful reply carried.
struct Done {
    heads: Option<Vec<String>>,
    statements: Vec<String>,
    master: Option<String>,
    elapsed: Duration,
    drift: Option<Vec<String>>,
}

pub struct Worker {
    spec: WorkerSpec,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    next_id: u64,
    /// The database of the last step.
    last_database: Option<String>,
    /// Per database, [`TempDb::sessions_ended`] as of this worker's last step there.
    sessions_seen: std::collections::HashMap<String, u64>,
    /// Alembic version and interpreter, as the worker reported them.
    pub banner: String,
}

impl Worker {
    /// Starts a worker and waits for it to report that the framework imports.
    pub fn start(spec: &WorkerSpec) -> Result<Worker, StepError> {
        let framework = spec.kind.name();
        let unavailable = |message: String| StepError::Unavailable {
            runner: format!(
                "{} (from {}) cannot run the {framework} worker",
                spec.python.path.display(),
                spec.python.source
            ),
            message,
        };
        let (driver, args) = spec.kind.command(spec);
        let mut command = Command::new(&spec.python.path);
        // Its own process group: Ctrl-C in the terminal reaches mrt alone (which then stops the
        // run in order), and killing the group takes a migration's child processes too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        // From a file in the cache folder when it can be written there, so `ps` shows one
        // readable line per worker (`python .../workers/mrt-worker-alembic-<hash>.py ...`)
        // instead of the whole script; else as `python -c <script>`.
        match driver_file(framework, driver) {
            Some(file) => command.arg(file),
            None => command.arg("-c").arg(driver),
        };
        let mut child = command
            .args(args)
            .current_dir(&spec.project_root)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| {
                unavailable(format!(
                    "cannot start it: {e}; point --python / MRT_PYTHON at a Python 3 with \
                     {framework} installed, or pass --provision to build one (once, cached)"
                ))
            })?;
        if let Ok(mut live) = LIVE.lock() {
            live.push(child.id());
        }
        let (stdin, lines, stderr_tail) = wire(&mut child).map_err(unavailable)?;
        let mut worker = Worker {
            spec: spec.clone(),
            child,
            stdin,
            lines,
            stderr_tail,
            next_id: 0,
            last_database: None,
            sessions_seen: std::collections::HashMap::new(),
            banner: String::new(),
        };
        let hello = worker
            .read_line(STARTUP_TIMEOUT, None)
            .map_err(|e| unavailable(e.to_string()))?;
        match serde_json::from_str::<Hello>(&hello) {
            Ok(Hello::Ready {
                framework,
                version,
                python,
            }) => {
                worker.banner = format!("{framework} {version} on {python}");
            }
            Ok(Hello::Unavailable { error }) => {
                let package = framework.to_lowercase();
                return Err(unavailable(format!(
                    "{error}; install {framework} into that interpreter (`pip install {package}`) or point --python / MRT_PYTHON at one that has it (or pass --provision)"
                )));
            }
            Err(e) => return Err(unavailable(format!("bad greeting {hello:?}: {e}"))),
        }
        Ok(worker)
    }

    pub fn spec(&self) -> &WorkerSpec {
        &self.spec
    }

    /// The Alembic target of a step: where an upgrade ends, or what unapplies exactly the
    /// revision a downgrade removes (a merge's first parent, `r@base` for a base revision).
    fn target(&self, step: &Step) -> String {
        let rev = |r: Option<&String>| r.cloned().unwrap_or_default();
        match (step.direction, &self.spec.kind) {
            (Direction::Up, _) => rev(step.revisions.last()),
            (
                Direction::Down,
                WorkerKind::Alembic {
                    downgrade_targets, ..
                },
            ) => {
                let r = rev(step.revisions.first());
                (downgrade_targets.get(&r).cloned()).unwrap_or_else(|| format!("{r}@base"))
            }
            // Django steps carry their exact plan: no target is resolved.
            (Direction::Down, WorkerKind::Django { .. }) => rev(step.revisions.first()),
        }
    }

    /// Whether mrt ended the sessions on `db` since this worker's last step there (its kept
    /// connection is dead then); records what it saw.
    fn sessions_changed(&mut self, db: &TempDb) -> bool {
        let now = db.sessions_ended();
        let before = self.sessions_seen.insert(db.name().to_string(), now);
        before.is_some_and(|seen| seen != now)
    }

    /// Sends one request (its id added) and reads the reply; a refusal, a failure, a timeout or
    /// a crash is the error.
    fn request(
        &mut self,
        op: Op,
        target: &str,
        db: &TempDb,
        step: (&[String], &[String], bool),
    ) -> Result<Done, StepError> {
        let (revisions, from, master) = step;
        self.next_id += 1;
        let url = db.url();
        let reconnect = self.sessions_changed(db);
        let request = Request {
            id: self.next_id,
            op,
            target,
            url: &url,
            version_table: match &self.spec.kind {
                WorkerKind::Alembic { version_table, .. } => version_table,
                WorkerKind::Django { .. } => "django_migrations",
            },
            revisions,
            from,
            master,
            reconnect,
        };
        let line = serde_json::to_string(&request)
            .map_err(|e| StepError::Crashed(format!("cannot encode a request: {e}")))?;
        if self.last_database.as_deref() != Some(db.name()) {
            self.last_database = Some(db.name().to_string());
        }
        if writeln!(self.stdin, "{line}")
            .and_then(|_| self.stdin.flush())
            .is_err()
        {
            return Err(StepError::Crashed(self.stderr_text()));
        }
        let line = self.read_line(self.spec.timeout, Some(db))?;
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| StepError::Crashed(format!("unreadable reply {line:?}: {e}")))?;
        match reply {
            Reply::Ok {
                heads,
                statements,
                master,
                elapsed_ms,
                drift,
            } => Ok(Done {
                heads,
                statements,
                master,
                elapsed: Duration::from_secs_f64(elapsed_ms.max(0.0) / 1000.0),
                drift,
            }),
            Reply::Failed { error, traceback } => Err(StepError::Failed {
                error,
                frames: user_frames(&traceback, &self.spec.user_dirs),
            }),
            Reply::Refused { message } => Err(StepError::Refused(message)),
        }
    }

    /// The worker's next line, waiting at most `timeout`, or less once the server of `db` is
    /// marked gone (the step then waits on a server that will not answer).
    fn read_line(&mut self, timeout: Duration, db: Option<&TempDb>) -> Result<String, StepError> {
        let start = std::time::Instant::now();
        let received = loop {
            let left = timeout.saturating_sub(start.elapsed());
            match self.lines.recv_timeout(left.min(GONE_POLL)) {
                Err(RecvTimeoutError::Timeout) if db.is_some_and(TempDb::server_gone) => {
                    self.kill();
                    return Err(StepError::Timeout {
                        after: Duration::from_secs(start.elapsed().as_secs()),
                        action: "the database server stopped answering; the worker was killed",
                    });
                }
                Err(RecvTimeoutError::Timeout) if !left.is_zero() => continue,
                other => break other,
            }
        };
        match received {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(StepError::Timeout {
                    after: timeout,
                    action: "the worker was killed",
                })
            }
            Err(RecvTimeoutError::Disconnected) => {
                let status = self
                    .child
                    .wait()
                    .map(|s| s.to_string())
                    .unwrap_or_else(|e| format!("unknown status ({e})"));
                Err(StepError::Crashed(format!(
                    "{status}; {}",
                    self.stderr_text()
                )))
            }
        }
    }

    fn kill(&mut self) {
        kill_group(self.child.id());
        let _ = self.child.kill();
        let _ = self.child.wait();
        let pid = self.child.id();
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|p| *p != pid);
        }
    }

    fn stderr_text(&self) -> String {
        let tail = self
            .stderr_tail
            .lock()
            .map(|t| t.iter().cloned().collect::<Vec<_>>().join("\n"));
        match tail {
            Ok(t) if !t.trim().is_empty() => t,
            _ => "nothing on stderr".into(),
        }
    }
}

impl StepExecutor for Worker {
    fn step(&mut self, step: &Step, db: &TempDb) -> Result<StepOk, StepError> {
        let op = match step.direction {
            Direction::Up => Op::Upgrade,
            Direction::Down => Op::Downgrade,
        };
        let target = self.target(step);
        let master = step.schema_hint && db.takes_schema_hints();
        let done = self.request(op, &target, db, (&step.revisions, &step.from, master))?;
        let schema_hint = match done.master.as_deref() {
            Some(text) => Some(SchemaHint::from_sqlite_master_json(text).map_err(|e| {
                StepError::Crashed(format!("unreadable sqlite_master from the worker: {e}"))
            })?),
            None => None,
        };
        Ok(StepOk {
            elapsed: done.elapsed,
            statements: done.statements,
            heads: done.heads,
            schema_hint,
        })
    }

    /// Compares the database with the `target_metadata` env.py configures, through Alembic's
    /// autogenerate comparison; `None` when env.py gives none. Nothing is migrated.
    fn drift(&mut self, db: &TempDb, heads: &[String]) -> Result<Option<Vec<String>>, StepError> {
        let target = heads.first().cloned().unwrap_or_default();
        Ok(self
            .request(Op::Drift, &target, db, (&[], heads, false))?
            .drift)
    }

    fn reach_environment(&mut self, db: &TempDb, revisions: &[String]) -> Result<bool, StepError> {
        if !matches!(self.spec.kind, WorkerKind::Django { .. }) {
            return Ok(false);
        }
        let done = self.request(Op::Environment, "", db, (revisions, &[], false))?;
        Ok(!done.statements.is_empty())
    }

    fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    fn last_database(&self) -> Option<&str> {
        self.last_database.as_deref()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        self.kill();
    }
}

type Wiring = (ChildStdin, Receiver<String>, Arc<Mutex<VecDeque<String>>>);

/// Reader threads for stdout (protocol lines) and stderr (kept as a tail; it must be drained or
/// a chatty migration would block on a full pipe).
fn wire(child: &mut Child) -> Result<Wiring, String> {
    let stdin = child.stdin.take().ok_or("no stdin pipe")?;
    let stdout = child.stdout.take().ok_or("no stdout pipe")?;
    let stderr = child.stderr.take().ok_or("no stderr pipe")?;
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let tail = Arc::new(Mutex::new(VecDeque::new()));
    let tail_writer = Arc::clone(&tail);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Ok(mut t) = tail_writer.lock() {
                if t.len() == STDERR_TAIL {
                    t.pop_front();
                }
                t.push_back(line);
            }
        }
    });
    Ok((stdin, rx, tail))
}
