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
        let url = std::env::var(var).ok();
        if url.is_none() {
            eprintln!(
                "note: faults::server_vanishes::{db} ignored: {var} not set (.ci/run sets it)"
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
    // The step timeout (60 s) per trial would be minutes; a server gone is seconds per call.
    if took > Duration::from_secs(90) {
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
