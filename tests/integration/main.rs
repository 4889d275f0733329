//! Integration tests: they drive the real `finsight` binary (scripts, the
//! shell through a pipe and a pty, the demo generator) and a real
//! S3-compatible server on loopback. One test binary, one link step.

mod common;
mod compat;
mod data_access;
mod demo;
mod dp;
mod governance;
mod privacy;
mod readme;
mod reference;
mod repl;
mod run;
mod s3;
mod server;
