//! Child processes that cannot outlive a test, and waiting for a registry to answer.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::Child;
use std::time::{Duration, Instant};

/// How long a registry gets to start answering.
pub const STARTUP: Duration = Duration::from_secs(30);

/// A child process, killed and reaped when dropped, even when the test panics.
#[derive(Debug)]
pub struct Guard {
    child: Child,
    name: &'static str,
}

impl Guard {
    /// Guards `child`; `name` is used in messages.
    pub fn new(name: &'static str, child: Child) -> Guard {
        Guard { child, name }
    }

    /// Panics if the process has exited.
    pub fn assert_running(&mut self, what: &str) {
        match self.child.try_wait() {
            Ok(None) => {}
            Ok(Some(status)) => panic!("{} exited ({status}) {what}", self.name),
            Err(error) => panic!("cannot poll {}: {error}", self.name),
        }
    }

    /// The process's id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process has exited (its status, if so).
    pub fn try_wait(&mut self) -> std::io::Result<Option<std::process::ExitStatus>> {
        self.child.try_wait()
    }

    /// The process itself.
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Kills the process and waits for it to be gone.
    pub fn stop(mut self) {
        self.kill();
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// What a process has logged to the file at `path` so far (nothing if it cannot be read).
pub fn read_log(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// A loopback port that was free a moment ago: bind port 0, read the port, release it.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap_or_else(|error| panic!("cannot bind a loopback port: {error}"));
    listener
        .local_addr()
        .unwrap_or_else(|error| panic!("a bound listener has no address: {error}"))
        .port()
}

/// Whether `GET /v2/` at `addr` answers 200, or 401 for a registry that wants authentication.
pub fn answers(addr: SocketAddr) -> bool {
    matches!(status_of(addr, "/v2/"), Some(200 | 401))
}

/// The status of `GET path` at `addr` over HTTP/1.0, or `None` when nothing answers within a
/// couple of seconds.
pub fn status_of(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_millis(500)).ok()?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    if !head.starts_with(b"HTTP/1.") {
        return None;
    }
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// Waits, at most [`STARTUP`], until `GET /v2/` at `addr` answers (see [`answers`]); panics with `log()` if
/// the process exits first or the time runs out.
pub fn wait_until_answers(guard: &mut Guard, addr: SocketAddr, log: impl Fn() -> String) {
    if let Err(error) = await_answer(guard, addr) {
        panic!("{error}\n{}", log());
    }
}

/// [`wait_until_answers`] for callers that report errors rather than panic.
pub fn await_answer(guard: &mut Guard, addr: SocketAddr) -> std::io::Result<()> {
    await_ready(guard, &format!("GET /v2/ on {addr}"), || answers(addr))
}

/// Polls `ready` until it holds, at most [`STARTUP`]; fails, naming `what` it waited for, if
/// the process exits first or the time runs out.
pub fn await_ready(
    guard: &mut Guard,
    what: &str,
    mut ready: impl FnMut() -> bool,
) -> std::io::Result<()> {
    let deadline = Instant::now() + STARTUP;
    while !ready() {
        if let Some(status) = guard.child.try_wait()? {
            return Err(std::io::Error::other(format!(
                "{} exited before {what} answered: {status}",
                guard.name
            )));
        }
        if Instant::now() >= deadline {
            return Err(std::io::Error::other(format!(
                "{}: {what} did not answer within {STARTUP:?}",
                guard.name
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Runs `command` to completion with its output captured, killing it after `timeout`.
pub fn run_bounded(command: &mut std::process::Command, timeout: Duration) -> std::process::Output {
    use std::process::Stdio;
    let program = format!("{:?}", command.get_program());
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let status = wait_bounded(&mut child, timeout, &program);
    std::process::Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    }
}

/// Waits for `child` to exit, at most `timeout`; kills it (by PID) and panics, naming it
/// `what`, if it takes longer.
pub fn wait_bounded(child: &mut Child, timeout: Duration, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{what} did not finish within {timeout:?}");
            }
            Err(e) => panic!("cannot wait for {what}: {e}"),
        }
    }
}
