//! Privacy budgets: how much epsilon (and delta) each user may spend on each
//! dataset through differentially private queries, within a rolling window.
//!
//! ```toml
//! [tables.transactions]
//! dp_budget = { epsilon = 10.0, delta = 1e-5, window = "30 days" }  # everyone, the owner too
//!
//! [roles.analyst]
//! dp_budget = { epsilon = 3.0, delta = 1e-5, window = "30 days" }   # replaces the table's
//!
//! [users.adam]
//! dp_budget = { epsilon = 5.0, delta = 1e-5 }                       # replaces the role's
//! ```
//!
//! The ledger is the audit trail: each DP query appends a `dp_spend` entry
//! and each `GRANT PRIVACY BUDGET` a `dp_grant` entry, hash-chained like
//! every other entry, so spends survive restarts and cannot be removed
//! without breaking the chain. A spend is appended only after the ledger
//! was read and the budget checked in the same write transaction, so two
//! sessions (or two `finsight serve` clients, or two processes) racing for
//! the last epsilon cannot both win. Composition is basic: the epsilons and
//! deltas of the spends in the window add up.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{DateTime, Months, Utc};
use datafusion::common::{DataFusionError, Result as DfResult, plan_err};
use serde::{Deserialize, Serialize};

use super::Governance;
use super::audit::{Entry, GRANT_KIND, LedgerEntry, SPEND_KIND, Status};
use super::policy::BudgetSpec;

/// A rolling window: spends older than this no longer count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Window {
    Days(u32),
    Months(u32),
}

impl Window {
    /// Parses `30 days`, `4 weeks`, `1 month`, `1 year`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut parts = text.split_whitespace();
        let (Some(number), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format!(
                "window '{text}': expected a period such as '30 days', '4 weeks', '1 month' or '1 year'"
            ));
        };
        let n: u32 = number
            .parse()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| format!("window '{text}': expected a positive whole number"))?;
        match unit.trim_end_matches('s') {
            "day" => Ok(Self::Days(n)),
            "week" => Ok(Self::Days(n.saturating_mul(7))),
            "month" => Ok(Self::Months(n)),
            "year" => Ok(Self::Months(n.saturating_mul(12))),
            _ => Err(format!(
                "window '{text}': unknown unit '{unit}' (use days, weeks, months or years)"
            )),
        }
    }

    /// The start of the window that ends at `now_micros`.
    pub fn start(&self, now_micros: i64) -> i64 {
        let now = DateTime::<Utc>::from_timestamp_micros(now_micros).unwrap_or_default();
        let start = match self {
            Self::Days(d) => now.checked_sub_signed(chrono::Duration::days(i64::from(*d))),
            Self::Months(m) => now.checked_sub_months(Months::new(*m)),
        };
        start.map_or(i64::MIN, |s| s.timestamp_micros())
    }

    pub fn describe(&self) -> String {
        match self {
            Self::Days(1) => "1 day".into(),
            Self::Days(d) => format!("{d} days"),
            Self::Months(1) => "1 month".into(),
            Self::Months(m) if m % 12 == 0 && *m == 12 => "1 year".into(),
            Self::Months(m) if m % 12 == 0 => format!("{} years", m / 12),
            Self::Months(m) => format!("{m} months"),
        }
    }
}

/// The window of a budget entry (`30 days` when not given).
pub fn window_of(spec: &BudgetSpec) -> Result<Window, String> {
    spec.window
        .as_ref()
        .map_or(Ok(Window::Days(30)), |w| Window::parse(w.get_ref()))
}

/// Checks a budget entry of the policy file.
pub fn validate(spec: &BudgetSpec) -> Result<(), String> {
    let epsilon = *spec.epsilon.get_ref();
    if !(epsilon.is_finite() && epsilon > 0.0) {
        return Err(format!(
            "dp_budget: epsilon must be a positive finite number, got {epsilon}"
        ));
    }
    if !(spec.delta.is_finite() && (0.0..1.0).contains(&spec.delta)) {
        return Err(format!(
            "dp_budget: delta must be in [0, 1), got {}",
            spec.delta
        ));
    }
    window_of(spec).map(|_| ())
}

/// The budget one identity has on one dataset.
#[derive(Debug, Clone, PartialEq)]
pub struct Limit {
    pub epsilon: f64,
    pub delta: f64,
    pub window: Window,
    /// Where it comes from: `user adam`, `role analyst`, `table transactions`.
    pub source: String,
}

impl Limit {
    fn from_spec(spec: &BudgetSpec, source: String) -> Self {
        Self {
            epsilon: *spec.epsilon.get_ref(),
            delta: spec.delta,
            // Validated when the policy was parsed.
            window: window_of(spec).unwrap_or(Window::Days(30)),
            source,
        }
    }
}

/// What a DP query costs, on which datasets.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    pub epsilon: f64,
    pub delta: f64,
    pub datasets: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct SpendDetail {
    epsilon: f64,
    delta: f64,
}

#[derive(Debug, Serialize, Deserialize)]
struct GrantDetail {
    grantee: String,
    epsilon: f64,
    delta: f64,
}

/// One user's use of one dataset's budget within a window.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Usage {
    pub spent_epsilon: f64,
    pub spent_delta: f64,
    pub granted_epsilon: f64,
    pub granted_delta: f64,
    pub queries: u64,
    /// The oldest spend in the window: when it ages out, budget comes back.
    pub oldest_spend_micros: Option<i64>,
    pub last_spend_micros: Option<i64>,
}

/// Sums `user`'s spends and grants on `dataset` at or after `since`.
pub fn usage(ledger: &[LedgerEntry], user: &str, dataset: &str, since: i64) -> Usage {
    let mut usage = Usage::default();
    for entry in ledger
        .iter()
        .filter(|e| e.ts_micros >= since && e.tables.iter().any(|t| t == dataset))
    {
        let Some(detail) = &entry.detail else {
            continue;
        };
        if entry.kind == SPEND_KIND && entry.user == user {
            if let Ok(spend) = serde_json::from_str::<SpendDetail>(detail) {
                usage.spent_epsilon += spend.epsilon;
                usage.spent_delta += spend.delta;
                usage.queries += 1;
                usage.oldest_spend_micros.get_or_insert(entry.ts_micros);
                usage.last_spend_micros = Some(entry.ts_micros);
            }
        } else if entry.kind == GRANT_KIND
            && let Ok(grant) = serde_json::from_str::<GrantDetail>(detail)
            && grant.grantee == user
        {
            usage.granted_epsilon += grant.epsilon;
            usage.granted_delta += grant.delta;
        }
    }
    usage
}

/// Room left under `limit`: epsilon and delta.
pub fn remaining(limit: &Limit, usage: &Usage) -> (f64, f64) {
    (
        limit.epsilon + usage.granted_epsilon - usage.spent_epsilon,
        limit.delta + usage.granted_delta - usage.spent_delta,
    )
}

/// Tolerance for the float sums of a ledger: a budget of 1.0 spent as ten
/// queries of 0.1 must not refuse the tenth.
const SLACK: f64 = 1e-9;

/// Why `spend` does not fit `limit`, or `None` when it fits.
fn refusal(
    user: &str,
    dataset: &str,
    limit: &Limit,
    usage: &Usage,
    spend: &Spend,
) -> Option<String> {
    let (epsilon_left, delta_left) = remaining(limit, usage);
    let over_epsilon = spend.epsilon > epsilon_left + SLACK;
    let over_delta = spend.delta > delta_left + SLACK * limit.delta.max(1e-12);
    if !over_epsilon && !over_delta {
        return None;
    }
    let granted = if usage.granted_epsilon > 0.0 || usage.granted_delta > 0.0 {
        format!(
            " (+ epsilon {} / delta {} granted)",
            round(usage.granted_epsilon),
            usage.granted_delta
        )
    } else {
        String::new()
    };
    let ages_out = usage
        .oldest_spend_micros
        .and_then(DateTime::<Utc>::from_timestamp_micros)
        .map(|oldest| {
            let when = match limit.window {
                Window::Days(d) => oldest.checked_add_signed(chrono::Duration::days(i64::from(d))),
                Window::Months(m) => oldest.checked_add_months(Months::new(m)),
            };
            when.map(|w| {
                format!(
                    "; the oldest spend in the window ages out at {}",
                    w.format("%Y-%m-%d %H:%M UTC")
                )
            })
            .unwrap_or_default()
        })
        .unwrap_or_default();
    Some(format!(
        "privacy budget exceeded: the query needs epsilon {} and delta {} on '{dataset}', but user '{user}' has epsilon {} and delta {} left of the budget of epsilon {} and delta {} per {} ({}){granted}{ages_out}; ask a privacy officer to GRANT PRIVACY BUDGET, or lower epsilon",
        round(spend.epsilon),
        spend.delta,
        round(epsilon_left.max(0.0)),
        delta_left.max(0.0),
        round(limit.epsilon),
        limit.delta,
        limit.window.describe(),
        limit.source
    ))
}

fn round(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// A row of `privacy.budgets`.
#[derive(Debug, Clone, PartialEq)]
pub struct BudgetRow {
    pub user: String,
    pub dataset: String,
    pub limit: Option<Limit>,
    pub usage: Usage,
}

impl Governance {
    /// The budget this session's identity has on `dataset`: its user
    /// entry's, else its role's, else the table's; `None` is unlimited.
    pub fn budget_limit(&self, dataset: &str) -> Option<Limit> {
        if !self.identity.is_owner()
            && let Some(spec) = self
                .policy
                .user(&self.identity.user)
                .and_then(|u| u.dp_budget.as_ref())
        {
            return Some(Limit::from_spec(
                spec,
                format!("user {}", self.identity.user),
            ));
        }
        if let Some(spec) = self.role().and_then(|r| r.dp_budget.as_ref()) {
            return Some(Limit::from_spec(
                spec,
                format!("role {}", self.identity.role_name()),
            ));
        }
        table_limit(&self.policy, dataset)
    }

    /// The budget a policy user has on `dataset`, whatever role they act
    /// with: their own entry, else the first of their roles with one, else
    /// the table's.
    fn user_limit(&self, user: &str, dataset: &str) -> Option<Limit> {
        let spec = self.policy.user(user)?;
        if let Some(budget) = &spec.dp_budget {
            return Some(Limit::from_spec(budget, format!("user {user}")));
        }
        spec.roles
            .iter()
            .find_map(|role| {
                self.policy
                    .role(role.get_ref())
                    .and_then(|r| r.dp_budget.as_ref())
                    .map(|b| Limit::from_spec(b, format!("role {}", role.get_ref())))
            })
            .or_else(|| table_limit(&self.policy, dataset))
    }

    /// May this identity see every user's budget and grant more?
    pub fn may_manage_budgets(&self) -> bool {
        self.identity.is_owner() || self.role().is_some_and(|r| r.manage_budgets)
    }

    /// Spends `spend` from this identity's budgets, or refuses with the
    /// remaining budget in the error. The check and the `dp_spend` entry
    /// are one transaction of the audit trail.
    pub fn spend_budget(&self, statement: &str, spend: &Spend) -> DfResult<()> {
        self.spend_budget_at(statement, spend, Utc::now().timestamp_micros())
    }

    fn spend_budget_at(&self, statement: &str, spend: &Spend, now: i64) -> DfResult<()> {
        let limits: Vec<(String, Limit)> = spend
            .datasets
            .iter()
            .filter_map(|d| self.budget_limit(d).map(|l| (d.clone(), l)))
            .collect();
        let Some(audit) = &self.audit else {
            if limits.is_empty() {
                return Ok(());
            }
            return plan_err!(
                "privacy budgets need the audit trail, which records every spend; this session has none"
            );
        };
        let since = limits
            .iter()
            .map(|(_, l)| l.window.start(now))
            .min()
            .unwrap_or(now);
        let user = self.identity.user.clone();
        let cost = spend.clone();
        let check = Arc::new(move |ledger: &[LedgerEntry]| -> Result<(), String> {
            for (dataset, limit) in &limits {
                let usage = usage(ledger, &user, dataset, limit.window.start(now));
                if let Some(reason) = refusal(&user, dataset, limit, &usage, &cost) {
                    return Err(reason);
                }
            }
            Ok(())
        });
        let detail = serde_json::to_string(&SpendDetail {
            epsilon: spend.epsilon,
            delta: spend.delta,
        })
        .map_err(|e| DataFusionError::Execution(format!("privacy budget: {e}")))?;
        let entry = Entry {
            user: self.identity.user.clone(),
            role: self.identity.role_name().to_string(),
            purpose: self.identity.purpose.clone(),
            kind: SPEND_KIND.into(),
            statement: statement.to_string(),
            tables: spend.datasets.clone(),
            status: Some(Status::Ok),
            detail: Some(detail),
            at_micros: Some(now),
            ..Entry::default()
        };
        match audit
            .append_checked(&entry, since, check)
            .map_err(|e| DataFusionError::Execution(format!("audit trail: {e}")))?
        {
            Ok(_) => Ok(()),
            Err(reason) => plan_err!("{reason}"),
        }
    }

    /// `GRANT PRIVACY BUDGET`: `epsilon` and `delta` more for `grantee` on
    /// `dataset`, for as long as the grant is within the grantee's window.
    pub fn grant_budget(
        &self,
        statement: &str,
        grantee: &str,
        dataset: &str,
        epsilon: f64,
        delta: f64,
    ) -> DfResult<()> {
        if !self.may_manage_budgets() {
            return self.denied("grant privacy budget (needs a role with manage_budgets)");
        }
        if self.policy.user(grantee).is_none() {
            let users: Vec<&str> = self
                .policy
                .users
                .keys()
                .map(|u| u.get_ref().as_str())
                .collect();
            return plan_err!(
                "GRANT PRIVACY BUDGET: unknown user '{grantee}' (users: {})",
                users.join(", ")
            );
        }
        if !self.base_tables.get().is_some_and(|t| t.contains(dataset)) {
            return plan_err!("GRANT PRIVACY BUDGET: unknown table '{dataset}'");
        }
        let Some(audit) = &self.audit else {
            return plan_err!("GRANT PRIVACY BUDGET needs the audit trail, which keeps the ledger");
        };
        let detail = serde_json::to_string(&GrantDetail {
            grantee: grantee.to_string(),
            epsilon,
            delta,
        })
        .map_err(|e| DataFusionError::Execution(format!("privacy budget: {e}")))?;
        audit
            .append(&Entry {
                user: self.identity.user.clone(),
                role: self.identity.role_name().to_string(),
                purpose: self.identity.purpose.clone(),
                kind: GRANT_KIND.into(),
                statement: statement.to_string(),
                tables: vec![dataset.to_string()],
                status: Some(Status::Ok),
                detail: Some(detail),
                ..Entry::default()
            })
            .map(|_| ())
            .map_err(|e| DataFusionError::Execution(format!("audit trail: {e}")))
    }

    /// The rows of `privacy.budgets`: the caller's budgets on every
    /// personal-data table, or everyone's for those who manage budgets.
    pub fn budget_rows(&self) -> DfResult<Vec<BudgetRow>> {
        let now = Utc::now().timestamp_micros();
        let datasets: Vec<String> = self
            .policy
            .tables
            .iter()
            .filter(|(_, t)| t.personal_data || t.dp_budget.is_some())
            .map(|(name, _)| name.get_ref().clone())
            .collect();
        let mut wanted: Vec<(String, String, Option<Limit>)> = Vec::new();
        let ledger = match &self.audit {
            Some(audit) => audit
                .ledger(i64::MIN)
                .map_err(|e| DataFusionError::Execution(format!("audit trail: {e}")))?,
            None => Vec::new(),
        };
        if self.may_manage_budgets() {
            let mut users: BTreeSet<String> = self
                .policy
                .users
                .keys()
                .map(|u| u.get_ref().clone())
                .collect();
            users.extend(
                ledger
                    .iter()
                    .filter(|e| e.kind == SPEND_KIND)
                    .map(|e| e.user.clone()),
            );
            for user in users {
                for dataset in &datasets {
                    let limit = if user == self.identity.user {
                        self.budget_limit(dataset)
                    } else if self.policy.user(&user).is_some() {
                        self.user_limit(&user, dataset)
                    } else {
                        table_limit(&self.policy, dataset)
                    };
                    wanted.push((user.clone(), dataset.clone(), limit));
                }
            }
        } else {
            for dataset in &datasets {
                wanted.push((
                    self.identity.user.clone(),
                    dataset.clone(),
                    self.budget_limit(dataset),
                ));
            }
        }
        let mut rows: BTreeMap<(String, String), BudgetRow> = BTreeMap::new();
        for (user, dataset, limit) in wanted {
            let since = limit
                .as_ref()
                .map_or(Window::Days(30).start(now), |l| l.window.start(now));
            let usage = usage(&ledger, &user, &dataset, since);
            rows.insert(
                (user.clone(), dataset.clone()),
                BudgetRow {
                    user,
                    dataset,
                    limit,
                    usage,
                },
            );
        }
        Ok(rows.into_values().collect())
    }
}

fn table_limit(policy: &super::policy::Policy, dataset: &str) -> Option<Limit> {
    policy
        .table(dataset)
        .and_then(|(_, t)| t.dp_budget.as_ref())
        .map(|spec| Limit::from_spec(spec, format!("table {dataset}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::governance::Identity;
    use crate::governance::audit::AuditLog;
    use crate::governance::policy::{AuditTarget, Policy};
    use std::path::Path;

    const POLICY: &str = r#"
[roles.analyst]
dp_budget = { epsilon = 1.0, delta = 1e-6, window = "30 days" }

[users.adam]
roles = ["analyst"]

[users.eve]
roles = ["analyst"]
dp_budget = { epsilon = 2.0, delta = 1e-6, window = "1 month" }

[tables.transactions]
personal_data = true
subject = "customer_id"
dp_budget = { epsilon = 10.0, delta = 1e-5 }
"#;

    fn governance(dir: &Path, user: Option<&str>) -> Governance {
        let policy = Policy::parse(Path::new("p.toml"), POLICY).expect("valid policy");
        let identity = Identity::resolve(&policy, user, None, None).expect("identity");
        let audit = AuditLog::open(&AuditTarget::Sqlite(dir.join("audit.db"))).expect("audit");
        let g = Governance::new(Arc::new(policy), identity, Some(audit));
        let _ = g
            .base_tables
            .set(BTreeSet::from(["transactions".to_string()]));
        g
    }

    fn spend(epsilon: f64) -> Spend {
        Spend {
            epsilon,
            delta: 1e-7,
            datasets: vec!["transactions".into()],
        }
    }

    const DAY: i64 = 86_400_000_000;

    #[test]
    fn windows_parse_and_reject_nonsense() {
        assert_eq!(Window::parse("30 days"), Ok(Window::Days(30)));
        assert_eq!(Window::parse("1 day"), Ok(Window::Days(1)));
        assert_eq!(Window::parse("2 weeks"), Ok(Window::Days(14)));
        assert_eq!(Window::parse("1 month"), Ok(Window::Months(1)));
        assert_eq!(Window::parse("1 year"), Ok(Window::Months(12)));
        for bad in ["", "30", "0 days", "-1 days", "3 fortnights", "30 days ago"] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
        // 2024-03-31 minus one month is 2024-02-29 (chrono clamps to the month's end).
        let march_31 = DateTime::parse_from_rfc3339("2024-03-31T12:00:00Z")
            .expect("valid test input")
            .timestamp_micros();
        let start = Window::Months(1).start(march_31);
        assert_eq!(
            DateTime::<Utc>::from_timestamp_micros(start)
                .expect("valid")
                .to_rfc3339(),
            "2024-02-29T12:00:00+00:00"
        );
    }

    #[test]
    fn limits_come_from_the_user_then_the_role_then_the_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let eve = governance(dir.path(), Some("eve")).budget_limit("transactions");
        assert_eq!(
            eve.map(|l| (l.epsilon, l.source)),
            Some((2.0, "user eve".into()))
        );
        let adam = governance(dir.path(), Some("adam")).budget_limit("transactions");
        assert_eq!(
            adam.map(|l| (l.epsilon, l.source)),
            Some((1.0, "role analyst".into()))
        );
        let owner = governance(dir.path(), None).budget_limit("transactions");
        assert_eq!(
            owner.map(|l| (l.epsilon, l.source)),
            Some((10.0, "table transactions".into()))
        );
        assert_eq!(governance(dir.path(), None).budget_limit("customers"), None);
    }

    #[test]
    fn spends_add_up_until_the_budget_is_gone_and_age_out_with_the_window() {
        let dir = tempfile::tempdir().expect("temp dir");
        let adam = governance(dir.path(), Some("adam"));
        let t0 = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .expect("valid test input")
            .timestamp_micros();
        // Ten spends of 0.1 use up 1.0 exactly: float sums must not refuse the tenth.
        for i in 0..10 {
            adam.spend_budget_at("q", &spend(0.1), t0 + i)
                .expect("within budget");
        }
        let err = adam
            .spend_budget_at("q", &spend(0.1), t0 + DAY)
            .expect_err("over budget");
        let message = err.strip_backtrace();
        assert!(message.contains("privacy budget exceeded"), "{message}");
        assert!(message.contains("has epsilon 0 and delta"), "{message}");
        assert!(
            message.contains("ages out at 2026-01-31 00:00 UTC"),
            "{message}"
        );
        // A refused spend is not in the ledger.
        let ledger = adam
            .audit
            .as_ref()
            .expect("audit")
            .ledger(0)
            .expect("ledger");
        assert_eq!(ledger.len(), 10);
        // Another user's budget is their own.
        governance(dir.path(), Some("eve"))
            .spend_budget_at("q", &spend(1.5), t0 + DAY)
            .expect("eve has 2.0");
        // 30 days after the spends, the window has rolled over.
        adam.spend_budget_at("q", &spend(1.0), t0 + 30 * DAY + 10)
            .expect("window rolled over");
        assert!(
            adam.spend_budget_at("q", &spend(0.01), t0 + 30 * DAY + 11)
                .is_err()
        );
    }

    #[test]
    fn grants_add_to_the_budget_and_need_the_right_role() {
        let dir = tempfile::tempdir().expect("temp dir");
        let adam = governance(dir.path(), Some("adam"));
        adam.spend_budget("q", &spend(1.0)).expect("within budget");
        assert!(adam.spend_budget("q", &spend(0.5)).is_err());
        let err = adam
            .grant_budget("g", "adam", "transactions", 1.0, 0.0)
            .expect_err("analysts may not grant");
        assert!(err.strip_backtrace().contains("permission denied"));
        let owner = governance(dir.path(), None);
        owner
            .grant_budget("g", "adam", "transactions", 1.0, 0.0)
            .expect("owner grants");
        assert!(
            owner
                .grant_budget("g", "nobody", "transactions", 1.0, 0.0)
                .is_err()
        );
        adam.spend_budget("q", &spend(0.5)).expect("granted budget");
        let rows = adam.budget_rows().expect("rows");
        let row = rows
            .iter()
            .find(|r| r.user == "adam" && r.dataset == "transactions")
            .expect("adam's row");
        assert_eq!(row.usage.queries, 2);
        assert!((row.usage.spent_epsilon - 1.5).abs() < 1e-12);
        assert!((row.usage.granted_epsilon - 1.0).abs() < 1e-12);
        // Analysts see only their own rows; the owner sees everyone's.
        assert!(rows.iter().all(|r| r.user == "adam"));
        let all = owner.budget_rows().expect("rows");
        assert!(all.iter().any(|r| r.user == "eve"));
    }
}
