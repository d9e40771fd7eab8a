//! Every manage method of the Deepgram Rust SDK (`deepgram` 0.14), a typed client whose serde
//! models refuse a wrong type, deserializes Steward's answers; auth grants too. Setup that
//! Deepgram's API has no endpoint for (signup, credit grants, metering) goes over plain HTTP.

use deepgram::{
    auth::options::Options as GrantOptions,
    manage::{
        keys::options::Options as KeyOptions,
        projects::options::Options as ProjectOptions,
        usage::{get_fields_options, get_usage_options, list_requests_options},
    },
    Deepgram,
};
use serde_json::{json, Value};

struct Setup {
    base: String,
    operator: String,
    http: reqwest::Client,
}

impl Setup {
    async fn call(&self, method: reqwest::Method, path: &str, auth: &str, body: Value) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base));
        if !auth.is_empty() {
            request = request.header("Authorization", auth);
        }
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("steward answers");
        let status = response.status();
        let text = response.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    async fn post(&self, path: &str, auth: &str, body: Value) -> Value {
        self.call(reqwest::Method::POST, path, auth, body).await
    }

    async fn get(&self, path: &str, auth: &str) -> Value {
        self.call(reqwest::Method::GET, path, auth, Value::Null)
            .await
    }

    /// A new key's secret.
    async fn key(&self, project_id: &str, auth: &str, comment: &str, role: &str) -> String {
        let body = json!({"comment": comment, "scopes": [role]});
        let key = self
            .post(&format!("/v1/projects/{project_id}/keys"), auth, body)
            .await;
        key["key"].as_str().unwrap().to_owned()
    }

    /// Invites `address` as a member (by the owner's `session`) and accepts it as `guest`.
    async fn join(&self, project_id: &str, session: &str, address: &str, guest: &str) {
        let invite = json!({"email": address, "scope": "member"});
        self.post(
            &format!("/v1/projects/{project_id}/invites"),
            session,
            invite,
        )
        .await;
        let outbox = self.get("/v1/operator/outbox", &self.operator).await;
        let messages = outbox["messages"].as_array().unwrap();
        let message = messages.iter().rev().find(|m| m["to"] == address).unwrap();
        let token = json!({"token": message["token"]});
        self.post("/v1/invitations/accept", guest, token).await;
    }
}

fn check(condition: bool, what: &str) {
    assert!(condition, "failed: {what}");
    println!("ok - {what}");
}

#[tokio::main]
async fn main() {
    let setup = Setup {
        base: std::env::var("STEWARD_URL").expect("STEWARD_URL"),
        operator: format!(
            "Bearer {}",
            std::env::var("STEWARD_OPERATOR_TOKEN").expect("STEWARD_OPERATOR_TOKEN")
        ),
        http: reqwest::Client::new(),
    };
    let suffix = &uuid::Uuid::new_v4().simple().to_string()[..8];
    let signup = |name: &str| {
        json!({"email": format!("{name}-{suffix}@fruit.example"), "first_name": name,
               "last_name": "Crate", "password": "correct horse battery"})
    };
    let olive = setup.post("/v1/signup", "", signup("olive")).await;
    let mia = setup.post("/v1/signup", "", signup("mia")).await;
    let mia_address = format!("mia-{suffix}@fruit.example");
    let project_id = olive["project_id"].as_str().unwrap().to_owned();
    let session = format!("Bearer {}", olive["session_token"].as_str().unwrap());
    let credits = format!("/v1/operator/projects/{project_id}/credits");
    let card = json!({"amount": "50", "units": "usd", "source": "card", "reference": "card-4242"});
    setup.post(&credits, &setup.operator, card).await;
    let owner_key = setup
        .key(&project_id, &session, "rust owner", "owner")
        .await;
    let base = format!("{}/", setup.base.trim_end_matches('/'));
    let dg = Deepgram::with_base_url_and_api_key(base.as_str(), &owner_key).unwrap();

    // Projects.
    let projects = dg.projects().list().await.expect("projects.list");
    check(
        projects
            .projects
            .iter()
            .any(|p| p.project_id.to_string() == project_id),
        "projects.list",
    );
    let project = dg.projects().get(&project_id).await.expect("projects.get");
    check(project.project_id.to_string() == project_id, "projects.get");
    let rename = ProjectOptions::builder().name("Fruit Company").build();
    dg.projects()
        .update(&project_id, &rename)
        .await
        .expect("projects.update");
    check(true, "projects.update");

    // Keys.
    let options = KeyOptions::builder("apple backend", ["member"])
        .tag(["apple"])
        .build();
    let created = dg
        .keys()
        .create(&project_id, &options)
        .await
        .expect("keys.create");
    check(created.key.starts_with("stw_key_"), "keys.create");
    let key_id = created.api_key_id.to_string();
    let listed = dg.keys().list(&project_id).await.expect("keys.list");
    check(
        listed
            .api_keys
            .iter()
            .any(|k| k.api_key.api_key_id == created.api_key_id),
        "keys.list",
    );
    let one = dg.keys().get(&project_id, &key_id).await.expect("keys.get");
    check(one.api_key.comment == "apple backend", "keys.get");

    // Metering with the apple key.
    let mut request_ids = Vec::new();
    for (seconds, features) in [(60, vec!["diarize"]), (120, vec![])] {
        let request_id = uuid::Uuid::new_v4().to_string();
        let body = json!({"request_id": request_id, "endpoint": "listen", "method": "sync",
                          "model": "nova-3", "units": {"audio_seconds": seconds}, "code": 200,
                          "features": features});
        let auth = format!("Token {}", created.key);
        setup
            .post(&format!("/v1/projects/{project_id}/requests"), &auth, body)
            .await;
        request_ids.push(request_id);
    }

    // Members and scopes (the crate has no invitation methods beyond leaving).
    let mia_session = format!("Bearer {}", mia["session_token"].as_str().unwrap());
    setup
        .join(&project_id, &session, &mia_address, &mia_session)
        .await;
    let members = dg
        .members()
        .list_members(&project_id)
        .await
        .expect("members.list");
    let mia_id = members
        .members
        .iter()
        .find(|m| m.email == mia_address)
        .expect("mia is a member")
        .member_id
        .to_string();
    check(true, "members.list_members");
    let scopes = dg
        .scopes()
        .get_scope(&project_id, &mia_id)
        .await
        .expect("scopes.get");
    check(scopes.scopes == ["member"], "scopes.get_scope");
    dg.scopes()
        .update_scope(&project_id, &mia_id, "admin")
        .await
        .expect("scopes.update");
    let scopes = dg.scopes().get_scope(&project_id, &mia_id).await.unwrap();
    check(scopes.scopes == ["admin"], "scopes.update_scope");
    dg.members()
        .remove_member(&project_id, &mia_id)
        .await
        .expect("members.remove");
    check(true, "members.remove_member");

    // Billing.
    let balances = dg
        .billing()
        .list_balance(&project_id)
        .await
        .expect("billing.list");
    check(!balances.balances.is_empty(), "billing.list_balance");
    let balance_id = balances.balances[0].balance_id.to_string();
    let balance = dg
        .billing()
        .get_balance(&project_id, &balance_id)
        .await
        .expect("billing.get_balance");
    check(
        balance.balance_id.to_string() == balance_id,
        "billing.get_balance",
    );

    // Requests and usage.
    let list = list_requests_options::Options::builder().limit(10).build();
    let requests = dg
        .usage()
        .list_requests(&project_id, &list)
        .await
        .expect("usage.list_requests");
    check(requests.requests.len() == 2, "usage.list_requests");
    let request = dg
        .usage()
        .get_request(&project_id, &request_ids[0])
        .await
        .expect("usage.get_request");
    let details = request.response.and_then(|r| r.details).expect("details");
    check(
        details.models.len() == 1 && details.features == ["diarize"],
        "usage.get_request",
    );
    let usage = dg
        .usage()
        .get_usage(&project_id, &get_usage_options::Options::builder().build())
        .await
        .expect("usage.get_usage");
    check(
        usage.results.iter().map(|r| r.requests).sum::<usize>() == 2,
        "usage.get_usage",
    );
    let fields = dg
        .usage()
        .get_fields(&project_id, &get_fields_options::Options::builder().build())
        .await
        .expect("usage.get_fields");
    check(
        fields.models[0].name == "nova-3" && fields.features == ["diarize"],
        "usage.get_fields",
    );

    // Models.
    let models = dg.models().get_models().await.expect("models.get_models");
    let nova = models
        .stt
        .iter()
        .find(|m| m.canonical_name.as_deref() == Some("nova-3"))
        .expect("nova-3 is listed");
    let nova_id = nova.uuid.clone().unwrap();
    check(!models.tts.is_empty(), "models.get_models");
    let all = dg.models().get_models_including_outdated().await.unwrap();
    check(
        all.stt.len() > models.stt.len(),
        "models.get_models_including_outdated",
    );
    let model = dg
        .models()
        .get_model(&nova_id)
        .await
        .expect("models.get_model");
    check(
        model.uuid.as_deref() == Some(nova_id.as_str()),
        "models.get_model",
    );
    let mine = dg.models().get_project_models(&project_id).await.unwrap();
    check(
        mine.stt.iter().any(|m| m.uuid == nova.uuid),
        "models.get_project_models",
    );
    let mine_all = dg
        .models()
        .get_project_models_including_outdated(&project_id)
        .await
        .unwrap();
    check(
        mine_all.stt.len() == all.stt.len(),
        "models.get_project_models_including_outdated",
    );
    let one_model = dg
        .models()
        .get_project_model(&project_id, &nova_id)
        .await
        .expect("models.get_project_model");
    check(one_model.uuid == nova.uuid, "models.get_project_model");

    // A grant made with the member's key.
    let member = Deepgram::with_base_url_and_api_key(base.as_str(), &created.key).unwrap();
    let grant_options = GrantOptions::builder().ttl_seconds(60.0).build();
    let grant = member
        .auth()
        .grant(Some(&grant_options))
        .await
        .expect("auth.grant");
    check(
        grant.expires_in == Some(60.0) && grant.access_token.split('.').count() == 3,
        "auth.grant",
    );

    // Keys: deletion; then leaving and deleting a project.
    dg.keys()
        .delete(&project_id, &key_id)
        .await
        .expect("keys.delete");
    let remaining = dg.keys().list(&project_id).await.unwrap();
    check(
        remaining
            .api_keys
            .iter()
            .all(|k| k.api_key.api_key_id != created.api_key_id),
        "keys.delete",
    );
    let scratch = setup
        .post("/v1/projects", &session, json!({"name": "Scratch"}))
        .await;
    let scratch_id = scratch["project_id"].as_str().unwrap().to_owned();
    setup
        .join(&scratch_id, &session, &mia_address, &mia_session)
        .await;
    let mia_key = setup.key(&scratch_id, &mia_session, "mia", "member").await;
    let as_mia = Deepgram::with_base_url_and_api_key(base.as_str(), &mia_key).unwrap();
    as_mia
        .invitations()
        .leave_project(&scratch_id)
        .await
        .expect("invitations.leave_project");
    check(
        as_mia.projects().get(&scratch_id).await.is_err(),
        "invitations.leave_project",
    );
    dg.projects()
        .delete(&scratch_id)
        .await
        .expect_err("another project's key");
    let scratch_key = setup.key(&scratch_id, &session, "scratch", "owner").await;
    let as_scratch = Deepgram::with_base_url_and_api_key(base.as_str(), &scratch_key).unwrap();
    as_scratch
        .projects()
        .delete(&scratch_id)
        .await
        .expect("projects.delete");
    check(true, "projects.delete");
    println!("rust sdk: every manage method deserialized");
}
