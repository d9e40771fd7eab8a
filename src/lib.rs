//! Steward: self-hosted, event-sourced management of projects, members, API keys, credits and
//! usage, speaking Deepgram's Management API v1.
#![forbid(unsafe_code)]

pub mod app;
pub mod cli;
pub mod clock;
pub mod demo;
pub mod domain;
pub mod processor;
pub mod secrets;

pub use app::Steward;
