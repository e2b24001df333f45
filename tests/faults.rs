//! A server that goes away mid-run must not hang mrt. mrt talks to PostgreSQL and MySQL through
//! a TCP proxy on the loopback; once the first trial has a verdict the proxy goes silent (it
//! keeps every connection open and forwards nothing, as a lost network does). The run must end
//! on its own, well before the step timeout would end each trial, with failures naming the
//! server and the `mrt clean` command for the databases it could not drop.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn main() {
    let args = Arguments::from_args();
    let ready = common::python_has("alembic") && common::python_has("sqlalchemy");
    let mut trials = Vec::new();
    for (db, var) in [
        ("postgres", "MRT_TEST_POSTGRES_URL"),
        ("mysql", "MRT_TEST_MYSQL_URL"),
    ] {
        let url = mrt_db::test_server_url(var);
        if url.is_none() {
            eprintln!(
                "note: faults::server_vanishes::{db} ignored: {var} names no server (unset with none on its local port, or `off`)"
            );
        }
        let ignored = url.is_none() || !ready;
        trials.push(
            Trial::test(format!("faults::server_vanishes::{db}"), move || {
                server_vanishes(url.as_deref().unwrap_or(""))
            })
            .with_ignored_flag(ignored),
        );
    }
    for signal in ["SIGINT", "SIGTERM"] {
        trials.push(
            Trial::test(format!("faults::interrupted::{signal}"), move || {
                interrupted(signal)
            })
            .with_ignored_flag(!ready),
        );
    }
    libtest_mimic::run(&args, trials).exit();
}

/// Forwards loopback connections to `upstream` until `silent` is set, then forwards nothing
/// and holds the sockets; `close_all` ends every connection (so the real server sees them go).
struct Proxy {
    port: u16,
    silent: Arc<AtomicBool>,
    sockets: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(upstream: String) -> std::io::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let silent = Arc::new(AtomicBool::new(false));
        let sockets: Arc<Mutex<Vec<TcpStream>>> = Arc::default();
        let (s, k) = (Arc::clone(&silent), Arc::clone(&sockets));
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                for stream in [&client, &server] {
                    if let (Ok(clone), Ok(mut all)) = (stream.try_clone(), k.lock()) {
                        all.push(clone);
                    }
                }
                pipe(&client, &server, &s);
                pipe(&server, &client, &s);
            }
        });
        Ok(Proxy {
            port,
            silent,
            sockets,
        })
    }

    fn close_all(&self) {
        if let Ok(all) = self.sockets.lock() {
            for s in all.iter() {
                let _ = s.shutdown(Shutdown::Both);
            }
        }
    }
}

/// Copies `from` to `to` on a thread while `silent` is unset; then reads and drops nothing
/// more (the bytes stay unread, as on a dead link).
fn pipe(from: &TcpStream, to: &TcpStream, silent: &Arc<AtomicBool>) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    let silent = Arc::clone(silent);
    std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        loop {
            if silent.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(200));
                continue;
            }
            let _ = from.set_read_timeout(Some(Duration::from_millis(200)));
            match from.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if silent.load(Ordering::SeqCst) || to.write_all(&buf[..n]).is_err() {
                        // Read while going silent: keep it, as a dead link would.
                        continue;
                    }
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(_) => return,
            }
        }
    });
}

fn server_vanishes(server: &str) -> Result<(), Failed> {
    let (scheme, rest) = server.split_once("://").ok_or("bad server URL")?;
    let (auth, host_path) = rest.rsplit_once('@').ok_or("server URL without user@")?;
    let (host_port, path) = host_path.split_once('/').unwrap_or((host_path, ""));
    let proxy = Proxy::start(host_port.to_string()).map_err(|e| e.to_string())?;
    let via = format!("{scheme}://{auth}@127.0.0.1:{}/{path}", proxy.port);
    let project = common::fixtures("trials").join("passing");
    let start = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(&project)
        .args(["--db", &via, "--seed", "3", "--test-threads", "2"])
        .env("MRT_PYTHON", common::python())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run mrt: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let err_text = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = BufReader::new(stderr).read_to_string(&mut s);
        s
    });
    let mut out_text = String::new();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        // The first trial verdict: the run is in full swing; the network goes away.
        if line.starts_with("test ") && line.contains("::") && !line.contains("lint::") {
            proxy.silent.store(true, Ordering::SeqCst);
        }
        out_text.push_str(&line);
        out_text.push('\n');
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let took = start.elapsed();
    let err_text = err_text.join().unwrap_or_default();
    proxy.close_all();
    let shown = format!("after {took:?}, {status}\nstdout:\n{out_text}\nstderr:\n{err_text}");
    let cleaned = clean_up(server, &err_text);
    if std::env::var_os("MRT_FAULTS_SHOW").is_some() {
        eprintln!("{shown}");
    }
    if !proxy.silent.load(Ordering::SeqCst) {
        return Err(format!("no trial verdict was seen: {shown}").into());
    }
    // The first call left unanswered for 20 s marks the server gone: every call in flight and
    // every step waiting on it gives up then, not at its own deadline or the step timeout (60 s),
    // and nothing waits to drop databases on it (before: 40 s on PostgreSQL, 70 s on MySQL).
    if took > Duration::from_secs(45) {
        return Err(format!("mrt took too long with the server gone: {shown}").into());
    }
    let label = format!("127.0.0.1:{}", proxy.port);
    if !out_text.contains(&label) && !err_text.contains(&label) {
        return Err(format!("no failure names the server {label}: {shown}").into());
    }
    if !out_text.contains("FAILED") {
        return Err(format!("no trial failed although the server went away: {shown}").into());
    }
    if !err_text.contains("mrt clean") {
        return Err(
            format!("the databases left behind are not named with `mrt clean`: {shown}").into(),
        );
    }
    // Every failure was also written down as it happened, in the file the banner names.
    let results = err_text
        .lines()
        .find_map(|l| l.strip_prefix("mrt: failures are written as they happen to "))
        .map(|p| std::fs::read_to_string(p.trim()).unwrap_or_default())
        .unwrap_or_default();
    if !results.contains("---- ") || !results.contains(&label) {
        return Err(format!("the results file lacks the failures:\n{results}\n{shown}").into());
    }
    cleaned
}

/// Drops what the run left, through the real server, with mrt's own `clean --run`.
fn clean_up(server: &str, stderr: &str) -> Result<(), Failed> {
    let run = stderr
        .split("; run ")
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .ok_or("the run id is not in mrt's banner")?;
    // The server notices the proxy's closed connections (and their leases) shortly after.
    for _ in 0..20 {
        let out = common::mrt(&["clean", "--db", server, "--run", run], &common::repo());
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        if out.status.success() && !text.contains("kept") {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    Err(format!("databases of run {run} could not be cleaned").into())
}

/// Processes whose command line contains `marker`.
fn processes_with(marker: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(marker))
        .collect()
}

/// Ctrl-C (or a SIGTERM from CI) while a step hangs: one line, exit 130, no fake failures, no
/// process of the run left (the migration's own child included), nothing left in the temp dir.
fn interrupted(signal: &str) -> Result<(), Failed> {
    let tmp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let marker = format!("mrt-fault-marker-{}-{signal}", std::process::id());
    let mut child = Command::new(env!("CARGO_BIN_EXE_mrt"))
        .args(["test", "--project"])
        .arg(common::fixtures("faults").join("hang_child"))
        .args(["--seed", "1", "--step-timeout", "600"])
        .env("MRT_PYTHON", common::python())
        .env("MRT_FAULT_MARKER", &marker)
        .env("TMPDIR", tmp.path())
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run mrt: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_with(&marker).is_empty() {
        if Instant::now() > deadline {
            let _ = child.kill();
            return Err("the hanging migration never started its child".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // The worker shows in `ps` as one readable line: a script file, not its whole source.
    let project = common::fixtures("faults").join("hang_child");
    let workers: Vec<String> = processes_with(&project.display().to_string())
        .into_iter()
        .filter(|c| c.contains("mrt-worker-alembic-"))
        .collect();
    if workers.is_empty() || workers.iter().any(|c| c.len() > 1000 || c.contains("def ")) {
        let _ = child.kill();
        return Err(format!("worker command lines: {workers:?}").into());
    }
    let pid = nix::unistd::Pid::from_raw(i32::try_from(child.id()).map_err(|e| e.to_string())?);
    let sig = if signal == "SIGINT" {
        nix::sys::signal::Signal::SIGINT
    } else {
        nix::sys::signal::Signal::SIGTERM
    };
    nix::sys::signal::kill(pid, sig).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let shown = format!("{}\nstdout:\n{stdout}\nstderr:\n{stderr}", out.status);
    if out.status.code() != Some(130) {
        return Err(format!("expected exit 130: {shown}").into());
    }
    if stderr.matches("interrupted").count() != 1 || stdout.contains("FAILED") {
        return Err(format!("expected one 'interrupted' line and no failure: {shown}").into());
    }
    std::thread::sleep(Duration::from_millis(500));
    let left = processes_with(&marker);
    if !left.is_empty() {
        return Err(format!("processes left: {left:?}\n{shown}").into());
    }
    let files: Vec<_> = std::fs::read_dir(tmp.path())
        .map_err(|e| e.to_string())?
        .flatten()
        .map(|e| e.file_name())
        .collect();
    if !files.is_empty() {
        return Err(format!("left in the temp dir: {files:?}\n{shown}").into());
    }
    Ok(())
}
