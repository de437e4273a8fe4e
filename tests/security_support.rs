//! What the `security_*` suites share: `gantry serve` started with a configuration file, raw
//! HTTP/1.1 exchanges with any header, htpasswd files and Basic headers.

#![allow(
    dead_code,
    unreachable_pub,
    reason = "each suite uses the helpers it needs"
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use gantry_test_support::gantry::{Gantry, gantry_binary};

/// A running `gantry serve --config FILE` (the test kit's), killed when dropped.
pub struct Served {
    _gantry: Gantry,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its standard error.
    pub log: PathBuf,
}

impl Served {
    /// Starts `gantry serve --config config` with a clean environment plus `env`, and waits
    /// until plain HTTP answers `GET /v2/` (200 or 401).
    pub fn start(config: &Path, dir: &Path, env: &[(&str, &str)]) -> Served {
        Served::spawn(config, dir, env, "http")
    }

    /// Starts it and returns once the first line names the address; `scheme` is `http` or
    /// `https` (for which no HTTP wait is made).
    pub fn spawn(config: &Path, dir: &Path, env: &[(&str, &str)], scheme: &str) -> Served {
        let mut command = Command::new(gantry_binary());
        command.args(["serve", "--config"]).arg(config).env_clear();
        for (key, value) in env {
            command.env(key, value);
        }
        let gantry = Gantry::start_command(command, dir);
        assert!(
            gantry.url().starts_with(&format!("{scheme}://")),
            "unexpected address {}\n{}",
            gantry.url(),
            gantry.log()
        );
        Served {
            addr: gantry.addr(),
            log: dir.join("gantry.log"),
            _gantry: gantry,
        }
    }

    /// What it logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// An HTTP response as read off the wire.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The header lines, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Reply {
    /// The first value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// One HTTP/1.1 exchange on a new connection (`Connection: close`), bounded in time.
pub fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Reply {
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(5)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_reply(&raw, method == "HEAD")
}

fn parse_reply(raw: &[u8], head: bool) -> Reply {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(raw)));
    let head_text = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head_text.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {head_text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"));
    if chunked && !head {
        body = dechunk(&body);
    }
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..100_000 {
        let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") else {
            break;
        };
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

/// An `Authorization: Basic` value.
pub fn basic(user: &str, password: &str) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}")
}

/// Writes an htpasswd file of `users` (bcrypt, cost 4: fast, and the cost does not matter to
/// what is tested).
pub fn write_htpasswd(path: &Path, users: &[(&str, &str)]) {
    let lines: String = users
        .iter()
        .map(|(user, password)| format!("{user}:{}\n", bcrypt::hash(password, 4).unwrap()))
        .collect();
    std::fs::write(path, lines).unwrap();
}

/// alice (password `wonderland`) may do anything to `alice/**` and list the catalog; carol
/// (`no-rights`) is a known user the policy gives nothing. Token mode adds the built-in
/// issuer. Returns the configuration file's path.
pub fn write_config(dir: &Path, token: bool) -> PathBuf {
    let htpasswd = dir.join("htpasswd");
    write_htpasswd(
        &htpasswd,
        &[("alice", "wonderland"), ("carol", "no-rights")],
    );
    let token_table = if token {
        "[auth.token]\nissue = true\n"
    } else {
        ""
    };
    let text = format!(
        r#"listen = "127.0.0.1:0"
root = {root:?}
delete_enabled = true
upload_purge_interval_secs = 0

[auth]
htpasswd = {htpasswd:?}

[[auth.access]]
repositories = ["alice/**"]
users = ["alice"]
actions = ["pull", "push", "delete"]

[[auth.access]]
catalog = true
users = ["alice"]

{token_table}"#,
        root = dir.join("root"),
    );
    let path = dir.join("gantry.toml");
    std::fs::write(&path, text).unwrap();
    path
}
