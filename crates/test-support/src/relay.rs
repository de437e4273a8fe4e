//! A relay over raw TCP, for what an HTTP framework hides: a forward proxy (absolute-URI
//! requests for `http`, `CONNECT` tunnels for `https`) that records every request it carries,
//! and a reverse relay in front of a registry that cuts a request in the middle of its body.
//!
//! Each connection carries one request: the relay asks the server to close the connection
//! after its answer (`Connection: close`), so it sees the head of every request. A `CONNECT`
//! tunnel carries whatever the client sends through it, and counts once.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, copy_bidirectional};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The longest request head the relay reads.
const MAX_HEAD: usize = 64 * 1024;

/// What the relay does with the requests it receives.
#[derive(Debug, Clone)]
pub enum Mode {
    /// A forward proxy: absolute-URI requests go to the host they name, `CONNECT` opens a
    /// tunnel.
    Forward,
    /// Every request goes to `upstream`; the next `times` requests with `method` are cut after
    /// `after` bytes of their body: the registry sees the body end there, the client sees its
    /// connection closed without an answer.
    Cut {
        /// The registry, `HOST:PORT`.
        upstream: String,
        /// The method of the requests to cut.
        method: &'static str,
        /// How many body bytes reach the registry.
        after: usize,
        /// How many requests to cut.
        times: usize,
    },
}

/// The head of a request the relay carried.
#[derive(Debug, Clone)]
pub struct Head {
    /// The request's method.
    pub method: String,
    /// Its target: an absolute URI, `HOST:PORT` for `CONNECT`, or a path.
    pub target: String,
    /// Its `Proxy-Authorization` header, if any.
    pub proxy_authorization: Option<String>,
}

/// A running relay; dropping it stops accepting connections.
pub struct Relay {
    /// `127.0.0.1:<port>`.
    pub host: String,
    seen: Arc<Mutex<Vec<Head>>>,
    cuts: Arc<Mutex<usize>>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Starts a relay on a loopback port.
    pub async fn start(mode: Mode) -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let host = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let cuts = Arc::new(Mutex::new(0));
        let (seen_in, cuts_in) = (Arc::clone(&seen), Arc::clone(&cuts));
        let task = tokio::spawn(async move {
            let left = Arc::new(Mutex::new(match &mode {
                Mode::Cut { times, .. } => *times,
                Mode::Forward => 0,
            }));
            while let Ok((socket, _)) = listener.accept().await {
                let (mode, seen, cuts, left) = (
                    mode.clone(),
                    Arc::clone(&seen_in),
                    Arc::clone(&cuts_in),
                    Arc::clone(&left),
                );
                tokio::spawn(async move {
                    let _ = serve(socket, &mode, &seen, &cuts, &left).await;
                });
            }
        });
        Relay {
            host,
            seen,
            cuts,
            task,
        }
    }

    /// The requests carried so far.
    pub fn seen(&self) -> Vec<Head> {
        self.seen.lock().unwrap().clone()
    }

    /// How many requests were cut.
    pub fn cuts(&self) -> usize {
        *self.cuts.lock().unwrap()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads a request head: the bytes up to the blank line, and what was read past it.
async fn read_head(socket: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    while buffer.len() < MAX_HEAD {
        let n = socket.read(&mut chunk).await?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buffer.extend_from_slice(&chunk[..n]);
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buffer.split_off(end + 4);
            return Ok((buffer, rest));
        }
    }
    Err(std::io::ErrorKind::InvalidData.into())
}

/// A request head with `target`, the headers but the hop-by-hop and proxy ones, and
/// `Connection: close`.
fn rewrite(method: &str, target: &str, headers: &[(String, String)]) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\n");
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        if !matches!(
            lower.as_str(),
            "connection" | "proxy-connection" | "proxy-authorization" | "keep-alive"
        ) {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str("Connection: close\r\n\r\n");
    head.into_bytes()
}

async fn serve(
    mut client: TcpStream,
    mode: &Mode,
    seen: &Mutex<Vec<Head>>,
    cuts: &Mutex<usize>,
    left: &Mutex<usize>,
) -> std::io::Result<()> {
    let (head, rest) = read_head(&mut client).await?;
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let proxy_authorization = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("proxy-authorization"))
        .map(|(_, value)| value.clone());
    seen.lock().unwrap().push(Head {
        method: method.clone(),
        target: target.clone(),
        proxy_authorization,
    });
    match mode {
        Mode::Forward if method == "CONNECT" => {
            let mut upstream = TcpStream::connect(target.as_str()).await?;
            client
                .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
                .await?;
            upstream.write_all(&rest).await?;
            copy_bidirectional(&mut client, &mut upstream).await?;
        }
        Mode::Forward => {
            let Some(after_scheme) = target.strip_prefix("http://") else {
                client
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await?;
                return Ok(());
            };
            let (authority, path) = match after_scheme.find('/') {
                Some(slash) => after_scheme.split_at(slash),
                None => (after_scheme, "/"),
            };
            let mut upstream = TcpStream::connect(authority).await?;
            upstream
                .write_all(&rewrite(&method, path, &headers))
                .await?;
            upstream.write_all(&rest).await?;
            copy_bidirectional(&mut client, &mut upstream).await?;
        }
        Mode::Cut {
            upstream,
            method: cut_method,
            after,
            ..
        } => {
            let mut upstream = TcpStream::connect(upstream.as_str()).await?;
            upstream
                .write_all(&rewrite(&method, &target, &headers))
                .await?;
            let cut = method == *cut_method && {
                let mut left = left.lock().unwrap();
                let cut = *left > 0;
                *left = left.saturating_sub(1);
                cut
            };
            if !cut {
                upstream.write_all(&rest).await?;
                copy_bidirectional(&mut client, &mut upstream).await?;
                return Ok(());
            }
            *cuts.lock().unwrap() += 1;
            let mut budget = *after;
            let first = rest.len().min(budget);
            upstream.write_all(&rest[..first]).await?;
            budget -= first;
            let mut chunk = [0u8; 8192];
            while budget > 0 {
                let n = client.read(&mut chunk[..budget.min(8192)]).await?;
                if n == 0 {
                    break;
                }
                upstream.write_all(&chunk[..n]).await?;
                budget -= n;
            }
            // The registry sees the body end here; let it finish with the request before the
            // client learns of the cut, so what it kept is what it reports.
            upstream.shutdown().await?;
            let mut answer = Vec::new();
            let _ =
                tokio::time::timeout(Duration::from_secs(10), upstream.read_to_end(&mut answer))
                    .await;
            drop(client);
        }
    }
    Ok(())
}
