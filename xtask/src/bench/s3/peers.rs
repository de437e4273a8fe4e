//! The registries under test on S3: `gantry serve` from the release build and Debian's
//! `docker-registry` with its `s3` driver, each on its own bucket of one `weed mini`, reached
//! through its own counting [`S3Relay`].

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::process::{Command, Stdio};

use anyhow::Context;
use gantry_test_support::distribution::{Distribution, S3Storage, s3_config_yaml};
use gantry_test_support::gantry::Gantry;
use gantry_test_support::process::free_port;
use gantry_test_support::s3_relay::{S3Op, S3Relay};
use gantry_test_support::seaweed::{REGION, S3Service};

use super::ROOT_DIRECTORY;
use crate::bench::server::peers::{Process, Server, bench_root, release_gantry};

/// One registry's bucket: the relay in front of the store and the identity to reach it with.
pub(super) struct Bucket {
    pub(super) relay: S3Relay,
    /// The store's identity, at the relay's endpoint, with this bucket.
    pub(super) service: S3Service,
}

impl Bucket {
    /// Creates bucket `name` on the store of `service` and starts a relay in front of it.
    pub(super) async fn create(service: &S3Service, name: &str) -> anyhow::Result<Bucket> {
        service
            .create_bucket(name)
            .with_context(|| format!("creating bucket {name}"))?;
        let relay = S3Relay::start(&service.endpoint, Vec::new()).await;
        let service = S3Service {
            bucket: name.to_owned(),
            ..service.at(relay.endpoint())
        };
        Ok(Bucket { relay, service })
    }

    /// The requests after the first `seen`, one `METHOD URI` a line.
    pub(super) fn requests_since(&self, seen: usize) -> String {
        let mut lines = String::new();
        for request in self.relay.proxy().seen().iter().skip(seen) {
            lines.push_str(&format!("{} {}\n", request.method, request.uri));
        }
        lines
    }

    /// The S3 requests seen since `before` (a snapshot of [`S3Relay::counts`]), by operation.
    pub(super) fn since(&self, before: &BTreeMap<S3Op, usize>) -> BTreeMap<S3Op, usize> {
        let mut counts = self.relay.counts();
        for (op, count) in counts.iter_mut() {
            *count -= before.get(op).copied().unwrap_or(0);
        }
        counts.retain(|_, count| *count > 0);
        counts
    }
}

/// `gantry serve --storage s3://BUCKET/ROOT --s3-endpoint …` on `service`, its credentials in
/// the AWS variables of an otherwise empty environment, redirecting blob GETs when `redirect`.
pub(super) fn start_gantry(
    label: &'static str,
    service: &S3Service,
    redirect: bool,
) -> anyhow::Result<Server> {
    let binary = release_gantry();
    let mut server = Server {
        label,
        process: None,
        root: bench_root(&label.to_lowercase().replace([' ', ','], "-"))?,
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    let mut command = Command::new(&binary);
    command
        .args(["serve", "--listen", "127.0.0.1:0", "--log-level", "error"])
        .arg("--allow-delete")
        .arg("--storage")
        .arg(format!("s3://{}/{ROOT_DIRECTORY}", service.bucket))
        .arg("--s3-endpoint")
        .arg(&service.endpoint)
        .env_clear()
        .env("AWS_ACCESS_KEY_ID", &service.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &service.secret_key)
        .env("AWS_REGION", REGION)
        .env("GANTRY_STORAGE_REDIRECT", redirect.to_string());
    let gantry = Gantry::spawn(command, Stdio::inherit())
        .with_context(|| format!("could not start {}", binary.display()))?;
    server.addr = gantry.addr();
    server.process = Some(Process::Gantry(gantry));
    Ok(server)
}

/// Debian's `docker-registry` with its `s3` driver on `service` (below `/ROOT`), the in-memory
/// blob descriptor cache of Debian's packaged config, errors only and no access log,
/// redirecting blob GETs when `redirect`. Its log goes to its directory.
pub(super) fn start_distribution(
    label: &'static str,
    service: &S3Service,
    redirect: bool,
) -> anyhow::Result<Server> {
    let mut server = Server {
        label,
        process: None,
        root: bench_root(&label.to_lowercase().replace([' ', ','], "-"))?,
        addr: SocketAddr::from(([127, 0, 0, 1], free_port())),
    };
    let storage = S3Storage {
        endpoint: service.endpoint.clone(),
        access_key: service.access_key.clone(),
        secret_key: service.secret_key.clone(),
        bucket: service.bucket.clone(),
        root_directory: format!("/{ROOT_DIRECTORY}"),
        redirect,
    };
    let config = s3_config_yaml(&storage, server.addr)
        .replace(
            "log:\n  level: error\n",
            "log:\n  level: error\n  accesslog:\n    disabled: true\n",
        )
        .replace(
            "  delete:\n",
            "  cache:\n    blobdescriptor: inmemory\n  delete:\n",
        );
    let log = server.root.join("docker-registry.log");
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    let distribution = Distribution::spawn(&config, server.addr, &server.root, log_file.into())
        .with_context(|| {
            format!(
                "could not start Distribution on S3 (log: {})",
                log.display()
            )
        })?;
    server.process = Some(Process::Distribution(distribution));
    Ok(server)
}
