//! Who a session acts as: a user of the policy file with one of its roles,
//! or the data owner (local use without `--user`/`--role`).

use std::collections::BTreeMap;

use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
use argon2::{Argon2, PasswordHash, PasswordVerifier};

use super::policy::{LegalBasis, Policy};

/// The role name reported for the data owner.
pub const OWNER_ROLE: &str = "owner";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    /// The policy role; `None` for the data owner, who sees raw data.
    pub role: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// The declared processing purpose.
    pub purpose: Option<String>,
}

impl Identity {
    /// The data owner: the operating-system user running finsight locally.
    pub fn owner() -> Self {
        Self {
            user: os_user(),
            role: None,
            attributes: BTreeMap::new(),
            purpose: None,
        }
    }

    pub fn role_name(&self) -> &str {
        self.role.as_deref().unwrap_or(OWNER_ROLE)
    }

    pub fn is_owner(&self) -> bool {
        self.role.is_none()
    }

    /// The identity for `--user`, `--role` and `--purpose`. A user acts with
    /// the role given (which must be one of theirs) or their first; `--role`
    /// alone acts as the operating-system user with that role and no
    /// attributes.
    pub fn resolve(
        policy: &Policy,
        user: Option<&str>,
        role: Option<&str>,
        purpose: Option<&str>,
    ) -> Result<Self, String> {
        let mut identity = match (user, role) {
            (None, None) => Self::owner(),
            (Some(name), role) => {
                let Some(spec) = policy.user(name) else {
                    return Err(format!(
                        "unknown user '{name}' (users in {}: {})",
                        policy.file.display(),
                        list(policy.users.keys().map(|u| u.get_ref().as_str()))
                    ));
                };
                let roles: Vec<&str> = spec.roles.iter().map(|r| r.get_ref().as_str()).collect();
                let role = match role {
                    Some(r) if roles.contains(&r) => r.to_string(),
                    Some(r) => {
                        return Err(format!(
                            "user '{name}' does not have role '{r}' (roles: {})",
                            roles.join(", ")
                        ));
                    }
                    None => roles.first().map(|r| r.to_string()).unwrap_or_default(),
                };
                Self {
                    user: name.to_string(),
                    role: Some(role),
                    attributes: spec.attributes.clone(),
                    purpose: None,
                }
            }
            (None, Some(role)) => {
                if policy.role(role).is_none() {
                    return Err(format!(
                        "unknown role '{role}' (roles in {}: {})",
                        policy.file.display(),
                        list(policy.roles.keys().map(|r| r.get_ref().as_str()))
                    ));
                }
                Self {
                    user: os_user(),
                    role: Some(role.to_string()),
                    attributes: BTreeMap::new(),
                    purpose: None,
                }
            }
        };
        identity.purpose = identity.resolve_purpose(policy, purpose)?;
        Ok(identity)
    }

    fn resolve_purpose(
        &self,
        policy: &Policy,
        purpose: Option<&str>,
    ) -> Result<Option<String>, String> {
        let spec = self.role.as_deref().and_then(|r| policy.role(r));
        let purpose = purpose
            .map(str::to_string)
            .or_else(|| spec.and_then(|s| s.default_purpose.as_ref().map(|p| p.get_ref().clone())));
        let Some(purpose) = purpose else {
            if let Some(spec) = spec
                && !spec.purposes.is_empty()
            {
                return Err(format!(
                    "role '{}' must declare a purpose with --purpose (allowed: {})",
                    self.role_name(),
                    list(spec.purposes.iter().map(|p| p.get_ref().as_str()))
                ));
            }
            return Ok(None);
        };
        if policy.purpose(&purpose).is_none() {
            return Err(format!(
                "unknown purpose '{purpose}' (purposes: {})",
                list(policy.purposes.keys().map(|p| p.get_ref().as_str()))
            ));
        }
        if let Some(spec) = spec
            && !spec.purposes.is_empty()
            && !spec.purposes.iter().any(|p| p.get_ref() == &purpose)
        {
            return Err(format!(
                "role '{}' may not process data for purpose '{purpose}' (allowed: {})",
                self.role_name(),
                list(spec.purposes.iter().map(|p| p.get_ref().as_str()))
            ));
        }
        Ok(Some(purpose))
    }

    /// The consent purpose this session is limited to, if its purpose is consent-based.
    pub fn consent_purpose(&self, policy: &Policy) -> Option<String> {
        let name = self.purpose.as_deref()?;
        let spec = policy.purpose(name)?;
        (spec.basis == LegalBasis::Consent).then(|| {
            spec.consent_purpose
                .clone()
                .unwrap_or_else(|| name.to_string())
        })
    }
}

fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

fn os_user() -> String {
    std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .unwrap_or_else(|_| "owner".to_string())
}

/// An argon2id PHC string for `password` with a random salt.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("cannot hash password: {e}"))
}

/// Checks `password` against user `name`'s argon2 hash. Unknown users and
/// users without a hash fail like a wrong password, after the same work,
/// so timing does not reveal which users exist.
pub fn verify_password(policy: &Policy, name: &str, password: &str) -> bool {
    static DUMMY: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| hash_password("finsight-dummy").unwrap_or_default());
    let stored = policy.user(name).and_then(|u| u.password_hash.clone());
    let hash_text = stored.clone().unwrap_or_else(|| DUMMY.clone());
    let Ok(hash) = PasswordHash::new(&hash_text) else {
        return false;
    };
    let ok = Argon2::default()
        .verify_password(password.as_bytes(), &hash)
        .is_ok();
    ok && stored.is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    const POLICY: &str = r#"
[consent]
table = "consents"
subject = "customer_id"
purpose = "purpose"
granted = "granted_at"
withdrawn = "withdrawn_at"

[purposes.marketing]
basis = "consent"
[purposes.fraud]
basis = "legal_obligation"

[roles.analyst]
[roles.marketing]
purposes = ["marketing"]
default_purpose = "marketing"

[users.alice]
roles = ["analyst", "marketing"]
attributes = { region = "London" }
"#;

    #[test]
    fn users_act_with_one_of_their_roles() {
        let policy = Policy::parse(Path::new("p.toml"), POLICY).expect("valid policy");
        let alice = Identity::resolve(&policy, Some("alice"), None, None).expect("alice");
        assert_eq!(alice.role.as_deref(), Some("analyst"));
        assert_eq!(
            alice.attributes.get("region").map(String::as_str),
            Some("London")
        );
        let err =
            Identity::resolve(&policy, Some("alice"), Some("auditor"), None).expect_err("no role");
        assert!(err.contains("does not have role 'auditor'"), "{err}");
        assert!(Identity::resolve(&policy, Some("bob"), None, None).is_err());
        assert!(
            Identity::resolve(&policy, None, None, None)
                .expect("owner")
                .is_owner()
        );
    }

    #[test]
    fn purposes_follow_the_role() {
        let policy = Policy::parse(Path::new("p.toml"), POLICY).expect("valid policy");
        let m = Identity::resolve(&policy, None, Some("marketing"), None).expect("default purpose");
        assert_eq!(m.purpose.as_deref(), Some("marketing"));
        assert_eq!(m.consent_purpose(&policy).as_deref(), Some("marketing"));
        let err = Identity::resolve(&policy, None, Some("marketing"), Some("fraud"))
            .expect_err("not allowed");
        assert!(
            err.contains("may not process data for purpose 'fraud'"),
            "{err}"
        );
        let f = Identity::resolve(&policy, None, Some("analyst"), Some("fraud")).expect("exempt");
        assert_eq!(f.consent_purpose(&policy), None);
    }

    #[test]
    fn passwords_verify_against_argon2_hashes() {
        let hash = hash_password("correct horse").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        let text = POLICY.replace(
            "attributes = { region = \"London\" }",
            &format!("attributes = {{ region = \"London\" }}\npassword_hash = \"{hash}\""),
        );
        let policy = Policy::parse(Path::new("p.toml"), &text).expect("valid policy");
        assert!(verify_password(&policy, "alice", "correct horse"));
        assert!(!verify_password(&policy, "alice", "wrong"));
        assert!(!verify_password(&policy, "mallory", "correct horse"));
    }
}
