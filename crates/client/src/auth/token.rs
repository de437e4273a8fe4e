//! Bearer tokens from a registry's token service: OAuth2 `POST` with a refresh token (falling
//! back to `GET` on 400, 401, 404 and 405), `GET` with Basic credentials or anonymously, with
//! `service`, every `scope` and `account`.

use std::fmt;
use std::time::Duration;

use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Url};
use serde::Deserialize;

use crate::auth::basic;
use crate::auth::challenge::Challenge;
use crate::client::Inner;
use crate::credentials::Credential;
use crate::error::{ClientError, registry_error};
use crate::http::query_value;

/// The shortest lifetime a token is given, whatever the service says (the distribution token
/// specification's minimum).
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(60);

/// A token and how long it lives from when it was received.
pub(crate) struct Token {
    pub(crate) value: String,
    pub(crate) lifetime: Duration,
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("value", &"<redacted>")
            .field("lifetime", &self.lifetime)
            .finish()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
    #[serde(default)]
    expires_in: Option<u64>,
}

/// Fetches a token for `scopes` from the service `challenge` names.
pub(crate) async fn fetch(
    inner: &Inner,
    challenge: &Challenge,
    scopes: &[String],
    credential: Option<&Credential>,
) -> Result<Token, ClientError> {
    let realm = challenge.param("realm").ok_or_else(|| ClientError::Auth {
        url: String::new(),
        what: "the Bearer challenge names no realm",
    })?;
    let realm_url = Url::parse(realm).map_err(|_| ClientError::Auth {
        url: realm.to_owned(),
        what: "the token realm is not a URL",
    })?;
    let secure = match realm_url.scheme() {
        "https" => true,
        "http" => false,
        _ => {
            return Err(ClientError::Auth {
                url: realm.to_owned(),
                what: "the token realm is not an HTTP URL",
            });
        }
    };
    let realm_host = match (realm_url.host_str(), realm_url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => String::new(),
    };
    if credential.is_some() && !secure && !inner.config.allows_plain_http(&realm_host) {
        return Err(ClientError::Auth {
            url: realm.to_owned(),
            what: "refusing to send credentials to a token realm over plain HTTP",
        });
    }
    let service = challenge.param("service");
    if let Some(Credential::IdentityToken { token, .. }) = credential {
        let mut form = format!(
            "grant_type=refresh_token&refresh_token={}&client_id={}",
            query_value(token),
            query_value(&inner.config.user_agent)
        );
        if let Some(service) = service {
            form.push_str(&format!("&service={}", query_value(service)));
        }
        if !scopes.is_empty() {
            form.push_str(&format!("&scope={}", query_value(&scopes.join(" "))));
        }
        let request = inner
            .http
            .post(realm_url.clone())
            .header(
                CONTENT_TYPE,
                HeaderValue::from_static("application/x-www-form-urlencoded"),
            )
            .body(form);
        match exchange(inner, Method::POST, realm, request).await {
            Err(error) if matches!(error.status(), Some(400 | 401 | 404 | 405)) => {
                tracing::debug!(status = error.status(), "token POST refused; trying GET");
            }
            outcome => return outcome,
        }
    }
    let mut url = realm_url;
    {
        let mut query = String::new();
        if let Some(existing) = url.query() {
            query.push_str(existing);
        }
        let mut add = |name: &str, value: &str| {
            if !query.is_empty() {
                query.push('&');
            }
            query.push_str(name);
            query.push('=');
            query.push_str(&query_value(value));
        };
        if let Some(service) = service {
            add("service", service);
        }
        for scope in scopes {
            add("scope", scope);
        }
        if let Some(credential) = credential
            && !credential.username().is_empty()
        {
            add("account", credential.username());
        }
        url.set_query((!query.is_empty()).then_some(query.as_str()));
    }
    let mut request = inner.http.get(url);
    if let Some(credential) = credential
        && let Some(header) = basic::header(credential.username(), credential.secret())
    {
        request = request.header(AUTHORIZATION, header);
    }
    exchange(inner, Method::GET, realm, request).await
}

/// Sends a token request and reads the token from its answer.
async fn exchange(
    inner: &Inner,
    method: Method,
    realm: &str,
    request: reqwest::RequestBuilder,
) -> Result<Token, ClientError> {
    let response = request
        .send()
        .await
        .map_err(|e| ClientError::transport(&method, realm, "asking for a token", e))?;
    let status = response.status().as_u16();
    let limit = inner.config.max_small_body;
    if !response.status().is_success() {
        let body = crate::http::read_limited(&method, realm, response, limit, "token body")
            .await
            .unwrap_or_default();
        return Err(registry_error(&method, realm, status, &body));
    }
    let body = crate::http::read_limited(&method, realm, response, limit, "token body").await?;
    let parsed: TokenResponse =
        serde_json::from_slice(&body).map_err(|source| ClientError::InvalidJson {
            url: realm.to_owned(),
            source,
        })?;
    let value = parsed
        .token
        .filter(|t| !t.is_empty())
        .or(parsed.access_token.filter(|t| !t.is_empty()))
        .ok_or_else(|| ClientError::Auth {
            url: realm.to_owned(),
            what: "the token response has neither token nor access_token",
        })?;
    let lifetime = parsed
        .expires_in
        .map_or(MIN_LIFETIME, Duration::from_secs)
        .max(MIN_LIFETIME);
    Ok(Token { value, lifetime })
}
