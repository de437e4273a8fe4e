//! A SeaweedFS cluster of separate processes: a master, two volume servers (replication
//! `000`), a filer and the S3 gateway, so that a volume server can be killed and started again.

use std::path::Path;

use tempfile::TempDir;

use super::{S3Server, S3Service, Weed, free_ports, loopback, stop_all};
use crate::process::status_of;

/// The default bucket's name.
const BUCKET: &str = "gantry";

/// How many volume servers the cluster has.
const VOLUME_SERVERS: usize = 2;

/// A running cluster in a temporary directory, every process stopped by PID and the directory
/// removed when dropped.
#[derive(Debug)]
pub struct SeaweedCluster {
    master: Weed,
    volumes: Vec<Weed>,
    filer: Weed,
    s3: Weed,
    /// The HTTP ports of the master, the volume servers and the filer.
    ports: Ports,
    service: S3Service,
    _dir: TempDir,
}

#[derive(Debug)]
struct Ports {
    master: u16,
    volumes: [u16; VOLUME_SERVERS],
    filer: u16,
}

impl SeaweedCluster {
    /// Starts the master, the volume servers, the filer and the S3 gateway in that order, each
    /// once the one before answers; creates the default bucket with a signed request, and
    /// returns once a first object `PUT` succeeds (volumes grow on the first write).
    pub fn start() -> SeaweedCluster {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let root = dir.path();
        let [master_port, volume_1, volume_2, filer_port, s3_port] = free_ports(5)[..] else {
            unreachable!("free_ports returns as many ports as asked")
        };
        let service = S3Service::random(format!("http://127.0.0.1:{s3_port}"), BUCKET);
        let master_at = format!("127.0.0.1:{master_port}");

        let mut master = server(
            root,
            "master",
            "weed master",
            master_port,
            &[
                "-telemetry=false",
                "-volumeSizeLimitMB=64",
                "-defaultReplication=000",
                &format!("-mdir={}", data(root, "master")),
            ],
        );
        master.wait("GET /cluster/healthz", || {
            status_of(loopback(master_port), "/cluster/healthz") == Some(200)
        });

        let volumes = [volume_1, volume_2]
            .into_iter()
            .enumerate()
            .map(|(i, port)| {
                let name = format!("volume-{}", i + 1);
                let mut volume = server(
                    root,
                    &name,
                    "weed volume",
                    port,
                    &[
                        &format!("-master={master_at}"),
                        &format!("-dir={}", data(root, &name)),
                        "-max=8",
                    ],
                );
                volume.wait("GET /status", || {
                    status_of(loopback(port), "/status") == Some(200)
                });
                volume
            })
            .collect();

        let mut filer = server(
            root,
            "filer",
            "weed filer",
            filer_port,
            &[
                &format!("-master={master_at}"),
                &format!("-defaultStoreDir={}", data(root, "filer")),
                &format!(
                    "-localSocket={}",
                    root.join("filer").join("filer.sock").display()
                ),
                "-defaultReplicaPlacement=000",
            ],
        );
        filer.wait("GET /healthz", || {
            status_of(loopback(filer_port), "/healthz") == Some(200)
        });

        let config = root.join("s3.json");
        std::fs::write(&config, service.identities_json())
            .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        let s3 = server(
            root,
            "s3",
            "weed s3",
            s3_port,
            &[
                &format!("-filer=127.0.0.1:{filer_port}"),
                &format!("-config={}", config.display()),
                &format!("-localSocket={}", root.join("s3").join("s3.sock").display()),
                "-port.iceberg=0",
                "-port.lance=0",
            ],
        );
        let mut cluster = SeaweedCluster {
            master,
            volumes,
            filer,
            s3,
            ports: Ports {
                master: master_port,
                volumes: [volume_1, volume_2],
                filer: filer_port,
            },
            service,
            _dir: dir,
        };
        let probe = cluster.service.clone();
        cluster.s3.wait("a signed bucket creation", || {
            probe.create_bucket(&probe.bucket).is_ok()
        });
        cluster.s3.wait("a first object PUT", || probe.writes());
        cluster
    }

    /// Kills volume server `index` (0 or 1) with `SIGKILL` and waits until it is gone.
    pub fn kill_volume_server(&mut self, index: usize) {
        self.volume(index).0.kill();
    }

    /// Starts volume server `index` again, on its ports and directory, and waits until it
    /// answers.
    pub fn restart_volume_server(&mut self, index: usize) {
        let (volume, port) = self.volume(index);
        volume.kill();
        volume.spawn();
        volume.wait("GET /status", || {
            status_of(loopback(port), "/status") == Some(200)
        });
    }

    /// Which volume server holds the first chunk of `key` (plain characters only) in the
    /// default bucket, as the filer's metadata and the master's lookup tell; panics if they
    /// do not say.
    pub fn volume_server_holding(&self, key: &str) -> usize {
        let metadata = get_body(
            self.ports.filer,
            &format!("/buckets/{}/{key}?metadata=true", self.service.bucket),
        );
        let volume_id = json_after(&metadata, "\"volume_id\":")
            .unwrap_or_else(|| panic!("no chunk of {key} in the filer's metadata: {metadata}"));
        let lookup = get_body(
            self.ports.master,
            &format!("/dir/lookup?volumeId={volume_id}"),
        );
        let url = json_after(&lookup, "\"url\":\"")
            .unwrap_or_else(|| panic!("no location of volume {volume_id}: {lookup}"));
        self.ports
            .volumes
            .iter()
            .position(|port| url == format!("127.0.0.1:{port}"))
            .unwrap_or_else(|| panic!("volume {volume_id} is on {url}, not on a volume server"))
    }

    /// Volume server `index` and its port.
    fn volume(&mut self, index: usize) -> (&mut Weed, u16) {
        match (self.volumes.get_mut(index), self.ports.volumes.get(index)) {
            (Some(volume), Some(port)) => (volume, *port),
            _ => panic!("the cluster has {VOLUME_SERVERS} volume servers, not {index}"),
        }
    }

    /// The PIDs of its running processes.
    pub fn pids(&self) -> Vec<u32> {
        self.processes().filter_map(Weed::id).collect()
    }

    fn processes(&self) -> impl Iterator<Item = &Weed> {
        [&self.master]
            .into_iter()
            .chain(&self.volumes)
            .chain([&self.filer, &self.s3])
    }
}

/// `weed SUBCOMMAND -ip=127.0.0.1 -ip.bind=127.0.0.1 -port=PORT EXTRA` in `root/name`.
fn server(root: &Path, name: &str, what: &'static str, port: u16, extra: &[&str]) -> Weed {
    let subcommand = what.trim_start_matches("weed ");
    let args = [
        subcommand,
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        &format!("-port={port}"),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(str::to_owned)
    .collect();
    Weed::start(what, root.join(name), args)
}

/// The body of `GET path` on `127.0.0.1:port`, which must answer 200.
fn get_body(port: u16, path: &str) -> String {
    let response = crate::http::request(loopback(port), "GET", path, &[]);
    let body = String::from_utf8_lossy(&response.body).into_owned();
    assert_eq!(response.status, 200, "GET {path} on port {port}: {body}");
    body
}

/// The scalar that follows the first `marker` in a JSON document: up to the next `,`, `"` or
/// `}`.
fn json_after<'a>(json: &'a str, marker: &str) -> Option<&'a str> {
    let (_, rest) = json.split_once(marker)?;
    rest.split([',', '"', '}'])
        .next()
        .filter(|value| !value.is_empty())
}

/// `root/name/data`, created.
fn data(root: &Path, name: &str) -> String {
    let dir = root.join(name).join("data");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
    dir.display().to_string()
}

impl S3Server for SeaweedCluster {
    fn service(&self) -> &S3Service {
        &self.service
    }

    fn log(&self) -> String {
        self.processes().map(Weed::log).collect()
    }
}

impl Drop for SeaweedCluster {
    fn drop(&mut self) {
        let mut weeds: Vec<&mut Weed> = vec![&mut self.s3, &mut self.filer];
        weeds.extend(self.volumes.iter_mut());
        weeds.push(&mut self.master);
        stop_all(&mut weeds);
    }
}
