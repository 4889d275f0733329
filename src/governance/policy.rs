//! The policy file: who may see what, declared in TOML and reviewed in git.
//!
//! ```toml
//! [classes.email]
//! mask = "mask_email(value)"          # SQL over `value`, the classified column
//!
//! [classes.national_id]
//! mask = "mask_national_id(value)"
//! sensitive = true                   # PIPL Art. 28 sensitive personal information
//! deny = ["marketing"]               # the column does not exist for these roles
//!
//! [roles.analyst]
//! tables = ["*"]
//!
//! [roles.privacy_officer]
//! raw = ["*"]                        # classes this role sees unmasked
//! functions = ["detokenize_fpe"]
//! erase = true
//!
//! [users.alice]
//! roles = ["analyst"]
//! password_hash = "$argon2id$v=19$..."
//! attributes = { region = "London" }
//!
//! [tables.customers]
//! personal_data = true
//! subject = "customer_id"
//! columns = { email = "email", national_id = "national_id" }
//! row_filters = { analyst = "region = current_user_attribute('region')" }
//! retention = { column = "closed_date", keep = "10 years" }
//! ```
//!
//! Parsing checks the file's shape; [`Policy::validate_names`] checks that
//! every role, class and purpose named exists. Table, column and function
//! names are checked against the session's catalog when the policy is applied
//! (see `super::apply`), each error pointing at the file's line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

/// Functions that reverse a protection; only roles granted them may call them.
pub const RESTRICTED_FUNCTIONS: &[&str] = &["detokenize_fpe"];

/// A policy error, with the line of the policy file it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "policy {}:{}: {}",
            self.file.display(),
            self.line,
            self.message
        )
    }
}

/// A name or expression in the policy file, with where it was written.
pub type Located = Spanned<String>;

/// A parsed policy file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    #[serde(skip)]
    pub file: PathBuf,
    #[serde(skip)]
    source: String,
    #[serde(default)]
    pub audit: AuditSpec,
    #[serde(default)]
    pub consent: Option<ConsentSpec>,
    #[serde(default)]
    pub subjects: Option<SubjectsSpec>,
    #[serde(default)]
    pub purposes: BTreeMap<Located, PurposeSpec>,
    #[serde(default)]
    pub classes: BTreeMap<Located, ClassSpec>,
    #[serde(default)]
    pub roles: BTreeMap<Located, RoleSpec>,
    #[serde(default)]
    pub users: BTreeMap<Located, UserSpec>,
    #[serde(default)]
    pub tables: BTreeMap<Located, TableSpec>,
}

/// The table that defines the data subjects (customers). A role's row
/// filter on it reaches every personal-data table: an analyst who sees the
/// customers of one region sees only their accounts, transactions and
/// events, not everyone's.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubjectsSpec {
    pub table: Located,
    /// Its subject column, matched against each table's `subject`.
    pub column: Located,
}

/// Where the audit trail is kept.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditSpec {
    /// SQLite file; relative paths are relative to the policy file.
    /// Default: `audit.db` beside the policy file.
    pub path: Option<String>,
    /// A PostgreSQL database instead: a connection string, as a URL
    /// (`postgresql://audit@db.bank.internal/finsight`) or libpq keywords
    /// (`host=/run/postgresql user=audit dbname=finsight`).
    pub postgres: Option<Located>,
    /// Environment variable holding the PostgreSQL password, so the
    /// reviewed policy file holds no secret.
    pub password_env: Option<String>,
}

/// Where the audit trail is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditTarget {
    Sqlite(PathBuf),
    Postgres {
        connection: String,
        password_env: Option<String>,
    },
}

/// The table recording which data subject consented to which purpose.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentSpec {
    pub table: Located,
    pub subject: Located,
    pub purpose: Located,
    pub granted: Located,
    pub withdrawn: Located,
}

/// The legal basis of a processing purpose (GDPR Art. 6, PIPL Art. 13).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// Rows of subjects without an active consent for the purpose are invisible.
    Consent,
    Contract,
    LegalObligation,
    LegitimateInterest,
    PublicInterest,
}

impl LegalBasis {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::Contract => "contract",
            Self::LegalObligation => "legal_obligation",
            Self::LegitimateInterest => "legitimate_interest",
            Self::PublicInterest => "public_interest",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PurposeSpec {
    pub basis: LegalBasis,
    /// The value of the consent table's purpose column (default: the purpose's name).
    pub consent_purpose: Option<String>,
    #[serde(default)]
    pub description: String,
}

/// A class of personal data and how it is protected.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassSpec {
    /// SQL expression over `value` giving what roles without raw access see.
    pub mask: Located,
    /// Role-specific masks replacing `mask`.
    #[serde(default)]
    pub masks: BTreeMap<Located, Located>,
    /// Roles for which columns of this class do not exist.
    #[serde(default)]
    pub deny: Vec<Located>,
    /// PIPL Art. 28 sensitive personal information (and GDPR Art. 9 special categories).
    #[serde(default)]
    pub sensitive: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    /// Tables the role may read; `"*"` for all (the default).
    #[serde(default = "all")]
    pub tables: Vec<Located>,
    /// Classes the role sees unmasked; `"*"` for all.
    #[serde(default)]
    pub raw: Vec<Located>,
    /// Restricted functions the role may call (e.g. `detokenize_fpe`).
    #[serde(default)]
    pub functions: Vec<Located>,
    /// Purposes the role may declare; empty means any.
    #[serde(default)]
    pub purposes: Vec<Located>,
    /// Purpose used when the session declares none.
    pub default_purpose: Option<Located>,
    /// May query the audit trail.
    #[serde(default)]
    pub auditor: bool,
    /// May erase data subjects and apply retention.
    #[serde(default)]
    pub erase: bool,
    /// May read and write files directly (URL tables, `CREATE EXTERNAL
    /// TABLE`, `COPY`): around every policy, so only for roles that see
    /// everything raw anyway.
    #[serde(default)]
    pub files: bool,
    /// Privacy budget for differentially private queries, per user and per
    /// dataset; replaces the tables' `dp_budget` for this role.
    pub dp_budget: Option<BudgetSpec>,
    /// Tables this role may read only through `SELECT WITH
    /// DIFFERENTIAL_PRIVACY`: no row-level query, masked or not.
    #[serde(default)]
    pub dp_only: Vec<Located>,
    /// May see every user's privacy budget and grant more
    /// (`GRANT PRIVACY BUDGET`).
    #[serde(default)]
    pub manage_budgets: bool,
    #[serde(default)]
    pub description: String,
}

/// A privacy budget: what one user may spend on one dataset within a
/// rolling window, under basic composition (epsilons and deltas add up).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BudgetSpec {
    pub epsilon: Spanned<f64>,
    #[serde(default)]
    pub delta: f64,
    /// A period such as `30 days`, `4 weeks`, `1 month` or `1 year`
    /// (default `30 days`): spends older than this no longer count.
    pub window: Option<Located>,
}

fn all() -> Vec<Located> {
    vec![Spanned::new(0..0, "*".to_string())]
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub roles: Vec<Located>,
    /// argon2 PHC string (`finsight policy hash-password`).
    pub password_hash: Option<String>,
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
    /// This user's privacy budget, replacing their role's.
    pub dp_budget: Option<BudgetSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    /// Holds personal data: subject to erasure, subject access and consent.
    #[serde(default)]
    pub personal_data: bool,
    /// Column identifying the data subject (e.g. `customer_id`).
    pub subject: Option<Located>,
    /// Column name -> class name.
    #[serde(default)]
    pub columns: BTreeMap<Located, Located>,
    /// Role -> SQL predicate; rows failing it are invisible to the role.
    #[serde(default)]
    pub row_filters: BTreeMap<Located, Located>,
    pub retention: Option<RetentionSpec>,
    /// The privacy budget each identity has on this table, unless its
    /// role or user entry sets one (the owner too: a DP release spends
    /// from it whoever publishes it).
    pub dp_budget: Option<BudgetSpec>,
    /// Not personal: its rows may serve as the public list of groups of a
    /// DP query (`OPTIONS (public_groups = table)`), released without a
    /// threshold.
    #[serde(default)]
    pub public_groups: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSpec {
    /// Date or timestamp column; rows older than `keep` are past retention
    /// (rows where it is NULL are kept, e.g. a customer not yet closed).
    pub column: Located,
    /// An SQL interval such as `7 years` or `18 months`.
    pub keep: Located,
}

impl Policy {
    /// Reads and parses a policy file, then checks its internal references.
    pub fn from_file(path: &Path) -> Result<Self, PolicyError> {
        let source = std::fs::read_to_string(path).map_err(|e| PolicyError {
            file: path.to_path_buf(),
            line: 0,
            message: format!("cannot read: {e}"),
        })?;
        Self::parse(path, &source)
    }

    /// Parses `source` as the policy file `path`.
    pub fn parse(path: &Path, source: &str) -> Result<Self, PolicyError> {
        let mut policy: Policy = toml::from_str(source).map_err(|e| PolicyError {
            file: path.to_path_buf(),
            line: e.span().map_or(0, |span| line_of(source, span.start)),
            message: e.message().to_string(),
        })?;
        policy.file = path.to_path_buf();
        policy.source = source.to_string();
        policy.validate_names()?;
        Ok(policy)
    }

    /// An error about `at`, with its line.
    pub fn error(&self, at: &Located, message: impl Into<String>) -> PolicyError {
        PolicyError {
            file: self.file.clone(),
            line: line_of(&self.source, at.span().start),
            message: message.into(),
        }
    }

    fn role_names(&self) -> BTreeSet<&str> {
        self.roles.keys().map(|r| r.get_ref().as_str()).collect()
    }

    /// Every role, class, purpose and function named exists.
    pub fn validate_names(&self) -> Result<(), PolicyError> {
        if let (Some(postgres), Some(_)) = (&self.audit.postgres, &self.audit.path) {
            return Err(self.error(
                postgres,
                "[audit] takes either path (SQLite) or postgres, not both".to_string(),
            ));
        }
        let roles = self.role_names();
        let check_role = |r: &Located| -> Result<(), PolicyError> {
            if roles.contains(r.get_ref().as_str()) {
                Ok(())
            } else {
                Err(self.error(
                    r,
                    format!(
                        "unknown role '{}' (roles: {})",
                        r.get_ref(),
                        join(roles.iter().copied())
                    ),
                ))
            }
        };
        let classes: BTreeSet<&str> = self.classes.keys().map(|c| c.get_ref().as_str()).collect();
        let purposes: BTreeSet<&str> = self.purposes.keys().map(|p| p.get_ref().as_str()).collect();
        let check_purpose = |p: &Located| -> Result<(), PolicyError> {
            if purposes.contains(p.get_ref().as_str()) {
                Ok(())
            } else {
                Err(self.error(
                    p,
                    format!(
                        "unknown purpose '{}' (purposes: {})",
                        p.get_ref(),
                        join(purposes.iter().copied())
                    ),
                ))
            }
        };
        for (name, class) in &self.classes {
            for role in class.masks.keys().chain(&class.deny) {
                check_role(role)?;
            }
            if class.mask.get_ref().trim().is_empty() {
                return Err(self.error(
                    name,
                    format!("class '{}' has an empty mask", name.get_ref()),
                ));
            }
        }
        for (name, role) in &self.roles {
            for class in &role.raw {
                if class.get_ref() != "*" && !classes.contains(class.get_ref().as_str()) {
                    return Err(self.error(
                        class,
                        format!(
                            "role '{}': unknown class '{}' in raw (classes: {})",
                            name.get_ref(),
                            class.get_ref(),
                            join(classes.iter().copied())
                        ),
                    ));
                }
            }
            for function in &role.functions {
                if !RESTRICTED_FUNCTIONS.contains(&function.get_ref().as_str()) {
                    return Err(self.error(
                        function,
                        format!(
                            "role '{}': '{}' is not a restricted function (restricted: {})",
                            name.get_ref(),
                            function.get_ref(),
                            join(RESTRICTED_FUNCTIONS.iter().copied())
                        ),
                    ));
                }
            }
            for purpose in role.purposes.iter().chain(&role.default_purpose) {
                check_purpose(purpose)?;
            }
            self.check_budget(
                role.dp_budget.as_ref(),
                &format!("role '{}'", name.get_ref()),
            )?;
            for table in &role.dp_only {
                let table_budget = self
                    .table(table.get_ref())
                    .and_then(|(_, t)| t.dp_budget.as_ref());
                if role.dp_budget.is_none() && table_budget.is_none() {
                    return Err(self.error(
                        table,
                        format!(
                            "role '{}' may read '{}' only through DP queries but has no privacy budget for it (set dp_budget on the role or the table)",
                            name.get_ref(),
                            table.get_ref()
                        ),
                    ));
                }
            }
        }
        for (name, user) in &self.users {
            if user.roles.is_empty() {
                return Err(self.error(name, format!("user '{}' has no roles", name.get_ref())));
            }
            for role in &user.roles {
                check_role(role)?;
            }
            self.check_budget(
                user.dp_budget.as_ref(),
                &format!("user '{}'", name.get_ref()),
            )?;
            if let Some(hash) = &user.password_hash {
                argon2::PasswordHash::new(hash).map_err(|e| {
                    self.error(
                        name,
                        format!(
                            "user '{}': password_hash is not an argon2 PHC string: {e}",
                            name.get_ref()
                        ),
                    )
                })?;
            }
        }
        for (table, spec) in &self.tables {
            for class in spec.columns.values() {
                if !classes.contains(class.get_ref().as_str()) {
                    return Err(self.error(
                        class,
                        format!(
                            "table '{}': unknown class '{}' (classes: {})",
                            table.get_ref(),
                            class.get_ref(),
                            join(classes.iter().copied())
                        ),
                    ));
                }
            }
            for role in spec.row_filters.keys() {
                check_role(role)?;
            }
            self.check_budget(
                spec.dp_budget.as_ref(),
                &format!("table '{}'", table.get_ref()),
            )?;
            if spec.personal_data && spec.public_groups {
                return Err(self.error(
                    table,
                    format!(
                        "table '{}' holds personal data, so its rows cannot be a public list of groups (public_groups)",
                        table.get_ref()
                    ),
                ));
            }
            if spec.personal_data && spec.subject.is_none() {
                return Err(self.error(
                    table,
                    format!(
                        "table '{}' holds personal data but names no subject column",
                        table.get_ref()
                    ),
                ));
            }
        }
        if self
            .purposes
            .values()
            .any(|p| p.basis == LegalBasis::Consent)
            && self.consent.is_none()
        {
            let (name, _) = self
                .purposes
                .iter()
                .find(|(_, p)| p.basis == LegalBasis::Consent)
                .expect("checked by any()");
            return Err(self.error(
                name,
                format!(
                    "purpose '{}' is consent-based but the policy has no [consent] table",
                    name.get_ref()
                ),
            ));
        }
        Ok(())
    }

    fn check_budget(&self, budget: Option<&BudgetSpec>, owner: &str) -> Result<(), PolicyError> {
        let Some(budget) = budget else {
            return Ok(());
        };
        super::budget::validate(budget).map_err(|message| PolicyError {
            file: self.file.clone(),
            line: line_of(&self.source, budget.epsilon.span().start),
            message: format!("{owner}: {message}"),
        })
    }

    pub fn role(&self, name: &str) -> Option<&RoleSpec> {
        self.roles
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    }

    pub fn user(&self, name: &str) -> Option<&UserSpec> {
        self.users
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    }

    pub fn class(&self, name: &str) -> Option<&ClassSpec> {
        self.classes
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    }

    pub fn purpose(&self, name: &str) -> Option<&PurposeSpec> {
        self.purposes
            .iter()
            .find(|(k, _)| k.get_ref() == name)
            .map(|(_, v)| v)
    }

    pub fn table(&self, name: &str) -> Option<(&Located, &TableSpec)> {
        self.tables.iter().find(|(k, _)| k.get_ref() == name)
    }

    /// Where the audit trail is written.
    pub fn audit_target(&self) -> AuditTarget {
        let dir = self.file.parent().unwrap_or(Path::new("."));
        match (&self.audit.postgres, &self.audit.path) {
            (Some(connection), _) => AuditTarget::Postgres {
                connection: connection.get_ref().clone(),
                password_env: self.audit.password_env.clone(),
            },
            (None, Some(p)) => AuditTarget::Sqlite(dir.join(p)),
            (None, None) => AuditTarget::Sqlite(dir.join("audit.db")),
        }
    }
}

impl RoleSpec {
    pub fn may_read(&self, table: &str) -> bool {
        self.tables
            .iter()
            .any(|t| t.get_ref() == "*" || t.get_ref() == table)
    }

    pub fn sees_raw(&self, class: &str) -> bool {
        self.raw
            .iter()
            .any(|c| c.get_ref() == "*" || c.get_ref() == class)
    }

    pub fn may_call(&self, function: &str) -> bool {
        self.functions.iter().any(|f| f.get_ref() == function)
    }
}

/// 1-based line of byte `offset` in `source`.
pub fn line_of(source: &str, offset: usize) -> usize {
    source
        .get(..offset.min(source.len()))
        .map_or(0, |prefix| prefix.matches('\n').count() + 1)
}

fn join<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".to_string()
    } else {
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[classes.email]
mask = "mask_email(value)"

[roles.analyst]
[roles.officer]
raw = ["*"]
functions = ["detokenize_fpe"]

[users.alice]
roles = ["analyst"]
attributes = { region = "London" }

[tables.customers]
personal_data = true
subject = "customer_id"
columns = { email = "email" }
row_filters = { analyst = "region = current_user_attribute('region')" }
"#;

    #[test]
    fn a_valid_policy_parses() {
        let policy = Policy::parse(Path::new("p.toml"), GOOD).expect("valid policy");
        let analyst = policy.role("analyst").expect("role");
        assert!(analyst.may_read("customers"));
        assert!(!analyst.sees_raw("email"));
        assert!(policy.role("officer").expect("role").sees_raw("email"));
        let (_, table) = policy.table("customers").expect("table");
        assert_eq!(table.columns.len(), 1);
    }

    #[test]
    fn unknown_names_are_reported_with_their_line() {
        let bad_role = GOOD.replace("roles = [\"analyst\"]", "roles = [\"analyts\"]");
        let err = Policy::parse(Path::new("p.toml"), &bad_role).expect_err("unknown role");
        assert_eq!(err.line, 11, "{err}");
        assert!(err.message.contains("unknown role 'analyts'"), "{err}");

        let bad_class = GOOD.replace("{ email = \"email\" }", "{ email = \"e-mail\" }");
        let err = Policy::parse(Path::new("p.toml"), &bad_class).expect_err("unknown class");
        assert_eq!(err.line, 17, "{err}");
        assert!(err.message.contains("unknown class 'e-mail'"), "{err}");

        let bad_function = GOOD.replace("[\"detokenize_fpe\"]", "[\"sha256\"]");
        let err = Policy::parse(Path::new("p.toml"), &bad_function).expect_err("not restricted");
        assert_eq!(err.line, 8, "{err}");

        let typo = GOOD.replace("personal_data", "personal_dat");
        let err = Policy::parse(Path::new("p.toml"), &typo).expect_err("unknown field");
        assert_eq!(err.line, 15, "{err}");
        assert!(err.message.contains("personal_dat"), "{err}");
    }

    #[test]
    fn consent_purposes_need_a_consent_table() {
        let text = format!("{GOOD}\n[purposes.marketing]\nbasis = \"consent\"\n");
        let err = Policy::parse(Path::new("p.toml"), &text).expect_err("no consent table");
        assert!(err.message.contains("no [consent] table"), "{err}");
    }
}
