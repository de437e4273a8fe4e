//! Bearer tokens as Docker's token specification describes them: a JWT whose signature a
//! trusted key verifies, whose `iss` and `aud` name this registry's issuer and service, whose
//! `exp` and `nbf` hold (with 60 seconds of leeway for clocks), and whose `access` claim lists
//! what its holder may do.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Deserialize;

use super::jwt::{self, JwtError};
use super::keys::KeySet;
use super::scope::{Actions, Scope};

/// How far clocks may disagree, in seconds.
pub(crate) const LEEWAY_SECS: i64 = 60;

/// What a verified token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The `sub` claim: the user the token was issued to (empty for anonymous).
    pub(crate) subject: String,
    /// The `access` claim, as scopes.
    pub(crate) access: Vec<Scope>,
}

/// Checks tokens against the trusted keys and this registry's names.
#[derive(Debug)]
pub(crate) struct TokenVerifier {
    keys: KeySet,
    issuer: String,
    service: String,
}

#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    exp: Option<f64>,
    #[serde(default)]
    nbf: Option<f64>,
    #[serde(default)]
    access: Vec<AccessEntry>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Audience {
    One(String),
    Many(Vec<String>),
}

/// One entry of the `access` claim.
#[derive(Deserialize)]
struct AccessEntry {
    #[serde(rename = "type")]
    kind: String,
    name: String,
    #[serde(default)]
    actions: Vec<String>,
}

impl TokenVerifier {
    /// A verifier of tokens from `issuer` for `service`, signed by one of `keys`.
    pub(crate) fn new(keys: KeySet, issuer: &str, service: &str) -> TokenVerifier {
        TokenVerifier {
            keys,
            issuer: issuer.to_owned(),
            service: service.to_owned(),
        }
    }

    /// The token's subject and access, when it is genuine and current at `now`.
    pub(crate) fn verify(&self, token: &str, now: SystemTime) -> Result<Verified, JwtError> {
        let jws = jwt::parse(token)?;
        self.keys
            .verify(&jws.header, jws.signing_input.as_bytes(), &jws.signature)?;
        let claims: Claims =
            serde_json::from_slice(&jws.claims).map_err(|_| JwtError::MalformedClaims)?;
        if claims.iss.as_deref() != Some(self.issuer.as_str()) {
            return Err(JwtError::WrongIssuer);
        }
        let audience_ok = match &claims.aud {
            Some(Audience::One(aud)) => *aud == self.service,
            Some(Audience::Many(auds)) => auds.contains(&self.service),
            None => false,
        };
        if !audience_ok {
            return Err(JwtError::WrongAudience);
        }
        let now = now
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs()) as f64;
        let leeway = LEEWAY_SECS as f64;
        match claims.exp {
            Some(exp) if now <= exp + leeway => {}
            _ => return Err(JwtError::Expired),
        }
        if claims.nbf.is_some_and(|nbf| nbf - leeway > now) {
            return Err(JwtError::NotYetValid);
        }
        let access = claims
            .access
            .iter()
            .filter_map(|entry| {
                let actions = entry
                    .actions
                    .iter()
                    .fold(Actions::NONE, |set, name| set.union(Actions::parse(name)));
                Scope::from_parts(&entry.kind, &entry.name, actions)
            })
            .collect();
        Ok(Verified {
            subject: claims.sub.unwrap_or_default(),
            access,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine as _;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    use ring::rand::SystemRandom;
    use ring::signature::{self as sig, KeyPair as _};
    use rustls::pki_types::PrivatePkcs8KeyDer;
    use rustls::pki_types::pem::PemObject;

    use super::super::keys::{Curve, PublicKey, TrustedKey, libtrust_key_id};
    use super::*;

    const RSA_PEM: &[u8] = include_bytes!("../../testdata/rsa-2048.pk8.pem");

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn claims(exp_offset: i64, extra: serde_json::Value) -> serde_json::Value {
        let now = now() as i64;
        let mut claims = serde_json::json!({
            "iss": "issuer", "sub": "alice", "aud": "registry",
            "exp": now + exp_offset, "nbf": now - 10,
            "access": [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}],
        });
        if let (Some(map), serde_json::Value::Object(extra)) = (claims.as_object_mut(), extra) {
            map.extend(extra);
        }
        claims
    }

    fn token(
        header: serde_json::Value,
        claims: &serde_json::Value,
        sign: impl Fn(&[u8]) -> Vec<u8>,
    ) -> String {
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let signature = sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    }

    fn verifier(keys: KeySet) -> TokenVerifier {
        TokenVerifier::new(keys, "issuer", "registry")
    }

    fn ecdsa(alg: &'static sig::EcdsaSigningAlgorithm) -> sig::EcdsaKeyPair {
        let rng = SystemRandom::new();
        let pkcs8 = sig::EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng).unwrap()
    }

    #[test]
    fn every_supported_algorithm_verifies_and_a_wrong_key_does_not() {
        let rng = SystemRandom::new();
        let rsa_der = PrivatePkcs8KeyDer::from_pem_slice(RSA_PEM).unwrap();
        let rsa = sig::RsaKeyPair::from_pkcs8(rsa_der.secret_pkcs8_der()).unwrap();
        let rsa_key = PublicKey::RsaDer(rsa.public_key().as_ref().to_vec());
        let components: sig::RsaPublicKeyComponents<Vec<u8>> = rsa.public().into();
        let rsa_jwk = PublicKey::RsaComponents {
            n: components.n,
            e: components.e,
        };
        let p256 = ecdsa(&sig::ECDSA_P256_SHA256_FIXED_SIGNING);
        let p384 = ecdsa(&sig::ECDSA_P384_SHA384_FIXED_SIGNING);
        let ed_pkcs8 = sig::Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let ed = sig::Ed25519KeyPair::from_pkcs8(ed_pkcs8.as_ref()).unwrap();

        let rsa_sign = |padding: &'static dyn sig::RsaEncoding| {
            let rsa = &rsa;
            move |input: &[u8]| {
                let mut out = vec![0; rsa.public().modulus_len()];
                rsa.sign(padding, &SystemRandom::new(), input, &mut out)
                    .unwrap();
                out
            }
        };
        let ec_sign = |key: &'static sig::EcdsaKeyPair| {
            move |input: &[u8]| {
                key.sign(&SystemRandom::new(), input)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            }
        };
        let p256: &'static sig::EcdsaKeyPair = Box::leak(Box::new(p256));
        let p384: &'static sig::EcdsaKeyPair = Box::leak(Box::new(p384));
        type Signer<'a> = Box<dyn Fn(&[u8]) -> Vec<u8> + 'a>;
        let cases: Vec<(&str, PublicKey, Signer<'_>)> = vec![
            (
                "RS256",
                rsa_key.clone(),
                Box::new(rsa_sign(&sig::RSA_PKCS1_SHA256)),
            ),
            (
                "RS384",
                rsa_key.clone(),
                Box::new(rsa_sign(&sig::RSA_PKCS1_SHA384)),
            ),
            (
                "RS512",
                rsa_jwk.clone(),
                Box::new(rsa_sign(&sig::RSA_PKCS1_SHA512)),
            ),
            (
                "PS256",
                rsa_key.clone(),
                Box::new(rsa_sign(&sig::RSA_PSS_SHA256)),
            ),
            (
                "PS384",
                rsa_jwk.clone(),
                Box::new(rsa_sign(&sig::RSA_PSS_SHA384)),
            ),
            (
                "PS512",
                rsa_key.clone(),
                Box::new(rsa_sign(&sig::RSA_PSS_SHA512)),
            ),
            (
                "ES256",
                PublicKey::Ec(Curve::P256, p256.public_key().as_ref().to_vec()),
                Box::new(ec_sign(p256)),
            ),
            (
                "ES384",
                PublicKey::Ec(Curve::P384, p384.public_key().as_ref().to_vec()),
                Box::new(ec_sign(p384)),
            ),
            (
                "EdDSA",
                PublicKey::Ed25519(ed.public_key().as_ref().to_vec()),
                Box::new(|input: &[u8]| ed.sign(input).as_ref().to_vec()),
            ),
        ];
        let good = claims(300, serde_json::json!({}));
        for (alg, key, sign) in &cases {
            let mut keys = KeySet::default();
            keys.add(TrustedKey {
                kid: Some("k".into()),
                key: key.clone(),
            });
            let verifier = verifier(keys);
            let header = serde_json::json!({"alg": alg, "kid": "k"});
            let token = token(header.clone(), &good, sign);
            let verified = verifier
                .verify(&token, SystemTime::now())
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(verified.subject, "alice");
            assert_eq!(
                verified.access[0].to_string(),
                "repository:team/app:pull,push"
            );

            // The same signature under another algorithm name, or another kid, fails.
            let other = if alg.starts_with('R') {
                "PS256"
            } else {
                "RS256"
            };
            let renamed = token_with_header(&token, serde_json::json!({"alg": other, "kid": "k"}));
            assert_eq!(
                verifier.verify(&renamed, SystemTime::now()),
                Err(JwtError::BadSignature),
                "{alg}"
            );
            let wrong_kid =
                token_with_header(&token, serde_json::json!({"alg": alg, "kid": "nope"}));
            assert_eq!(
                verifier.verify(&wrong_kid, SystemTime::now()),
                Err(JwtError::BadSignature),
                "{alg}"
            );
        }
    }

    /// `token` with its header replaced and its signature kept.
    fn token_with_header(token: &str, header: serde_json::Value) -> String {
        let rest = token.split_once('.').unwrap().1;
        format!("{}.{rest}", URL_SAFE_NO_PAD.encode(header.to_string()))
    }

    fn es256_setup() -> (TokenVerifier, impl Fn(&serde_json::Value) -> String) {
        let key: &'static sig::EcdsaKeyPair =
            Box::leak(Box::new(ecdsa(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)));
        let mut keys = KeySet::default();
        keys.add(TrustedKey {
            kid: None,
            key: PublicKey::Ec(Curve::P256, key.public_key().as_ref().to_vec()),
        });
        let sign = move |claims: &serde_json::Value| {
            token(serde_json::json!({"alg": "ES256"}), claims, |input| {
                key.sign(&SystemRandom::new(), input)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            })
        };
        (verifier(keys), sign)
    }

    #[test]
    fn es512_verifies_with_p521() {
        use p521::ecdsa::signature::Signer as _;
        let mut scalar = [0u8; 66];
        scalar[40..].copy_from_slice(&[7u8; 26]);
        let signing = p521::ecdsa::SigningKey::from_slice(&scalar).unwrap();
        let point = signing
            .verifying_key()
            .to_sec1_point(false)
            .as_bytes()
            .to_vec();
        let mut keys = KeySet::default();
        keys.add(TrustedKey {
            kid: None,
            key: PublicKey::Ec(Curve::P521, point),
        });
        let verifier = verifier(keys);
        let signed = token(
            serde_json::json!({"alg": "ES512"}),
            &claims(300, serde_json::json!({})),
            |input| {
                let signature: p521::ecdsa::Signature = signing.sign(input);
                signature.to_bytes().to_vec()
            },
        );
        assert!(verifier.verify(&signed, SystemTime::now()).is_ok());
        let renamed = token_with_header(&signed, serde_json::json!({"alg": "ES256"}));
        assert_eq!(
            verifier.verify(&renamed, SystemTime::now()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn claims_are_checked_with_sixty_seconds_of_leeway() {
        let (verifier, sign) = es256_setup();
        let at = SystemTime::now();
        let ok = |claims: serde_json::Value| verifier.verify(&sign(&claims), at);
        assert!(ok(claims(300, serde_json::json!({}))).is_ok());
        assert!(
            ok(claims(-30, serde_json::json!({}))).is_ok(),
            "within the leeway"
        );
        assert_eq!(
            ok(claims(-120, serde_json::json!({}))),
            Err(JwtError::Expired)
        );
        let now = now() as i64;
        assert!(ok(claims(300, serde_json::json!({"nbf": now + 30}))).is_ok());
        assert_eq!(
            ok(claims(300, serde_json::json!({"nbf": now + 120}))),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            ok(claims(300, serde_json::json!({"iss": "else"}))),
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            ok(claims(300, serde_json::json!({"aud": "else"}))),
            Err(JwtError::WrongAudience)
        );
        assert!(
            ok(claims(
                300,
                serde_json::json!({"aud": ["else", "registry"]})
            ))
            .is_ok()
        );
        let mut no_exp = claims(300, serde_json::json!({}));
        no_exp.as_object_mut().unwrap().remove("exp");
        assert_eq!(ok(no_exp), Err(JwtError::Expired));
        let odd_access = claims(
            300,
            serde_json::json!({"access": [
            {"type": "repository", "name": "INVALID", "actions": ["pull"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
            {"type": "repository", "name": "a", "actions": ["fly"]}]}),
        );
        let access = ok(odd_access).unwrap().access;
        assert_eq!(access.len(), 2);
        assert_eq!(access[0].to_string(), "registry:catalog:*");
        assert!(access[1].actions.is_empty());
        assert!(verifier.verify("x.y.z", at).is_err());
        let later = at + Duration::from_secs(400);
        assert_eq!(
            verifier.verify(&sign(&claims(300, serde_json::json!({}))), later),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn unsigned_and_tampered_tokens_are_refused() {
        let (verifier, sign) = es256_setup();
        let good = sign(&claims(300, serde_json::json!({})));
        let none = token_with_header(&good, serde_json::json!({"alg": "none"}));
        let none = format!("{}.", &none[..none.rfind('.').unwrap()]);
        assert_eq!(
            verifier.verify(&none, SystemTime::now()),
            Err(JwtError::UnsupportedAlgorithm("none".into()))
        );
        let mut tampered = good.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            verifier.verify(&tampered, SystemTime::now()),
            Err(JwtError::BadSignature)
        );
        let parts: Vec<&str> = good.split('.').collect();
        let other_claims =
            URL_SAFE_NO_PAD.encode(claims(300, serde_json::json!({"sub": "mallory"})).to_string());
        let swapped = format!("{}.{other_claims}.{}", parts[0], parts[2]);
        assert_eq!(
            verifier.verify(&swapped, SystemTime::now()),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn keys_from_a_certificate_bundle_by_kid_and_from_an_x5c_chain() {
        let dir = tempfile::tempdir().unwrap();
        let ca_key = rcgen::KeyPair::generate().unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca_cert = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, &ca_key);
        let leaf_key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["token-signer".to_owned()])
            .unwrap()
            .signed_by(&leaf_key, &issuer)
            .unwrap();
        let stranger_key = rcgen::KeyPair::generate().unwrap();
        let stranger = rcgen::CertificateParams::new(vec!["stranger".to_owned()])
            .unwrap()
            .self_signed(&stranger_key)
            .unwrap();
        let bundle = dir.path().join("bundle.pem");
        std::fs::write(&bundle, ca_cert.pem()).unwrap();
        let mut keys = KeySet::default();
        keys.add_bundle(&bundle).unwrap();
        let verifier = verifier(keys);

        let sign_with = |key: &rcgen::KeyPair, header: serde_json::Value| {
            let pkcs8 = key.serialize_der();
            let pair = sig::EcdsaKeyPair::from_pkcs8(
                &sig::ECDSA_P256_SHA256_FIXED_SIGNING,
                &pkcs8,
                &SystemRandom::new(),
            )
            .unwrap();
            token(header, &claims(300, serde_json::json!({})), |input| {
                pair.sign(&SystemRandom::new(), input)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            })
        };
        let now = SystemTime::now();
        // The CA's own key, named by its libtrust id.
        let spki = webpki::EndEntityCert::try_from(ca_cert.der())
            .unwrap()
            .subject_public_key_info();
        let kid = libtrust_key_id(spki.as_ref());
        assert!(
            verifier
                .verify(
                    &sign_with(&ca_key, serde_json::json!({"alg": "ES256", "kid": kid})),
                    now
                )
                .is_ok()
        );
        // A leaf the CA signed, sent in x5c.
        let x5c = serde_json::json!({"alg": "ES256", "x5c": [STANDARD.encode(leaf.der())]});
        assert!(
            verifier
                .verify(&sign_with(&leaf_key, x5c.clone()), now)
                .is_ok()
        );
        // The leaf's chain, but signed by another key.
        assert_eq!(
            verifier.verify(&sign_with(&stranger_key, x5c), now),
            Err(JwtError::BadSignature)
        );
        // A chain that leads nowhere trusted.
        let rogue = serde_json::json!({"alg": "ES256", "x5c": [STANDARD.encode(stranger.der())]});
        assert_eq!(
            verifier.verify(&sign_with(&stranger_key, rogue), now),
            Err(JwtError::UntrustedChain)
        );
        // The leaf's key without its chain is not in the bundle.
        assert_eq!(
            verifier.verify(
                &sign_with(&leaf_key, serde_json::json!({"alg": "ES256"})),
                now
            ),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn keys_from_a_jwks_file() {
        let key: &'static sig::EcdsaKeyPair =
            Box::leak(Box::new(ecdsa(&sig::ECDSA_P256_SHA256_FIXED_SIGNING)));
        let point = key.public_key().as_ref();
        let jwks = serde_json::json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "main",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..])}]});
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("jwks.json");
        std::fs::write(&path, jwks.to_string()).unwrap();
        let mut keys = KeySet::default();
        keys.add_jwks(&path).unwrap();
        let verifier = verifier(keys);
        let signed = token(
            serde_json::json!({"alg": "ES256", "kid": "main"}),
            &claims(300, serde_json::json!({})),
            |input| {
                key.sign(&SystemRandom::new(), input)
                    .unwrap()
                    .as_ref()
                    .to_vec()
            },
        );
        assert!(verifier.verify(&signed, SystemTime::now()).is_ok());
    }
}
