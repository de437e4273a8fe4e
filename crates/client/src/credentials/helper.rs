//! Credential helpers: `docker-credential-<name> get`, the server URL on standard input, a
//! JSON answer `{"ServerURL","Username","Secret"}` on standard output. A `Username` of
//! `<token>` means the secret is an identity token.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::AsyncWriteExt;

use crate::credentials::Credential;
use crate::error::ClientError;

/// How long a helper may take (some prompt the keychain).
const TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Asks helper `name` for the credential of `server`; `None` when it has none.
/// The helper is looked for in `dirs` first, then on `PATH`.
pub(crate) async fn get(
    name: &str,
    server: &str,
    dirs: &[PathBuf],
) -> Result<Option<Credential>, ClientError> {
    if name.is_empty() || name.contains(['/', '\\']) {
        return Err(ClientError::Credentials {
            what: "a credential helper's name may not be empty or a path",
            source: None,
        });
    }
    let program = format!("docker-credential-{name}");
    let program = dirs
        .iter()
        .map(|dir| dir.join(&program))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from(&program));
    let failed = |what: &'static str| {
        move |e: std::io::Error| ClientError::Credentials {
            what,
            source: Some(e.into()),
        }
    };
    let mut child = tokio::process::Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(failed("the credential helper could not be started"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .await
            .map_err(failed("the credential helper did not read its input"))?;
    }
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| ClientError::Credentials {
            what: "the credential helper took too long",
            source: None,
        })?
        .map_err(failed("the credential helper failed"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stdout).to_lowercase()
            + &String::from_utf8_lossy(&output.stderr).to_lowercase();
        if said.contains("credentials not found") {
            return Ok(None);
        }
        tracing::debug!(helper = %program.display(), status = ?output.status, "credential helper failed");
        return Err(ClientError::Credentials {
            what: "the credential helper failed",
            source: None,
        });
    }
    let answer: Answer =
        serde_json::from_slice(&output.stdout).map_err(|e| ClientError::Credentials {
            what: "the credential helper's answer is not its JSON",
            source: Some(e.into()),
        })?;
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if answer.username == "<token>" {
        Credential::IdentityToken {
            username: answer.username,
            token: answer.secret,
        }
    } else {
        Credential::basic(answer.username, answer.secret)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs() -> Vec<PathBuf> {
        vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/helpers")]
    }

    #[tokio::test]
    async fn the_helper_protocol_gives_credentials_none_or_an_error() {
        let found = get("gantry-test", "registry.example", &dirs())
            .await
            .unwrap();
        assert_eq!(
            found,
            Some(Credential::basic("helper-user", "helper-secret"))
        );
        let none = get("gantry-test", "missing.example", &dirs())
            .await
            .unwrap();
        assert_eq!(none, None);
        let error = get("gantry-test", "broken.example", &dirs())
            .await
            .unwrap_err();
        assert!(
            matches!(error, ClientError::Credentials { .. }),
            "{error:?}"
        );
        for bad in ["", "../gantry-test", "a/b"] {
            assert!(
                get(bad, "registry.example", &dirs()).await.is_err(),
                "{bad}"
            );
        }
    }
}
