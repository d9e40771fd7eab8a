//! Accounts for every face: registering one (signup, or the operator) and checking a login.
//! Passwords are hashed here, off the async threads (`passwords`).

use crate::{
    domain::{Command, DomainError, PersonName, ProjectName, Registration},
    passwords::{self, Busy},
    processor::CommandError,
    Steward,
};
use steward_events::{AccountId, Actor, Email, GrantId, Nanodollars, ProjectId};
use uuid::Uuid;

/// A password that meets the rules (`passwords::acceptable`), not yet hashed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// The password, if acceptable; otherwise the reason, for the person choosing it.
    pub fn parse(text: String) -> Result<Self, &'static str> {
        if passwords::acceptable(&text) {
            Ok(Self(text))
        } else {
            Err("Password must be 8 to 256 characters.")
        }
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Password(…)")
    }
}

/// An account to register, with its first project.
#[derive(Debug)]
pub struct NewAccount {
    pub email: Email,
    pub first_name: PersonName,
    pub last_name: PersonName,
    /// Without one, the account cannot log in.
    pub password: Option<Password>,
    pub project_name: ProjectName,
    /// Promotional credit for the first project, expiring a year later.
    pub promotional_credit: Option<Nanodollars>,
}

impl NewAccount {
    /// The first project's name at signup: the person's, or `My Project`.
    pub fn first_project_name(first_name: &PersonName) -> Result<ProjectName, DomainError> {
        match first_name.as_str().trim() {
            "" => ProjectName::parse("My Project"),
            first_name => ProjectName::parse(format!("{first_name}'s Project")),
        }
    }
}

/// What registering created.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Registered {
    pub account_id: AccountId,
    pub project_id: ProjectId,
}

impl Steward {
    /// Registers `account` as `actor` (the system at signup, or the operator).
    pub async fn register(
        &self,
        actor: Actor,
        account: NewAccount,
    ) -> Result<Registered, CommandError> {
        // An email already taken is refused before the costly hash.
        let taken = self.read(|projections| {
            projections
                .membership
                .account_by_email(&account.email)
                .is_some()
        });
        if taken {
            return Err(DomainError::EmailTaken.into());
        }
        let password_hash = match account.password {
            Some(Password(password)) => Some(passwords::hash(password).await?),
            None => None,
        };
        let registered = Registered {
            account_id: AccountId::from_uuid(Uuid::now_v7()),
            project_id: ProjectId::from_uuid(Uuid::now_v7()),
        };
        let promotional_credit = account
            .promotional_credit
            .filter(|amount| amount.is_positive())
            .map(|amount| (GrantId::from_uuid(Uuid::now_v7()), amount));
        let command = Command::RegisterAccount(Registration {
            account_id: registered.account_id,
            email: account.email,
            first_name: account.first_name,
            last_name: account.last_name,
            password_hash,
            project_id: registered.project_id,
            project_name: account.project_name,
            promotional_credit,
        });
        self.execute(actor, command).await?;
        Ok(registered)
    }

    /// The live account `email` and `password` log in as, if they match. An unknown email
    /// takes as long as a wrong password: it is checked against a decoy hash.
    pub async fn check_login(
        &self,
        email: &str,
        password: String,
    ) -> Result<Option<AccountId>, Busy> {
        let account = Email::parse(email).ok().and_then(|email| {
            self.read(|projections| {
                let (account_id, account) = projections.membership.account_by_email(&email)?;
                Some((account_id, account.password_hash.clone()?))
            })
        });
        let (account_id, password_hash) = match account {
            Some((account_id, password_hash)) => (Some(account_id), password_hash),
            None => (None, passwords::decoy_hash().to_owned()),
        };
        let matches = passwords::verify(password, password_hash).await?;
        Ok(account_id.filter(|_| matches))
    }
}
