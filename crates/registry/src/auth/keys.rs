//! The keys tokens may be signed with: certificates from a PEM bundle (which are also the
//! roots an `x5c` chain must lead to), a JSON Web Key Set, and the built-in issuer's own key.
//! Signatures are checked with ring, the crypto rustls already uses.

use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::jwt::{Algorithm, Header, JwtError};

/// A public key, in the form ring takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PublicKey {
    /// RSA, as the DER `RSAPublicKey` of a certificate.
    RsaDer(Vec<u8>),
    /// RSA, as the modulus and exponent of a JWK.
    RsaComponents {
        /// The modulus, big-endian.
        n: Vec<u8>,
        /// The public exponent, big-endian.
        e: Vec<u8>,
    },
    /// ECDSA on a curve: the uncompressed point.
    Ec(Curve, Vec<u8>),
    /// Ed25519: the 32-byte key.
    Ed25519(Vec<u8>),
}

/// The elliptic curves of ES256, ES384 and ES512.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Curve {
    P256,
    P384,
    P521,
}

impl PublicKey {
    /// Whether `signature` over `message` verifies with this key under `alg`. A key of the
    /// wrong kind for `alg` never verifies.
    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], signature: &[u8]) -> bool {
        use Algorithm::*;
        let rsa: Option<&'static signature::RsaParameters> = match alg {
            Rs256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            Rs384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            Rs512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            Ps256 => Some(&signature::RSA_PSS_2048_8192_SHA256),
            Ps384 => Some(&signature::RSA_PSS_2048_8192_SHA384),
            Ps512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        match (self, rsa, alg) {
            (PublicKey::RsaDer(der), Some(params), _) => UnparsedPublicKey::new(params, der)
                .verify(message, signature)
                .is_ok(),
            (PublicKey::RsaComponents { n, e }, Some(params), _) => RsaPublicKeyComponents { n, e }
                .verify(params, message, signature)
                .is_ok(),
            (PublicKey::Ec(Curve::P256, point), None, Es256) => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (PublicKey::Ec(Curve::P384, point), None, Es384) => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, signature)
                    .is_ok()
            }
            (PublicKey::Ed25519(key), None, EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, key)
                    .verify(message, signature)
                    .is_ok()
            }
            // ring has no P-521; RustCrypto's p521 verifies ES512.
            (PublicKey::Ec(Curve::P521, point), None, Es512) => {
                verify_p521(point, message, signature)
            }
            _ => false,
        }
    }

    /// The key in a DER `SubjectPublicKeyInfo`.
    pub(crate) fn from_spki(spki: &[u8]) -> Option<PublicKey> {
        let (outer, _) = der_element(spki, 0x30)?;
        let (algorithm, rest) = der_element(outer, 0x30)?;
        let (bits, _) = der_element(rest, 0x03)?;
        let (&unused, key) = bits.split_first()?;
        if unused != 0 {
            return None;
        }
        let key = key.to_vec();
        Some(match algorithm {
            RSA_ENCRYPTION => PublicKey::RsaDer(key),
            a if a.starts_with(EC_PUBLIC_KEY) => {
                let curve = match &a[EC_PUBLIC_KEY.len()..] {
                    P256_OID => Curve::P256,
                    P384_OID => Curve::P384,
                    P521_OID => Curve::P521,
                    _ => return None,
                };
                PublicKey::Ec(curve, key)
            }
            ED25519_OID => PublicKey::Ed25519(key),
            _ => return None,
        })
    }
}

/// An ES512 signature (`r || s`, 66 bytes each) over `message` by the P-521 key `point`.
fn verify_p521(point: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use p521::ecdsa::signature::Verifier as _;
    let Ok(key) = p521::ecdsa::VerifyingKey::from_sec1_bytes(point) else {
        return false;
    };
    let Ok(signature) = p521::ecdsa::Signature::from_slice(signature) else {
        return false;
    };
    key.verify(message, &signature).is_ok()
}

// The contents of the AlgorithmIdentifier SEQUENCEs this server knows.
const RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
];
const EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The value of the DER element of `tag` at the start of `input`, and what follows it.
fn der_element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&first, rest) = input.split_first()?;
    if first != tag {
        return None;
    }
    let (&len_byte, rest) = rest.split_first()?;
    let (len, rest) = if len_byte < 0x80 {
        (usize::from(len_byte), rest)
    } else {
        let count = usize::from(len_byte & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let len = rest[..count]
            .iter()
            .fold(0usize, |len, &b| (len << 8) | usize::from(b));
        (len, &rest[count..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// The P-256 `SubjectPublicKeyInfo` of an uncompressed point.
pub(crate) fn p256_spki(point: &[u8]) -> Vec<u8> {
    let mut algorithm = EC_PUBLIC_KEY.to_vec();
    algorithm.extend_from_slice(P256_OID);
    let mut spki = vec![0x30, 0x59, 0x30, algorithm.len() as u8];
    spki.extend_from_slice(&algorithm);
    spki.extend_from_slice(&[0x03, (point.len() + 1) as u8, 0x00]);
    spki.extend_from_slice(point);
    spki
}

/// The key id Docker's libtrust gives a key, which Distribution's token services put in
/// `kid`: the first 240 bits of the SHA-256 of the DER `SubjectPublicKeyInfo`, in base32,
/// in groups of four joined by colons.
pub(crate) fn libtrust_key_id(spki: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let hash = Sha256::digest(spki);
    let mut encoded = String::with_capacity(48);
    for chunk in hash[..30].chunks(5) {
        let bits = chunk.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        for i in (0..8).rev() {
            encoded.push(char::from(ALPHABET[((bits >> (i * 5)) & 31) as usize]));
        }
    }
    let groups: Vec<&str> = (0..encoded.len())
        .step_by(4)
        .map(|i| &encoded[i..i + 4])
        .collect();
    groups.join(":")
}

/// A key and the id tokens name it by.
#[derive(Debug, Clone)]
pub(crate) struct TrustedKey {
    pub(crate) kid: Option<String>,
    pub(crate) key: PublicKey,
}

/// Every key that may sign a token, and the roots for `x5c` chains.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<TrustedKey>,
    roots: Vec<TrustAnchor<'static>>,
}

/// Why the key material could not be loaded.
pub(crate) type LoadError = String;

impl KeySet {
    /// Adds every certificate of a PEM bundle: its key (by libtrust id) and as a root.
    pub(crate) fn add_bundle(&mut self, path: &Path) -> Result<(), LoadError> {
        let certificates = CertificateDer::pem_file_iter(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("invalid certificate in {}: {e}", path.display()))?;
        if certificates.is_empty() {
            return Err(format!("{} holds no certificate", path.display()));
        }
        for certificate in certificates {
            let parsed = webpki::EndEntityCert::try_from(&certificate)
                .map_err(|e| format!("invalid certificate in {}: {e}", path.display()))?;
            let spki = parsed.subject_public_key_info();
            let key = PublicKey::from_spki(spki.as_ref()).ok_or_else(|| {
                format!("a certificate in {} has an unsupported key", path.display())
            })?;
            self.keys.push(TrustedKey {
                kid: Some(libtrust_key_id(spki.as_ref())),
                key,
            });
            let anchor = webpki::anchor_from_trusted_cert(&certificate)
                .map_err(|e| format!("invalid root in {}: {e}", path.display()))?
                .to_owned();
            self.roots.push(anchor);
        }
        Ok(())
    }

    /// Adds the keys of a JSON Web Key Set file.
    pub(crate) fn add_jwks(&mut self, path: &Path) -> Result<(), LoadError> {
        let text =
            std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let keys = parse_jwks(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        self.keys.extend(keys);
        Ok(())
    }

    /// Adds one key.
    pub(crate) fn add(&mut self, key: TrustedKey) {
        self.keys.push(key);
    }

    /// Whether there is any key at all.
    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.roots.is_empty()
    }

    /// Checks the signature of a token with `header` over `message`: by the `x5c` chain's
    /// leaf when the header sends one (the chain must lead to a root of the bundle), else by
    /// the key `kid` names, else by any key.
    pub(crate) fn verify(
        &self,
        header: &Header,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), JwtError> {
        if let Some((leaf, intermediates)) = header.x5c.split_first() {
            let key = self.chain_key(leaf, intermediates)?;
            return key
                .verify(header.alg, message, signature)
                .then_some(())
                .ok_or(JwtError::BadSignature);
        }
        let verified = self
            .keys
            .iter()
            .filter(|trusted| match (&header.kid, &trusted.kid) {
                (Some(wanted), Some(kid)) => wanted == kid,
                (Some(_), None) => false,
                (None, _) => true,
            })
            .any(|trusted| trusted.key.verify(header.alg, message, signature));
        verified.then_some(()).ok_or(JwtError::BadSignature)
    }

    fn chain_key(&self, leaf: &[u8], intermediates: &[Vec<u8>]) -> Result<PublicKey, JwtError> {
        let leaf = CertificateDer::from(leaf);
        let intermediates: Vec<CertificateDer<'_>> = intermediates
            .iter()
            .map(|der| CertificateDer::from(der.as_slice()))
            .collect();
        let parsed =
            webpki::EndEntityCert::try_from(&leaf).map_err(|_| JwtError::UntrustedChain)?;
        parsed
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.roots,
                &intermediates,
                UnixTime::now(),
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|_| JwtError::UntrustedChain)?;
        PublicKey::from_spki(parsed.subject_public_key_info().as_ref())
            .ok_or(JwtError::UntrustedChain)
    }
}

#[derive(Deserialize)]
struct Jwks {
    keys: Vec<Jwk>,
}

#[derive(Deserialize)]
struct Jwk {
    kty: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    crv: Option<String>,
    #[serde(default)]
    n: Option<String>,
    #[serde(default)]
    e: Option<String>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    y: Option<String>,
}

/// The keys of a JWKS document.
fn parse_jwks(text: &[u8]) -> Result<Vec<TrustedKey>, String> {
    let jwks: Jwks = serde_json::from_slice(text).map_err(|e| format!("not a JWKS: {e}"))?;
    let field = |value: &Option<String>, name: &str| -> Result<Vec<u8>, String> {
        let value = value.as_deref().ok_or(format!("a key lacks {name}"))?;
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| format!("a key's {name} is not base64url"))
    };
    jwks.keys
        .iter()
        .map(|jwk| {
            let key = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
                ("RSA", _) => PublicKey::RsaComponents {
                    n: field(&jwk.n, "n")?,
                    e: field(&jwk.e, "e")?,
                },
                ("EC", Some(crv @ ("P-256" | "P-384" | "P-521"))) => {
                    let curve = match crv {
                        "P-256" => Curve::P256,
                        "P-384" => Curve::P384,
                        _ => Curve::P521,
                    };
                    let mut point = vec![0x04];
                    point.extend(field(&jwk.x, "x")?);
                    point.extend(field(&jwk.y, "y")?);
                    PublicKey::Ec(curve, point)
                }
                ("OKP", Some("Ed25519")) => PublicKey::Ed25519(field(&jwk.x, "x")?),
                (kty, crv) => return Err(format!("unsupported key type {kty} {crv:?}")),
            };
            Ok(TrustedKey {
                kid: jwk.kid.clone(),
                key,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtrust_ids_have_the_docker_shape() {
        let id = libtrust_key_id(b"any key");
        assert_eq!(id.len(), 12 * 4 + 11);
        assert!(id.split(':').all(|group| group.len() == 4));
        assert!(
            id.bytes()
                .all(|b| b == b':' || b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
        );
    }

    #[test]
    fn der_elements_are_bounded() {
        assert_eq!(
            der_element(&[0x30, 0x01, 0xaa, 0xbb], 0x30),
            Some((&[0xaa][..], &[0xbb][..]))
        );
        assert_eq!(der_element(&[0x30, 0x05, 0xaa], 0x30), None);
        assert_eq!(der_element(&[0x30, 0x81], 0x30), None);
        assert_eq!(der_element(&[0x30, 0x85, 1, 1, 1, 1, 1], 0x30), None);
        assert_eq!(der_element(&[], 0x30), None);
        assert_eq!(PublicKey::from_spki(&[0x30, 0x00]), None);
    }

    #[test]
    fn jwks_keys_of_each_type() {
        let text = br#"{"keys":[
            {"kty":"RSA","kid":"r","n":"AQAB","e":"AQAB"},
            {"kty":"EC","crv":"P-256","x":"AQ","y":"Ag"},
            {"kty":"OKP","crv":"Ed25519","x":"AQ","kid":"ed"}]}"#;
        let keys = parse_jwks(text).unwrap();
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[1].key, PublicKey::Ec(Curve::P256, vec![4, 1, 2]));
        assert!(parse_jwks(br#"{"keys":[{"kty":"oct","k":"AA"}]}"#).is_err());
        assert!(parse_jwks(br#"{"keys":[{"kty":"RSA","n":"AQAB"}]}"#).is_err());
    }
}
