//! The `[auth]` table of the configuration.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

use super::scope::Action;

/// Authentication and authorization. When the table is absent, the registry is open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    /// How long the built-in issuer's tokens last, in seconds.
    pub expiry_secs: u64,
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
            expiry_secs: 300,
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
                    Ok(secs) => token.expiry_secs = secs,
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
