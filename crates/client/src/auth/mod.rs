//! Authentication: `WWW-Authenticate` challenges ([`challenge`]), Basic credentials and Bearer
//! tokens, and what the client remembers of them per registry.
//!
//! The flow lives in the client's request path (`http.rs`): a request goes out with whatever
//! the cache holds for its host and scopes; a `401` is answered by reading the challenge,
//! getting a token (or using Basic credentials) and sending the request again, once more when
//! the registry asks for a wider scope (`insufficient_scope`). Tokens expire by their
//! `expires_in` (at least 60 s), so a long transfer gets a new one when it needs it.

mod basic;
pub(crate) mod cache;
pub mod challenge;
pub(crate) mod token;

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};

use crate::auth::challenge::Challenge;
use crate::client::Inner;
use crate::credentials;
use crate::error::ClientError;

/// Tokens are dropped this long before they expire (or at half their life, if that is later),
/// so none expires on the wire.
const EXPIRY_MARGIN: Duration = Duration::from_secs(10);

/// The `Authorization` header to send to `host` for `scopes`, from what the cache holds.
pub(crate) fn authorization(inner: &Inner, host: &str, scopes: &[String]) -> Option<HeaderValue> {
    let challenge = inner.auth.challenge(host)?;
    if challenge.is("bearer") {
        inner.auth.token(host, scopes, Instant::now())
    } else if challenge.is("basic") {
        let credential = inner.auth.credential(host).flatten()?;
        basic::header(credential.username(), credential.secret())
    } else {
        None
    }
}

/// Answers a `401` from `host` carrying `challenges`: returns whether the request is worth
/// sending again, with what is now in the cache. `refused` says the request already carried
/// credentials: Basic ones the registry refused are not sent again.
pub(crate) async fn answer(
    inner: &Inner,
    host: &str,
    challenges: &[Challenge],
    scopes: &[String],
    refused: bool,
) -> Result<bool, ClientError> {
    let credential = match inner.auth.credential(host) {
        Some(known) => known,
        None => {
            let found = credentials::resolve(&inner.config, host).await?;
            inner.auth.set_credential(host, found.clone());
            found
        }
    };
    if let Some(bearer) = challenges.iter().find(|c| c.is("bearer")) {
        inner.auth.set_challenge(host, bearer.clone());
        let mut wanted: Vec<String> = scopes.to_vec();
        if let Some(asked) = bearer.param("scope") {
            for scope in asked.split(' ').filter(|s| !s.is_empty()) {
                if !wanted.iter().any(|w| w == scope) {
                    wanted.push(scope.to_owned());
                }
            }
        }
        let received = Instant::now();
        let token = token::fetch(inner, bearer, &wanted, credential.as_ref()).await?;
        let Ok(mut header) = HeaderValue::from_str(&format!("Bearer {}", token.value)) else {
            return Err(ClientError::Auth {
                url: bearer.param("realm").unwrap_or_default().to_owned(),
                what: "the token is not a valid header value",
            });
        };
        header.set_sensitive(true);
        let usable = token
            .lifetime
            .saturating_sub(EXPIRY_MARGIN)
            .max(token.lifetime / 2);
        let expires_at = received + usable;
        inner.auth.set_token(host, &wanted, header, expires_at);
        return Ok(true);
    }
    if let Some(basic) = challenges.iter().find(|c| c.is("basic")) {
        inner.auth.set_challenge(host, basic.clone());
        return Ok(credential.is_some() && !refused);
    }
    Ok(false)
}

/// Forgets the token `header` the registry just refused on `host`.
pub(crate) fn forget(inner: &Inner, host: &str, header: &HeaderValue) {
    inner.auth.forget(host, header);
}

/// The header credentials travel in.
pub(crate) const HEADER: reqwest::header::HeaderName = AUTHORIZATION;
