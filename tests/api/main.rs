//! HTTP end to end: the real server on a free port, driven over HTTP with reqwest.

mod accounts;
mod authorization;
mod billing;
mod concurrency;
mod console;
mod console_lifecycle;
mod console_views;
mod demo;
mod errors;
mod gateway;
mod grants;
mod helpers;
mod hostile;
mod idempotency;
mod keys;
mod lean_paths;
mod lifecycle;
mod members;
mod models;
mod openapi;
mod outbox;
mod positions;
mod transfers;
mod usage;
