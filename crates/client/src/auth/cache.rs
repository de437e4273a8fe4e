//! What the client learnt about authenticating to each registry: the challenge it answers
//! with, and Bearer tokens by scope until they expire.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use reqwest::header::HeaderValue;

use crate::auth::challenge::Challenge;
use crate::credentials::Credential;

/// A token and when to stop using it.
#[derive(Clone)]
struct Cached {
    header: HeaderValue,
    expires_at: Instant,
}

/// Per host: the challenge last seen, and tokens keyed by the scopes they were issued for.
#[derive(Default)]
pub(crate) struct AuthCache {
    challenges: Mutex<HashMap<String, Challenge>>,
    credentials: Mutex<HashMap<String, Option<Credential>>>,
    tokens: Mutex<HashMap<(String, String), Cached>>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").finish_non_exhaustive()
    }
}

/// The cache key of a set of scopes: sorted, space-separated.
pub(crate) fn scope_key(scopes: &[String]) -> String {
    let mut sorted: Vec<&str> = scopes.iter().map(String::as_str).collect();
    sorted.sort_unstable();
    sorted.dedup();
    sorted.join(" ")
}

impl AuthCache {
    pub(crate) fn challenge(&self, host: &str) -> Option<Challenge> {
        lock(&self.challenges).get(host).cloned()
    }

    /// The credential resolved for `host`, if it was resolved: `Some(None)` means anonymous.
    pub(crate) fn credential(&self, host: &str) -> Option<Option<Credential>> {
        lock(&self.credentials).get(host).cloned()
    }

    pub(crate) fn set_credential(&self, host: &str, credential: Option<Credential>) {
        lock(&self.credentials).insert(host.to_owned(), credential);
    }

    pub(crate) fn set_challenge(&self, host: &str, challenge: Challenge) {
        lock(&self.challenges).insert(host.to_owned(), challenge);
    }

    /// The unexpired token for `scopes` on `host`, if any.
    pub(crate) fn token(&self, host: &str, scopes: &[String], now: Instant) -> Option<HeaderValue> {
        let key = (host.to_owned(), scope_key(scopes));
        let mut tokens = lock(&self.tokens);
        match tokens.get(&key) {
            Some(cached) if cached.expires_at > now => Some(cached.header.clone()),
            Some(_) => {
                tokens.remove(&key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn set_token(
        &self,
        host: &str,
        scopes: &[String],
        header: HeaderValue,
        expires_at: Instant,
    ) {
        lock(&self.tokens).insert(
            (host.to_owned(), scope_key(scopes)),
            Cached { header, expires_at },
        );
    }

    /// Forgets the token for `scopes` on `host`: the registry refused it.
    pub(crate) fn forget(&self, host: &str, scopes: &[String]) {
        lock(&self.tokens).remove(&(host.to_owned(), scope_key(scopes)));
    }
}

/// A poisoned lock only means another task panicked mid-insert; the map is still usable.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn tokens_are_kept_by_scope_until_they_expire() {
        let cache = AuthCache::default();
        let now = Instant::now();
        let pull = vec!["repository:a:pull".to_owned()];
        let both = vec![
            "repository:b:pull".to_owned(),
            "repository:a:push".to_owned(),
        ];
        let reversed: Vec<String> = both.iter().rev().cloned().collect();
        cache.set_token(
            "r",
            &pull,
            HeaderValue::from_static("Bearer 1"),
            now + Duration::from_secs(60),
        );
        cache.set_token(
            "r",
            &both,
            HeaderValue::from_static("Bearer 2"),
            now + Duration::from_secs(60),
        );
        assert_eq!(cache.token("r", &pull, now).unwrap(), "Bearer 1");
        assert_eq!(cache.token("r", &reversed, now).unwrap(), "Bearer 2");
        assert!(cache.token("other", &pull, now).is_none());
        assert!(
            cache
                .token("r", &pull, now + Duration::from_secs(61))
                .is_none()
        );
        assert!(
            cache.token("r", &pull, now).is_none(),
            "expired tokens are dropped"
        );
        cache.forget("r", &both);
        assert!(cache.token("r", &both, now).is_none());
    }
}
