//! TLS: rustls with TLS 1.2 and 1.3 only, HTTP/2 by ALPN, the certificate and key read again
//! when their files change (no restart), and optional client certificates checked against a
//! CA bundle (mutual TLS).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::ServerError;
use crate::config::TlsConfig;
use crate::file_stamp::FileStamp;

/// The server's certificate and key, swapped for new ones when the files change.
pub(crate) struct ReloadingCertificate {
    certificate: PathBuf,
    key: PathBuf,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
    loaded: Mutex<Option<(FileStamp, FileStamp)>>,
}

impl fmt::Debug for ReloadingCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReloadingCertificate")
            .field("certificate", &self.certificate)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ReloadingCertificate {
    fn open(config: &TlsConfig, provider: Arc<CryptoProvider>) -> Result<Self, ServerError> {
        let stamps = FileStamp::of(&config.certificate)
            .ok()
            .zip(FileStamp::of(&config.key).ok());
        let certified = load(&config.certificate, &config.key, &provider)?;
        Ok(ReloadingCertificate {
            certificate: config.certificate.clone(),
            key: config.key.clone(),
            provider,
            current: RwLock::new(Arc::new(certified)),
            loaded: Mutex::new(stamps),
        })
    }

    /// Loads the files again if either changed. A pair that does not load (a key written
    /// before its certificate, say) keeps the old one in service until the next try.
    pub(crate) fn reload_if_changed(&self) {
        let stamps = FileStamp::of(&self.certificate)
            .ok()
            .zip(FileStamp::of(&self.key).ok());
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if stamps.is_none() || *loaded == stamps {
            return;
        }
        match load(&self.certificate, &self.key, &self.provider) {
            Ok(certified) => {
                *self.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(certified);
                *loaded = stamps;
                tracing::info!(certificate = %self.certificate.display(), "TLS certificate reloaded");
            }
            Err(error) => {
                tracing::warn!(%error, "TLS certificate not reloaded; the previous one stays");
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(
            &self.current.read().unwrap_or_else(PoisonError::into_inner),
        ))
    }
}

fn tls_error(
    what: &'static str,
    path: &Path,
    error: impl std::error::Error + Send + Sync + 'static,
) -> ServerError {
    ServerError::Tls {
        what,
        path: path.to_owned(),
        source: Some(Box::new(error)),
    }
}

/// The chain and key of two PEM files, checked to belong together.
fn load(
    certificate: &Path,
    key: &Path,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, ServerError> {
    let chain = read_certificates(certificate)?;
    let private =
        PrivateKeyDer::from_pem_file(key).map_err(|e| tls_error("cannot read key", key, e))?;
    CertifiedKey::from_der(chain, private, provider)
        .map_err(|e| tls_error("unusable certificate and key", certificate, e))
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, ServerError> {
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|e| tls_error("cannot read certificate", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error("invalid certificate", path, e))?;
    if certificates.is_empty() {
        return Err(ServerError::Tls {
            what: "no certificate in",
            path: path.to_owned(),
            source: None,
        });
    }
    Ok(certificates)
}

/// The acceptor `config` describes, and the certificate it serves (to reload).
pub(crate) fn acceptor(
    config: &TlsConfig,
) -> Result<(TlsAcceptor, Arc<ReloadingCertificate>), ServerError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let certificate = Arc::new(ReloadingCertificate::open(config, Arc::clone(&provider))?);
    let builder = rustls::ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| tls_error("no TLS version for", &config.certificate, e))?;
    let builder = match &config.client_ca {
        None => builder.with_no_client_auth(),
        Some(bundle) => {
            let mut roots = rustls::RootCertStore::empty();
            for certificate in read_certificates(bundle)? {
                roots
                    .add(certificate)
                    .map_err(|e| tls_error("invalid client CA in", bundle, e))?;
            }
            let mut verifier =
                WebPkiClientVerifier::builder_with_provider(Arc::new(roots), Arc::clone(&provider));
            if config.client_auth_optional {
                verifier = verifier.allow_unauthenticated();
            }
            let verifier = verifier
                .build()
                .map_err(|e| tls_error("unusable client CA bundle", bundle, e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut server =
        builder.with_cert_resolver(Arc::clone(&certificate) as Arc<dyn ResolvesServerCert>);
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok((TlsAcceptor::from(Arc::new(server)), certificate))
}
