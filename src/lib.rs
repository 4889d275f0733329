//! finsight: an embedded SQL analytics engine for the customer, risk and
//! privacy analytics of banks, insurers and brokers, built on Apache DataFusion.
//!
//! Everything a user runs goes through one session factory,
//! [`session::new_session`]: the interactive shell ([`repl`]), the CI script
//! runner ([`script`]), the demo ([`demo`]) and the tests. It registers every
//! function of the [`udfs`] crate, the object stores (local files, `s3://`) and
//! the tables found under a data directory, so each entry point sees the same
//! engine.

pub mod bench;
pub mod catalog;
pub mod demo;
pub mod dialect;
pub mod docs;
pub mod dp;
pub mod encryption;
pub mod engine;
pub mod error;
pub mod governance;
pub mod memory_pool;
pub mod output;
pub mod repl;
pub mod script;
pub mod server;
pub mod session;
pub mod sql;
pub mod storage;

pub use error::{Error, Result};
pub use session::{SessionOptions, new_session};
