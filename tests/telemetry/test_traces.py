"""Steward's traces in a real OpenTelemetry backend: Arize Phoenix (PyPI `arize-phoenix`),
which takes OTLP over HTTP at /v1/traces and answers the spans it stored over its REST API.
Run by .ci/run:

    python tests/telemetry/test_traces.py target/debug/steward <phoenix executable>

What it checks:
- with OTEL_EXPORTER_OTLP_ENDPOINT set, each request is a span named by its method and route
  template, with its status and `dg-request-id`; a request that sends a W3C `traceparent` is
  a child of the caller's span, in the caller's trace (a gateway's check joins its trace);
- each command a request decides is a child span named by the command, saying whether it was
  recorded (and how many events) or refused;
- the spans still waiting are sent when Steward stops, and no span holds a secret;
- an endpoint that is not an http(s) URL stops `steward serve` with a message, and one where
  nothing listens costs only the traces: the API still answers.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp"))
sys.path.insert(0, os.path.join(HERE, "..", "gateway"))
from test_delivery import free_port, wait_until  # noqa: E402
from test_nginx import call, check, healthy  # noqa: E402

# A caller's trace, as a gateway in front of Steward would send it.
TRACE_ID = secrets.token_hex(16)
PARENT_SPAN_ID = secrets.token_hex(8)
CHECK_TRACE_ID = secrets.token_hex(16)
CHECK_PARENT_SPAN_ID = secrets.token_hex(8)


def traceparent(trace_id, span_id):
    return f"00-{trace_id}-{span_id}-01"


def phoenix_spans(phoenix):
    """Every span Phoenix holds for its default project, newest first, by page."""
    spans, cursor = [], None
    while True:
        query = "limit=100" + (f"&cursor={cursor}" if cursor else "")
        with urllib.request.urlopen(f"{phoenix}/v1/projects/default/spans?{query}") as answer:
            page = json.load(answer)
        spans.extend(page["data"])
        cursor = page.get("next_cursor")
        if not cursor:
            return spans


def phoenix_up(phoenix):
    try:
        urllib.request.urlopen(f"{phoenix}/v1/projects", timeout=1)
        return True
    except OSError:
        return False


def serve(binary, work, name, env):
    port = free_port()
    process = subprocess.Popen(
        [binary, "serve", "--data-dir", os.path.join(work, name), "--listen", f"127.0.0.1:{port}"],
        env=dict(os.environ, **env), stdout=open(os.path.join(work, f"{name}.log"), "ab"),
        stderr=subprocess.STDOUT)
    return process, f"http://127.0.0.1:{port}"


def stop(process):
    process.send_signal(signal.SIGTERM)
    check(process.wait(30) == 0, "steward stops cleanly")


def bad_endpoints(binary, work):
    process, _ = serve(binary, work, "bad", {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"})
    status = process.wait(20)
    log = open(os.path.join(work, "bad.log")).read()
    check(status != 0 and "OTEL_EXPORTER_OTLP_ENDPOINT must be an http:// or https:// URL" in log,
          f"an endpoint that is not a URL stops serve with a message ({status}: {log.strip()})")
    process, base = serve(binary, work, "down",
                          {"OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{free_port()}"})
    try:
        wait_until(lambda: healthy(base), "steward to serve with its collector down")
        status, _, _ = call(base, "POST", "/v1/signup",
                            body={"email": "down@fruit.example", "first_name": "D",
                                  "last_name": "N", "password": "a long password"})
        check(status == 200, "with the collector down, the API still answers")
    finally:
        stop(process)


def main(binary, phoenix_executable):
    work = tempfile.mkdtemp()
    bad_endpoints(binary, work)

    phoenix_port, grpc_port = free_port(), free_port()
    phoenix = f"http://127.0.0.1:{phoenix_port}"
    backend = subprocess.Popen(
        [phoenix_executable, "serve"],
        env=dict(os.environ, PHOENIX_WORKING_DIR=os.path.join(work, "phoenix"),
                 PHOENIX_HOST="127.0.0.1", PHOENIX_PORT=str(phoenix_port),
                 PHOENIX_GRPC_PORT=str(grpc_port), PHOENIX_TELEMETRY_ENABLED="false"),
        stdout=open(os.path.join(work, "phoenix.log"), "ab"), stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: phoenix_up(phoenix), "Phoenix to serve", seconds=180)
        steward, base = serve(binary, work, "traced", {
            "OTEL_EXPORTER_OTLP_ENDPOINT": phoenix, "OTEL_BSP_SCHEDULE_DELAY": "200"})
        try:
            wait_until(lambda: healthy(base), "steward to serve")
            answers = run(base)
        finally:
            stop(steward)
        # Stopping sent what was still waiting; Phoenix stores what it takes in batches.
        wanted = {answers[what] for what in ("signup", "key", "invite again", "check")}
        spans = wait_until(
            lambda: (lambda spans: spans if wanted <= {
                span["attributes"].get("dg.request_id") for span in spans} else None)(
                phoenix_spans(phoenix)),
            "Phoenix to hold every request's span", seconds=30)
        check_spans(spans, answers)
    finally:
        backend.terminate()
        backend.wait(30)
    print("telemetry: Steward's traces in Phoenix, joined to the caller's trace")


def run(base):
    answers = {}
    status, headers, account = call(
        base, "POST", "/v1/signup",
        body={"email": "ann@fruit.example", "first_name": "Ann", "last_name": "Lee",
              "password": "a long password"},
        headers={"traceparent": traceparent(TRACE_ID, PARENT_SPAN_ID)})
    check(status == 200, "signed up")
    answers["signup"] = headers["dg-request-id"]
    session = f"Bearer {account['session_token']}"
    project = account["project_id"]
    status, headers, key = call(base, "POST", f"/v1/projects/{project}/keys", auth=session,
                                body={"comment": "laptop", "scopes": ["member"]})
    check(status == 200, "created a key")
    answers["key"] = headers["dg-request-id"]
    answers["secrets"] = ["a long password", account["session_token"], key["key"]]
    invite = {"email": "bob@fruit.example", "scope": "member"}
    status, _, _ = call(base, "POST", f"/v1/projects/{project}/invites", auth=session, body=invite)
    check(status == 200, "invited bob")
    status, headers, _ = call(base, "POST", f"/v1/projects/{project}/invites", auth=session,
                              body=invite)
    check(status == 409, "inviting bob again is refused")
    answers["invite again"] = headers["dg-request-id"]
    status, headers, _ = call(
        base, "GET", "/v1/auth/verify?model=nova-3", auth=f"Token {key['key']}",
        headers={"traceparent": traceparent(CHECK_TRACE_ID, CHECK_PARENT_SPAN_ID),
                 "X-Original-URI": "/v1/listen?model=nova-3", "X-Original-Method": "POST"})
    check(status == 200, "the gateway's check allowed the key")
    answers["check"] = headers["dg-request-id"]
    return answers


def check_spans(spans, answers):
    by_request = {span["attributes"].get("dg.request_id"): span for span in spans}
    children = {}
    for span in spans:
        children.setdefault(span["parent_id"], []).append(span)

    def request_span(what, name, status):
        span = by_request.get(answers[what])
        check(span is not None, f"{what}: a span with its dg-request-id")
        attributes = span["attributes"]
        check(span["name"] == name, f"{what}: named {name!r} ({span['name']!r})")
        check(str(attributes.get("http.response.status_code")) == str(status),
              f"{what}: status {status} on its span")
        return span

    def command_span(parent, name, outcome):
        kids = [kid for kid in children.get(parent["context"]["span_id"], [])
                if kid["name"] == name]
        check(len(kids) == 1, f"{parent['name']}: one child span {name!r}")
        kid = kids[0]
        check(kid["context"]["trace_id"] == parent["context"]["trace_id"],
              f"{name}: in its request's trace")
        check(kid["attributes"].get("steward.outcome") == outcome, f"{name}: {outcome}")
        return kid

    signup = request_span("signup", "POST /v1/signup", 200)
    check(signup["context"]["trace_id"] == TRACE_ID and signup["parent_id"] == PARENT_SPAN_ID,
          "the signup's span is a child of the caller's span, in the caller's trace")
    registered = command_span(signup, "RegisterAccount", "recorded")
    check(int(registered["attributes"]["steward.events"]) >= 2,
          "RegisterAccount: its events counted")

    key = request_span("key", "POST /v1/projects/{project_id}/keys", 200)
    check(key["parent_id"] is None and key["context"]["trace_id"] != TRACE_ID,
          "a request without traceparent starts a trace of its own")
    command_span(key, "CreateKey", "recorded")

    again = request_span("invite again", "POST /v1/projects/{project_id}/invites", 409)
    refused = command_span(again, "InviteMember", "refused")
    check("steward.events" not in refused["attributes"], "a refused command recorded nothing")

    check_span = request_span("check", "GET /v1/auth/verify", 200)
    check(check_span["context"]["trace_id"] == CHECK_TRACE_ID
          and check_span["parent_id"] == CHECK_PARENT_SPAN_ID,
          "the gateway's check joins the gateway's trace")
    exported = json.dumps(spans)
    check(not any(secret in exported for secret in answers["secrets"]),
          f"no password, session token or key secret in any of the {len(spans)} spans")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
