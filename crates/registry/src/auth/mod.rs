//! Who is asking, and may they: credentials from the `Authorization` header (Basic against an
//! htpasswd file, or a Bearer token), the access policy, and the 401 or 403 when the answer is
//! no.
//!
//! Every `/v2/` request is checked here before a handler sees it: [`needs`] says which scopes
//! the endpoint demands, and `Auth::authorize` grants them or answers.
//!
//! - No credentials, bad credentials, or a bad token: 401 `UNAUTHORIZED` with the
//!   `WWW-Authenticate` challenge (for Bearer, the scope the request needs).
//! - A known user (or a token for one) that the policy refuses: 403 `DENIED`.
//! - A good token that lacks the scope but whose user might be granted it: 401 with
//!   `error="insufficient_scope"`, so the client fetches a better token.
//!
//! Modules: [`header`] reads `Authorization`, [`jwt`] splits tokens, `keys` holds the keys
//! that sign them, `token` judges them, [`issuer`] is the built-in token realm, `policy` the
//! access rules, `htpasswd` the password file, [`scope`] what is asked and granted.

pub(crate) mod header;
pub(crate) mod htpasswd;
pub(crate) mod issuer;
pub(crate) mod jwt;
pub(crate) mod keys;
pub(crate) mod policy;
pub(crate) mod scope;
pub(crate) mod settings;
pub(crate) mod token;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, Method, StatusCode, header as http_header};
use gantry_reference::RepositoryName;
use gantry_spec::error_code::ErrorCode;

use self::header::Credentials;
use self::htpasswd::Htpasswd;
use self::issuer::{Issuer, TokenSigner};
use self::keys::KeySet;
use self::policy::Policy;
use self::scope::{Action, Actions, Resource, Scope};
use self::settings::{AuthConfig, TokenConfig};
use self::token::TokenVerifier;
use crate::error::ApiError;
use crate::http::header_value;
use crate::route::Route;
use crate::secrets::Secrets;
use crate::{Cause, ServerError};

/// The name of the built-in issuer's key among the storage's secrets.
const TOKEN_KEY: &str = "token-key.pem";

/// The realm named in Basic challenges.
const BASIC_REALM: &str = "Gantry Registry";

/// The configured authentication and policy, shared by every request.
#[derive(Debug)]
pub(crate) struct Auth {
    pub(crate) policy: Policy,
    htpasswd: Option<Arc<Htpasswd>>,
    pub(crate) bearer: Option<Bearer>,
}

/// Bearer mode: the verifier, the names in the challenge, and the built-in issuer.
#[derive(Debug)]
pub(crate) struct Bearer {
    verifier: TokenVerifier,
    realm: Option<String>,
    pub(crate) service: String,
    pub(crate) issuer_name: String,
    pub(crate) issuer: Option<Issuer>,
    /// Where the built-in issuer listens, for realms made from `Host`.
    path: String,
    scheme: &'static str,
}

/// Who a request was found to come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// Nobody in particular.
    Anonymous,
    /// A user who gave the right password.
    User(String),
    /// The holder of a verified token.
    Token {
        /// The user it was issued to; empty for anonymous.
        subject: String,
        /// What it grants.
        access: Vec<Scope>,
    },
}

/// Why a request is refused, before it is rendered.
enum Refusal {
    /// 401: authenticate (again), with `error` in a Bearer challenge.
    Challenge(Option<&'static str>),
    /// 403.
    Denied,
}

impl Auth {
    /// The authentication `config` describes; `None` when the registry is open. `secrets`
    /// keeps a generated issuer key; `tls` says which scheme realms made from `Host` use.
    pub(crate) async fn new(
        config: Option<&AuthConfig>,
        secrets: &Secrets,
        tls: bool,
    ) -> Result<Option<Arc<Auth>>, ServerError> {
        let Some(config) = config else {
            return Ok(None);
        };
        let htpasswd = config
            .htpasswd
            .as_deref()
            .map(|path| {
                Htpasswd::open(path)
                    .map(Arc::new)
                    .map_err(|error| ServerError::File {
                        what: "cannot read the htpasswd file",
                        path: path.to_owned(),
                        source: Box::new(error),
                    })
            })
            .transpose()?;
        let bearer = match &config.token {
            Some(token) => Some(Bearer::new(token, htpasswd.is_some(), secrets, tls).await?),
            None => None,
        };
        if htpasswd.is_none() && bearer.is_none() {
            return Err(ServerError::Inconsistent {
                setting: "[auth]",
                problem: "needs an htpasswd file or [auth.token]",
            });
        }
        Ok(Some(Arc::new(Auth {
            policy: Policy::new(config),
            htpasswd,
            bearer,
        })))
    }

    /// The principal behind `headers`, when it may have every scope in `needs`; otherwise
    /// the 401 or 403 to answer with. `host` is the request's host, for realms made from it.
    pub(crate) async fn authorize(
        &self,
        headers: &HeaderMap,
        host: Option<&str>,
        needs: &[Scope],
    ) -> Result<Principal, ApiError> {
        self.decide(headers, needs)
            .await
            .map_err(|refusal| match refusal {
                Refusal::Challenge(error) => self.challenge(host, needs, error),
                Refusal::Denied => denied(needs),
            })
    }

    async fn decide(&self, headers: &HeaderMap, needs: &[Scope]) -> Result<Principal, Refusal> {
        let principal = self.authenticate(headers).await?;
        // `/v2/` needs no scope, only someone: it is how clients check a login.
        if needs.is_empty() && principal == Principal::Anonymous {
            return Err(Refusal::Challenge(None));
        }
        let missing: Vec<&Scope> = needs
            .iter()
            .filter(|scope| !self.allows(&principal, scope))
            .collect();
        if missing.is_empty() {
            return Ok(principal);
        }
        match &principal {
            Principal::Anonymous => Err(Refusal::Challenge(None)),
            Principal::User(_) => Err(Refusal::Denied),
            Principal::Token { subject, .. } => {
                // A token from our own issuer names a user whose rights we know: when the
                // policy would never grant the scope, a new token will not help.
                let own_issuer = self.bearer.as_ref().is_some_and(|b| b.issuer.is_some());
                let hopeless = own_issuer
                    && !subject.is_empty()
                    && missing.iter().any(|scope| {
                        !self
                            .policy
                            .granted(Some(subject), &scope.resource)
                            .covers(scope.actions)
                    });
                if hopeless {
                    Err(Refusal::Denied)
                } else {
                    Err(Refusal::Challenge(Some("insufficient_scope")))
                }
            }
        }
    }

    /// Whether `principal` may have `scope`.
    pub(crate) fn allows(&self, principal: &Principal, scope: &Scope) -> bool {
        let (user, token_grants) = match principal {
            Principal::Anonymous => (None, Actions::NONE),
            Principal::User(user) => (Some(user.as_str()), Actions::NONE),
            Principal::Token { access, .. } => (
                None,
                access
                    .iter()
                    .filter(|granted| granted.resource == scope.resource)
                    .fold(Actions::NONE, |set, granted| set.union(granted.actions)),
            ),
        };
        self.policy
            .granted(user, &scope.resource)
            .union(token_grants)
            .covers(scope.actions)
    }

    async fn authenticate(&self, headers: &HeaderMap) -> Result<Principal, Refusal> {
        let Some(value) = headers.get(http_header::AUTHORIZATION) else {
            return Ok(Principal::Anonymous);
        };
        let credentials = header::parse(value.as_bytes())
            .map_err(|_| Refusal::Challenge(Some("invalid_request")))?;
        match (credentials, &self.bearer) {
            (Credentials::Basic { user, password }, None) => {
                if self.check_password(&user, password).await {
                    Ok(Principal::User(user))
                } else {
                    tracing::info!(user, "wrong password");
                    Err(Refusal::Challenge(None))
                }
            }
            (Credentials::Bearer(token), Some(bearer)) => {
                match bearer.verifier.verify(&token, SystemTime::now()) {
                    Ok(verified) => Ok(Principal::Token {
                        subject: verified.subject,
                        access: verified.access,
                    }),
                    Err(error) => {
                        tracing::info!(%error, "token refused");
                        Err(Refusal::Challenge(Some("invalid_token")))
                    }
                }
            }
            // A scheme this registry does not take: ask again in the one it does.
            _ => Err(Refusal::Challenge(None)),
        }
    }

    /// Whether `password` is `user`'s in the htpasswd file (bcrypt runs off the runtime).
    pub(crate) async fn check_password(&self, user: &str, password: String) -> bool {
        let Some(htpasswd) = self.htpasswd.clone() else {
            return false;
        };
        let user = user.to_owned();
        tokio::task::spawn_blocking(move || htpasswd.verify(&user, &password))
            .await
            .unwrap_or(false)
    }

    /// 401 with the Basic challenge.
    pub(crate) fn basic_challenge(&self) -> ApiError {
        let value = format!("Basic realm=\"{BASIC_REALM}\", charset=\"UTF-8\"");
        ApiError::new(ErrorCode::Unauthorized)
            .header(http_header::WWW_AUTHENTICATE, header_value(&value))
    }

    /// 401 with the challenge for `needs`.
    fn challenge(&self, host: Option<&str>, needs: &[Scope], error: Option<&str>) -> ApiError {
        let Some(bearer) = &self.bearer else {
            return self.basic_challenge();
        };
        let mut value = format!(
            "Bearer realm=\"{}\",service=\"{}\"",
            bearer.realm(host),
            bearer.service
        );
        if !needs.is_empty() {
            let scopes: Vec<String> = needs.iter().map(ToString::to_string).collect();
            value.push_str(&format!(",scope=\"{}\"", scopes.join(" ")));
        }
        if let Some(error) = error {
            value.push_str(&format!(",error=\"{error}\""));
        }
        ApiError::new(ErrorCode::Unauthorized)
            .header(http_header::WWW_AUTHENTICATE, header_value(&value))
    }
}

impl Bearer {
    async fn new(
        config: &TokenConfig,
        has_htpasswd: bool,
        secrets: &Secrets,
        tls: bool,
    ) -> Result<Bearer, ServerError> {
        let mut keys = KeySet::default();
        if let Some(bundle) = &config.root_certificate_bundle {
            keys.add_bundle(bundle)
                .map_err(|error| key_file("root_certificate_bundle", bundle, error))?;
        }
        if let Some(jwks) = &config.jwks {
            keys.add_jwks(jwks)
                .map_err(|error| key_file("jwks", jwks, error))?;
        }
        let issuer = if config.issue {
            if !has_htpasswd {
                return Err(ServerError::Inconsistent {
                    setting: "[auth.token] issue = true",
                    problem: "needs [auth] htpasswd",
                });
            }
            if !config.path.starts_with('/') || config.path.starts_with("/v2") {
                return Err(ServerError::Inconsistent {
                    setting: "[auth.token] path",
                    problem: "must start with / and lie outside /v2",
                });
            }
            let signer = signing_key(config.signing_key.as_deref(), secrets).await?;
            keys.add(signer.trusted_key());
            Some(Issuer {
                signer,
                expiry: config.expiry.max(Duration::from_secs(1)),
            })
        } else {
            if config.realm.is_none() {
                return Err(ServerError::Inconsistent {
                    setting: "[auth.token]",
                    problem: "needs a realm, or issue = true",
                });
            }
            None
        };
        if keys.is_empty() {
            return Err(ServerError::Inconsistent {
                setting: "[auth.token]",
                problem: "needs root_certificate_bundle, jwks or issue = true",
            });
        }
        Ok(Bearer {
            verifier: TokenVerifier::new(keys, &config.issuer, &config.service),
            realm: config.realm.clone(),
            service: config.service.clone(),
            issuer_name: config.issuer.clone(),
            issuer,
            path: config.path.clone(),
            scheme: if tls { "https" } else { "http" },
        })
    }

    /// Where the built-in issuer is served.
    pub(crate) fn issuer_path(&self) -> &str {
        &self.path
    }

    /// The realm for a challenge: the configured one, else the built-in issuer's URL on the
    /// host the client used (when it is a plain host name or address).
    fn realm(&self, host: Option<&str>) -> String {
        if let Some(realm) = &self.realm {
            return realm.clone();
        }
        let host = host
            .filter(|host| {
                !host.is_empty()
                    && host.len() <= 255
                    && host
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b))
            })
            .unwrap_or("localhost");
        format!("{}://{host}{}", self.scheme, self.path)
    }
}

/// The issuer's key: from the configured file, else the one kept in the storage's secrets
/// (`<root>/gantry/token-key.pem` on the filesystem), made on first use.
async fn signing_key(path: Option<&Path>, secrets: &Secrets) -> Result<TokenSigner, ServerError> {
    if let Some(path) = path {
        let bad = |error: Cause| ServerError::File {
            what: "token signing key",
            path: path.to_owned(),
            source: error,
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.into()))?;
        return TokenSigner::from_pem(&pem).map_err(|e| bad(e.into()));
    }
    // Whichever key landed first (another server may share the storage) is the one.
    secrets
        .read_or_make(
            TOKEN_KEY,
            "token signing key",
            || Ok(TokenSigner::generate().map(|(_, pem)| pem.into_bytes())?),
            |pem| Ok(TokenSigner::from_pem(pem)?),
        )
        .await
}

/// A key file of `[auth.token]` that could not be loaded.
fn key_file(setting: &'static str, path: &Path, error: keys::LoadError) -> ServerError {
    ServerError::File {
        what: setting,
        path: path.to_owned(),
        source: error.into(),
    }
}

/// 403 `DENIED`, naming what was asked.
fn denied(needs: &[Scope]) -> ApiError {
    let names: Vec<String> = needs.iter().map(ToString::to_string).collect();
    ApiError::new(ErrorCode::Denied)
        .status(StatusCode::FORBIDDEN)
        .message(format!(
            "requested access to the resource is denied: {}",
            names.join(" ")
        ))
}

/// The scopes a request needs. `/v2/` needs none but authentication. A mount's source is not
/// here: see `Auth::may_mount_from`.
pub(crate) fn needs(route: &Route, method: &Method) -> Vec<Scope> {
    let repository =
        |name: &RepositoryName, actions: &[Action]| vec![Scope::repository(name.clone(), actions)];
    let read = method == Method::GET || method == Method::HEAD;
    match route {
        Route::Base => Vec::new(),
        Route::Catalog => vec![Scope::catalog()],
        Route::Tags { name } | Route::Referrers { name, .. } => repository(name, &[Action::Pull]),
        Route::Manifest { name, .. } | Route::Blob { name, .. } if read => {
            repository(name, &[Action::Pull])
        }
        Route::Manifest { name, .. } | Route::Blob { name, .. } if method == Method::DELETE => {
            repository(name, &[Action::Delete])
        }
        Route::Manifest { name, .. }
        | Route::Blob { name, .. }
        | Route::UploadStart { name }
        | Route::Upload { name, .. } => repository(name, &[Action::Pull, Action::Push]),
    }
}

impl Auth {
    /// Whether `principal` may mount a blob from `source`, as an upload start's query asks: a
    /// mount needs pull on its source, and a mount that names no source (`?mount=` alone,
    /// which may take the blob from any repository) is never allowed under authentication.
    pub(crate) fn may_mount_from(
        &self,
        principal: &Principal,
        source: Option<RepositoryName>,
    ) -> bool {
        let Some(from) = source else {
            return false;
        };
        self.allows(
            principal,
            &Scope {
                resource: Resource::Repository(from),
                actions: Actions::of(&[Action::Pull]),
            },
        )
    }
}
