//! The simulator's tests, one binary: every test talks to a simulator over real HTTP on
//! loopback, through the public API only, on a `ManualTime` clock.

mod artifacts;
mod common;
mod consistency;
mod datalab;
mod faults;
mod http;
mod lists;
mod matillion;
mod rate_limit;
mod replies;
