//! An upload URL's `_state` token is checked before anything else of the upload: arbitrary
//! input never panics the check and never verifies, and a genuine token verifies only for the
//! repository and upload it was signed for.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, UNIX_EPOCH};

use gantry_reference::RepositoryName;
use gantry_storage::{InMemoryDriver, Registry, RegistryOptions};

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let options = RegistryOptions::new()
            .with_upload_secret(b"fuzzing secret of 32 bytes, fixed".to_vec());
        match Registry::new(Arc::new(InMemoryDriver::new()), options) {
            Ok(registry) => registry,
            Err(error) => panic!("an in-memory registry: {error}"),
        }
    })
}

/// Checks `data` as a token for a fixed upload, then a genuine token against the upload and
/// repository the data names.
pub fn check(data: &[u8]) {
    let registry = registry();
    let name = RepositoryName::parse("team/app").ok();
    let Some(name) = name else { return };
    let text = String::from_utf8_lossy(data);
    let id = "0b9e1c52-6c1a-4f57-9d2e-0c7c1d3a1f00";
    let genuine = registry.upload_token(&name, id, UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    if text != genuine {
        assert!(
            registry.verify_upload_token(&name, id, &text).is_none(),
            "{text:?} verified"
        );
    }
    assert!(registry.verify_upload_token(&name, id, &genuine).is_some());
    // The token names its repository and upload: no other one accepts it.
    if let Ok(other) = RepositoryName::parse(&text)
        && other != name
    {
        assert!(registry.verify_upload_token(&other, id, &genuine).is_none());
    }
    if !text.is_empty() && text != id {
        assert!(
            registry
                .verify_upload_token(&name, &text, &genuine)
                .is_none()
        );
    }
}
