//! Credentials from files and helpers: Docker's `config.json` (`auths`, `credHelpers`,
//! `credsStore`) and containers' `auth.json`, in order, against a registry that wants Basic
//! credentials. The helper is `tests/helpers/docker-credential-gantry-test`.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod support;

use std::path::{Path, PathBuf};

use gantry_client::{ClientConfig, CredentialSources};
use support::{Hostile, client_with, respond};

const TAGS: &str = r#"{"name":"team/app","tags":["v1"]}"#;

/// A registry that answers only `user:password`, Basic.
async fn basic_registry(user: &'static str, password: &'static str) -> Hostile {
    use base64::Engine;
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    );
    Hostile::start(move |seen| match seen.headers.get("authorization") {
        Some(value) if value.to_str().unwrap() == expected => respond(200, &[], TAGS),
        _ => respond(401, &[("www-authenticate", r#"Basic realm="test""#)], ""),
    })
    .await
}

fn helpers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/helpers")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn config(files: Vec<PathBuf>) -> ClientConfig {
    let mut config =
        ClientConfig::default().with_credential_sources(CredentialSources::Files(files));
    config.credential_helper_dirs = vec![helpers()];
    config
}

#[tokio::test]
async fn files_are_read_in_order_and_the_first_match_wins() {
    let registry = basic_registry("alice", "secret").await;
    let dir = tempfile::tempdir().unwrap();
    let host = &registry.host;
    // alice:secret and mallory:wrong
    let auth_json = write(
        dir.path(),
        "auth.json",
        &format!(r#"{{"auths":{{"{host}":{{"auth":"YWxpY2U6c2VjcmV0"}}}}}}"#),
    );
    let docker = write(
        dir.path(),
        "config.json",
        &format!(r#"{{"auths":{{"http://{host}":{{"auth":"bWFsbG9yeTp3cm9uZw=="}}}}}}"#),
    );
    let missing = dir.path().join("absent.json");
    let repo = registry.reference("team/app");

    let client = client_with(config(vec![
        missing.clone(),
        auth_json.clone(),
        docker.clone(),
    ]));
    assert_eq!(client.list_tags(&repo).await.unwrap(), ["v1"]);

    let client = client_with(config(vec![docker, auth_json]));
    let error = client.list_tags(&repo).await.unwrap_err();
    assert!(error.is_auth(), "{error:?}");
}

#[tokio::test]
async fn explicit_credentials_come_before_files() {
    let registry = basic_registry("alice", "secret").await;
    let dir = tempfile::tempdir().unwrap();
    let host = &registry.host;
    let docker = write(
        dir.path(),
        "config.json",
        &format!(r#"{{"auths":{{"{host}":{{"auth":"bWFsbG9yeTp3cm9uZw=="}}}}}}"#),
    );
    let config = config(vec![docker]).with_credential(
        host.clone(),
        gantry_client::Credential::basic("alice", "secret"),
    );
    client_with(config)
        .list_tags(&registry.reference("team/app"))
        .await
        .unwrap();
}

#[tokio::test]
async fn cred_helpers_and_creds_store_run_the_helper() {
    let registry = basic_registry("helper-user", "helper-secret").await;
    let dir = tempfile::tempdir().unwrap();
    let host = &registry.host;
    let repo = registry.reference("team/app");
    let helpers = write(
        dir.path(),
        "helpers.json",
        &format!(r#"{{"credHelpers":{{"{host}":"gantry-test"}}}}"#),
    );
    client_with(config(vec![helpers]))
        .list_tags(&repo)
        .await
        .unwrap();
    // credsStore, behind an empty auths entry as Docker writes it.
    let store = write(
        dir.path(),
        "store.json",
        &format!(r#"{{"auths":{{"{host}":{{}}}},"credsStore":"gantry-test"}}"#),
    );
    client_with(config(vec![store]))
        .list_tags(&repo)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_missing_helper_or_a_malformed_file_is_an_error() {
    let registry = basic_registry("helper-user", "helper-secret").await;
    let dir = tempfile::tempdir().unwrap();
    let repo = registry.reference("team/app");
    let absent = write(
        dir.path(),
        "absent-helper.json",
        r#"{"credsStore":"no-such-helper-anywhere"}"#,
    );
    let error = client_with(config(vec![absent]))
        .list_tags(&repo)
        .await
        .unwrap_err();
    assert!(
        matches!(error, gantry_client::ClientError::Credentials { .. }),
        "{error:?}"
    );
    let malformed = write(dir.path(), "malformed.json", "{not json");
    let error = client_with(config(vec![malformed]))
        .list_tags(&repo)
        .await
        .unwrap_err();
    assert!(
        matches!(error, gantry_client::ClientError::Credentials { .. }),
        "{error:?}"
    );
}
