//! One `weed mini`: master, volume server, filer and S3 gateway in one process.

use tempfile::TempDir;

use super::{S3Server, S3Service, Weed, free_ports, stop_all};

/// The default bucket's name.
const BUCKET: &str = "gantry";

/// A running `weed mini` in a temporary directory, stopped by PID and removed when dropped.
#[derive(Debug)]
pub struct SeaweedMini {
    weed: Weed,
    service: S3Service,
    _dir: TempDir,
}

impl SeaweedMini {
    /// Starts `weed mini` on an empty data directory with ephemeral ports, one identity with a
    /// random key and the default bucket, and waits until a signed listing of that bucket
    /// succeeds.
    pub fn start() -> SeaweedMini {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("a temporary directory: {e}"));
        let root = dir.path().to_path_buf();
        let [master, volume, filer, s3, admin] = free_ports(5)[..] else {
            unreachable!("free_ports returns as many ports as asked")
        };
        let service = S3Service::random(format!("http://127.0.0.1:{s3}"), BUCKET);
        let config = root.join("s3.json");
        std::fs::write(&config, service.identities_json())
            .unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
        let path = |name: &str| root.join(name).display().to_string();
        let args = vec![
            "mini".to_owned(),
            format!("-dir={}", path("data")),
            "-ip=127.0.0.1".to_owned(),
            "-ip.bind=127.0.0.1".to_owned(),
            format!("-master.port={master}"),
            format!("-volume.port={volume}"),
            format!("-filer.port={filer}"),
            format!("-s3.port={s3}"),
            format!("-admin.port={admin}"),
            "-master.telemetry=false".to_owned(),
            "-s3.port.iceberg=0".to_owned(),
            "-s3.port.lance=0".to_owned(),
            "-webdav=false".to_owned(),
            "-admin.ui=false".to_owned(),
            format!("-s3.config={}", config.display()),
            format!("-s3.localSocket={}", path("s3.sock")),
            format!("-filer.localSocket={}", path("filer.sock")),
            format!("-bucket={BUCKET}"),
        ];
        let mut mini = SeaweedMini {
            weed: Weed::start("weed mini", root, args),
            service,
            _dir: dir,
        };
        let probe = mini.service.clone();
        mini.weed
            .wait("a signed listing of the bucket", || probe.lists());
        mini
    }

    /// The PIDs of its processes (one).
    pub fn pids(&self) -> Vec<u32> {
        self.weed.id().into_iter().collect()
    }
}

impl S3Server for SeaweedMini {
    fn service(&self) -> &S3Service {
        &self.service
    }

    fn log(&self) -> String {
        self.weed.log()
    }
}

impl Drop for SeaweedMini {
    fn drop(&mut self) {
        stop_all(&mut [&mut self.weed]);
    }
}
