//! Servers started at once over one storage (`Server::bind_with_driver` on one driver, as
//! replicas on one bucket) agree on the secrets they make there: an upload begun on one is
//! finished on another, and a token one issues is accepted by the others.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::sync::Arc;

use gantry_reference::{Algorithm, Digest};
use gantry_registry::{AuthConfig, Server, TokenConfig};
use gantry_storage::{InMemoryDriver, StorageDriver, StoragePath};
use tokio::sync::oneshot;

/// One running replica: its URL and what stops it.
struct Replica {
    url: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_started_at_once_share_the_secrets_they_make_in_storage() {
    const REPLICAS: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let htpasswd = dir.path().join("htpasswd");
    let hash = bcrypt::hash("wonderland", 4).unwrap();
    std::fs::write(&htpasswd, format!("alice:{hash}\n")).unwrap();
    let mut config = gantry_test_support::in_process::config(dir.path());
    config.auth = Some(
        AuthConfig::default()
            .with_htpasswd(Some(htpasswd))
            .with_token(Some(TokenConfig::default().with_issue(true))),
    );
    let driver: Arc<dyn StorageDriver> = Arc::new(InMemoryDriver::new());

    let binds: Vec<_> = (0..REPLICAS)
        .map(|_| {
            let (config, driver) = (config.clone(), Arc::clone(&driver));
            tokio::spawn(async move { Server::bind_with_driver(&config, driver).await.unwrap() })
        })
        .collect();
    let mut replicas = Vec::new();
    for bind in binds {
        let server = bind.await.unwrap();
        let url = format!("http://{}", server.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run(async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        replicas.push(Replica { url, stop, task });
    }
    // Both secrets were made in the storage, once.
    for name in ["/gantry/upload-secret", "/gantry/token-key.pem"] {
        let path = StoragePath::new(name).unwrap();
        assert!(driver.get_content(&path).await.is_ok(), "{name}");
    }
    assert!(
        !dir.path().join("gantry").exists(),
        "nothing is kept beside the storage"
    );

    let http = reqwest::Client::new();
    let token = {
        let answer = http
            .get(format!(
                "{}/token?service=gantry&scope=repository:team/app:pull,push",
                replicas[0].url
            ))
            .basic_auth("alice", Some("wonderland"))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
        let body: serde_json::Value =
            serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap();
        body["token"].as_str().unwrap().to_owned()
    };

    // Begun on the first replica, a chunk on each of the others, committed on the last.
    let content: Vec<u8> = (0..3 * 1000u32).map(|i| (i % 253) as u8).collect();
    let digest = Digest::of(Algorithm::Sha256, &content);
    let started = http
        .post(format!("{}/v2/team/app/blobs/uploads/", replicas[0].url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(started.status(), 202);
    let mut location = started.headers()["location"].to_str().unwrap().to_owned();
    for (n, chunk) in content.chunks(1000).enumerate() {
        let replica = &replicas[1 + n % (REPLICAS - 1)];
        let start = n * 1000;
        let patched = http
            .patch(format!("{}{location}", replica.url))
            .bearer_auth(&token)
            .header("content-type", "application/octet-stream")
            .header(
                "content-range",
                format!("{start}-{}", start + chunk.len() - 1),
            )
            .body(chunk.to_vec())
            .send()
            .await
            .unwrap();
        assert_eq!(patched.status(), 202, "chunk {n} on {}", replica.url);
        location = patched.headers()["location"].to_str().unwrap().to_owned();
    }
    let last = &replicas[REPLICAS - 1];
    let committed = http
        .put(format!("{}{location}&digest={digest}", last.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(committed.status(), 201);
    for replica in &replicas {
        let head = http
            .head(format!("{}/v2/team/app/blobs/{digest}", replica.url))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200, "{}", replica.url);
    }

    for replica in replicas {
        let _ = replica.stop.send(());
        replica.task.await.unwrap();
    }
}
