//! Logins and bearer tokens. A client logs in once with basic auth (the
//! Flight handshake), gets a random bearer token with an expiry, and sends
//! it on every call; each token holds the user's own session, built by the
//! session factory with that user's identity, so masks, row filters and
//! purposes apply exactly as in the shell. Failed logins are counted per
//! user name and per client address, locked out for a while past a limit,
//! and recorded in the audit trail like successful ones.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use datafusion::prelude::SessionContext;
use tonic::Status;
use tonic::metadata::MetadataMap;

use super::{locked, random_hex};
use crate::governance::audit::{AuditLog, Entry, Status as AuditStatus};
use crate::governance::policy::Policy;
use crate::governance::{Governance, Identity, identity};
use crate::session::{self, SessionOptions};

/// Headers a client may send with the handshake to choose one of its roles
/// and declare a purpose (`--role` and `--purpose` of the shell).
pub const ROLE_HEADER: &str = "x-finsight-role";
pub const PURPOSE_HEADER: &str = "x-finsight-purpose";

/// One logged-in client: its identity's session and when its token expires.
pub struct UserSession {
    pub ctx: SessionContext,
    pub governance: Arc<Governance>,
    pub expires: Instant,
    /// The expiry as wall-clock time, for messages.
    pub expires_at: chrono::DateTime<chrono::Utc>,
}

impl UserSession {
    pub fn user(&self) -> &str {
        &self.governance.identity.user
    }
}

/// Failed logins of one user name or client address within a window.
#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    window_start: Instant,
    locked_until: Option<Instant>,
}

/// Login and lockout settings.
#[derive(Debug, Clone)]
pub struct AuthOptions {
    pub token_ttl: Duration,
    /// Failed logins of one user name allowed per `lockout` window; a client
    /// address may fail four times as often (it may serve several people).
    pub max_failures: u32,
    pub lockout: Duration,
}

pub struct Authenticator {
    policy: Arc<Policy>,
    audit: Arc<AuditLog>,
    session: SessionOptions,
    options: AuthOptions,
    tokens: Mutex<HashMap<String, Arc<UserSession>>>,
    failures: Mutex<HashMap<String, Failures>>,
}

impl Authenticator {
    pub fn new(
        policy: Arc<Policy>,
        audit: Arc<AuditLog>,
        session: SessionOptions,
        options: AuthOptions,
    ) -> Self {
        Self {
            policy,
            audit,
            session,
            options,
            tokens: Mutex::new(HashMap::new()),
            failures: Mutex::new(HashMap::new()),
        }
    }

    pub fn audit(&self) -> &Arc<AuditLog> {
        &self.audit
    }

    /// Checks the basic-auth `authorization` header of a handshake and
    /// returns a new bearer token.
    pub async fn login(
        &self,
        metadata: &MetadataMap,
        peer: Option<IpAddr>,
    ) -> Result<String, Status> {
        let (user, password) = basic_credentials(metadata)?;
        let peer_text = peer.map_or_else(|| "unknown address".to_string(), |p| p.to_string());
        let keys = [
            format!("user:{user}"),
            format!("addr:{}", peer.map_or_else(String::new, |p| p.to_string())),
        ];
        if let Some(wait) = self.locked_out(&keys) {
            self.record_login(
                &user,
                None,
                AuditStatus::Denied,
                &format!("login refused from {peer_text}: locked out after repeated failures"),
            );
            return Err(Status::resource_exhausted(format!(
                "too many failed logins for '{user}' or from {peer_text}; try again in {} s",
                wait.as_secs().max(1)
            )));
        }
        // argon2 is deliberately slow: keep it off the async workers.
        let policy = Arc::clone(&self.policy);
        let (name, secret) = (user.clone(), password);
        let verified =
            tokio::task::spawn_blocking(move || identity::verify_password(&policy, &name, &secret))
                .await
                .unwrap_or(false);
        if !verified {
            self.count_failure(&keys);
            self.record_login(
                &user,
                None,
                AuditStatus::Denied,
                &format!("failed login from {peer_text}: wrong user name or password"),
            );
            return Err(Status::unauthenticated(
                "login failed: wrong user name or password",
            ));
        }
        let role = header(metadata, ROLE_HEADER);
        let purpose = header(metadata, PURPOSE_HEADER);
        let identity = Identity::resolve(
            &self.policy,
            Some(&user),
            role.as_deref(),
            purpose.as_deref(),
        )
        .map_err(|e| {
            self.record_login(&user, role.as_deref(), AuditStatus::Denied, &e);
            Status::permission_denied(e)
        })?;
        let governance = Arc::new(Governance::new(
            Arc::clone(&self.policy),
            identity,
            Some(Arc::clone(&self.audit)),
        ));
        let options = SessionOptions {
            governance: Some(Arc::clone(&governance)),
            ..self.session.clone()
        };
        let ctx = session::new_session(&options)
            .await
            .map_err(|e| Status::internal(format!("cannot open a session for '{user}': {e}")))?;
        for key in &keys {
            locked(&self.failures).remove(key);
        }
        let token = random_hex(32);
        // The TTL is at most ten years (parse_duration), so this cannot overflow.
        let expires_at = chrono::Duration::from_std(self.options.token_ttl)
            .ok()
            .and_then(|ttl| chrono::Utc::now().checked_add_signed(ttl))
            .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC);
        let session = Arc::new(UserSession {
            ctx,
            governance: Arc::clone(&governance),
            expires: Instant::now() + self.options.token_ttl,
            expires_at,
        });
        {
            let mut tokens = locked(&self.tokens);
            let now = Instant::now();
            tokens.retain(|_, s| s.expires > now);
            tokens.insert(token.clone(), session);
        }
        // The token itself is a credential: the trail keeps only a prefix of its hash.
        let fingerprint = &hex::encode(sha2::Digest::finalize(sha2::Digest::chain_update(
            sha2::Sha256::default(),
            token.as_bytes(),
        )))[..12];
        self.record_login(
            &user,
            Some(governance.identity.role_name()),
            AuditStatus::Ok,
            &format!(
                "login from {peer_text}; token sha256:{fingerprint}… expires {}",
                expires_at.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        );
        Ok(token)
    }

    /// The session of the bearer token on a call.
    pub fn session(&self, metadata: &MetadataMap) -> Result<Arc<UserSession>, Status> {
        let value = metadata.get("authorization").ok_or_else(|| {
            Status::unauthenticated(
                "no bearer token: log in first (Flight handshake with basic auth: user name and password)",
            )
        })?;
        let text = value
            .to_str()
            .map_err(|_| Status::unauthenticated("authorization header is not text"))?;
        let Some(token) = strip_scheme(text, "Bearer") else {
            return Err(Status::unauthenticated(
                "expected 'authorization: Bearer <token>' (log in with basic auth to get one)",
            ));
        };
        let mut tokens = locked(&self.tokens);
        let Some(session) = tokens.get(token).cloned() else {
            return Err(Status::unauthenticated(
                "unknown or revoked bearer token: log in again",
            ));
        };
        if session.expires <= Instant::now() {
            tokens.remove(token);
            return Err(Status::unauthenticated(format!(
                "bearer token expired at {}: log in again",
                session.expires_at.format("%Y-%m-%dT%H:%M:%SZ")
            )));
        }
        Ok(session)
    }

    fn locked_out(&self, keys: &[String]) -> Option<Duration> {
        let now = Instant::now();
        let failures = locked(&self.failures);
        keys.iter()
            .filter_map(|k| failures.get(k))
            .filter_map(|f| f.locked_until)
            .filter(|until| *until > now)
            .map(|until| until - now)
            .max()
    }

    fn count_failure(&self, keys: &[String]) {
        let now = Instant::now();
        let mut failures = locked(&self.failures);
        for key in keys {
            let limit = if key.starts_with("user:") {
                self.options.max_failures
            } else {
                self.options.max_failures.saturating_mul(4)
            };
            let entry = failures.entry(key.clone()).or_insert(Failures {
                count: 0,
                window_start: now,
                locked_until: None,
            });
            if now.duration_since(entry.window_start) > self.options.lockout {
                *entry = Failures {
                    count: 0,
                    window_start: now,
                    locked_until: None,
                };
            }
            entry.count += 1;
            if entry.count >= limit {
                entry.locked_until = Some(now + self.options.lockout);
            }
        }
    }

    fn record_login(&self, user: &str, role: Option<&str>, status: AuditStatus, detail: &str) {
        let entry = Entry {
            user: user.to_string(),
            role: role.unwrap_or("").to_string(),
            kind: "login".into(),
            statement: "flight handshake".into(),
            status: Some(status),
            error: (status != AuditStatus::Ok).then(|| detail.to_string()),
            detail: Some(detail.to_string()),
            ..Entry::default()
        };
        if let Err(e) = self.audit.append(&entry) {
            eprintln!("finsight serve: cannot record a login in the audit trail: {e}");
        }
    }

    /// Drops every token (on shutdown).
    pub fn revoke_all(&self) {
        locked(&self.tokens).clear();
    }
}

fn header(metadata: &MetadataMap, name: &str) -> Option<String> {
    metadata
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

fn strip_scheme<'a>(value: &'a str, scheme: &str) -> Option<&'a str> {
    let (given, rest) = value.trim().split_once(' ')?;
    given
        .eq_ignore_ascii_case(scheme)
        .then_some(rest.trim())
        .filter(|r| !r.is_empty())
}

/// The user name and password of a basic-auth `authorization` header.
fn basic_credentials(metadata: &MetadataMap) -> Result<(String, String), Status> {
    let value = metadata
        .get("authorization")
        .ok_or_else(|| {
            Status::unauthenticated(
                "login: send 'authorization: Basic base64(user:password)' with the handshake",
            )
        })?
        .to_str()
        .map_err(|_| Status::invalid_argument("login: authorization header is not text"))?;
    let encoded = strip_scheme(value, "Basic").ok_or_else(|| {
        Status::unauthenticated("login: expected basic auth ('authorization: Basic ...')")
    })?;
    // Go's Flight client (ADBC) sends unpadded base64, others padded.
    let lenient = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let decoded = lenient
        .decode(encoded)
        .map_err(|_| Status::invalid_argument("login: basic auth credentials are not base64"))?;
    let text = String::from_utf8(decoded)
        .map_err(|_| Status::invalid_argument("login: basic auth credentials are not UTF-8"))?;
    let (user, password) = text.split_once(':').ok_or_else(|| {
        Status::invalid_argument("login: basic auth credentials must be 'user:password'")
    })?;
    if user.is_empty() {
        return Err(Status::unauthenticated("login: empty user name"));
    }
    Ok((user.to_string(), password.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataValue;

    fn with_auth(value: &str) -> MetadataMap {
        let mut map = MetadataMap::new();
        map.insert(
            "authorization",
            MetadataValue::try_from(value).expect("ascii header"),
        );
        map
    }

    #[test]
    fn basic_credentials_are_parsed_strictly() {
        let ok = with_auth(&format!(
            "Basic {}",
            base64::prelude::BASE64_STANDARD.encode("adam:pa:ss")
        ));
        assert_eq!(
            basic_credentials(&ok).expect("valid"),
            ("adam".to_string(), "pa:ss".to_string())
        );
        let unpadded = with_auth(&format!(
            "Basic {}",
            base64::prelude::BASE64_STANDARD_NO_PAD.encode("adam:adam-demo")
        ));
        assert_eq!(
            basic_credentials(&unpadded).expect("unpadded").1,
            "adam-demo"
        );
        let err = basic_credentials(&with_auth("Basic !!!")).expect_err("not base64");
        assert_eq!(err.code(), tonic::Code::InvalidArgument);
        let err = basic_credentials(&with_auth("Bearer abc")).expect_err("not basic");
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let err = basic_credentials(&MetadataMap::new()).expect_err("missing");
        assert_eq!(err.code(), tonic::Code::Unauthenticated);
        let no_colon = with_auth(&format!(
            "Basic {}",
            base64::prelude::BASE64_STANDARD.encode("adam")
        ));
        assert!(basic_credentials(&no_colon).is_err());
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let (a, b) = (random_hex(32), random_hex(32));
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(strip_scheme("bearer  xyz ", "Bearer"), Some("xyz"));
        assert_eq!(strip_scheme("Bearer", "Bearer"), None);
    }
}
