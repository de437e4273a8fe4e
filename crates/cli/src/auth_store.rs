//! The write side of credentials: entries in Docker's `config.json` (or the `--authfile`), and
//! credential helpers spoken to through `docker-credential-<name> store` and `erase`.
//! (Reading is `gantry-client`'s job.)

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value};
use tokio::io::AsyncWriteExt;

/// The key Docker Hub's credentials are saved under, as Docker saves them.
pub(crate) const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The names Docker Hub goes by.
const DOCKER_HUB_HOSTS: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// How long a credential helper may take (some ask the keychain, which prompts).
const HELPER_TIMEOUT: Duration = Duration::from_secs(60);

/// The key (and helper server URL) a registry's credentials are saved under: its host, or
/// Docker's historical URL for Docker Hub.
pub(crate) fn server_key(host: &str) -> String {
    if DOCKER_HUB_HOSTS.contains(&host) {
        DOCKER_HUB_KEY.to_owned()
    } else {
        host.to_owned()
    }
}

/// The registry host an existing key names (`https://ghcr.io/` is `ghcr.io`).
fn key_host(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// Whether `key` names the registry `host` (any of Docker Hub's names for Docker Hub).
fn key_matches(key: &str, host: &str) -> bool {
    let named = key_host(key);
    named == host || (DOCKER_HUB_HOSTS.contains(&host) && DOCKER_HUB_HOSTS.contains(&named))
}

/// Docker's `config.json`: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
pub(crate) fn default_path() -> anyhow::Result<PathBuf> {
    let var = |name: &str| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(dir) = var("DOCKER_CONFIG") {
        return Ok(PathBuf::from(dir).join("config.json"));
    }
    match var("HOME") {
        Some(home) => Ok(PathBuf::from(home).join(".docker").join("config.json")),
        None => bail!("neither DOCKER_CONFIG nor HOME is set: give the file with --authfile"),
    }
}

/// A credential file, with every field it had kept as it was.
#[derive(Debug)]
pub(crate) struct AuthFile {
    path: PathBuf,
    root: Map<String, Value>,
}

impl AuthFile {
    /// Reads the file at `path`; a missing file is an empty one.
    pub(crate) fn load(path: &Path) -> anyhow::Result<AuthFile> {
        let root = match std::fs::read(path) {
            Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Map::new(),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(Value::Object(root)) => root,
                Ok(_) => bail!("{} is not a JSON object", path.display()),
                Err(error) => {
                    return Err(error)
                        .with_context(|| format!("{} is not valid JSON", path.display()));
                }
            },
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(error) => {
                return Err(error).with_context(|| format!("cannot read {}", path.display()));
            }
        };
        Ok(AuthFile {
            path: path.to_owned(),
            root,
        })
    }

    /// Where the file is.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The credential helper for `host`: its `credHelpers` entry, else `credsStore`.
    pub(crate) fn helper_for(&self, host: &str) -> Option<String> {
        let by_registry = self
            .root
            .get("credHelpers")
            .and_then(Value::as_object)
            .and_then(|helpers| {
                helpers
                    .iter()
                    .find(|(key, _)| key_matches(key, host))
                    .and_then(|(_, name)| name.as_str())
            });
        let store = self.root.get("credsStore").and_then(Value::as_str);
        by_registry
            .or(store)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
    }

    /// Saves `username` and `password` for `host` in `auths`, replacing what was there.
    pub(crate) fn set_auth(&mut self, host: &str, username: &str, password: &str) {
        self.remove_auth(host);
        let auth = STANDARD.encode(format!("{username}:{password}"));
        let auths = self
            .root
            .entry("auths")
            .or_insert_with(|| Value::Object(Map::new()));
        if !auths.is_object() {
            *auths = Value::Object(Map::new());
        }
        if let Value::Object(auths) = auths {
            let mut entry = Map::new();
            entry.insert("auth".to_owned(), Value::String(auth));
            auths.insert(server_key(host), Value::Object(entry));
        }
    }

    /// Removes every `auths` entry for `host`; whether there was one.
    pub(crate) fn remove_auth(&mut self, host: &str) -> bool {
        let Some(Value::Object(auths)) = self.root.get_mut("auths") else {
            return false;
        };
        let before = auths.len();
        auths.retain(|key, _| !key_matches(key, host));
        auths.len() != before
    }

    /// Writes the file: a temporary file beside it, readable by its owner only, then renamed.
    pub(crate) fn save(&self) -> anyhow::Result<()> {
        let dir = self
            .path
            .parent()
            .filter(|dir| !dir.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        let mut text = serde_json::to_string_pretty(&self.root).context("cannot write JSON")?;
        text.push('\n');
        // A temporary file is created readable and writable by its owner only, and removed
        // when anything fails before the rename.
        let written = tempfile::Builder::new()
            .prefix(".gantry-auth-")
            .tempfile_in(dir)
            .and_then(|mut file| {
                file.write_all(text.as_bytes())?;
                file.as_file().sync_all()?;
                file.persist(&self.path).map_err(|error| error.error)?;
                Ok(())
            });
        written.with_context(|| format!("cannot write {}", self.path.display()))
    }
}

/// Stores a credential with `docker-credential-<helper> store`.
pub(crate) async fn helper_store(
    helper: &str,
    server: &str,
    username: &str,
    secret: &str,
) -> anyhow::Result<()> {
    let input = serde_json::json!({
        "ServerURL": server,
        "Username": username,
        "Secret": secret,
    });
    run_helper(helper, "store", input.to_string().as_bytes()).await?;
    Ok(())
}

/// Erases a credential with `docker-credential-<helper> erase`; whether there was one.
pub(crate) async fn helper_erase(helper: &str, server: &str) -> anyhow::Result<bool> {
    match run_helper(helper, "erase", server.as_bytes()).await {
        Ok(()) => Ok(true),
        Err(error) if format!("{error:#}").to_lowercase().contains("not found") => Ok(false),
        Err(error) => Err(error),
    }
}

/// Runs `docker-credential-<helper> <action>` with `input` on standard input.
async fn run_helper(helper: &str, action: &str, input: &[u8]) -> anyhow::Result<()> {
    if helper.is_empty() || helper.contains(['/', '\\']) {
        bail!("invalid credential helper name {helper:?}");
    }
    let program = format!("docker-credential-{helper}");
    let mut child = tokio::process::Command::new(&program)
        .arg(action)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot run the credential helper {program} (is it on PATH?)"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .await
            .with_context(|| format!("{program} {action} did not read its input"))?;
    }
    let output = tokio::time::timeout(HELPER_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| anyhow::anyhow!("{program} {action} took more than {HELPER_TIMEOUT:?}"))?
        .with_context(|| format!("{program} {action} failed"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).trim().to_owned()
            + String::from_utf8_lossy(&output.stderr).trim();
        bail!("{program} {action} failed ({}): {said}", output.status);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_replaced_and_removed_under_every_spelling() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://r.example/":{"auth":"b2xkOm9sZA=="},"other.example":{}},"experimental":"x"}"#,
        )
        .expect("write");
        let mut file = AuthFile::load(&path).expect("loads");
        file.set_auth("r.example", "alice", "pw");
        file.save().expect("saves");
        let saved: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(
            saved["auths"]["r.example"]["auth"],
            STANDARD.encode("alice:pw")
        );
        assert!(saved["auths"].get("https://r.example/").is_none());
        assert_eq!(saved["experimental"], "x", "other fields are kept");

        let mut file = AuthFile::load(&path).expect("loads");
        assert!(file.remove_auth("r.example"));
        assert!(!file.remove_auth("r.example"));
        assert!(file.remove_auth("other.example"));
    }

    #[test]
    fn docker_hub_is_saved_as_docker_saves_it() {
        assert_eq!(server_key("docker.io"), DOCKER_HUB_KEY);
        assert_eq!(server_key("ghcr.io"), "ghcr.io");
        assert!(key_matches(DOCKER_HUB_KEY, "docker.io"));
        assert!(!key_matches("ghcr.io", "docker.io"));
    }

    #[test]
    fn helpers_come_from_cred_helpers_then_the_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"credHelpers":{"a.example":"pass"},"credsStore":"desktop"}"#,
        )
        .expect("write");
        let file = AuthFile::load(&path).expect("loads");
        assert_eq!(file.helper_for("a.example").as_deref(), Some("pass"));
        assert_eq!(file.helper_for("b.example").as_deref(), Some("desktop"));
        assert!(
            AuthFile::load(&dir.path().join("missing.json"))
                .expect("empty")
                .helper_for("a")
                .is_none()
        );
    }
}
