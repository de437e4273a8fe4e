//! What the client learnt about authenticating to each registry: the challenge it answers
//! with, and Bearer tokens by scope until they expire.
//!
//! A token is kept with the scopes it was asked for: a token service answers without error
//! only when it grants them (what it grants is in the token, which a client cannot read in
//! general), so a token for `repository:a:pull,push` also serves a request that needs
//! `repository:a:pull`. When the registry refuses a token anyway, it is forgotten.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Instant;

use reqwest::header::HeaderValue;

use crate::auth::challenge::Challenge;
use crate::credentials::Credential;

/// A token, the scopes it was asked for (and granted without error), and when to stop using it.
#[derive(Clone)]
struct Cached {
    granted: Grants,
    header: HeaderValue,
    expires_at: Instant,
}

/// Scopes as resource (`repository:team/app`) to actions (`pull`, `push`, `*`).
type Grants = BTreeMap<String, BTreeSet<String>>;

/// Per host: the challenge last seen, and tokens by the scopes they were issued for.
#[derive(Default)]
pub(crate) struct AuthCache {
    challenges: Mutex<HashMap<String, Challenge>>,
    credentials: Mutex<HashMap<String, Option<Credential>>>,
    tokens: Mutex<HashMap<String, Vec<Cached>>>,
}

impl std::fmt::Debug for AuthCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthCache").finish_non_exhaustive()
    }
}

/// Scopes (`type:name:actions`, actions comma-separated) gathered by resource. A scope without
/// actions names its resource with no action.
pub(crate) fn grants(scopes: &[String]) -> Grants {
    let mut grants = Grants::new();
    for scope in scopes {
        let (resource, actions) = match scope.rsplit_once(':') {
            Some((resource, actions)) if resource.contains(':') => (resource, actions),
            _ => (scope.as_str(), ""),
        };
        let entry = grants.entry(resource.to_owned()).or_default();
        entry.extend(
            actions
                .split(',')
                .filter(|a| !a.is_empty())
                .map(str::to_owned),
        );
    }
    grants
}

/// Whether a token granted `granted` serves a request needing `needed`: every resource needed
/// is granted, with every action needed (or `*`).
fn covers(granted: &Grants, needed: &Grants) -> bool {
    needed.iter().all(|(resource, actions)| {
        granted.get(resource).is_some_and(|held| {
            held.contains("*") || actions.iter().all(|action| held.contains(action))
        })
    })
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

    /// An unexpired token on `host` whose scopes cover `scopes`, if any: the one issued for
    /// exactly those scopes first, else the one that lives longest. Expired tokens are dropped.
    pub(crate) fn token(&self, host: &str, scopes: &[String], now: Instant) -> Option<HeaderValue> {
        let needed = grants(scopes);
        let mut tokens = lock(&self.tokens);
        let held = tokens.get_mut(host)?;
        held.retain(|cached| cached.expires_at > now);
        held.iter()
            .filter(|cached| covers(&cached.granted, &needed))
            .max_by_key(|cached| (cached.granted == needed, cached.expires_at))
            .map(|cached| cached.header.clone())
    }

    /// Keeps a token issued for `scopes` on `host`, in place of one issued for the same scopes.
    pub(crate) fn set_token(
        &self,
        host: &str,
        scopes: &[String],
        header: HeaderValue,
        expires_at: Instant,
    ) {
        let granted = grants(scopes);
        let mut tokens = lock(&self.tokens);
        let held = tokens.entry(host.to_owned()).or_default();
        held.retain(|cached| cached.granted != granted && cached.expires_at > Instant::now());
        held.push(Cached {
            granted,
            header,
            expires_at,
        });
    }

    /// Forgets the token `header` on `host`: the registry refused it.
    pub(crate) fn forget(&self, host: &str, header: &HeaderValue) {
        if let Some(held) = lock(&self.tokens).get_mut(host) {
            held.retain(|cached| cached.header != *header);
        }
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

    fn strings(scopes: &[&str]) -> Vec<String> {
        scopes.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn tokens_are_kept_by_scope_until_they_expire() {
        let cache = AuthCache::default();
        let now = Instant::now();
        let pull = strings(&["repository:a:pull"]);
        let both = strings(&["repository:b:pull", "repository:a:push"]);
        let reversed: Vec<String> = both.iter().rev().cloned().collect();
        let minute = now + Duration::from_secs(60);
        cache.set_token("r", &pull, HeaderValue::from_static("Bearer 1"), minute);
        cache.set_token("r", &both, HeaderValue::from_static("Bearer 2"), minute);
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
        cache.set_token("r", &both, HeaderValue::from_static("Bearer 3"), minute);
        cache.forget("r", &HeaderValue::from_static("Bearer 3"));
        assert!(cache.token("r", &both, now).is_none());
    }

    #[test]
    fn a_token_serves_the_scopes_its_own_cover() {
        let cache = AuthCache::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(60);
        cache.set_token(
            "r",
            &strings(&["repository:a:pull,push", "repository:c:*"]),
            HeaderValue::from_static("Bearer wide"),
            later,
        );
        // needed scopes, whether the wide token serves them
        let cases: &[(&[&str], bool)] = &[
            (&["repository:a:pull"], true),
            (&["repository:a:push"], true),
            (&["repository:a:push,pull"], true),
            (&["repository:a:pull", "repository:c:delete"], true),
            (&[], true),
            (&["repository:a:delete"], false),
            (&["repository:b:pull"], false),
            (&["repository:a:pull", "repository:b:pull"], false),
            (&["registry:catalog:*"], false),
            (&["repository:a"], true),
        ];
        for (needed, served) in cases {
            let found = cache.token("r", &strings(needed), now);
            assert_eq!(found.is_some(), *served, "{needed:?}");
        }
        // The token issued for exactly the scopes needed comes first.
        cache.set_token(
            "r",
            &strings(&["repository:a:pull"]),
            HeaderValue::from_static("Bearer narrow"),
            now + Duration::from_secs(30),
        );
        let pull = strings(&["repository:a:pull"]);
        assert_eq!(cache.token("r", &pull, now).unwrap(), "Bearer narrow");
        cache.forget("r", &HeaderValue::from_static("Bearer narrow"));
        assert_eq!(cache.token("r", &pull, now).unwrap(), "Bearer wide");
    }

    #[test]
    fn scopes_gather_by_resource() {
        let parsed = grants(&strings(&[
            "repository:a:pull",
            "repository:a:push",
            "repository:host:5000/x:pull",
            "registry:catalog:*",
        ]));
        assert_eq!(parsed["repository:a"].len(), 2);
        assert!(parsed["repository:host:5000/x"].contains("pull"));
        assert!(parsed["registry:catalog"].contains("*"));
    }
}
