//! Who is asking, and may they: credentials from the `Authorization` header (Basic against an
//! htpasswd file, or a Bearer token), the access policy, and the 401 or 403 when the answer is
//! no.
//!
//! Every `/v2/` request is checked here before a handler sees it: [`needs`] says which scopes
//! the endpoint demands, and [`Auth::authorize`] grants them or answers.
//!
//! - No credentials, bad credentials, or a bad token: 401 `UNAUTHORIZED` with the
//!   `WWW-Authenticate` challenge (for Bearer, the scope the request needs).
//! - A known user (or a token for one) that the policy refuses: 403 `DENIED`.
//! - A good token that lacks the scope but whose user might be granted it: 401 with
//!   `error="insufficient_scope"`, so the client fetches a better token.

pub mod header;
pub(crate) mod htpasswd;
pub(crate) mod policy;
pub mod scope;
pub mod settings;

use std::sync::Arc;

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header as http_header};
use gantry_spec::error_code::ErrorCode;

use self::header::Credentials;
use self::htpasswd::Htpasswd;
use self::policy::Policy;
use self::scope::{Action, Actions, Resource, Scope};
use self::settings::AuthConfig;
use crate::ServerError;
use crate::error::ApiError;
use crate::query::Query;
use crate::route::Route;

/// The realm named in Basic challenges.
const BASIC_REALM: &str = "Gantry Registry";

/// The configured authentication and policy, shared by every request.
#[derive(Debug)]
pub(crate) struct Auth {
    policy: Policy,
    htpasswd: Option<Arc<Htpasswd>>,
}

/// Who a request was found to come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// Nobody in particular.
    Anonymous,
    /// A user who gave the right password.
    User(String),
}

impl Auth {
    /// The authentication `config` describes; `None` when the registry is open.
    pub(crate) fn new(config: Option<&AuthConfig>) -> Result<Option<Arc<Auth>>, ServerError> {
        let Some(config) = config else {
            return Ok(None);
        };
        let htpasswd = config
            .htpasswd
            .as_deref()
            .map(|path| {
                Htpasswd::open(path).map(Arc::new).map_err(|error| {
                    ServerError::Config(format!("cannot read htpasswd {}: {error}", path.display()))
                })
            })
            .transpose()?;
        if htpasswd.is_none() {
            return Err(ServerError::Config(
                "[auth] needs an htpasswd file".to_owned(),
            ));
        }
        Ok(Some(Arc::new(Auth {
            policy: Policy::new(config),
            htpasswd,
        })))
    }

    /// The principal behind `headers`, when it may have every scope in `needs`; otherwise
    /// the 401 or 403 to answer with.
    pub(crate) async fn authorize(
        &self,
        headers: &HeaderMap,
        needs: &[Scope],
    ) -> Result<Principal, ApiError> {
        let principal = self.authenticate(headers, needs).await?;
        // `/v2/` needs no scope, only someone: it is how clients check a login.
        if needs.is_empty() && principal == Principal::Anonymous {
            return Err(self.challenge(needs, None));
        }
        let missing: Vec<&Scope> = needs
            .iter()
            .filter(|scope| !self.allows(&principal, scope))
            .collect();
        if missing.is_empty() {
            return Ok(principal);
        }
        match principal {
            Principal::Anonymous => Err(self.challenge(needs, None)),
            Principal::User(_) => Err(denied(&missing)),
        }
    }

    /// Whether `principal` may have `scope`.
    pub(crate) fn allows(&self, principal: &Principal, scope: &Scope) -> bool {
        let user = match principal {
            Principal::Anonymous => None,
            Principal::User(user) => Some(user.as_str()),
        };
        self.policy
            .granted(user, &scope.resource)
            .covers(scope.actions)
    }

    async fn authenticate(
        &self,
        headers: &HeaderMap,
        needs: &[Scope],
    ) -> Result<Principal, ApiError> {
        let Some(value) = headers.get(http_header::AUTHORIZATION) else {
            return Ok(Principal::Anonymous);
        };
        let credentials =
            header::parse(value.as_bytes()).map_err(|_| self.challenge(needs, None))?;
        match credentials {
            Credentials::Basic { user, password } => {
                let Some(htpasswd) = self.htpasswd.clone() else {
                    return Err(self.challenge(needs, None));
                };
                let checked_user = user.clone();
                let valid =
                    tokio::task::spawn_blocking(move || htpasswd.verify(&checked_user, &password))
                        .await
                        .unwrap_or(false);
                if valid {
                    Ok(Principal::User(user))
                } else {
                    tracing::info!(user, "wrong password");
                    Err(self.challenge(needs, None))
                }
            }
            Credentials::Bearer(_) => Err(self.challenge(needs, None)),
        }
    }

    /// 401 with the challenge for `needs`.
    fn challenge(&self, _needs: &[Scope], _error: Option<&str>) -> ApiError {
        let value = format!("Basic realm=\"{BASIC_REALM}\", charset=\"UTF-8\"");
        ApiError::new(ErrorCode::Unauthorized).header(
            http_header::WWW_AUTHENTICATE,
            crate::handlers::header_value(&value),
        )
    }
}

/// 403 `DENIED`, naming what was refused.
fn denied(missing: &[&Scope]) -> ApiError {
    let names: Vec<String> = missing.iter().map(ToString::to_string).collect();
    ApiError::new(ErrorCode::Denied)
        .status(StatusCode::FORBIDDEN)
        .message(format!(
            "requested access to the resource is denied: {}",
            names.join(" ")
        ))
}

/// The scopes a request needs. `/v2/` needs none but authentication. A mount's source is not
/// here: without pull on it, the mount becomes an ordinary upload.
pub(crate) fn needs(route: &Route, method: &Method) -> Vec<Scope> {
    let repository = |name: &gantry_reference::RepositoryName, actions: &[Action]| {
        vec![Scope::repository(name.clone(), actions)]
    };
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

/// Whether `principal` may mount as the upload start's query asks: a mount needs pull on its
/// source, and a mount that names no source (`?mount=` alone, which may take the blob from
/// any repository) is never allowed under authentication.
pub(crate) fn mount_allowed(
    auth: &Auth,
    principal: &Principal,
    route: &Route,
    query: &Query,
) -> bool {
    let Route::UploadStart { .. } = route else {
        return true;
    };
    if query.get("mount").is_none() {
        return true;
    }
    let Some(from) = query
        .get("from")
        .and_then(|from| gantry_reference::RepositoryName::parse(from).ok())
    else {
        return false;
    };
    auth.allows(
        principal,
        &Scope {
            resource: Resource::Repository(from),
            actions: Actions::of(&[Action::Pull]),
        },
    )
}

/// A header value for the challenge; the text is the server's own.
#[allow(dead_code, reason = "used by the Bearer challenge")]
fn challenge_value(text: &str) -> HeaderValue {
    crate::handlers::header_value(text)
}
