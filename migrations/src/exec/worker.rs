//! A persistent Alembic worker process and its protocol.

use super::PythonChoice;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const DRIVER: &str = include_str!("alembic_worker.py");

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
/// Importing alembic and parsing a large script directory can take seconds on a cold cache.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Everything needed to start a worker for one project.
#[derive(Debug, Clone)]
pub struct WorkerSpec {
    pub python: PythonChoice,
    pub project_root: PathBuf,
    pub ini: Option<PathBuf>,
    pub pyproject: Option<PathBuf>,
    /// The environment variable env.py may read the URL from (default `DATABASE_URL`).
    pub url_env: String,
    /// Alembic's version table, read after each downgrade to report the database's heads.
    pub version_table: String,
    /// The ini section Alembic reads (`alembic`, or `--name`/`-n`).
    pub ini_section: String,
}

/// One migration step: exactly these revisions, in this order (parents first up, children first
/// down), on a database whose heads are `from`. Alembic would walk the whole revision map to find
/// them (O(chain) per step, the larger part of a step on long chains); the worker hands them over
/// directly. If the database's heads are not `from`, the worker falls back to Alembic's own
/// upgrade or downgrade to `target`, so a step never runs anything Alembic would not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub up: bool,
    pub revisions: Vec<String>,
    pub target: String,
    pub from: Vec<String>,
    /// Also return the schema's `CREATE` texts afterwards (SQLite only, see [`StepOk::master`]).
    pub report_master: bool,
}

impl Step {
    fn op(&self) -> &'static str {
        if self.up {
            "upgrade"
        } else {
            "downgrade"
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} to {}", self.op(), self.target)
    }
}

/// A step that ran: after a downgrade, the database's heads read from its version table (`None`
/// after an upgrade: nothing checks those, and the read costs round trips); and the SQL it
/// executed (distinct consecutive statements, capped; a last line says when it was cut).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOk {
    pub heads: Option<Vec<String>>,
    pub statements: Vec<String>,
    /// When asked for, on SQLite: `sqlite_master` as a JSON array of (type, name, tbl_name, sql)
    /// sorted by type and name, read over the worker's connection (see [`master_rows`]). A SQLite
    /// schema is exactly these texts, so equal texts are equal schemas; and the worker's
    /// connection already knows them, where a connection of mrt's would re-parse the whole schema
    /// first (O(tables), the largest cost of a trial on a long chain).
    pub master: Option<String>,
}

/// One row of `sqlite_master`: type, name, tbl_name, sql.
pub type MasterRow = (String, String, String, Option<String>);

#[derive(Debug, Clone, thiserror::Error)]
pub enum StepError {
    #[error("{python} cannot run the Alembic worker: {message}")]
    Unavailable { python: String, message: String },
    #[error("timed out after {0:?} (the worker was killed)")]
    Timeout(Duration),
    #[error("{error}")]
    Failed { error: String, traceback: String },
    #[error("the Python worker died: {0}")]
    Crashed(String),
    /// env.py connected to a database mrt did not create for the step (the worker stopped it
    /// before the connection or before its first statement): the whole run must stop.
    #[error("{0}")]
    Refused(String),
}

/// A step's reply from the worker (see the protocol in `alembic_worker.py`).
#[derive(Debug, serde::Deserialize)]
struct Reply {
    ok: bool,
    #[serde(default)]
    heads: Option<Vec<String>>,
    #[serde(default)]
    statements: Vec<String>,
    #[serde(default)]
    master: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    traceback: Option<String>,
    #[serde(default)]
    refused: Option<String>,
    /// A drift request's differences (`None`: env.py configured no `target_metadata`).
    #[serde(default)]
    drift: Option<Vec<String>>,
}

pub struct Worker {
    spec: WorkerSpec,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    next_id: u64,
    /// The database URL of the last step.
    last_url: Option<String>,
    /// Alembic version and interpreter, as the worker reported them.
    pub banner: String,
}

impl Worker {
    /// Starts a worker and waits for it to report that alembic imports.
    pub fn start(spec: &WorkerSpec) -> Result<Worker, StepError> {
        let unavailable = |message: String| StepError::Unavailable {
            python: format!(
                "{} (from {})",
                spec.python.path.display(),
                spec.python.source
            ),
            message,
        };
        let arg = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default()
        };
        let mut command = Command::new(&spec.python.path);
        // Its own process group: Ctrl-C in the terminal reaches mrt alone (which then stops the
        // run in order), and killing the group takes a migration's child processes too.
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let mut child = command
            .arg("-c")
            .arg(DRIVER)
            .arg(&spec.project_root)
            .arg(arg(&spec.ini))
            .arg(arg(&spec.pyproject))
            .arg(&spec.url_env)
            .arg(&spec.ini_section)
            .current_dir(&spec.project_root)
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| unavailable(format!("cannot start it: {e}")))?;
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
            last_url: None,
            banner: String::new(),
        };
        let hello = worker
            .read_line(STARTUP_TIMEOUT)
            .map_err(|e| unavailable(e.to_string()))?;
        let hello: serde_json::Value = serde_json::from_str(&hello)
            .map_err(|e| unavailable(format!("bad greeting {hello:?}: {e}")))?;
        if hello["ready"] != true {
            let msg = hello["error"].as_str().unwrap_or("unknown error");
            return Err(unavailable(format!(
                "{msg}; install Alembic into that interpreter (`pip install alembic`) or point --python / MRT_PYTHON at one that has it"
            )));
        }
        worker.banner = format!(
            "alembic {} on {}",
            hello["alembic"].as_str().unwrap_or("?"),
            hello["python"].as_str().unwrap_or("?")
        );
        Ok(worker)
    }

    pub fn spec(&self) -> &WorkerSpec {
        &self.spec
    }

    /// The database URL of the last step this worker ran.
    pub fn last_url(&self) -> Option<&str> {
        self.last_url.as_deref()
    }

    /// Runs one step against `url`. After a timeout or crash the worker is dead: the caller
    /// replaces it (see [`Worker::is_alive`]).
    pub fn step(&mut self, step: &Step, url: &str, timeout: Duration) -> Result<StepOk, StepError> {
        let req = serde_json::json!({
            "op": step.op(), "target": step.target, "url": url,
            "version_table": self.spec.version_table,
            "revisions": step.revisions, "from": step.from, "master": step.report_master,
        });
        let reply = self.request(req, url, timeout)?;
        Ok(StepOk {
            heads: reply.heads,
            statements: reply.statements,
            master: reply.master,
        })
    }

    /// Compares the database at `url` (whose heads are `heads`) with the `target_metadata`
    /// env.py configures, through Alembic's autogenerate comparison; `None` when env.py gives
    /// none. Nothing is migrated.
    pub fn drift(
        &mut self,
        url: &str,
        heads: &[String],
        timeout: Duration,
    ) -> Result<Option<Vec<String>>, StepError> {
        let req = serde_json::json!({
            "op": "drift", "target": heads.first().cloned().unwrap_or_default(), "url": url,
            "version_table": self.spec.version_table, "revisions": [], "from": heads,
        });
        Ok(self.request(req, url, timeout)?.drift)
    }

    /// Sends one request (its id added) and reads the reply; a refusal, a failure, a timeout or
    /// a crash is the error.
    fn request(
        &mut self,
        mut req: serde_json::Value,
        url: &str,
        timeout: Duration,
    ) -> Result<Reply, StepError> {
        self.next_id += 1;
        req["id"] = self.next_id.into();
        if self.last_url.as_deref() != Some(url) {
            self.last_url = Some(url.to_string());
        }
        if writeln!(self.stdin, "{req}")
            .and_then(|_| self.stdin.flush())
            .is_err()
        {
            return Err(StepError::Crashed(self.stderr_text()));
        }
        let line = self.read_line(timeout)?;
        let reply: Reply = serde_json::from_str(&line)
            .map_err(|e| StepError::Crashed(format!("unreadable reply {line:?}: {e}")))?;
        if let Some(message) = reply.refused {
            return Err(StepError::Refused(message));
        }
        if reply.ok {
            return Ok(reply);
        }
        Err(StepError::Failed {
            error: reply.error.unwrap_or_else(|| "unknown error".into()),
            traceback: reply.traceback.unwrap_or_default(),
        })
    }

    fn read_line(&mut self, timeout: Duration) -> Result<String, StepError> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                self.kill();
                Err(StepError::Timeout(timeout))
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

    pub fn is_alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
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

/// The rows of a [`StepOk::master`] text.
pub fn master_rows(master: &str) -> Result<Vec<MasterRow>, serde_json::Error> {
    serde_json::from_str(master)
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
