//! Steward: self-hosted, event-sourced management of projects, members, API keys, credits and
//! usage, speaking Deepgram's Management API v1.
#![forbid(unsafe_code)]

pub mod domain;
