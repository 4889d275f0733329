//! `finsight serve`: Arrow Flight SQL for BI tools and notebooks.
//!
//! Clients log in with a user name and password of the policy file (basic
//! auth in the Flight handshake) and get a bearer token with an expiry
//! ([`auth`]). Each token carries the user's own session from the session
//! factory, so a query over Flight sees exactly what the same user sees in
//! the shell: the same masks, row filters, purposes and audit trail.
//! Queries run with a memory pool, a deadline and a per-user concurrency
//! cap of their own, and stream their results with backpressure
//! ([`query`]). SIGTERM (or Ctrl-C) stops new work, lets running queries
//! finish within a grace period, cancels the rest, and waits until every
//! statement's audit entry is written.

pub mod auth;
mod metadata;
pub mod query;
mod service;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::transport::server::TcpIncoming;
use tonic::transport::{Identity as TlsIdentity, Server, ServerTlsConfig};

use crate::error::{Error, Result};
use crate::governance::Governance;
use crate::governance::audit::AuditLog;
use crate::governance::policy::Policy;
use crate::session::{self, SessionOptions};
pub use auth::AuthOptions;
pub use query::Limits;

/// How `finsight serve` runs.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    /// PEM certificate chain and private key; without them the server
    /// speaks plain gRPC (for loopback and trusted networks only).
    pub tls: Option<(PathBuf, PathBuf)>,
    pub auth: AuthOptions,
    pub limits: Limits,
    /// How long running queries may take to finish after SIGTERM before
    /// they are cancelled.
    pub shutdown_grace: Duration,
}

/// Serves `session`'s data directory under `policy` until SIGTERM or
/// Ctrl-C; `ready` gets the bound address (port 0 picks a free one).
pub async fn serve(
    session: SessionOptions,
    policy: PathBuf,
    options: ServeOptions,
    ready: impl FnOnce(SocketAddr),
) -> Result<()> {
    let policy = Arc::new(Policy::from_file(&policy).map_err(|e| Error::Usage(e.to_string()))?);
    if !policy.users.values().any(|u| u.password_hash.is_some()) {
        return Err(Error::Usage(format!(
            "serve: no user in {} has a password_hash, so nobody could log in (create one with `finsight policy hash-password`)",
            policy.file.display()
        )));
    }
    let audit = AuditLog::open(&policy.audit_target()).map_err(Error::Usage)?;
    // Validate the policy against the tables once, as the data owner, so a
    // broken policy stops the server at start rather than at each login.
    let owner = Arc::new(Governance::new(
        Arc::clone(&policy),
        crate::governance::Identity::owner(),
        None,
    ));
    session::new_session(&SessionOptions {
        governance: Some(owner),
        ..session.clone()
    })
    .await?;

    let tls = match &options.tls {
        Some((cert, key)) => {
            let cert_pem =
                std::fs::read(cert).map_err(|e| Error::io("read TLS certificate", cert, e))?;
            let key_pem = std::fs::read(key).map_err(|e| Error::io("read TLS key", key, e))?;
            Some(ServerTlsConfig::new().identity(TlsIdentity::from_pem(cert_pem, key_pem)))
        }
        None => None,
    };

    let listener = TcpListener::bind(options.addr)
        .await
        .map_err(|e| Error::Usage(format!("serve: cannot listen on {}: {e}", options.addr)))?;
    let local = listener
        .local_addr()
        .map_err(|e| Error::Usage(format!("serve: {e}")))?;

    let authenticator = Arc::new(auth::Authenticator::new(
        Arc::clone(&policy),
        Arc::clone(&audit),
        session,
        options.auth.clone(),
    ));
    let queries = Arc::new(query::Queries::new(options.limits.clone()));
    let draining = CancellationToken::new();
    let service = service::FinsightFlightSql::new(
        Arc::clone(&authenticator),
        Arc::clone(&queries),
        draining.clone(),
    )
    .map_err(|e| Error::Usage(format!("serve: {}", e.message())))?;

    let mut builder = Server::builder();
    if let Some(tls) = tls {
        builder = builder
            .tls_config(tls)
            .map_err(|e| Error::Usage(format!("serve: bad TLS certificate or key: {e}")))?;
    }
    // Results are large; a bigger window keeps loopback and LAN clients busy.
    let router = builder
        .initial_connection_window_size(Some(8 << 20))
        .initial_stream_window_size(Some(2 << 20))
        .add_service(
            FlightServiceServer::new(service)
                .max_decoding_message_size(64 << 20)
                .max_encoding_message_size(64 << 20),
        );

    // Signals: stop taking work, give running queries the grace period,
    // then cancel them; their tasks write their audit entries either way.
    let grace = options.shutdown_grace;
    let signal_draining = draining.clone();
    let signal_queries = Arc::clone(&queries);
    tokio::spawn(async move {
        wait_for_termination().await;
        eprintln!(
            "finsight serve: stopping: no new logins or queries; {} running may finish within {} s",
            signal_queries.running(),
            grace.as_secs_f64()
        );
        signal_draining.cancel();
        tokio::time::sleep(grace).await;
        let left = signal_queries.running();
        if left > 0 {
            eprintln!("finsight serve: grace period over: cancelling {left} running queries");
        }
        signal_queries.shutdown.cancel();
    });

    ready(local);
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    let server = router.serve_with_incoming_shutdown(incoming, draining.clone().cancelled_owned());
    // The server stops accepting at once and waits for open calls; streams
    // end when their queries finish or are cancelled. Idle client
    // connections get a little longer to go away, then are dropped.
    let linger = async {
        draining.cancelled().await;
        tokio::time::sleep(grace + Duration::from_secs(5)).await;
    };
    let served = tokio::select! {
        served = server => served,
        _ = linger => Ok(()),
    };
    queries.shutdown.cancel();
    queries.tasks.close();
    queries.tasks.wait().await;
    authenticator.revoke_all();
    served.map_err(|e| Error::Usage(format!("serve: {e}")))
}

async fn wait_for_termination() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Locks a map of the server's state (tokens, tickets, slots, prepared
/// statements). Only plain inserts and removes happen under these locks,
/// so a lock poisoned by a panicking holder still guards a consistent map.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `bytes` random bytes as hex: bearer tokens, tickets, statement handles.
fn random_hex(bytes: usize) -> String {
    use rand::RngCore;
    let mut buffer = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buffer);
    hex::encode(buffer)
}

/// Parses `90`, `90s`, `15m`, `8h` or `1d` as a duration.
pub fn parse_duration(text: &str) -> Result<Duration> {
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let bad = || {
        Error::Usage(format!(
            "expected a duration such as 30s, 15m or 8h, got '{text}'"
        ))
    };
    let value: f64 = number.parse().map_err(|_| bad())?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        _ => return Err(bad()),
    };
    // Ten years at most: deadlines and token expiries are added to clocks.
    if !seconds.is_finite() || seconds <= 0.0 || seconds > 10.0 * 365.25 * 86400.0 {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("90").expect("secs"), Duration::from_secs(90));
        assert_eq!(
            parse_duration("15m").expect("min"),
            Duration::from_secs(900)
        );
        assert_eq!(parse_duration("8h").expect("h"), Duration::from_secs(28800));
        assert_eq!(
            parse_duration("250ms").expect("ms"),
            Duration::from_millis(250)
        );
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("5 fortnights").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }
}
