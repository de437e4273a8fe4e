//! The access policy: which actions a user (or nobody in particular) may take on a resource.

use std::collections::HashMap;

use super::scope::{Actions, Resource};
use super::settings::AuthConfig;

/// The configured rules, ready to be asked.
#[derive(Debug, Clone)]
pub(crate) struct Policy {
    rules: Vec<Rule>,
    /// The groups each user belongs to.
    memberships: HashMap<String, Vec<String>>,
    anonymous_pull: bool,
}

#[derive(Debug, Clone)]
struct Rule {
    repositories: Vec<String>,
    catalog: bool,
    users: Vec<String>,
    groups: Vec<String>,
    actions: Actions,
}

impl Policy {
    /// The policy `config` describes.
    pub(crate) fn new(config: &AuthConfig) -> Policy {
        let mut memberships: HashMap<String, Vec<String>> = HashMap::new();
        for (group, users) in &config.groups {
            for user in users {
                memberships
                    .entry(user.clone())
                    .or_default()
                    .push(group.clone());
            }
        }
        let rules = config
            .access
            .iter()
            .map(|rule| Rule {
                repositories: rule.repositories.clone(),
                catalog: rule.catalog,
                users: rule.users.clone(),
                groups: rule.groups.clone(),
                actions: Actions::of(&rule.actions),
            })
            .collect();
        Policy {
            rules,
            memberships,
            anonymous_pull: config.anonymous_pull,
        }
    }

    /// What `user` (`None`: anonymous) may do to `resource`.
    pub(crate) fn granted(&self, user: Option<&str>, resource: &Resource) -> Actions {
        let anonymous = match resource {
            Resource::Repository(_) if self.anonymous_pull => Actions::parse("pull"),
            _ => Actions::NONE,
        };
        let Some(user) = user else {
            return anonymous;
        };
        if self.rules.is_empty() {
            return Actions::ALL;
        }
        let groups = self.memberships.get(user).map(Vec::as_slice).unwrap_or(&[]);
        self.rules
            .iter()
            .filter(|rule| {
                rule.users.iter().any(|u| u == "*" || u == user)
                    || rule.groups.iter().any(|g| groups.contains(g))
            })
            .filter(|rule| match resource {
                Resource::Catalog => rule.catalog,
                Resource::Repository(name) => rule
                    .repositories
                    .iter()
                    .any(|pattern| glob_matches(pattern, name.as_str())),
            })
            .fold(anonymous, |granted, rule| match resource {
                Resource::Catalog => Actions::ALL,
                Resource::Repository(_) => granted.union(rule.actions),
            })
    }
}

/// Whether `name` matches `pattern`, where `*` matches any run of characters but `/` and `**`
/// any run at all. Dynamic programming over both strings: linear in their product, never
/// exponential.
pub(crate) fn glob_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.as_bytes();
    let name = name.as_bytes();
    // matched[j]: the pattern so far matches name[..j].
    let mut matched = vec![false; name.len() + 1];
    matched[0] = true;
    let mut i = 0;
    while i < pattern.len() {
        let mut next = vec![false; name.len() + 1];
        if pattern[i] == b'*' {
            let across = pattern.get(i + 1) == Some(&b'*');
            let mut reachable = false;
            for j in 0..=name.len() {
                if matched[j] {
                    reachable = true;
                } else if j > 0 && !across && name[j - 1] == b'/' {
                    reachable = false;
                }
                next[j] = reachable;
            }
            i += if across { 2 } else { 1 };
        } else {
            for j in 1..=name.len() {
                next[j] = matched[j - 1] && name[j - 1] == pattern[i];
            }
            i += 1;
        }
        matched = next;
    }
    matched[name.len()]
}

#[cfg(test)]
mod tests {
    use gantry_reference::RepositoryName;

    use super::super::scope::Action;
    use super::super::settings::AccessRule;
    use super::*;

    #[test]
    fn globs() {
        let cases = [
            ("*", "app", true),
            ("*", "team/app", false),
            ("**", "team/app", true),
            ("team/*", "team/app", true),
            ("team/*", "team/app/x", false),
            ("team/**", "team/app/x", true),
            ("team/*/x", "team/app/x", true),
            ("a*b", "axxb", true),
            ("a*b", "a/b", false),
            ("app", "app", true),
            ("app", "apps", false),
            ("", "", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(glob_matches(pattern, name), expected, "{pattern} {name}");
        }
    }

    #[test]
    fn rules_grant_by_user_group_and_repository() {
        let config = AuthConfig {
            anonymous_pull: true,
            groups: [("dev".to_owned(), vec!["bob".to_owned()])].into(),
            access: vec![
                AccessRule {
                    repositories: vec!["alice/**".into()],
                    users: vec!["alice".into()],
                    actions: vec![Action::Pull, Action::Push, Action::Delete],
                    ..AccessRule::default()
                },
                AccessRule {
                    repositories: vec!["team/*".into()],
                    groups: vec!["dev".into()],
                    actions: vec![Action::Push],
                    ..AccessRule::default()
                },
                AccessRule {
                    catalog: true,
                    users: vec!["alice".into()],
                    ..AccessRule::default()
                },
            ],
            ..AuthConfig::default()
        };
        let policy = Policy::new(&config);
        let repo = |s: &str| Resource::Repository(RepositoryName::parse(s).unwrap());
        assert_eq!(
            policy.granted(Some("alice"), &repo("alice/x")),
            Actions::ALL
        );
        assert_eq!(
            policy.granted(Some("bob"), &repo("team/app")).to_string(),
            "pull,push"
        );
        assert_eq!(
            policy.granted(Some("bob"), &repo("alice/x")).to_string(),
            "pull"
        );
        assert_eq!(policy.granted(None, &repo("alice/x")).to_string(), "pull");
        assert_eq!(
            policy.granted(Some("alice"), &Resource::Catalog),
            Actions::ALL
        );
        assert_eq!(
            policy.granted(Some("bob"), &Resource::Catalog),
            Actions::NONE
        );
        assert_eq!(policy.granted(None, &Resource::Catalog), Actions::NONE);

        let open = Policy::new(&AuthConfig::default());
        assert_eq!(open.granted(Some("anyone"), &repo("a")), Actions::ALL);
        assert_eq!(open.granted(None, &repo("a")), Actions::NONE);
    }
}
