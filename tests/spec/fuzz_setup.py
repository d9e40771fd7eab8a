"""Prepares schemathesis against Deepgram's own OpenAPI document: real data on a live Steward,
then a copy of the spec, patched, written outside the repository.

    STEWARD_URL=... STEWARD_OPERATOR_TOKEN=... python tests/spec/fuzz_setup.py SPEC PATCHED

Prints the owner's API key for `Authorization: Token …`. The copy:
- keeps only the operations Steward implements (the management API, the model catalog, auth
  grants); the others (listen, speak, read, agents, self-hosted credentials) are not Steward's;
- mends the spec's defects: `ErrorResponse` and `GetModelV1Response` are `oneOf`s every value
  matches twice (their branches require nothing), so they become `anyOf`; `CreateKeyV1Request`
  is a `oneOf` of two "any type" schemas, which nothing satisfies, so it gets the documented
  fields (`comment`, `scopes`, `tags`, `expiration_date`, `time_to_live_in_seconds`);
- pins each id in a path to the real ones (a project, its members, a key to delete, a balance, a
  request, models, an invited address), so that generated requests reach real resources;
- drops the `Authorization` header parameter the spec gives every operation: the run sends the
  key; and renames `DELETE /v1/projects/{project_id}` `deleteProjectLast`, which `.ci/run`
  leaves out, as it would end the run (tests/spec checks its answer).
"""

import copy
import json
import os
import sys
import urllib.request
import uuid

import yaml

BASE = os.environ["STEWARD_URL"]
OPERATOR = f"Bearer {os.environ['STEWARD_OPERATOR_TOKEN']}"

# Path prefixes of the operations Steward implements.
IMPLEMENTED = ("/v1/projects", "/v1/models", "/v1/auth/grant")
NOT_STEWARDS = ("/agents", "/agent-variables", "/self-hosted")


def call(method, path, auth=None, body=None):
    request = urllib.request.Request(
        BASE + path, data=None if body is None else json.dumps(body).encode(), method=method
    )
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    with urllib.request.urlopen(request) as response:
        return json.load(response)


def real_data():
    """An owner with an owner's key, a second member, keys, credit, metered requests and an
    invitation; answers the ids each path parameter is pinned to, and the owner's key."""
    suffix = uuid.uuid4().hex[:8]

    def signup(name):
        return call("POST", "/v1/signup", body={
            "email": f"{name}-{suffix}@fruit.example", "first_name": name.title(),
            "last_name": "Fuzz", "password": "fuzzing password"})

    owner, guest = signup("owner"), signup("guest")
    project = owner["project_id"]
    session = f"Bearer {owner['session_token']}"
    key = call("POST", f"/v1/projects/{project}/keys", session,
               {"comment": "fuzz", "scopes": ["owner"], "tags": ["apple"]})
    victims = [call("POST", f"/v1/projects/{project}/keys", session,
                    {"comment": f"victim {n}", "scopes": ["member"]})["api_key_id"]
               for n in range(3)]
    call("POST", f"/v1/projects/{project}/invites", session,
         {"email": f"guest-{suffix}@fruit.example", "scope": "member"})
    outbox = call("GET", "/v1/operator/outbox", OPERATOR)
    token = [m for m in outbox["messages"] if m["to"] == f"guest-{suffix}@fruit.example"][-1]
    call("POST", "/v1/invitations/accept", f"Bearer {guest['session_token']}",
         {"token": token["token"]})
    invited = f"pending-{suffix}@fruit.example"
    call("POST", f"/v1/projects/{project}/invites", session, {"email": invited, "scope": "member"})
    call("POST", f"/v1/operator/projects/{project}/credits", OPERATOR,
         {"amount": "100", "units": "usd", "source": "card"})
    requests = []
    for features in [["diarize"], []]:
        request_id = str(uuid.uuid4())
        call("POST", f"/v1/projects/{project}/requests", f"Token {key['key']}",
             {"request_id": request_id, "endpoint": "listen", "method": "sync",
              "model": "nova-3", "units": {"audio_seconds": 42}, "code": 200,
              "tags": ["banana"], "features": features})
        requests.append(request_id)
    balances = call("GET", f"/v1/projects/{project}/balances", f"Token {key['key']}")
    models = call("GET", "/v1/models?include_outdated=true", f"Token {key['key']}")
    ids = {
        "project_id": [project],
        "member_id": [guest["account_id"], owner["account_id"]],
        "key_id": victims,
        "balance_id": [b["balance_id"] for b in balances["balances"]],
        "request_id": requests,
        "model_id": [m["uuid"] for m in models["stt"] + models["tts"]],
        "email": [invited],
    }
    return ids, key["key"]


def patched(spec, ids):
    spec = copy.deepcopy(spec)
    spec["paths"] = {
        path: operations for path, operations in spec["paths"].items()
        if path.startswith(IMPLEMENTED) and not any(part in path for part in NOT_STEWARDS)
    }
    # Named, so that `--exclude-operation-id` can leave it out: it would end the run.
    spec["paths"]["/v1/projects/{project_id}"]["delete"]["operationId"] = "deleteProjectLast"
    schemas = spec["components"]["schemas"]
    for name in ["ErrorResponse", "GetModelV1Response"]:
        schemas[name]["anyOf"] = schemas[name].pop("oneOf")
    schemas["CreateKeyV1Request"] = {
        "type": "object",
        "properties": {
            "comment": {"type": "string"},
            "scopes": {"type": "array", "items": {"type": "string"}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "expiration_date": {"type": "string", "format": "date-time"},
            "time_to_live_in_seconds": {"type": "integer"},
        },
        "required": ["comment", "scopes"],
    }
    for operations in spec["paths"].values():
        for operation in operations.values():
            # The spec types credentials as a header parameter of every operation; the run
            # sends the real key instead of generated ones.
            operation["parameters"] = [
                parameter for parameter in operation.get("parameters", [])
                if not (parameter["in"] == "header" and parameter["name"] == "Authorization")
            ]
            for parameter in operation["parameters"]:
                if parameter["in"] == "path" and parameter["name"] in ids:
                    parameter["schema"] = {"type": "string", "enum": ids[parameter["name"]]}
    return spec


def main(source, target):
    spec = yaml.safe_load(open(source))
    ids, key = real_data()
    with open(target, "w") as file:
        json.dump(patched(spec, ids), file)
    print(key)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
