//! The one integration-test binary: runs the real `xtask` binary and the real `go` in temp repos.

mod support;

mod batching;
mod build;
mod cache;
mod crash;
mod deps;
mod differential;
mod discovery;
mod environment;
mod fetch;
mod mixed;
mod naming;
mod remote;
mod remote_grpc;
mod rustlink;
mod scanning;
mod staleness;
mod stamp_pack;
mod tidy;
mod vendor;
