//! Steward: self-hosted, event-sourced management of projects, members, API keys, credits and
//! usage, speaking Deepgram's Management API v1.
#![forbid(unsafe_code)]

pub mod access;
pub mod accounts;
pub mod app;
pub mod checkpoint;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod console;
pub mod delivery;
pub mod demo;
pub mod domain;
pub mod expiring;
pub mod gateway;
pub mod grants;
pub mod http;
pub mod invitations;
pub mod limits;
pub mod metering;
pub mod metrics;
pub mod models;
pub mod outbox;
pub mod passwords;
pub mod pricing;
pub mod processor;
pub mod progress;
pub mod reads;
pub mod secrets;
pub mod sessions;
pub mod startup;
pub mod telemetry;

pub use app::Steward;
