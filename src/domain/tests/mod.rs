//! The rules, one test each, one module per aggregate: given these events, when this command,
//! then these events (or this error). The harness is `crate::domain::testing`.

mod accounts;
mod budgets;
mod credits;
mod handover;
mod invitations;
mod keys;
mod membership;
mod projects;
mod usage;
