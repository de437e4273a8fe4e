//! The credential files: Docker's `config.json` and containers' `auth.json`, which share one
//! shape: `auths` (base64 `auth` of `user:password`, or an `identitytoken`), `credHelpers` (a
//! helper per registry) and `credsStore` (one helper for all).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::credentials::Credential;

/// One credential file, as parsed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

impl std::fmt::Debug for AuthEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthEntry").finish_non_exhaustive()
    }
}

/// Where a file says the credential for a registry is.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Found {
    /// In the file itself.
    Credential(Credential),
    /// With the helper `docker-credential-<name>`, under the server URL given.
    Helper { name: String, server: String },
}

/// The registry host an `auths` key names: `https://index.docker.io/v1/` is
/// `index.docker.io`, `ghcr.io/team` (containers' per-namespace keys) is `ghcr.io`.
fn key_host(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    key.split('/').next().unwrap_or(key)
}

/// The key Docker stores Docker Hub's credentials under, in `auths` and in helpers.
const DOCKER_HUB_INDEX_KEY: &str = "https://index.docker.io/v1/";

impl ConfigFile {
    pub(crate) fn parse(text: &[u8]) -> Result<ConfigFile, serde_json::Error> {
        serde_json::from_slice(text)
    }

    /// The credential for a registry known by any of `names` (host as in references, Docker
    /// Hub's aliases): its `credHelpers` entry, else a non-empty `auths` entry, else
    /// `credsStore`.
    pub(crate) fn find(&self, names: &[&str]) -> Option<Found> {
        for (registry, helper) in &self.cred_helpers {
            if names.contains(&key_host(registry)) {
                return Some(Found::Helper {
                    name: helper.clone(),
                    server: registry.clone(),
                });
            }
        }
        let mut entries: Vec<(&String, &AuthEntry)> = self
            .auths
            .iter()
            .filter(|(key, _)| names.contains(&key_host(key)))
            .collect();
        // An exact host key wins over a per-namespace one.
        entries.sort_by_key(|(key, _)| key.contains('/') && !key.ends_with("/v1/"));
        for (_, entry) in entries {
            if let Some(credential) = entry.credential() {
                return Some(Found::Credential(credential));
            }
        }
        // Docker keeps Docker Hub's credentials under its legacy index URL, in helpers too.
        let server = names
            .iter()
            .find(|name| **name == DOCKER_HUB_INDEX_KEY)
            .or(names.first())
            .copied()
            .unwrap_or_default();
        self.creds_store.as_ref().map(|name| Found::Helper {
            name: name.clone(),
            server: server.to_owned(),
        })
    }
}

impl AuthEntry {
    fn credential(&self) -> Option<Credential> {
        let (username, password) = match &self.auth {
            Some(auth) if !auth.is_empty() => {
                let decoded = STANDARD.decode(auth.trim()).ok()?;
                let decoded = String::from_utf8(decoded).ok()?;
                let (user, password) = decoded.split_once(':')?;
                (user.to_owned(), password.to_owned())
            }
            _ => (
                self.username.clone().unwrap_or_default(),
                self.password.clone().unwrap_or_default(),
            ),
        };
        if let Some(token) = self.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Some(Credential::IdentityToken {
                username,
                token: token.clone(),
            });
        }
        (!username.is_empty() || !password.is_empty())
            .then(|| Credential::basic(username, password))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = r#"{
        "auths": {
            "https://index.docker.io/v1/": {"auth": "YWxpY2U6aHVudGVyMg=="},
            "ghcr.io": {"auth": "Ym9iOnRva2Vu", "identitytoken": "refresh"},
            "quay.io": {},
            "quay.io/team": {"username": "carol", "password": "pw"},
            "broken.example": {"auth": "not base64!"}
        },
        "credHelpers": {"123.dkr.ecr.us-east-1.amazonaws.com": "ecr-login"},
        "credsStore": "desktop"
    }"#;

    #[test]
    fn entries_are_found_in_the_order_docker_uses() {
        let file = ConfigFile::parse(CONFIG.as_bytes()).unwrap();
        let hub = [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
        ];
        assert_eq!(
            file.find(&hub),
            Some(Found::Credential(Credential::basic("alice", "hunter2")))
        );
        assert_eq!(
            file.find(&["ghcr.io"]),
            Some(Found::Credential(Credential::IdentityToken {
                username: "bob".to_owned(),
                token: "refresh".to_owned()
            }))
        );
        assert_eq!(
            file.find(&["quay.io"]),
            Some(Found::Credential(Credential::basic("carol", "pw")))
        );
        assert_eq!(
            file.find(&["123.dkr.ecr.us-east-1.amazonaws.com"]),
            Some(Found::Helper {
                name: "ecr-login".to_owned(),
                server: "123.dkr.ecr.us-east-1.amazonaws.com".to_owned()
            })
        );
        // No usable entry: the store.
        for host in ["broken.example", "other.example"] {
            assert_eq!(
                file.find(&[host]),
                Some(Found::Helper {
                    name: "desktop".to_owned(),
                    server: host.to_owned()
                })
            );
        }
        assert_eq!(ConfigFile::default().find(&["ghcr.io"]), None);
    }

    #[test]
    fn the_store_is_asked_for_docker_hub_under_its_index_url() {
        let file = ConfigFile::parse(br#"{"credsStore": "desktop"}"#).unwrap();
        let hub = [
            "docker.io",
            "index.docker.io",
            "https://index.docker.io/v1/",
            "registry-1.docker.io",
        ];
        assert_eq!(
            file.find(&hub),
            Some(Found::Helper {
                name: "desktop".to_owned(),
                server: "https://index.docker.io/v1/".to_owned()
            })
        );
    }

    #[test]
    fn parsed_files_do_not_show_secrets() {
        let file = ConfigFile::parse(CONFIG.as_bytes()).unwrap();
        let shown = format!("{file:?}");
        assert!(!shown.contains("YWxpY2U6aHVudGVyMg"), "{shown}");
        assert!(!shown.contains("refresh"), "{shown}");
    }
}
