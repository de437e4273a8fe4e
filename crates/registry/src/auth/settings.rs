//! The `[auth]` table of the configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::scope::Action;

/// Authentication and authorization. When the table is absent, the registry is open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AuthConfig {
    /// An htpasswd file of bcrypt hashes, reloaded when it changes. With no `[auth.token]`,
    /// clients authenticate with HTTP Basic against it.
    pub htpasswd: Option<PathBuf>,
    /// Whether anyone, without credentials, may pull from every repository.
    pub anonymous_pull: bool,
    /// Groups of users, by group name, for access rules.
    pub groups: BTreeMap<String, Vec<String>>,
    /// Who may do what. With no rule, every authenticated user may do everything.
    pub access: Vec<AccessRule>,
    /// Bearer tokens (Docker's token specification) instead of Basic.
    pub token: Option<TokenConfig>,
}

/// One grant of the access policy.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct AccessRule {
    /// Repository globs: `*` matches within one path component, `**` across components.
    pub repositories: Vec<String>,
    /// Whether the rule grants listing the catalog (`registry:catalog:*`).
    pub catalog: bool,
    /// Users the rule applies to; `*` is every authenticated user.
    pub users: Vec<String>,
    /// Groups (from `[auth.groups]`) the rule applies to.
    pub groups: Vec<String>,
    /// What they may do to the repositories.
    pub actions: Vec<Action>,
}

/// Bearer token authentication, and the optional built-in token issuer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct TokenConfig {
    /// The token service's URL, sent in the challenge. Optional with `issue`: the built-in
    /// issuer's URL is then made from the request's `Host` and `path`.
    pub realm: Option<String>,
    /// The `service` in the challenge, and the audience tokens must name.
    pub service: String,
    /// The issuer (`iss`) tokens must name.
    pub issuer: String,
    /// PEM certificates whose keys sign tokens, and the roots `x5c` chains must lead to.
    pub root_certificate_bundle: Option<PathBuf>,
    /// A JSON Web Key Set whose keys sign tokens.
    pub jwks: Option<PathBuf>,
    /// Serve a token issuer at `path`, backed by the htpasswd file and the access policy.
    pub issue: bool,
    /// Where the built-in issuer is served.
    pub path: String,
    /// The built-in issuer's signing key: a PKCS#8 PEM file (ECDSA P-256, or Ed25519). When
    /// absent, one is generated and kept in `<root>/gantry/token-key.pem`.
    pub signing_key: Option<PathBuf>,
    /// How long the built-in issuer's tokens last (5 minutes by default; TOML `expiry_secs`).
    #[serde(rename = "expiry_secs", deserialize_with = "crate::config::seconds")]
    pub expiry: std::time::Duration,
}

impl Default for TokenConfig {
    fn default() -> TokenConfig {
        TokenConfig {
            realm: None,
            service: "gantry".to_owned(),
            issuer: "gantry".to_owned(),
            root_certificate_bundle: None,
            jwks: None,
            issue: false,
            path: "/token".to_owned(),
            signing_key: None,
            expiry: std::time::Duration::from_secs(300),
        }
    }
}

impl AuthConfig {
    /// Applies one `GANTRY_AUTH_*` variable (`name` without the `GANTRY_AUTH_` prefix); `None`
    /// when the name is not an auth setting, `Some(false)` when the value does not parse.
    pub(crate) fn apply_env(&mut self, name: &str, value: &str) -> Option<bool> {
        let flag = || crate::config::parse_bool(value);
        if let Some(token_name) = name.strip_prefix("TOKEN_") {
            let token = self.token.get_or_insert_with(TokenConfig::default);
            match token_name {
                "REALM" => token.realm = Some(value.to_owned()),
                "SERVICE" => token.service = value.to_owned(),
                "ISSUER" => token.issuer = value.to_owned(),
                "ROOT_CERTIFICATE_BUNDLE" => {
                    token.root_certificate_bundle = Some(PathBuf::from(value));
                }
                "JWKS" => token.jwks = Some(PathBuf::from(value)),
                "ISSUE" => match flag() {
                    Some(issue) => token.issue = issue,
                    None => return Some(false),
                },
                "PATH" => token.path = value.to_owned(),
                "SIGNING_KEY" => token.signing_key = Some(PathBuf::from(value)),
                "EXPIRY_SECS" => match value.parse() {
                    Ok(secs) => token.expiry = std::time::Duration::from_secs(secs),
                    Err(_) => return Some(false),
                },
                _ => return None,
            }
            return Some(true);
        }
        match name {
            "HTPASSWD" => self.htpasswd = Some(PathBuf::from(value)),
            "ANONYMOUS_PULL" => match flag() {
                Some(anonymous) => self.anonymous_pull = anonymous,
                None => return Some(false),
            },
            _ => return None,
        }
        Some(true)
    }
}

impl AuthConfig {
    /// The same settings with `htpasswd` set.
    pub fn with_htpasswd(mut self, htpasswd: Option<PathBuf>) -> AuthConfig {
        self.htpasswd = htpasswd;
        self
    }

    /// The same settings with `anonymous_pull` set.
    pub fn with_anonymous_pull(mut self, anonymous_pull: bool) -> AuthConfig {
        self.anonymous_pull = anonymous_pull;
        self
    }

    /// The same settings with `groups` set.
    pub fn with_groups(mut self, groups: BTreeMap<String, Vec<String>>) -> AuthConfig {
        self.groups = groups;
        self
    }

    /// The same settings with `access` set.
    pub fn with_access(mut self, access: Vec<AccessRule>) -> AuthConfig {
        self.access = access;
        self
    }

    /// The same settings with `token` set.
    pub fn with_token(mut self, token: Option<TokenConfig>) -> AuthConfig {
        self.token = token;
        self
    }
}

impl AccessRule {
    /// The same settings with `repositories` set.
    pub fn with_repositories(mut self, repositories: Vec<String>) -> AccessRule {
        self.repositories = repositories;
        self
    }

    /// The same settings with `catalog` set.
    pub fn with_catalog(mut self, catalog: bool) -> AccessRule {
        self.catalog = catalog;
        self
    }

    /// The same settings with `users` set.
    pub fn with_users(mut self, users: Vec<String>) -> AccessRule {
        self.users = users;
        self
    }

    /// The same settings with `groups` set.
    pub fn with_groups(mut self, groups: Vec<String>) -> AccessRule {
        self.groups = groups;
        self
    }

    /// The same settings with `actions` set.
    pub fn with_actions(mut self, actions: Vec<Action>) -> AccessRule {
        self.actions = actions;
        self
    }
}

impl TokenConfig {
    /// The same settings with `realm` set.
    pub fn with_realm(mut self, realm: Option<String>) -> TokenConfig {
        self.realm = realm;
        self
    }

    /// The same settings with `service` set.
    pub fn with_service(mut self, service: String) -> TokenConfig {
        self.service = service;
        self
    }

    /// The same settings with `issuer` set.
    pub fn with_issuer(mut self, issuer: String) -> TokenConfig {
        self.issuer = issuer;
        self
    }

    /// The same settings with `root_certificate_bundle` set.
    pub fn with_root_certificate_bundle(
        mut self,
        root_certificate_bundle: Option<PathBuf>,
    ) -> TokenConfig {
        self.root_certificate_bundle = root_certificate_bundle;
        self
    }

    /// The same settings with `jwks` set.
    pub fn with_jwks(mut self, jwks: Option<PathBuf>) -> TokenConfig {
        self.jwks = jwks;
        self
    }

    /// The same settings with `issue` set.
    pub fn with_issue(mut self, issue: bool) -> TokenConfig {
        self.issue = issue;
        self
    }

    /// The same settings with `path` set.
    pub fn with_path(mut self, path: String) -> TokenConfig {
        self.path = path;
        self
    }

    /// The same settings with `signing_key` set.
    pub fn with_signing_key(mut self, signing_key: Option<PathBuf>) -> TokenConfig {
        self.signing_key = signing_key;
        self
    }

    /// The same settings with `expiry` set.
    pub fn with_expiry(mut self, expiry: std::time::Duration) -> TokenConfig {
        self.expiry = expiry;
        self
    }
}
