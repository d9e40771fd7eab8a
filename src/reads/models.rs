//! The models a project may use: the operator's catalog, with the project's access as the
//! log records it.

use super::ReadError;
use crate::{
    access::Principal,
    models::{may_use, AccessOverrides, Model, ModelCatalog, ModelList},
    Steward,
};
use steward_events::{ModelId, Permission, ProjectId, Timestamp};

impl Steward {
    /// The operator's changes to the project's model access in force at `as_of`, for a viewer
    /// with project:read.
    fn model_overrides(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        as_of: Timestamp,
    ) -> Result<AccessOverrides, ReadError> {
        self.read(|projections| {
            viewer
                .access(projections, project_id)?
                .require(Permission::ProjectRead)?;
            Ok(projections.model_access.overrides(project_id, as_of))
        })
    }

    /// The models of `catalog` the project may use at `as_of` (latest versions only unless
    /// `include_outdated`), private ones granted to it included.
    pub fn project_models(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        catalog: &ModelCatalog,
        as_of: Timestamp,
        include_outdated: bool,
    ) -> Result<ModelList, ReadError> {
        let overrides = self.model_overrides(viewer, project_id, as_of)?;
        Ok(catalog.list(include_outdated, |entry| may_use(&overrides, &entry.model)))
    }

    /// One model of `catalog`, if the project may use it at `as_of`. A private model it was
    /// never granted is not found; a model taken away from it is refused.
    pub fn project_model(
        &self,
        viewer: &Principal,
        project_id: ProjectId,
        catalog: &ModelCatalog,
        model_id: ModelId,
        as_of: Timestamp,
    ) -> Result<Model, ReadError> {
        let overrides = self.model_overrides(viewer, project_id, as_of)?;
        let entry = catalog.get(model_id).ok_or(ReadError::NotFound("Model"))?;
        match (may_use(&overrides, &entry.model), entry.model.public()) {
            (true, _) => Ok(entry.model.clone()),
            (false, true) => Err(ReadError::ModelNotAllowed),
            (false, false) => Err(ReadError::NotFound("Model")),
        }
    }
}
