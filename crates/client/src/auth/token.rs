//! Bearer tokens from a registry's token service: OAuth2 `POST` with a refresh token, or with
//! the password when [`ClientConfig::oauth2_password_grant`](crate::ClientConfig) asks (falling
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
    #[serde(default)]
    issued_at: Option<String>,
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
    let grant = match credential {
        Some(Credential::IdentityToken { token, .. }) => Some(format!(
            "grant_type=refresh_token&refresh_token={}",
            query_value(token)
        )),
        Some(Credential::Basic { username, password }) if inner.config.oauth2_password_grant => {
            Some(format!(
                "grant_type=password&username={}&password={}",
                query_value(username),
                query_value(password)
            ))
        }
        _ => None,
    };
    if let Some(grant) = grant {
        let mut form = format!(
            "{grant}&client_id={}",
            query_value(&inner.config.user_agent)
        );
        if let Some(service) = service {
            form.push_str(&format!("&service={}", query_value(service)));
        }
        if !scopes.is_empty() {
            form.push_str(&format!("&scope={}", query_value(&scopes.join(" "))));
        }
        let request = inner
            .http_for(&realm_host)
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
    let mut request = inner.http_for(&realm_host).get(url);
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
    let age = parsed
        .issued_at
        .as_deref()
        .and_then(unix_seconds)
        .and_then(|issued| {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_secs();
            now.checked_sub(issued)
        })
        .map_or(Duration::ZERO, Duration::from_secs);
    Ok(Token {
        value,
        lifetime: remaining(lifetime, age),
    })
}

/// What is left of `lifetime` for a token issued `age` ago (by `issued_at`): a token is never
/// trusted for longer than its service meant, and an `issued_at` in the future (clock skew)
/// counts as now. What is left is at least a second, so the token is used once.
fn remaining(lifetime: Duration, age: Duration) -> Duration {
    lifetime.saturating_sub(age).max(Duration::from_secs(1))
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2024-05-01T12:00:00Z`, with optional
/// fractions and offset), as token services write `issued_at`.
fn unix_seconds(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let num = |range: std::ops::Range<usize>| num_in(text, range);
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't' | b' ')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            if rest.len() != 6 || rest.as_bytes()[3] != b':' {
                return None;
            }
            sign * (num_in(rest, 1..3)? * 3600 + num_in(rest, 4..6)? * 60)
        }
    };
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset;
    u64::try_from(seconds).ok()
}

/// The decimal number at `range` of `text`, digits only.
fn num_in(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    part.bytes()
        .all(|c| c.is_ascii_digit())
        .then(|| part.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_at_times_parse_as_rfc_3339() {
        let cases = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("2024-05-01T12:00:00Z", Some(1_714_564_800)),
            ("2024-05-01T12:00:00.123456789Z", Some(1_714_564_800)),
            ("2024-05-01T14:00:00+02:00", Some(1_714_564_800)),
            ("2024-05-01T07:30:00-04:30", Some(1_714_564_800)),
            ("2000-02-29T00:00:00Z", Some(951_782_400)),
            ("2024-13-01T00:00:00Z", None),
            ("2024-05-01 12:00:00", None),
            ("2024-05-01T12:00:00", None),
            ("2024-05-01T12:00:00.Z", None),
            ("1969-12-31T23:59:59Z", None),
            ("garbage", None),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(unix_seconds(text), want, "{text}");
        }
    }

    #[test]
    fn an_old_token_lives_only_what_is_left() {
        let hour = Duration::from_secs(3600);
        assert_eq!(remaining(hour, Duration::ZERO), hour);
        assert_eq!(
            remaining(hour, Duration::from_secs(600)),
            Duration::from_secs(3000)
        );
        assert_eq!(remaining(hour, 2 * hour), Duration::from_secs(1));
    }
}
