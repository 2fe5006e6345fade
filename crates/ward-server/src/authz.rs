//! Authorization, pure: permissions, the roles that bundle them, and the check a route makes.
//!
//! A caller holds **grants**: the scopes of an API key, or the permissions of the roles an
//! identity provider's token names. A route needs one [`Permission`]. `admin` grants every
//! permission. Resource permissions (`secrets:read:<glob>`) grant an action on the resources
//! whose names match the glob.
//!
//! Roles: `viewer`, `operator` and `admin` are built in; `[roles.<name>] permissions = […]` in
//! ward.toml adds custom ones (or redefines a built-in one).

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// One thing a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    /// Send telemetry (OTLP, JSON lines).
    Ingest,
    /// Query telemetry: logs, traces, services, the live tail.
    Read,
    /// Change operational state that is not a credential: alert rules, silences, retention.
    Write,
    /// Scrape `/metrics`.
    Metrics,
    /// Read security events.
    SecurityRead,
    /// List API keys (never their secrets).
    KeysRead,
    /// Create, rotate and revoke API keys.
    KeysWrite,
    /// Read the audit trail.
    AuditRead,
    /// Append to the audit trail.
    AuditWrite,
    /// Read secrets whose names match the grant's glob.
    SecretsRead,
    /// Write secrets whose names match the grant's glob.
    SecretsWrite,
    /// Everything, including keys of other tenants for the `default` tenant.
    Admin,
}

impl Permission {
    /// Every permission, in the order of the documentation.
    pub const ALL: [Permission; 12] = [
        Permission::Ingest,
        Permission::Read,
        Permission::Write,
        Permission::Metrics,
        Permission::SecurityRead,
        Permission::KeysRead,
        Permission::KeysWrite,
        Permission::AuditRead,
        Permission::AuditWrite,
        Permission::SecretsRead,
        Permission::SecretsWrite,
        Permission::Admin,
    ];

    /// The permission's name in scopes, roles and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Ingest => "ingest",
            Permission::Read => "read",
            Permission::Write => "write",
            Permission::Metrics => "metrics",
            Permission::SecurityRead => "security:read",
            Permission::KeysRead => "keys:read",
            Permission::KeysWrite => "keys:write",
            Permission::AuditRead => "audit:read",
            Permission::AuditWrite => "audit:write",
            Permission::SecretsRead => "secrets:read",
            Permission::SecretsWrite => "secrets:write",
            Permission::Admin => "admin",
        }
    }

    /// True for permissions that name resources with a glob (`secrets:read:<glob>`).
    pub fn takes_resource(self) -> bool {
        matches!(self, Permission::SecretsRead | Permission::SecretsWrite)
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A granted permission, with the resources it covers for resource permissions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Grant {
    /// What is granted.
    pub permission: Permission,
    /// For resource permissions: a glob over resource names (`*` matches any run of
    /// characters); `None` for the others.
    pub resources: Option<String>,
}

/// Why a scope or permission name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GrantError(String);

impl Grant {
    /// Parses `ingest`, `keys:write`, `secrets:read:prod/*` … A resource permission without a
    /// glob covers every resource (`secrets:read` = `secrets:read:*`).
    pub fn parse(text: &str) -> Result<Grant, GrantError> {
        let text = text.trim();
        for permission in Permission::ALL {
            let name = permission.as_str();
            if text == name {
                let resources = permission.takes_resource().then(|| "*".to_owned());
                return Ok(Grant {
                    permission,
                    resources,
                });
            }
            if permission.takes_resource()
                && let Some(glob) = text.strip_prefix(name).and_then(|r| r.strip_prefix(':'))
            {
                if glob.is_empty() || glob.len() > 200 || glob.chars().any(char::is_control) {
                    return Err(GrantError(format!(
                        "{text:?}: the resource glob must be 1 to 200 printable characters"
                    )));
                }
                return Ok(Grant {
                    permission,
                    resources: Some(glob.to_owned()),
                });
            }
        }
        Err(GrantError(format!(
            "unknown permission {text:?}: use {}",
            known_names()
        )))
    }

    /// True when this grant covers `permission` (on `resource`, for resource permissions).
    fn covers(&self, permission: Permission, resource: Option<&str>) -> bool {
        if self.permission == Permission::Admin {
            return true;
        }
        if self.permission != permission {
            return false;
        }
        match (&self.resources, resource) {
            (Some(glob), Some(name)) => glob_matches(glob, name),
            // Asking for the permission in general (a route listing secrets): any glob will do,
            // the handler filters by resource.
            (_, None) => true,
            (None, Some(_)) => false,
        }
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resources {
            Some(glob) if glob != "*" => write!(f, "{}:{glob}", self.permission),
            _ => f.write_str(self.permission.as_str()),
        }
    }
}

fn known_names() -> String {
    let mut names: Vec<String> = Permission::ALL
        .iter()
        .map(|p| {
            if p.takes_resource() {
                format!("{p}[:<glob>]")
            } else {
                p.as_str().to_owned()
            }
        })
        .collect();
    names.sort();
    names.join(", ")
}

/// `*` matches any run of characters (including `/`); everything else matches itself.
fn glob_matches(glob: &str, name: &str) -> bool {
    let (g, n) = (glob.as_bytes(), name.as_bytes());
    let (mut gi, mut ni) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ni < n.len() {
        if gi < g.len() && g[gi] == b'*' {
            backtrack = Some((gi, ni));
            gi += 1;
        } else if gi < g.len() && g[gi] == n[ni] {
            gi += 1;
            ni += 1;
        } else if let Some((star, matched)) = backtrack {
            gi = star + 1;
            ni = matched + 1;
            backtrack = Some((star, matched + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == b'*')
}

/// What a caller holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Grants(Vec<Grant>);

impl Grants {
    /// Grants from parsed entries (duplicates removed).
    pub fn new(mut grants: Vec<Grant>) -> Grants {
        grants.sort();
        grants.dedup();
        Grants(grants)
    }

    /// The grant of one permission (on every resource, for resource permissions).
    pub fn single(permission: Permission) -> Grants {
        Grants(vec![Grant {
            permission,
            resources: permission.takes_resource().then(|| "*".to_owned()),
        }])
    }

    /// Parses scope names, refusing unknown ones.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<Grants, GrantError> {
        names
            .iter()
            .map(|n| Grant::parse(n.as_ref()))
            .collect::<Result<Vec<_>, _>>()
            .map(Grants::new)
    }

    /// Parses stored scope names, skipping any this version does not know (a key written by
    /// a newer Ward keeps its other powers rather than failing to authenticate).
    pub fn parse_lenient<S: AsRef<str>>(names: &[S]) -> Grants {
        Grants::new(
            names
                .iter()
                .filter_map(|n| Grant::parse(n.as_ref()).ok())
                .collect(),
        )
    }

    /// True when some grant covers `permission`.
    pub fn allows(&self, permission: Permission) -> bool {
        self.0.iter().any(|g| g.covers(permission, None))
    }

    /// True when some grant covers `permission` on the resource named `resource`.
    pub fn allows_on(&self, permission: Permission, resource: &str) -> bool {
        self.0.iter().any(|g| g.covers(permission, Some(resource)))
    }

    /// True when every grant of `other` is covered by these: a caller may hand out only what
    /// it holds.
    pub fn includes(&self, other: &Grants) -> bool {
        other.0.iter().all(|g| match (&g.resources, g.permission) {
            (_, Permission::Admin) => self.allows(Permission::Admin),
            (Some(glob), p) => self.0.iter().any(|mine| {
                mine.permission == Permission::Admin
                    || (mine.permission == p
                        // A glob read as a plain name is matched by a wider glob only when
                        // every name it matches is matched by the wider one too.
                        && mine.resources.as_deref().is_some_and(|m| glob_matches(m, glob)))
            }),
            (None, p) => self.allows(p),
        })
    }

    /// The grants, sorted.
    pub fn iter(&self) -> impl Iterator<Item = &Grant> {
        self.0.iter()
    }

    /// Scope names, as stored and shown.
    pub fn names(&self) -> Vec<String> {
        self.0.iter().map(Grant::to_string).collect()
    }
}

/// `[roles.<name>]` in ward.toml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleConfig {
    /// Permission names, as for key scopes.
    pub permissions: Vec<String>,
    /// What the role is for, for people.
    pub description: String,
}

/// Roles by name: the built-in ones plus those of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles(BTreeMap<String, Grants>);

/// The built-in roles and their permissions.
pub const BUILT_IN_ROLES: [(&str, &[&str]); 3] = [
    ("viewer", &["read", "metrics"]),
    (
        "operator",
        &[
            "read",
            "metrics",
            "write",
            "ingest",
            "security:read",
            "keys:read",
            "audit:read",
        ],
    ),
    ("admin", &["admin"]),
];

impl Roles {
    /// The built-in roles, overridden and extended by `custom`. Errors name the role.
    pub fn new(custom: &BTreeMap<String, RoleConfig>) -> Result<Roles, GrantError> {
        let mut roles = BTreeMap::new();
        for (name, permissions) in BUILT_IN_ROLES {
            roles.insert(name.to_owned(), Grants::parse(permissions)?);
        }
        for (name, role) in custom {
            if name.is_empty()
                || name.len() > 64
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            {
                return Err(GrantError(format!(
                    "role name {name:?}: use 1 to 64 letters, digits, '-', '_' or '.'"
                )));
            }
            if role.permissions.is_empty() {
                return Err(GrantError(format!(
                    "role {name}: give at least one permission"
                )));
            }
            let grants = Grants::parse(&role.permissions)
                .map_err(|e| GrantError(format!("role {name}: {e}")))?;
            roles.insert(name.clone(), grants);
        }
        Ok(Roles(roles))
    }

    /// The grants of every known role in `names`; unknown names give nothing (they are
    /// reported by the caller).
    pub fn grants_of<S: AsRef<str>>(&self, names: &[S]) -> Grants {
        Grants::new(
            names
                .iter()
                .filter_map(|n| self.0.get(n.as_ref()))
                .flat_map(|g| g.0.iter().cloned())
                .collect(),
        )
    }

    /// Role names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The grants of one role.
    pub fn get(&self, name: &str) -> Option<&Grants> {
        self.0.get(name)
    }
}

impl Default for Roles {
    fn default() -> Roles {
        Roles::new(&BTreeMap::new()).unwrap_or(Roles(BTreeMap::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_permission_name_parses_back() {
        for p in Permission::ALL {
            let g = Grant::parse(p.as_str()).unwrap();
            assert_eq!(g.permission, p);
            assert_eq!(g.to_string(), p.as_str());
        }
        let e = Grant::parse("query").unwrap_err().to_string();
        assert!(
            e.contains("unknown permission \"query\"") && e.contains("keys:write"),
            "{e}"
        );
        assert!(Grant::parse("secrets:read:").is_err());
        assert!(
            Grant::parse("audit:write:x").is_err(),
            "audit takes no glob"
        );
    }

    #[test]
    fn admin_covers_everything_and_others_only_themselves() {
        let admin = Grants::parse(&["admin"]).unwrap();
        let ingest = Grants::parse(&["ingest"]).unwrap();
        for p in Permission::ALL {
            assert!(admin.allows(p));
            assert_eq!(ingest.allows(p), p == Permission::Ingest, "{p}");
        }
        assert!(admin.allows_on(Permission::SecretsRead, "anything"));
    }

    #[test]
    fn resource_globs_match_names() {
        let g = Grants::parse(&["secrets:read:prod/*", "secrets:write:prod/db"]).unwrap();
        assert!(g.allows_on(Permission::SecretsRead, "prod/db/password"));
        assert!(!g.allows_on(Permission::SecretsRead, "staging/db"));
        assert!(g.allows_on(Permission::SecretsWrite, "prod/db"));
        assert!(!g.allows_on(Permission::SecretsWrite, "prod/db2"));
        assert!(g.allows(Permission::SecretsRead));
        assert!(!g.allows(Permission::AuditRead));
        for (glob, name, expect) in [
            ("*", "", true),
            ("a*c", "abbbc", true),
            ("a*c", "abbbd", false),
            ("*x*y", "axxby", true),
            ("**", "z", true),
            ("abc", "ab", false),
        ] {
            assert_eq!(glob_matches(glob, name), expect, "{glob} {name}");
        }
    }

    #[test]
    fn a_caller_hands_out_only_what_it_holds() {
        let op = Grants::parse(&["read", "keys:write", "secrets:read:prod/*"]).unwrap();
        assert!(op.includes(&Grants::parse(&["read"]).unwrap()));
        assert!(op.includes(&Grants::parse(&["secrets:read:prod/*"]).unwrap()));
        assert!(!op.includes(&Grants::parse(&["secrets:read:*"]).unwrap()));
        assert!(op.includes(&Grants::parse(&["secrets:read:prod/db*"]).unwrap()));
        assert!(!op.includes(&Grants::parse(&["secrets:read:pro*"]).unwrap()));
        assert!(!op.includes(&Grants::parse(&["admin"]).unwrap()));
        assert!(!op.includes(&Grants::parse(&["ingest"]).unwrap()));
        let admin = Grants::parse(&["admin"]).unwrap();
        assert!(admin.includes(&Grants::parse(&["admin", "secrets:write:x"]).unwrap()));
    }

    #[test]
    fn roles_are_built_in_and_configurable() {
        let mut custom = BTreeMap::new();
        custom.insert(
            "oncall".to_owned(),
            RoleConfig {
                permissions: vec!["read".into(), "write".into()],
                description: String::new(),
            },
        );
        custom.insert(
            "viewer".to_owned(),
            RoleConfig {
                permissions: vec!["read".into()],
                description: String::new(),
            },
        );
        let roles = Roles::new(&custom).unwrap();
        assert_eq!(
            roles.names().collect::<Vec<_>>(),
            ["admin", "oncall", "operator", "viewer"]
        );
        assert!(!roles.get("viewer").unwrap().allows(Permission::Metrics));
        let g = roles.grants_of(&["oncall", "nobody"]);
        assert!(g.allows(Permission::Write) && !g.allows(Permission::Ingest));
        custom.insert("bad".to_owned(), RoleConfig::default());
        assert!(
            Roles::new(&custom)
                .unwrap_err()
                .to_string()
                .contains("role bad")
        );
        let defaults = Roles::default();
        assert!(defaults.get("admin").unwrap().allows(Permission::KeysWrite));
        assert!(
            !defaults
                .get("operator")
                .unwrap()
                .allows(Permission::KeysWrite)
        );
    }
}
