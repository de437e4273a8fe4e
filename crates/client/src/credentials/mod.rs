//! Credentials: what the client presents to a registry or its token service, and where it
//! finds them.
//!
//! The order is the one users expect: credentials given explicitly in
//! [`ClientConfig`], then the credential files of
//! [`CredentialSources`] in order (`REGISTRY_AUTH_FILE`, containers' `auth.json`, Docker's
//! `config.json`), then none (anonymous). In each file a `credHelpers` entry comes first, then
//! an `auths` entry, then `credsStore`. Secrets never appear in `Debug` output or logs.

mod docker_config;
mod helper;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::config::ClientConfig;
use crate::error::ClientError;
use docker_config::{ConfigFile, Found};

/// A credential for one registry.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// A user name and a password (or a personal access token used as one).
    Basic {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An OAuth2 refresh token, Docker's `identitytoken`, exchanged at the token service.
    IdentityToken {
        /// The user name that goes with it, if any (Docker writes `<token>`).
        username: String,
        /// The refresh token.
        token: String,
    },
}

impl Credential {
    /// A user name and password.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credential {
        Credential::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// The user name.
    pub fn username(&self) -> &str {
        match self {
            Credential::Basic { username, .. } | Credential::IdentityToken { username, .. } => {
                username
            }
        }
    }

    /// The secret: the password or the refresh token.
    pub(crate) fn secret(&self) -> &str {
        match self {
            Credential::Basic { password, .. } => password,
            Credential::IdentityToken { token, .. } => token,
        }
    }
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Credential::Basic { .. } => "Basic",
            Credential::IdentityToken { .. } => "IdentityToken",
        };
        f.debug_struct(kind)
            .field("username", &self.username())
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// The names a registry's credentials may be stored under: the host as in references, and for
/// Docker Hub every name it has gone by.
pub(crate) fn lookup_keys(api_host: &str) -> Vec<&str> {
    if api_host == crate::endpoint::DOCKER_HUB_API_HOST {
        vec![
            gantry_reference::DEFAULT_DOMAIN,
            gantry_reference::LEGACY_DEFAULT_DOMAIN,
            "https://index.docker.io/v1/",
            crate::endpoint::DOCKER_HUB_API_HOST,
        ]
    } else {
        vec![api_host]
    }
}

/// The credential for the registry served from `api_host`, from `explicit` first.
pub(crate) fn lookup(
    explicit: &BTreeMap<String, Credential>,
    api_host: &str,
) -> Option<Credential> {
    lookup_keys(api_host)
        .into_iter()
        .find_map(|key| explicit.get(key).cloned())
}

/// Where credentials are looked up after the explicit ones.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CredentialSources {
    /// Nowhere: explicit credentials, else anonymous.
    None,
    /// The files users expect, found from the environment when a registry first asks:
    /// `$REGISTRY_AUTH_FILE`; `$XDG_RUNTIME_DIR/containers/auth.json`;
    /// `$XDG_CONFIG_HOME/containers/auth.json` (`~/.config` without it);
    /// `$DOCKER_CONFIG/config.json` (`~/.docker` without it).
    #[default]
    Environment,
    /// These files, in order (each in the `config.json`/`auth.json` shape).
    Files(Vec<PathBuf>),
}

impl CredentialSources {
    /// The files to read, in order; those that do not exist are skipped when read.
    pub fn paths(&self) -> Vec<PathBuf> {
        match self {
            CredentialSources::None => Vec::new(),
            CredentialSources::Files(paths) => paths.clone(),
            CredentialSources::Environment => {
                let var = |name: &str| {
                    std::env::var_os(name)
                        .filter(|v| !v.is_empty())
                        .map(PathBuf::from)
                };
                let home = var("HOME");
                let mut paths = Vec::new();
                paths.extend(var("REGISTRY_AUTH_FILE"));
                paths.extend(var("XDG_RUNTIME_DIR").map(|d| d.join("containers/auth.json")));
                let config =
                    var("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
                paths.extend(config.map(|d| d.join("containers/auth.json")));
                let docker =
                    var("DOCKER_CONFIG").or_else(|| home.as_ref().map(|h| h.join(".docker")));
                paths.extend(docker.map(|d| d.join("config.json")));
                paths
            }
        }
    }
}

/// The credential for the registry served from `api_host`: explicit, then each file in order,
/// asking a helper where a file says so; `None` for anonymous access.
pub(crate) async fn resolve(
    config: &ClientConfig,
    api_host: &str,
) -> Result<Option<Credential>, ClientError> {
    if let Some(credential) = lookup(&config.credentials, api_host) {
        return Ok(Some(credential));
    }
    let names = lookup_keys(api_host);
    for path in config.credential_sources.paths() {
        let text = match tokio::fs::read(&path).await {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                tracing::debug!(path = %path.display(), error = %e, "credential file unreadable; skipped");
                continue;
            }
        };
        let file = ConfigFile::parse(&text).map_err(|e| ClientError::Credentials {
            what: "a credential file is not valid JSON of its shape",
            source: Some(e.into()),
        })?;
        match file.find(&names) {
            Some(Found::Credential(credential)) => return Ok(Some(credential)),
            Some(Found::Helper { name, server }) => {
                let dirs = &config.credential_helper_dirs;
                if let Some(credential) = helper::get(&name, &server, dirs).await? {
                    return Ok(Some(credential));
                }
            }
            None => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let basic = Credential::basic("alice", "hunter2");
        let token = Credential::IdentityToken {
            username: "<token>".to_owned(),
            token: "refresh-me".to_owned(),
        };
        for (credential, secret) in [(basic, "hunter2"), (token, "refresh-me")] {
            let shown = format!("{credential:?}");
            assert!(!shown.contains(secret), "{shown}");
            assert!(shown.contains(credential.username()), "{shown}");
        }
    }

    #[test]
    fn docker_hub_credentials_are_found_under_any_of_its_names() {
        for key in [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
        ] {
            let explicit = BTreeMap::from([(key.to_owned(), Credential::basic("u", "p"))]);
            assert!(lookup(&explicit, "registry-1.docker.io").is_some(), "{key}");
            assert!(lookup(&explicit, "ghcr.io").is_none(), "{key}");
        }
    }
}
