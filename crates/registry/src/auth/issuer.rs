//! The built-in token issuer: `gantry serve` as its own token realm, so one binary gives
//! clients the whole Bearer flow. It authenticates with the htpasswd file (HTTP Basic on GET,
//! the OAuth2 password grant on POST), grants each requested scope as far as the access
//! policy allows, and signs an ES256 token the registry's verifier trusts.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use gantry_spec::error_code::ErrorCode;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use rustls::pki_types::PrivatePkcs8KeyDer;
use rustls::pki_types::pem::PemObject;

use super::Auth;
use super::header::{self as authorization, Credentials};
use super::keys::{Curve, PublicKey, TrustedKey, libtrust_key_id, p256_spki};
use super::scope::{Resource, Scope};
use crate::error::ApiError;
use crate::query::Query;

/// The largest form body the POST grant reads.
const MAX_FORM: usize = 64 * 1024;

/// An ES256 signing key and its libtrust key id.
pub struct TokenSigner {
    key: EcdsaKeyPair,
    kid: String,
}

impl std::fmt::Debug for TokenSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSigner")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// Why a signing key could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignerError {
    /// The text is not a PKCS#8 PEM.
    #[error("token signing key: not a PKCS#8 PEM")]
    Pem(#[source] rustls::pki_types::pem::Error),
    /// The key is not an ECDSA P-256 key; `reason` is the cryptography library's word.
    #[error("token signing key: not an ECDSA P-256 key ({reason})")]
    Key {
        /// Why the key was rejected.
        reason: String,
    },
    /// No key could be generated (the cryptography library gives no reason).
    #[error("token signing key: cannot generate a key")]
    Generate,
    /// Signing failed (the cryptography library gives no reason).
    #[error("token signing failed")]
    Sign,
}

impl TokenSigner {
    /// The key of a PKCS#8 PEM (`PRIVATE KEY`) of an ECDSA P-256 key.
    pub fn from_pem(pem: &[u8]) -> Result<TokenSigner, SignerError> {
        let der = PrivatePkcs8KeyDer::from_pem_slice(pem).map_err(SignerError::Pem)?;
        let key = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            der.secret_pkcs8_der(),
            &SystemRandom::new(),
        )
        .map_err(|rejected| SignerError::Key {
            reason: rejected.to_string(),
        })?;
        let kid = libtrust_key_id(&p256_spki(key.public_key().as_ref()));
        Ok(TokenSigner { key, kid })
    }

    /// A new key, and its PKCS#8 PEM to keep.
    pub fn generate() -> Result<(TokenSigner, String), SignerError> {
        let pkcs8 =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &SystemRandom::new())
                .map_err(|_| SignerError::Generate)?;
        let pem = pem_encode("PRIVATE KEY", pkcs8.as_ref());
        Ok((TokenSigner::from_pem(pem.as_bytes())?, pem))
    }

    /// The key id tokens carry in `kid`.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// A compact ES256 token over the JSON object `claims`.
    pub fn sign(&self, claims: &[u8]) -> Result<String, SignerError> {
        let header = format!(r#"{{"typ":"JWT","alg":"ES256","kid":"{}"}}"#, self.kid);
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let signature = self
            .key
            .sign(&SystemRandom::new(), input.as_bytes())
            .map_err(|_| SignerError::Sign)?;
        Ok(format!(
            "{input}.{}",
            URL_SAFE_NO_PAD.encode(signature.as_ref())
        ))
    }

    /// The public half, for the verifier.
    pub(crate) fn trusted_key(&self) -> TrustedKey {
        TrustedKey {
            kid: Some(self.kid.clone()),
            key: PublicKey::Ec(Curve::P256, self.key.public_key().as_ref().to_vec()),
        }
    }
}

/// `der` as PEM with `label`.
fn pem_encode(label: &str, der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(line));
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

/// The issuer's settings and key.
#[derive(Debug)]
pub(crate) struct Issuer {
    pub(crate) signer: TokenSigner,
    pub(crate) expiry: Duration,
}

/// A token request: who (when anyone) and which scopes.
struct TokenRequest {
    credentials: Option<(String, String)>,
    service: Option<String>,
    scopes: Vec<String>,
}

/// GET (HTTP Basic, `?service=&scope=`) or POST (an OAuth2 password grant form) on the
/// issuer's path.
pub(crate) async fn issue(State(auth): State<Arc<Auth>>, request: Request) -> Response {
    match issue_token(&auth, request).await {
        Ok(response) => response,
        Err(error) => error.into_response(),
    }
}

async fn issue_token(auth: &Auth, request: Request) -> Result<Response, ApiError> {
    let Some(bearer) = auth.bearer.as_ref() else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let Some(issuer) = bearer.issuer.as_ref() else {
        return Ok(StatusCode::NOT_FOUND.into_response());
    };
    let (parts, body) = request.into_parts();
    let request = match parts.method {
        Method::GET => get_request(&parts.headers, parts.uri.query())?,
        Method::POST => post_request(body).await?,
        _ => {
            return Err(ApiError::new(ErrorCode::Unsupported)
                .message("the token endpoint takes GET and POST"));
        }
    };
    if let Some(service) = &request.service
        && *service != bearer.service
    {
        return Err(ApiError::new(ErrorCode::Denied)
            .status(StatusCode::BAD_REQUEST)
            .message(format!("this issuer serves {:?}", bearer.service)));
    }
    let user = match request.credentials {
        None => None,
        Some((user, password)) => {
            if !auth.check_password(&user, password).await {
                tracing::info!(user, "token refused: wrong password");
                return Err(auth.basic_challenge());
            }
            Some(user)
        }
    };
    let mut access = Vec::new();
    for text in request.scopes.iter().flat_map(|s| s.split(' ')) {
        let Some(scope) = Scope::parse(text) else {
            continue;
        };
        let granted = auth
            .policy
            .granted(user.as_deref(), &scope.resource)
            .intersection(scope.actions);
        let actions: Vec<&str> = match scope.resource {
            Resource::Catalog if !granted.is_empty() => vec!["*"],
            _ => granted.iter().map(|action| action.as_str()).collect(),
        };
        access.push(serde_json::json!({
            "type": scope.kind(), "name": scope.name(), "actions": actions,
        }));
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let mut jti = [0u8; 16];
    getrandom::fill(&mut jti).map_err(|_| ApiError::new(ErrorCode::Unknown))?;
    let claims = serde_json::json!({
        "iss": bearer.issuer_name,
        "sub": user.clone().unwrap_or_default(),
        "aud": bearer.service,
        "exp": now + issuer.expiry.as_secs(),
        "nbf": now,
        "iat": now,
        "jti": URL_SAFE_NO_PAD.encode(jti),
        "access": access,
    });
    let token = issuer
        .signer
        .sign(claims.to_string().as_bytes())
        .map_err(|error| {
            tracing::error!(%error, "cannot sign a token");
            ApiError::new(ErrorCode::Unknown)
        })?;
    tracing::info!(
        user = user.as_deref().unwrap_or(""),
        scopes = access.len(),
        "token issued"
    );
    let body = serde_json::json!({
        "token": token,
        "access_token": token,
        "expires_in": issuer.expiry.as_secs(),
    });
    Ok((
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        axum::Json(body),
    )
        .into_response())
}

fn get_request(
    headers: &axum::http::HeaderMap,
    query: Option<&str>,
) -> Result<TokenRequest, ApiError> {
    let query = Query::parse(query);
    let credentials = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => match authorization::parse(value.as_bytes()) {
            Ok(Credentials::Basic { user, password }) => Some((user, password)),
            _ => {
                return Err(ApiError::new(ErrorCode::Unauthorized)
                    .message("the token endpoint takes HTTP Basic credentials"));
            }
        },
    };
    Ok(TokenRequest {
        credentials,
        service: query.get("service").map(str::to_owned),
        scopes: query.all("scope").map(str::to_owned).collect(),
    })
}

async fn post_request(body: Body) -> Result<TokenRequest, ApiError> {
    let form = crate::http::read_limited(&axum::http::HeaderMap::new(), body, MAX_FORM).await?;
    let form = Query::parse(Some(&String::from_utf8_lossy(&form)));
    let grant = form.get("grant_type").unwrap_or_default();
    if grant != "password" {
        return Err(ApiError::new(ErrorCode::Unsupported)
            .status(StatusCode::BAD_REQUEST)
            .message(format!("unsupported grant_type {grant:?}: only password")));
    }
    let user = form.get("username").unwrap_or_default();
    if user.is_empty() {
        return Err(ApiError::new(ErrorCode::Unauthorized).message("username is required"));
    }
    Ok(TokenRequest {
        credentials: Some((
            user.to_owned(),
            form.get("password").unwrap_or_default().to_owned(),
        )),
        service: form.get("service").map(str::to_owned),
        scopes: form.all("scope").map(str::to_owned).collect(),
    })
}
