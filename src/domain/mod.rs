//! The write side's rules: commands, the state they are decided against, and the decisions.
//!
//! `decide` is pure: it reads the state, the command and the time, and returns the events to
//! record or the rule the command broke. `evolve` applies one event to the state and cannot fail.

mod command;
mod credit;
mod decide;
mod error;
mod rules;
mod state;
mod values;

pub use command::{
    Command, MeteredModel, NewKey, Registration, TagBudget, TransferAmount, UsageReport,
};
pub use credit::{is_expired, spend_order};
pub use decide::{decide, Known};
pub use error::{as_sentence, DomainError};
pub use rules::{may_change_role, may_delete_key, may_hand_over_key, may_invite_as, may_remove};
pub use state::{
    evolve, load_state, may_use_model, AccountState, GrantState, InvitationState, KeyState,
    ProjectState, State,
};
pub use values::{CompanyName, KeyComment, ModelName, PersonName, ProjectName, Reference};

#[cfg(test)]
mod properties;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;
