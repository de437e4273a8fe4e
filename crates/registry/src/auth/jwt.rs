//! JSON Web Tokens in compact form (RFC 7515, RFC 7519): the three parts split and decoded,
//! the header read, nothing trusted yet. A token is read before anyone is authenticated, so
//! this is bounded and never panics (fuzz target `jwt_header`).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Deserialize;

/// The longest token read.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// The signature algorithms a token may name. `none` and the HMAC family are not among them:
/// a registry shares no secret with its token service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256.
    Ps256,
    /// RSASSA-PSS with SHA-384.
    Ps384,
    /// RSASSA-PSS with SHA-512.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// ECDSA on P-521 with SHA-512.
    Es512,
    /// Ed25519.
    EdDsa,
}

impl Algorithm {
    /// The algorithm's name in a JOSE header.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    fn parse(name: &str) -> Option<Algorithm> {
        [
            Algorithm::Rs256,
            Algorithm::Rs384,
            Algorithm::Rs512,
            Algorithm::Ps256,
            Algorithm::Ps384,
            Algorithm::Ps512,
            Algorithm::Es256,
            Algorithm::Es384,
            Algorithm::Es512,
            Algorithm::EdDsa,
        ]
        .into_iter()
        .find(|alg| alg.as_str() == name)
    }
}

/// A token's JOSE header, as far as verification needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The signature algorithm.
    pub alg: Algorithm,
    /// The signing key's identifier, when named.
    pub kid: Option<String>,
    /// The signing certificate and its chain (DER, leaf first), when sent.
    pub x5c: Vec<Vec<u8>>,
}

/// A token split into its parts: the header read, the claims decoded but not yet judged.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    /// The header.
    pub header: Header,
    /// The claims' JSON bytes.
    pub claims: Vec<u8>,
    /// What the signature covers: `<header>.<claims>` as sent.
    pub signing_input: &'a str,
    /// The signature's bytes.
    pub signature: Vec<u8>,
}

/// Why a token could not be read or was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    /// Not three base64url parts, or longer than [`MAX_TOKEN_LEN`].
    #[error("malformed token")]
    Malformed,
    /// The header is not a JSON object of the expected form.
    #[error("malformed token header")]
    MalformedHeader,
    /// `none`, an HMAC algorithm, or an unknown one.
    #[error("unsupported signature algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// The header lists critical extensions this server does not implement.
    #[error("unsupported critical header parameters")]
    UnsupportedCritical,
    /// No trusted key verifies the signature.
    #[error("the signature does not verify")]
    BadSignature,
    /// The `x5c` chain does not lead to a trusted root.
    #[error("untrusted certificate chain")]
    UntrustedChain,
    /// The claims are not a JSON object of the expected form.
    #[error("malformed claims")]
    MalformedClaims,
    /// `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// `aud` does not name this service.
    #[error("wrong audience")]
    WrongAudience,
    /// `exp` is past (with the leeway), or absent.
    #[error("the token expired")]
    Expired,
    /// `nbf` is still ahead (with the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
}

#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    x5c: Option<Vec<String>>,
    #[serde(default)]
    crit: Option<serde_json::Value>,
}

/// The most certificates an `x5c` chain may hold.
const MAX_CHAIN: usize = 8;

/// Splits and decodes a compact token, and reads its header.
pub fn parse(token: &str) -> Result<Jws<'_>, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(header), Some(claims), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwtError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwtError::Malformed)
    };
    let header_json = decode(header)?;
    let raw: RawHeader =
        serde_json::from_slice(&header_json).map_err(|_| JwtError::MalformedHeader)?;
    let alg = Algorithm::parse(&raw.alg).ok_or(JwtError::UnsupportedAlgorithm(raw.alg))?;
    if raw.crit.is_some() {
        return Err(JwtError::UnsupportedCritical);
    }
    let chain = raw.x5c.unwrap_or_default();
    if chain.len() > MAX_CHAIN {
        return Err(JwtError::MalformedHeader);
    }
    let x5c = chain
        .iter()
        .map(|cert| STANDARD.decode(cert).map_err(|_| JwtError::MalformedHeader))
        .collect::<Result<Vec<_>, _>>()?;
    let signature = decode(signature)?;
    Ok(Jws {
        header: Header {
            alg,
            kid: raw.kid,
            x5c,
        },
        claims: decode(claims)?,
        signing_input: &token[..header.len() + 1 + claims.len()],
        signature,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        URL_SAFE_NO_PAD.encode(s)
    }

    #[test]
    fn tokens_split_and_headers_read() {
        let token = format!(
            "{}.{}.{}",
            b64(r#"{"alg":"ES256","kid":"k1"}"#),
            b64("{}"),
            b64("sig")
        );
        let jws = parse(&token).unwrap();
        assert_eq!(jws.header.alg, Algorithm::Es256);
        assert_eq!(jws.header.kid.as_deref(), Some("k1"));
        assert_eq!(jws.signature, b"sig");
        assert_eq!(jws.claims, b"{}");
        assert_eq!(jws.signing_input, &token[..token.rfind('.').unwrap()]);

        let cases = [
            (
                format!("{}.{}.", b64(r#"{"alg":"none"}"#), b64("{}")),
                JwtError::UnsupportedAlgorithm("none".into()),
            ),
            (
                format!("{}.{}.x", b64(r#"{"alg":"HS256"}"#), b64("{}")),
                JwtError::UnsupportedAlgorithm("HS256".into()),
            ),
            (
                format!(
                    "{}.{}.x",
                    b64(r#"{"alg":"RS256","crit":["b64"]}"#),
                    b64("{}")
                ),
                JwtError::UnsupportedCritical,
            ),
            (
                format!("{}.{}.x", b64(r#"{"alg":"RS256","x5c":["!!"]}"#), b64("{}")),
                JwtError::MalformedHeader,
            ),
            (
                format!("{}.{}.x", b64(r#"{"kid":"x"}"#), b64("{}")),
                JwtError::MalformedHeader,
            ),
            (
                format!("{}.{}.x", b64("[]"), b64("{}")),
                JwtError::MalformedHeader,
            ),
            ("a.b".to_owned(), JwtError::Malformed),
            ("a.b.c.d".to_owned(), JwtError::Malformed),
            ("***.b.c".to_owned(), JwtError::Malformed),
            ("x".repeat(MAX_TOKEN_LEN + 1), JwtError::Malformed),
        ];
        for (token, expected) in cases {
            assert_eq!(parse(&token).unwrap_err(), expected, "{token}");
        }
    }
}
