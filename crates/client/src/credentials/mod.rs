//! Credentials: what the client presents to a registry or its token service, and where it
//! finds them.
//!
//! The order is the one users expect: credentials given explicitly in
//! [`ClientConfig`](crate::ClientConfig), then the credential files (when enabled), then none
//! (anonymous). Secrets never appear in `Debug` output or logs.

use std::collections::BTreeMap;
use std::fmt;

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
