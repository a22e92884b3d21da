//! User roles (protocol 0.4).

use std::fmt;

/// A KalamDB role. Serialized lower case on the wire.
///
/// ```
/// use kalam_emulator::Role;
/// assert_eq!(Role::Dba.as_str(), "dba");
/// assert_eq!(Role::parse("Service"), Some(Role::Service));
/// assert!(Role::System.is_admin());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// No SQL access.
    Anonymous,
    /// An ordinary user: own partitions, PUBLIC shared tables.
    User,
    /// A service account: may write SHARED tables and consume topics.
    Service,
    /// Database administrator.
    Dba,
    /// The built-in superuser role (`root`).
    System,
}

impl Role {
    /// Lower-case wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Anonymous => "anonymous",
            Role::User => "user",
            Role::Service => "service",
            Role::Dba => "dba",
            Role::System => "system",
        }
    }

    /// Title-case name as the server prints it in messages (`Role 'User'`).
    pub(crate) fn title(self) -> &'static str {
        match self {
            Role::Anonymous => "Anonymous",
            Role::User => "User",
            Role::Service => "Service",
            Role::Dba => "Dba",
            Role::System => "System",
        }
    }

    /// Parses a role name, case-insensitively.
    pub fn parse(s: &str) -> Option<Role> {
        Some(match s.to_ascii_lowercase().as_str() {
            "anonymous" => Role::Anonymous,
            "user" => Role::User,
            "service" => Role::Service,
            "dba" => Role::Dba,
            "system" => Role::System,
            _ => return None,
        })
    }

    /// `dba` and `system`.
    pub fn is_admin(self) -> bool {
        matches!(self, Role::Dba | Role::System)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of roles (a bit per role).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RoleSet(u8);

impl RoleSet {
    /// The set of `roles`.
    pub(crate) fn of(roles: &[Role]) -> RoleSet {
        RoleSet(roles.iter().fold(0, |bits, r| bits | RoleSet::bit(*r)))
    }

    /// Whether `role` is in the set.
    pub(crate) fn contains(self, role: Role) -> bool {
        self.0 & RoleSet::bit(role) != 0
    }

    fn bit(role: Role) -> u8 {
        1 << (role as u8)
    }
}
