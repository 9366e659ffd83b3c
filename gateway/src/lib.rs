//! The dmesh gateway: a gRPC server holding named connector instances, with
//! results streamed as Arrow over Arrow Flight.
//!
//! The binary `dmesh` both runs the server (`dmesh serve`) and talks to it
//! (`dmesh connector ...`, `dmesh query ...`). This library is what the binary
//! and the end-to-end tests are built from.

pub mod cli;
pub mod audit;
pub mod auth;
pub mod config;
pub mod convert;
pub mod demo;
pub mod engine;
pub mod error;
pub mod flight;
pub mod flightsql;
pub mod policy;
pub mod registry;
pub mod server;
pub mod service;
pub mod sqlrefs;
pub mod state;
pub mod telemetry;
pub mod ticket;

pub use server::{RunningGateway, builtin_kinds, start};
