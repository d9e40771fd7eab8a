//! The model catalog, a project's access to models, and the features metered requests used.

use crate::helpers::*;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Records one request of `model` that used `features`.
async fn meter_with(
    app: &TestApp,
    key: &Key,
    project_id: &str,
    model: &str,
    features: &[&str],
) -> (StatusCode, Value) {
    app.post(
        &format!("/v1/projects/{project_id}/requests"),
        &key.auth,
        json!({"request_id": uuid(), "endpoint": "listen", "method": "sync", "model": model,
               "units": {"audio_seconds": 60}, "code": 200, "features": features}),
    )
    .await
}

/// The uuid of the catalog's latest model of `canonical_name`, from `GET /v1/models`.
fn canonical_names(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|model| model["canonical_name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_catalog_lists_latest_versions_and_earlier_ones_on_request() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    // Latest only.
    let (status, latest) = app.get("/v1/models", &olive.session).await;
    assert_eq!(status, StatusCode::OK, "{latest}");
    let stt = canonical_names(&latest["stt"]);
    assert_eq!(stt.iter().filter(|name| *name == "nova-3").count(), 1);
    let nova = &latest["stt"][0];
    for field in ["name", "canonical_name", "architecture", "version", "uuid"] {
        assert!(nova[field].is_string(), "{field}: {nova}");
    }
    assert!(nova["batch"].is_boolean() && nova["formatted_output"].is_boolean());
    assert!(latest["tts"][0]["metadata"].is_object(), "{latest}");
    // With earlier versions.
    let (_, all) = app
        .get("/v1/models?include_outdated=true", &olive.session)
        .await;
    let versions: Vec<&Value> = all["stt"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|model| model["canonical_name"] == "nova-3")
        .map(|model| &model["version"])
        .collect();
    assert_eq!(versions.len(), 2, "{all}");
    // One model by id; an unknown id is not found, a malformed one is refused.
    let nova_id = nova["uuid"].as_str().unwrap();
    let (status, one) = app
        .get(&format!("/v1/models/{nova_id}"), &olive.session)
        .await;
    assert_eq!(status, StatusCode::OK, "{one}");
    assert_eq!(&one, nova);
    let (status, body) = app
        .get(&format!("/v1/models/{}", uuid()), &olive.session)
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = app.get("/v1/models/nova-3", &olive.session).await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_PATH_PARAMETER",
    );
    let (status, body) = app
        .get("/v1/models?include_outdated=maybe", &olive.session)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_PARAMETER",
    );
    let (status, body) = app.get("/v1/models", &Auth::None).await;
    assert_error(status, &body, StatusCode::UNAUTHORIZED, "INVALID_AUTH");
}

#[tokio::test]
async fn a_revoked_model_is_refused_when_metered_and_listed_again_once_granted() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let project = &olive.project_id;
    let key = app
        .create_key(&olive.session, project, &["member"], &[])
        .await;
    let nova = app.model_id(&olive.session, "nova-3").await;
    let (status, body) = meter_with(&app, &key, project, "nova-3", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = app
        .get(&format!("/v1/projects/{project}/models"), &olive.session)
        .await;
    assert!(canonical_names(&listed["stt"]).contains(&"nova-3".to_owned()));
    let before_revoking = app.state.steward.now().to_rfc3339();
    app.advance_days(1);

    // When the operator takes nova-3 away
    let access = format!("/v1/operator/projects/{project}/models/{nova}");
    let (status, body) = app.delete(&access, &Auth::operator()).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Then metering it is refused and records nothing
    let head = app.log_head();
    let (status, body) = meter_with(&app, &key, project, "nova-3", &[]).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    assert!(
        body["message"].as_str().unwrap().contains("model"),
        "{body}"
    );
    assert_eq!(app.log_head(), head);
    let (_, listed) = app
        .get(&format!("/v1/projects/{project}/models"), &olive.session)
        .await;
    assert!(!canonical_names(&listed["stt"]).contains(&"nova-3".to_owned()));
    let (status, body) = app
        .get(&format!("/v1/projects/{project}/models/{nova}"), &key.auth)
        .await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    // ... while the project's access before the revocation still shows it
    let (_, then) = app
        .get(
            &format!("/v1/projects/{project}/models?as_of={before_revoking}"),
            &olive.session,
        )
        .await;
    assert!(canonical_names(&then["stt"]).contains(&"nova-3".to_owned()));
    // ... and the audit log names it.
    let (_, audit) = app
        .get(&format!("/v1/projects/{project}/audit"), &olive.session)
        .await;
    assert!(
        audit.to_string().contains("model_access_revoked"),
        "{audit}"
    );

    // Revoking twice records nothing more; granting gives it back.
    let head = app.log_head();
    let (status, _) = app.delete(&access, &Auth::operator()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(app.log_head(), head);
    let (status, body) = app
        .call(Method::PUT, &access, &Auth::operator(), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = meter_with(&app, &key, project, "nova-3", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .get(&format!("/v1/projects/{project}/models/{nova}"), &key.auth)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["canonical_name"], "nova-3");
}

#[tokio::test]
async fn only_the_operator_changes_access_and_only_to_models_of_the_catalog() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let project = &olive.project_id;
    let nova = app.model_id(&olive.session, "nova-3").await;
    let head = app.log_head();
    let path = format!("/v1/operator/projects/{project}/models/{nova}");
    let (status, body) = app.delete(&path, &olive.session).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    let unknown_model = format!("/v1/operator/projects/{project}/models/{}", uuid());
    let (status, body) = app.delete(&unknown_model, &Auth::operator()).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let unknown_project = format!("/v1/operator/projects/{}/models/{nova}", uuid());
    let (status, body) = app.delete(&unknown_project, &Auth::operator()).await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "PROJECT_NOT_FOUND");
    assert_eq!(app.log_head(), head);
}

#[tokio::test]
async fn a_private_model_is_used_only_by_the_projects_granted_it() {
    let private_id = "0193c0de-0000-7000-8000-00000000abcd";
    let catalog = json!({"stt": [{
        "name": "fruit", "canonical_name": "nova-3-fruit", "architecture": "nova-3",
        "languages": ["en"], "version": "2026-11-01.1", "uuid": private_id,
        "batch": true, "streaming": false, "formatted_output": true, "public": false}]});
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("catalog.json");
    std::fs::write(&path, catalog.to_string()).unwrap();
    let app = spawn_app_with(|settings| settings.model_catalog = Some(path)).await;
    let olive = app.signup("olive@fruit.example").await;
    let project = &olive.project_id;
    let key = app
        .create_key(&olive.session, project, &["member"], &[])
        .await;
    // Not public: not in /v1/models, not the project's until granted.
    let (_, public) = app.get("/v1/models", &olive.session).await;
    assert_eq!(public, json!({"stt": [], "tts": []}));
    let (status, body) = app
        .get(
            &format!("/v1/projects/{project}/models/{private_id}"),
            &key.auth,
        )
        .await;
    assert_error(status, &body, StatusCode::NOT_FOUND, "NOT_FOUND");
    let (status, body) = meter_with(&app, &key, project, "nova-3-fruit", &[]).await;
    assert_error(
        status,
        &body,
        StatusCode::FORBIDDEN,
        "INSUFFICIENT_PERMISSIONS",
    );
    // A model outside the catalog cannot be metered at all.
    let (status, body) = meter_with(&app, &key, project, "nova-3", &[]).await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    // Granted: listed for the project, metered, and filtered by its uuid.
    let (status, body) = app
        .call(
            Method::PUT,
            &format!("/v1/operator/projects/{project}/models/{private_id}"),
            &Auth::operator(),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = app
        .get(&format!("/v1/projects/{project}/models"), &key.auth)
        .await;
    assert_eq!(canonical_names(&listed["stt"]), ["nova-3-fruit"]);
    let (status, body) = meter_with(&app, &key, project, "nova-3-fruit", &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    for model in [private_id, "nova-3-fruit"] {
        let (_, usage) = app
            .get(
                &format!("/v1/projects/{project}/usage/breakdown?model={model}"),
                &key.auth,
            )
            .await;
        assert_eq!(usage["results"][0]["requests"], 1.0, "{model}: {usage}");
    }
    let (_, fields) = app
        .get(&format!("/v1/projects/{project}/usage/fields"), &key.auth)
        .await;
    assert_eq!(fields["models"][0]["model_id"], private_id, "{fields}");
    assert_eq!(fields["models"][0]["version"], "2026-11-01.1");
}

#[tokio::test]
async fn usage_filters_and_groups_by_the_features_requests_used() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let project = &olive.project_id;
    let key = app
        .create_key(&olive.session, project, &["member"], &[])
        .await;
    for features in [
        vec!["diarize", "smart_format"],
        vec!["diarize"],
        vec!["punctuate"],
        vec![],
    ] {
        let (status, body) = meter_with(&app, &key, project, "nova-3", &features).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let requests = |query: &'static str| {
        let app = &app;
        let key = &key;
        async move {
            let (status, body) = app
                .get(
                    &format!("/v1/projects/{project}/usage/breakdown?{query}"),
                    &key.auth,
                )
                .await;
            assert_eq!(status, StatusCode::OK, "{query}: {body}");
            body["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|result| result["requests"].as_f64().unwrap())
                .sum::<f64>()
        }
    };
    assert_eq!(requests("diarize=true").await, 2.0);
    // Trues are ORed, falses ANDed.
    assert_eq!(requests("diarize=true&punctuate=true").await, 3.0);
    assert_eq!(requests("diarize=false").await, 2.0);
    assert_eq!(requests("diarize=false&punctuate=false").await, 1.0);
    assert_eq!(requests("diarize=true&smart_format=false").await, 1.0);
    assert_eq!(requests("").await, 4.0);
    // /usage filters alike.
    let (_, usage) = app
        .get(
            &format!("/v1/projects/{project}/usage?diarize=true"),
            &key.auth,
        )
        .await;
    assert_eq!(usage["requests"], 2, "{usage}");
    // Grouped by the set used.
    let (_, grouped) = app
        .get(
            &format!("/v1/projects/{project}/usage/breakdown?grouping=feature_set"),
            &key.auth,
        )
        .await;
    let mut sets: Vec<String> = grouped["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|result| {
            result["grouping"]["feature_set"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    sets.sort();
    assert_eq!(
        sets,
        ["default", "diarize", "diarize,smart_format", "punctuate"]
    );
    // The features seen.
    let (_, fields) = app
        .get(&format!("/v1/projects/{project}/usage/fields"), &key.auth)
        .await;
    assert_eq!(
        fields["features"],
        json!(["diarize", "punctuate", "smart_format"])
    );
    // A bad filter value is refused.
    let (status, body) = app
        .get(
            &format!("/v1/projects/{project}/usage?diarize=maybe"),
            &key.auth,
        )
        .await;
    assert_error(
        status,
        &body,
        StatusCode::BAD_REQUEST,
        "INVALID_QUERY_PARAMETER",
    );
}

#[tokio::test]
async fn an_unknown_feature_is_refused_and_records_nothing() {
    let app = spawn_app().await;
    let olive = app.signup("olive@fruit.example").await;
    let key = app
        .create_key(&olive.session, &olive.project_id, &["member"], &[])
        .await;
    let head = app.log_head();
    let (status, body) = meter_with(
        &app,
        &key,
        &olive.project_id,
        "nova-3",
        &["diarize", "telepathy"],
    )
    .await;
    assert_error(status, &body, StatusCode::BAD_REQUEST, "INVALID_REQUEST");
    assert!(
        body["message"].as_str().unwrap().contains("telepathy"),
        "{body}"
    );
    assert_eq!(app.log_head(), head);
}
