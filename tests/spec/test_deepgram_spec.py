"""Steward's answers against Deepgram's own OpenAPI document (../shared/deepgram-openapi.yml,
read from there, never copied): real data first, then every operation of the management API,
the model catalog and auth grants included, each 200 answer validated against the operation's
response schema with JSON Schema 2020-12 format checks (date, date-time, uuid, uri). Run by .ci/run against a live server:

    STEWARD_URL=... STEWARD_OPERATOR_TOKEN=... python tests/spec/test_deepgram_spec.py SPEC
"""

import json
import os
import sys
import urllib.error
import urllib.request
import uuid

import jsonschema
import yaml

BASE = os.environ["STEWARD_URL"]
OPERATOR = os.environ["STEWARD_OPERATOR_TOKEN"]


def call(method, path, auth=None, body=None):
    request = urllib.request.Request(
        BASE + path,
        data=None if body is None else json.dumps(body).encode(),
        method=method,
    )
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def patched_components(spec):
    """The spec's components with its one defect on these answers mended: `GetModelV1Response`
    is a `oneOf` of the speech-to-text and the text-to-speech shapes, neither with a required
    property nor closed to others, so every model matches both and `oneOf` refuses it. It is
    an `anyOf` here; `check_model_kind` then checks which shape each model has."""
    components = json.loads(json.dumps(spec["components"]))
    model = components["schemas"]["GetModelV1Response"]
    model["anyOf"] = model.pop("oneOf")
    return components


def check_model_kind(model, failures, where):
    """A speech-to-text model has its batch/streaming/formatted_output flags, a voice its
    metadata: the branch of GetModelV1Response it answers."""
    stt = all(isinstance(model.get(flag), bool) for flag in ["batch", "streaming", "formatted_output"])
    tts = isinstance(model.get("metadata"), dict)
    if stt == tts:
        failures.append(f"{where}: neither clearly a speech-to-text model nor a voice: {model}")


def validator(spec, path, method):
    schema_ref = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"][
        "schema"
    ]
    document = {"$ref": schema_ref["$ref"], "components": patched_components(spec)}
    return jsonschema.Draft202012Validator(
        document, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def main(spec_path):
    spec = yaml.safe_load(open(spec_path))
    # Given: an owner with a key, credit of every kind, tagged usage and an invitation.
    email = f"spec-{uuid.uuid4().hex[:8]}@fruit.example"
    status, owner = call(
        "POST",
        "/v1/signup",
        body={"email": email, "first_name": "Spec", "last_name": "Test", "password": "spec password"},
    )
    assert status == 200, owner
    project = owner["project_id"]
    session = f"Bearer {owner['session_token']}"
    status, key = call(
        "POST", f"/v1/projects/{project}/keys", session,
        {"comment": "spec", "scopes": ["owner"], "tags": ["apple"]},
    )
    assert status == 200, key
    key_auth = f"Token {key['key']}"
    operator = f"Bearer {OPERATOR}"
    for body in [
        {"amount": "25", "units": "usd", "source": "card"},
        {"amount": "50", "units": "usd", "source": "contract", "expires_at": "2099-01-01"},
    ]:
        status, grant = call("POST", f"/v1/operator/projects/{project}/credits", operator, body)
        assert status == 200, grant
    request_id = None
    for n, (tags, features) in enumerate([(["banana"], ["diarize", "smart_format"]), ([], []),
                                          (["pear", "plum"], ["punctuate"])]):
        request_id = str(uuid.uuid4())
        status, recorded = call(
            "POST", f"/v1/projects/{project}/requests", key_auth,
            {"request_id": request_id, "endpoint": "listen", "method": "sync",
             "model": "nova-3", "units": {"audio_seconds": 30 + n}, "code": 200, "tags": tags,
             "features": features},
        )
        assert status == 200, recorded
    status, voice = call(
        "POST", f"/v1/projects/{project}/requests", key_auth,
        {"request_id": str(uuid.uuid4()), "endpoint": "speak", "method": "sync",
         "model": "aura-2-thalia-en", "units": {"characters": 120}, "code": 200},
    )
    assert status == 200, voice
    status, models = call("GET", "/v1/models", key_auth)
    assert status == 200, models
    stt_model = models["stt"][0]["uuid"]
    tts_model = models["tts"][0]["uuid"]
    status, invited = call(
        "POST", f"/v1/projects/{project}/invites", session,
        {"email": "guest@fruit.example", "scope": "member"},
    )
    assert status == 200, invited
    status, balances = call("GET", f"/v1/projects/{project}/balances", key_auth)
    assert status == 200, balances
    balance = balances["balances"][0]["balance_id"]
    member = owner["account_id"]

    # When / Then: each answer conforms to the spec's response schema.
    checks = [
        ("/v1/projects", "/v1/projects"),
        ("/v1/projects/{project_id}", f"/v1/projects/{project}"),
        ("/v1/projects/{project_id}/members", f"/v1/projects/{project}/members"),
        ("/v1/projects/{project_id}/members/{member_id}/scopes",
         f"/v1/projects/{project}/members/{member}/scopes"),
        ("/v1/projects/{project_id}/invites", f"/v1/projects/{project}/invites"),
        ("/v1/projects/{project_id}/keys", f"/v1/projects/{project}/keys"),
        ("/v1/projects/{project_id}/keys/{key_id}",
         f"/v1/projects/{project}/keys/{key['api_key_id']}"),
        ("/v1/projects/{project_id}/balances", f"/v1/projects/{project}/balances"),
        ("/v1/projects/{project_id}/balances/{balance_id}",
         f"/v1/projects/{project}/balances/{balance}"),
        ("/v1/projects/{project_id}/purchases", f"/v1/projects/{project}/purchases"),
        ("/v1/projects/{project_id}/usage", f"/v1/projects/{project}/usage"),
        ("/v1/projects/{project_id}/usage",
         f"/v1/projects/{project}/usage?start=2020-01-01&end=2099-12-31&tag=pear&tag=banana"),
    ] + [
        ("/v1/projects/{project_id}/usage/breakdown",
         f"/v1/projects/{project}/usage/breakdown?grouping={grouping}")
        for grouping in ["accessor", "endpoint", "feature_set", "models", "method", "tags",
                         "deployment"]
    ] + [
        ("/v1/projects/{project_id}/usage/breakdown", f"/v1/projects/{project}/usage/breakdown"),
        ("/v1/projects/{project_id}/billing/breakdown",
         f"/v1/projects/{project}/billing/breakdown"),
        ("/v1/projects/{project_id}/billing/breakdown",
         f"/v1/projects/{project}/billing/breakdown?grouping=tags&grouping=accessor"),
        ("/v1/projects/{project_id}/billing/fields", f"/v1/projects/{project}/billing/fields"),
        ("/v1/projects/{project_id}/requests", f"/v1/projects/{project}/requests"),
        ("/v1/projects/{project_id}/requests",
         f"/v1/projects/{project}/requests?limit=10.0&page=0.0"),
        ("/v1/projects/{project_id}/requests/{request_id}",
         f"/v1/projects/{project}/requests/{request_id}"),
        ("/v1/projects/{project_id}/usage/fields", f"/v1/projects/{project}/usage/fields"),
        ("/v1/projects/{project_id}/usage", f"/v1/projects/{project}/usage?diarize=true"),
        ("/v1/projects/{project_id}/usage/breakdown",
         f"/v1/projects/{project}/usage/breakdown?grouping=feature_set&punctuate=false"),
        ("/v1/projects/{project_id}/usage/breakdown",
         f"/v1/projects/{project}/usage/breakdown?grouping=models&model={stt_model}"),
        ("/v1/models", "/v1/models"),
        ("/v1/models", "/v1/models?include_outdated=true"),
        ("/v1/models/{model_id}", f"/v1/models/{stt_model}"),
        ("/v1/models/{model_id}", f"/v1/models/{tts_model}"),
        ("/v1/projects/{project_id}/models", f"/v1/projects/{project}/models"),
        ("/v1/projects/{project_id}/models",
         f"/v1/projects/{project}/models?include_outdated=true"),
        ("/v1/projects/{project_id}/models/{model_id}",
         f"/v1/projects/{project}/models/{stt_model}"),
        ("/v1/projects/{project_id}/models/{model_id}",
         f"/v1/projects/{project}/models/{tts_model}"),
    ]
    failures = []
    for template, path in checks:
        status, body = call("GET", path, key_auth)
        if status != 200:
            failures.append(f"GET {path}: {status} {body}")
            continue
        errors = list(validator(spec, template, "get").iter_errors(body))
        if "models" in template and "usage" not in template:
            for model in body.get("stt", []) + body.get("tts", []) if "stt" in body else [body]:
                check_model_kind(model, failures, f"GET {path}")
        for error in errors[:3]:
            where = "/".join(str(part) for part in error.absolute_path)
            failures.append(f"GET {path}: at {where or '(top)'}: {error.message}")
        print(f"spec: GET {path}: {'conforms' if not errors else f'{len(errors)} violations'}")
    writes = check_writes(spec, project, session, operator, failures)
    if failures:
        sys.exit("answers that break Deepgram's spec:\n" + "\n".join(failures))
    print(f"spec: {len(checks) + writes} answers conform to Deepgram's OpenAPI document")


def check_writes(spec, project, session, operator, failures):
    """The commands' answers: renaming, keys, invitations, a member's role, leaving, removing,
    and deleting the project last. Returns how many answers were checked."""
    checked = 0

    def expect(template, method, path, auth, body=None):
        nonlocal checked
        status, answer = call(method.upper(), path, auth, body)
        checked += 1
        if status != 200:
            failures.append(f"{method.upper()} {path}: {status} {answer}")
            return answer
        errors = list(validator(spec, template, method).iter_errors(answer))
        for error in errors[:3]:
            where = "/".join(str(part) for part in error.absolute_path)
            failures.append(f"{method.upper()} {path}: at {where or '(top)'}: {error.message}")
        print(f"spec: {method.upper()} {template}: {'conforms' if not errors else 'violates'}")
        return answer

    def join(guest_session, guest_email):
        expect("/v1/projects/{project_id}/invites", "post", f"/v1/projects/{project}/invites",
               session, {"email": guest_email, "scope": "member"})
        status, outbox = call("GET", "/v1/operator/outbox", operator)
        token = [m for m in outbox["messages"] if m["to"] == guest_email][-1]["token"]
        status, accepted = call("POST", "/v1/invitations/accept", guest_session, {"token": token})
        assert status == 200, accepted

    status, member_key = call("POST", f"/v1/projects/{project}/keys", session,
                              {"comment": "grants", "scopes": ["member"]})
    assert status == 200, member_key
    grant = expect("/v1/auth/grant", "post", "/v1/auth/grant", f"Token {member_key['key']}",
                   {"ttl_seconds": 60})
    if grant.get("expires_in") != 60:
        failures.append(f"POST /v1/auth/grant: expires_in {grant.get('expires_in')}, not 60")
    guest_email = f"guest-{uuid.uuid4().hex[:8]}@fruit.example"
    status, guest = call(
        "POST", "/v1/signup",
        body={"email": guest_email, "first_name": "G", "last_name": "U", "password": "spec password"},
    )
    assert status == 200, guest
    guest_session = f"Bearer {guest['session_token']}"
    expect("/v1/projects/{project_id}", "patch", f"/v1/projects/{project}", session,
           {"name": "Spec Company"})
    key = expect("/v1/projects/{project_id}/keys", "post", f"/v1/projects/{project}/keys",
                 session, {"comment": "written", "scopes": ["member"]})
    expect("/v1/projects/{project_id}/keys/{key_id}", "delete",
           f"/v1/projects/{project}/keys/{key['api_key_id']}", session)
    expect("/v1/projects/{project_id}/invites", "post", f"/v1/projects/{project}/invites",
           session, {"email": "nobody@fruit.example", "scope": "member"})
    expect("/v1/projects/{project_id}/invites/{email}", "delete",
           f"/v1/projects/{project}/invites/nobody@fruit.example", session)
    join(guest_session, guest_email)
    member = guest["account_id"]
    expect("/v1/projects/{project_id}/members/{member_id}/scopes", "put",
           f"/v1/projects/{project}/members/{member}/scopes", session, {"scope": "admin"})
    expect("/v1/projects/{project_id}/leave", "delete", f"/v1/projects/{project}/leave",
           guest_session)
    join(guest_session, guest_email)
    expect("/v1/projects/{project_id}/members/{member_id}", "delete",
           f"/v1/projects/{project}/members/{member}", session)
    expect("/v1/projects/{project_id}", "delete", f"/v1/projects/{project}", session)
    return checked


if __name__ == "__main__":
    main(sys.argv[1])
