"""The official Deepgram Python SDK (deepgram-sdk 7.x), unchanged, against `steward serve`.

Only the base URL is pointed at Steward. Setup that Deepgram's API has no endpoint for (signup,
credit grants, metering) goes over plain HTTP; everything else goes through the SDK's manage
client. Run by `.ci/run` after `cargo test`:

    STEWARD_URL=http://127.0.0.1:PORT STEWARD_OPERATOR_TOKEN=... python tests/sdk/test_manage.py
"""

import json
import os
import sys
import urllib.error
import urllib.request
import uuid

from deepgram import DeepgramClient
from deepgram.core.api_error import ApiError
from deepgram.environment import DeepgramClientEnvironment

BASE = os.environ["STEWARD_URL"].rstrip("/")
OPERATOR = os.environ["STEWARD_OPERATOR_TOKEN"]


def http(method, path, body=None, auth=None):
    """A plain HTTP call; returns the decoded JSON answer."""
    request = urllib.request.Request(BASE + path, method=method)
    if auth:
        request.add_header("Authorization", auth)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, data) as response:
        return json.loads(response.read() or b"null")


def client(key):
    environment = DeepgramClientEnvironment(
        base=BASE, production=BASE.replace("http", "ws"), agent=BASE, agent_rest=BASE
    )
    return DeepgramClient(api_key=key, environment=environment)


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}")


def main():
    suffix = uuid.uuid4().hex[:8]
    # Setup over plain HTTP: an owner, a member to invite, credit, a key, metered requests.
    olive = http("POST", "/v1/signup", {"email": f"olive-{suffix}@fruit.example",
                                        "first_name": "Olive", "last_name": "Grove",
                                        "password": "correct horse battery"})
    mia = http("POST", "/v1/signup", {"email": f"mia-{suffix}@fruit.example",
                                      "first_name": "Mia", "last_name": "Mango",
                                      "password": "correct horse battery"})
    project_id = olive["project_id"]
    mia_address = f"mia-{suffix}@fruit.example"
    session = f"Bearer {olive['session_token']}"
    http("POST", f"/v1/operator/projects/{project_id}/credits",
         {"amount": "50", "units": "usd", "source": "card", "reference": "card-4242"},
         auth=f"Bearer {OPERATOR}")
    owner_key = http("POST", f"/v1/projects/{project_id}/keys",
                     {"comment": "sdk owner", "scopes": ["owner"]}, auth=session)["key"]

    dg = client(owner_key).manage.v1

    # Projects.
    projects = dg.projects.list()
    check(any(p.project_id == project_id for p in projects.projects), "projects.list")
    project = dg.projects.get(project_id)
    check(project.project_id == project_id and project.mip_opt_out is False, "projects.get")
    dg.projects.update(project_id, name="Fruit Company")
    check(dg.projects.get(project_id).name == "Fruit Company", "projects.update")

    # Keys.
    created = dg.projects.keys.create(project_id, request={
        "comment": "apple backend", "scopes": ["member"], "tags": ["apple"]})
    check(created.key.startswith("stw_key_") and created.tags == ["apple"], "keys.create")
    listed = dg.projects.keys.list(project_id)
    check(any(k.api_key.api_key_id == created.api_key_id for k in listed.api_keys), "keys.list")
    active = dg.projects.keys.list(project_id, status="active")
    check(len(active.api_keys) == len(listed.api_keys), "keys.list status=active")
    item = dg.projects.keys.get(project_id, created.api_key_id)
    check(item.item.member.api_key.comment == "apple backend", "keys.get")

    # Metering with the apple key (plain HTTP: Deepgram's API has no such endpoint).
    request_ids = []
    for seconds, tags in [(60, []), (120, ["juice"]), (30, [])]:
        request_id = str(uuid.uuid4())
        request_ids.append(request_id)
        http("POST", f"/v1/projects/{project_id}/requests",
             {"request_id": request_id, "endpoint": "listen", "method": "sync",
              "model": "nova-3", "units": {"audio_seconds": seconds}, "code": 200,
              "tags": tags}, auth=f"Token {created.key}")

    # Members, invitations, scopes.
    dg.projects.members.invites.create(project_id, email=mia_address, scope="member")
    invites = dg.projects.members.invites.list(project_id)
    check([i.email for i in invites.invites] == [mia_address], "invites.create + list")
    outbox = http("GET", "/v1/operator/outbox", auth=f"Bearer {OPERATOR}")
    token = [m for m in outbox["messages"] if m["to"] == mia_address][-1]["token"]
    http("POST", "/v1/invitations/accept", {"token": token},
         auth=f"Bearer {mia['session_token']}")
    members = dg.projects.members.list(project_id)
    by_email = {m.email: m for m in members.members}
    check(by_email[mia_address].scopes == ["member"], "members.list")
    mia_id = by_email[mia_address].member_id
    check(dg.projects.members.scopes.list(project_id, mia_id).scopes == ["member"],
          "members.scopes.list")
    dg.projects.members.scopes.update(project_id, mia_id, scope="admin")
    check(dg.projects.members.scopes.list(project_id, mia_id).scopes == ["admin"],
          "members.scopes.update")
    dg.projects.members.invites.create(project_id, email=f"pat-{suffix}@fruit.example",
                                       scope="member")
    dg.projects.members.invites.delete(project_id, f"pat-{suffix}@fruit.example")
    check(len(dg.projects.members.invites.list(project_id).invites) == 0, "invites.delete")

    # A member's key, then the member leaves through the SDK with it.
    mia_key = http("POST", f"/v1/projects/{project_id}/keys",
                   {"comment": "mia", "scopes": ["member"]},
                   auth=f"Bearer {mia['session_token']}")["key"]
    client(mia_key).manage.v1.projects.leave(project_id)
    try:
        client(mia_key).manage.v1.projects.get(project_id)
        check(False, "a leaver's key dies")
    except ApiError as error:
        check(error.status_code == 401, "projects.leave kills the leaver's key")

    # Removal through the SDK.
    http("POST", f"/v1/projects/{project_id}/invites",
         {"email": mia_address, "scope": "member"}, auth=session)
    outbox = http("GET", "/v1/operator/outbox", auth=f"Bearer {OPERATOR}")
    token = [m for m in outbox["messages"] if m["to"] == mia_address][-1]["token"]
    http("POST", "/v1/invitations/accept", {"token": token},
         auth=f"Bearer {mia['session_token']}")
    dg.projects.members.delete(project_id, mia_id)
    members = dg.projects.members.list(project_id)
    check(all(m.member_id != mia_id for m in members.members), "members.delete")

    # Billing.
    balances = dg.projects.billing.balances.list(project_id)
    amounts = sorted(b.amount for b in balances.balances)
    check(len(amounts) == 2, "billing.balances.list")
    # purchase_order_id is the purchase's order id (a UUID); the operator's reference is beside it.
    card = [b for b in balances.balances if getattr(b, "reference", None) == "card-4242"][0]
    check(card.purchase_order_id == card.balance_id, "billing.balances.list purchase_order_id")
    one = dg.projects.billing.balances.get(project_id, card.balance_id)
    check(one.balance_id == card.balance_id and one.units == "usd", "billing.balances.get")
    purchases = dg.projects.billing.purchases.list(project_id)
    check(sorted(o.order_type for o in purchases.orders) == ["card", "promotional"],
          "billing.purchases.list")

    # Requests and usage.
    requests = dg.projects.requests.list(project_id, limit=2)
    check(len(requests.requests) == 2 and requests.requests[0].request_id == request_ids[-1],
          "requests.list (newest first, limited)")
    one_request = dg.projects.requests.get(project_id, request_ids[0])
    check(one_request.request.response["details"]["usd"] == 0.0043, "requests.get")
    usage = dg.projects.usage.get(project_id)
    check(usage.resolution.units == "day", "usage.get")
    check(getattr(usage, "requests", None) == 3, "usage.get counts the requests")
    breakdown = dg.projects.usage.breakdown.get(project_id, grouping="tags")
    # The spec's shape: a group's tags are a list (null for the untagged requests).
    tags = sorted(tag for r in breakdown.results if r.grouping.tags for tag in r.grouping.tags)
    check(tags == ["apple", "juice"], "usage.breakdown.get grouping=tags")
    fields = dg.projects.usage.fields.list(project_id)
    check(fields.tags == ["apple", "juice"] and fields.models[0].name == "nova-3",
          "usage.fields.list")
    billing = dg.projects.billing.breakdown.list(project_id, grouping=["tags"])
    dollars = {tuple(r.grouping.tags or []): r.dollars for r in billing.results}
    check(dollars.get(("apple",)) == 0.01505, "billing.breakdown.list grouping=tags")
    billing_fields = dg.projects.billing.fields.list(project_id)
    check(billing_fields.tags == ["apple", "juice"], "billing.fields.list")

    # Models: the public catalog and the project's.
    catalog = dg.models.list()
    nova = [m for m in catalog.stt if m.canonical_name == "nova-3"][0]
    check(len(catalog.tts) > 0, "models.list")
    outdated = dg.models.list(include_outdated=True)
    check(len(outdated.stt) > len(catalog.stt), "models.list include_outdated")
    check(dg.models.get(nova.uuid_).canonical_name == "nova-3", "models.get")
    mine = dg.projects.models.list(project_id)
    check(any(m.canonical_name == "nova-3" for m in mine.stt), "projects.models.list")
    check(dg.projects.models.get(project_id, nova.uuid_).canonical_name == "nova-3",
          "projects.models.get")

    # A grant token, made with a member's key.
    grant = client(created.key).auth.v1.tokens.grant(ttl_seconds=60)
    check(grant.access_token.count(".") == 2 and grant.expires_in == 60, "auth.v1.tokens.grant")
    try:
        http("GET", "/v1/projects", auth=f"Bearer {grant.access_token}")
        check(False, "the management API refuses a grant")
    except urllib.error.HTTPError as error:
        check(error.code == 401, "the management API refuses a grant")

    # Keys again: deletion.
    dg.projects.keys.delete(project_id, created.api_key_id)
    remaining = dg.projects.keys.list(project_id)
    check(all(k.api_key.api_key_id != created.api_key_id for k in remaining.api_keys),
          "keys.delete")

    # Errors arrive as the SDK's ApiError with Deepgram's body.
    try:
        dg.projects.get(str(uuid.uuid4()))
        check(False, "an unknown project is an error")
    except ApiError as error:
        check(error.status_code == 404 and error.body["category"] == "PROJECT_NOT_FOUND",
              "errors carry status and category")

    # Deleting the project (last: the owner key dies with it).
    other = http("POST", "/v1/projects", {"name": "Scratch"}, auth=session)
    scratch_key = http("POST", f"/v1/projects/{other['project_id']}/keys",
                       {"comment": "scratch", "scopes": ["owner"]}, auth=session)["key"]
    client(scratch_key).manage.v1.projects.delete(other["project_id"])
    mine = http("GET", "/v1/projects", auth=session)["projects"]
    check([p["project_id"] for p in mine] == [project_id], "projects.delete")
    print("sdk: all manage methods passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - report any failure and fail the run
        print(f"not ok - {type(error).__name__}: {error}", file=sys.stderr)
        sys.exit(1)
