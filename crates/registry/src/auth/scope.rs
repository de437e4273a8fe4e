//! What a request needs and what a credential grants: actions on a resource, written as Docker's
//! token specification writes scopes (`repository:<name>:pull,push`, `registry:catalog:*`).

use std::fmt;

use gantry_reference::RepositoryName;
use serde::Deserialize;

/// One thing that may be done to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Read: manifests, blobs, tags, referrers; the catalog.
    Pull,
    /// Write: uploads and manifest puts.
    Push,
    /// Remove manifests, tags and blobs.
    Delete,
}

impl Action {
    const ALL: [Action; 3] = [Action::Pull, Action::Push, Action::Delete];

    fn bit(self) -> u8 {
        match self {
            Action::Pull => 1,
            Action::Push => 2,
            Action::Delete => 4,
        }
    }

    /// The action's name in a scope.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Pull => "pull",
            Action::Push => "push",
            Action::Delete => "delete",
        }
    }

    /// The action a scope names; `None` for names this server does not know.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|action| action.as_str() == s)
    }
}

/// A set of actions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Actions(u8);

impl Actions {
    /// No action.
    pub(crate) const NONE: Actions = Actions(0);
    /// Every action.
    pub(crate) const ALL: Actions = Actions(7);

    /// The set of `actions`.
    pub(crate) fn of(actions: &[Action]) -> Actions {
        Actions(actions.iter().fold(0, |bits, action| bits | action.bit()))
    }

    /// Whether `action` is in the set.
    pub(crate) fn contains(self, action: Action) -> bool {
        self.0 & action.bit() != 0
    }

    /// Whether every action of `other` is in this set.
    pub(crate) fn covers(self, other: Actions) -> bool {
        self.0 & other.0 == other.0
    }

    /// Both sets together.
    pub(crate) fn union(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    /// The actions in both sets.
    pub(crate) fn intersection(self, other: Actions) -> Actions {
        Actions(self.0 & other.0)
    }

    /// Whether the set is empty.
    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The actions, in the order pull, push, delete.
    pub(crate) fn iter(self) -> impl Iterator<Item = Action> {
        Action::ALL
            .into_iter()
            .filter(move |action| self.contains(*action))
    }

    /// Reads a scope's action list (`pull,push`, `*`); unknown names are left out.
    pub(crate) fn parse(s: &str) -> Actions {
        s.split(',').fold(Actions::NONE, |set, name| match name {
            "*" => Actions::ALL,
            name => Action::parse(name).map_or(set, |action| set.union(Actions::of(&[action]))),
        })
    }
}

impl fmt::Display for Actions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, action) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(action.as_str())?;
        }
        Ok(())
    }
}

/// What a scope is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Resource {
    /// A repository.
    Repository(RepositoryName),
    /// The catalog of repositories (`registry:catalog`).
    Catalog,
}

/// Actions on one resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Scope {
    /// The resource.
    pub resource: Resource,
    /// The actions.
    pub actions: Actions,
}

impl Scope {
    /// Actions on a repository.
    pub(crate) fn repository(name: RepositoryName, actions: &[Action]) -> Scope {
        Scope {
            resource: Resource::Repository(name),
            actions: Actions::of(actions),
        }
    }

    /// Listing the catalog.
    pub(crate) fn catalog() -> Scope {
        Scope {
            resource: Resource::Catalog,
            actions: Actions::ALL,
        }
    }

    /// Reads a scope as clients send it: `repository:<name>:<actions>` or
    /// `registry:catalog:*`. `None` for other types and invalid names.
    pub(crate) fn parse(s: &str) -> Option<Scope> {
        let (kind, rest) = s.split_once(':')?;
        let (name, actions) = rest.rsplit_once(':')?;
        Scope::from_parts(kind, name, Actions::parse(actions))
    }

    /// A scope from the parts of a token's `access` entry.
    pub(crate) fn from_parts(kind: &str, name: &str, actions: Actions) -> Option<Scope> {
        match (kind, name) {
            ("repository", name) => Some(Scope {
                resource: Resource::Repository(RepositoryName::parse(name).ok()?),
                actions,
            }),
            ("registry", "catalog") => Some(Scope {
                resource: Resource::Catalog,
                actions: if actions.is_empty() {
                    Actions::NONE
                } else {
                    Actions::ALL
                },
            }),
            _ => None,
        }
    }

    /// The `type` of the scope: `repository` or `registry`.
    pub(crate) fn kind(&self) -> &'static str {
        match self.resource {
            Resource::Repository(_) => "repository",
            Resource::Catalog => "registry",
        }
    }

    /// The `name` of the scope: the repository, or `catalog`.
    pub(crate) fn name(&self) -> &str {
        match &self.resource {
            Resource::Repository(name) => name.as_str(),
            Resource::Catalog => "catalog",
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Resource::Repository(name) => write!(f, "repository:{name}:{}", self.actions),
            Resource::Catalog => f.write_str("registry:catalog:*"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_print() {
        let cases = [
            (
                "repository:team/app:pull,push",
                Some("repository:team/app:pull,push"),
            ),
            ("repository:a:push,pull", Some("repository:a:pull,push")),
            ("repository:a:*", Some("repository:a:pull,push,delete")),
            ("repository:a:pull,fly", Some("repository:a:pull")),
            ("registry:catalog:*", Some("registry:catalog:*")),
            ("repository:A:pull", None),
            ("repository:a", None),
            ("registry:other:*", None),
            ("", None),
        ];
        for (input, expected) in cases {
            let parsed = Scope::parse(input).map(|scope| scope.to_string());
            assert_eq!(parsed.as_deref(), expected, "{input}");
        }
    }

    #[test]
    fn action_sets() {
        let pull_push = Actions::of(&[Action::Pull, Action::Push]);
        assert!(pull_push.covers(Actions::of(&[Action::Pull])));
        assert!(!pull_push.covers(Actions::of(&[Action::Delete])));
        assert_eq!(pull_push.intersection(Actions::ALL), pull_push);
        assert!(Actions::NONE.is_empty());
    }
}
