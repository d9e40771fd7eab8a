//! Projects: visibility, renaming, deleting.

use crate::domain::{testing::*, *};

#[test]
fn a_project_is_invisible_to_those_outside_it() {
    given(fruit_company())
        .when(
            person(OUTSIDER),
            Command::UpdateProject {
                project_id: project(FRUIT),
                name: Some("Mine now".into()),
                company: None,
            },
        )
        .then_err(DomainError::ProjectNotFound);
}

#[test]
fn a_member_renames_the_project_but_only_an_owner_deletes_it() {
    let history = fruit_company();
    given(history.clone())
        .when(
            person(MEMBER),
            Command::UpdateProject {
                project_id: project(FRUIT),
                name: Some("Fruit Co.".into()),
                company: Some("Fruit Company Ltd".into()),
            },
        )
        .then(vec![
            Event::ProjectRenamed {
                project_id: project(FRUIT),
                name: "Fruit Co.".into(),
            },
            Event::ProjectCompanyChanged {
                project_id: project(FRUIT),
                company: "Fruit Company Ltd".into(),
            },
        ]);
    given(history.clone())
        .when(
            person(ADMIN),
            Command::DeleteProject {
                project_id: project(FRUIT),
            },
        )
        .then_err(DomainError::InsufficientPermissions);
    given(history)
        .when(
            person(OWNER),
            Command::DeleteProject {
                project_id: project(FRUIT),
            },
        )
        .then(vec![Event::ProjectDeleted {
            project_id: project(FRUIT),
        }]);
}

#[test]
fn a_blank_or_overlong_project_name_is_refused() {
    for name in ["", "   ", &"x".repeat(101)] {
        assert_eq!(ProjectName::parse(name), Err(DomainError::InvalidName));
    }
}
