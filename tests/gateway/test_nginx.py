"""Steward behind a real nginx (Debian's package): `auth_request` asks /v1/auth/verify before
every request reaches a small upstream, and the upstream meters what it served with the
caller's own credentials. Run by .ci/run:

    python tests/gateway/test_nginx.py target/debug/steward

The nginx configuration is the README's example, written at run time with free ports. What it
checks:
- a valid key passes, and the upstream sees the X-Steward-* headers (never the caller's own);
- an unknown key, a removed member's key and an expired grant answer 401, with Steward's
  error JSON;
- a project without credit answers 402; a model the project may not use 403;
- the upstream's metering after the response lands in the project's usage under the tags;
- /metrics parses with prometheus-client's own parser, and its counts moved as expected.
"""

import http.server
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "smtp"))
from test_delivery import free_port, wait_until  # noqa: E402

OPERATOR = secrets.token_hex(24)
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}")


def call(base, method, path, auth=None, body=None, headers=None):
    request = urllib.request.Request(base + path, method=method,
                                     data=None if body is None else json.dumps(body).encode())
    request.add_header("Content-Type", "application/json")
    if auth:
        request.add_header("Authorization", auth)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.headers, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, json.loads(error.read() or b"null")


class Upstream(http.server.ThreadingHTTPServer):
    """The business's own API: answers with the X-Steward-* headers it was given, and records
    each request's cost in Steward with the caller's credentials and the ids it was passed."""

    def __init__(self, steward):
        self.steward = steward
        self.seen = []
        self.metering_errors = []
        super().__init__(("127.0.0.1", 0), UpstreamHandler)


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        steward = {name.lower(): value for name, value in self.headers.items()
                   if name.lower().startswith("x-steward-")}
        self.server.seen.append(steward)
        body = json.dumps({"transcript": "hello", "steward": steward}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # After the response: what it cost, with the same Authorization, in the project the
        # check named; the model and the request's tags are those of its URI (Steward adds
        # the key's tags).
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        status, _, recorded = call(
            self.server.steward, "POST",
            f"/v1/projects/{steward['x-steward-project-id']}/requests",
            self.headers["Authorization"],
            {"request_id": self.headers["X-Request-Id"], "endpoint": "listen",
             "method": "sync", "model": query.get("model", ["nova-3"])[0],
             "units": {"audio_seconds": 30}, "code": 200, "tags": query.get("tag", [])})
        if status != 200:
            self.server.metering_errors.append(recorded)

    def log_message(self, *args):
        pass


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {work}/nginx-access.log;
    client_body_temp_path {work}/body;
    proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fastcgi;
    uwsgi_temp_path {work}/uwsgi;
    scgi_temp_path {work}/scgi;

    upstream steward {{ server 127.0.0.1:{steward_port}; }}
    upstream inference {{ server 127.0.0.1:{upstream_port}; }}

    server {{
        listen 127.0.0.1:{port};

        # The check: Steward sees the caller's Authorization and the original URI.
        location = /_steward/verify {{
            internal;
            proxy_pass http://steward/v1/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
            # X-Steward-Tags holds up to 64 tags (the key's and the request's), percent-encoded.
            proxy_buffer_size 16k;
            proxy_buffers 4 16k;
        }}

        # A refusal: auth_request keeps only 401 and 403 (any other status is a 500) and
        # never the body, so ask again as a plain proxy and show Steward's answer as it is.
        location @steward_refusal {{
            rewrite ^ /v1/auth/verify break;
            proxy_method GET;
            proxy_pass http://steward;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header X-Forwarded-For $remote_addr;
        }}

        location /v1/ {{
            auth_request /_steward/verify;
            auth_request_set $steward_project $upstream_http_x_steward_project_id;
            auth_request_set $steward_key $upstream_http_x_steward_key_id;
            auth_request_set $steward_account $upstream_http_x_steward_account_id;
            auth_request_set $steward_tags $upstream_http_x_steward_tags;
            auth_request_set $steward_scopes $upstream_http_x_steward_scopes;
            error_page 401 403 500 = @steward_refusal;

            # Set, never passed through: a caller cannot send its own.
            proxy_set_header X-Steward-Project-Id $steward_project;
            proxy_set_header X-Steward-Key-Id $steward_key;
            proxy_set_header X-Steward-Account-Id $steward_account;
            proxy_set_header X-Steward-Tags $steward_tags;
            proxy_set_header X-Steward-Scopes $steward_scopes;
            proxy_set_header X-Request-Id $request_id;
            proxy_pass http://inference;
        }}
    }}
}}
"""


def metered(steward, project, session):
    status, _, usage = call(steward, "GET", f"/v1/projects/{project}/usage", session)
    return usage["results"][0]["requests"] if status == 200 and usage["results"] else 0


def metrics(steward):
    with urllib.request.urlopen(steward + "/metrics") as response:
        text = response.read().decode()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def verify_count(samples, outcome):
    return samples.get(("steward_verify_answers_total", (("outcome", outcome),)), 0)


def main(binary):
    work = tempfile.mkdtemp()
    steward_port, port = free_port(), free_port()
    steward_base = f"http://127.0.0.1:{steward_port}"
    serve = subprocess.Popen(
        [binary, "serve", "--data-dir", os.path.join(work, "data"),
         "--listen", f"127.0.0.1:{steward_port}", "--trusted-proxies", "127.0.0.1"],
        env=dict(os.environ, STEWARD_OPERATOR_TOKEN=OPERATOR),
        stdout=open(os.path.join(work, "serve.log"), "ab"), stderr=subprocess.STDOUT)
    upstream = Upstream(steward_base)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    with open(os.path.join(work, "nginx.conf"), "w") as conf:
        conf.write(NGINX_CONF.format(work=work, steward_port=steward_port, port=port,
                                     upstream_port=upstream.server_address[1]))
    wait_until(lambda: healthy(steward_base), "steward to serve")
    nginx = subprocess.Popen([NGINX, "-c", os.path.join(work, "nginx.conf"), "-p", work],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: listening(port), "nginx to listen")
        run(steward_base, f"http://127.0.0.1:{port}", upstream)
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(10)
        upstream.shutdown()
        serve.terminate()
        serve.wait(20)
    print("gateway: nginx auth_request in front of an upstream, checked by Steward")


def healthy(base):
    try:
        urllib.request.urlopen(base + "/healthz", timeout=0.5)
        return True
    except OSError:
        return False


def listening(port):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=0.5)
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def run(steward, gateway, upstream):
    operator = f"Bearer {OPERATOR}"
    status, _, olive = call(steward, "POST", "/v1/signup", body={
        "email": "olive@fruit.example", "first_name": "Olive", "last_name": "Grove",
        "password": "correct horse battery"})
    assert status == 200, olive
    project, session = olive["project_id"], f"Bearer {olive['session_token']}"

    def key(auth, project_id, tags=()):
        status, _, body = call(steward, "POST", f"/v1/projects/{project_id}/keys", auth,
                               {"comment": "gateway", "scopes": ["member"], "tags": list(tags)})
        assert status == 200, body
        return f"Token {body['key']}"

    before = metrics(steward)
    olive_key = key(session, project, ["customer-a"])

    # A valid key passes; the upstream sees who, in which project, with which tags.
    status, _, body = call(gateway, "POST", "/v1/listen?model=nova-3&tag=batch%201", olive_key,
                           {"audio": "..."},
                           headers={"X-Steward-Project-Id": "forged", "X-Steward-Tags": "free"})
    check(status == 200 and body["transcript"] == "hello", "a valid key reaches the upstream")
    seen = upstream.seen[-1]
    check(seen["x-steward-project-id"] == project, "the upstream sees the project, not a forgery")
    check(seen["x-steward-tags"] == "customer-a,batch%201",
          "the upstream sees the key's tags and the request's")
    check("usage:write" in seen["x-steward-scopes"].split(","), "and the key's scopes")
    # The largest tag header: 32 key tags and 32 request tags of 100 characters.
    many_key = key(session, project, [f"k{n:02}" + "x" * 97 for n in range(32)])
    many = "&".join(f"tag=r{n:02}" + "y" * 97 for n in range(32))
    status, _, body = call(gateway, "POST", f"/v1/listen?{many}", many_key, {})
    check(status == 200 and len(upstream.seen[-1]["x-steward-tags"].split(",")) == 64,
          "64 tags of 100 characters pass in one header")
    wait_until(lambda: call(steward, "GET", f"/v1/projects/{project}/usage?tag=batch%201",
                            session)[2]["results"], "the upstream's metering")
    check(True, "the upstream's metering landed under the request's tag")

    # 401s: an unknown key, a removed member's key, an expired grant; Steward's error JSON.
    status, _, mia = call(steward, "POST", "/v1/signup", body={
        "email": "mia@fruit.example", "first_name": "Mia", "last_name": "Grove",
        "password": "correct horse battery"})
    assert status == 200, mia
    status, _, _ = call(steward, "POST", f"/v1/projects/{project}/invites", session,
                        {"email": "mia@fruit.example", "scope": "member"})
    status, _, outbox = call(steward, "GET", "/v1/operator/outbox", operator)
    token = [m for m in outbox["messages"] if m["to"] == "mia@fruit.example"][-1]["token"]
    status, _, _ = call(steward, "POST", "/v1/invitations/accept",
                        f"Bearer {mia['session_token']}", {"token": token})
    assert status == 200
    mia_key = key(f"Bearer {mia['session_token']}", project)
    status, _, _ = call(gateway, "POST", "/v1/listen", mia_key, {})
    check(status == 200, "Mia's key passes while she is a member")
    # The upstream meters after answering: let it, before her key dies with her membership.
    wait_until(lambda: metered(steward, project, session) == 3, "Mia's request to be metered")
    status, _, _ = call(steward, "DELETE", f"/v1/projects/{project}/members/{mia['account_id']}",
                        session)
    assert status == 200
    # A grant must still be live when the upstream meters with it: one of a minute passes
    # and is metered; one of a second is checked once it has expired.
    status, _, grant = call(steward, "POST", "/v1/auth/grant", olive_key, {"ttl_seconds": 60})
    assert status == 200, grant
    status, _, _ = call(gateway, "POST", "/v1/listen", f"Bearer {grant['access_token']}", {})
    check(status == 200, "a live grant passes")
    status, _, grant = call(steward, "POST", "/v1/auth/grant", olive_key, {"ttl_seconds": 1})
    assert status == 200, grant
    time.sleep(2.2)
    for auth, what in [("Token nope", "an unknown key"), (mia_key, "a removed member's key"),
                       (f"Bearer {grant['access_token']}", "an expired grant")]:
        status, _, body = call(gateway, "POST", "/v1/listen", auth, {})
        check(status == 401 and body["category"] == "INVALID_AUTH",
              f"{what} answers 401 with Steward's error JSON")

    # 402: a project without credit. 403: a model the project may not use.
    status, _, empty = call(steward, "POST", "/v1/projects", session, {"name": "Empty"})
    empty_key = key(session, empty["project_id"])
    status, _, body = call(gateway, "POST", "/v1/listen", empty_key, {})
    check(status == 402 and body["category"] == "ASR_PAYMENT_REQUIRED",
          "a project without credit answers 402")
    status, _, models = call(steward, "GET", "/v1/models", session)
    nova = next(m["uuid"] for m in models["stt"] if m["canonical_name"] == "nova-3")
    status, _, _ = call(steward, "DELETE", f"/v1/operator/projects/{project}/models/{nova}",
                        operator)
    assert status == 200
    status, _, body = call(gateway, "POST", "/v1/listen?model=nova-3", olive_key, {})
    check(status == 403 and body["category"] == "INSUFFICIENT_PERMISSIONS",
          "a model the project may not use answers 403")
    status, _, _ = call(gateway, "POST", "/v1/listen?model=nova-2", olive_key, {})
    check(status == 200, "another model still passes")
    check(len(upstream.seen) == 5, "no refused request reached the upstream")
    try:
        wait_until(lambda: metered(steward, project, session) == 5,
                   "the upstream's five requests to be metered", seconds=10)
    finally:
        check(not upstream.metering_errors, f"metering errors: {upstream.metering_errors}")
    check(True, "the upstream metered each request it served (key, member's key, grant)")

    # /metrics parses with Prometheus's own parser, and the counts moved.
    after = metrics(steward)
    check(verify_count(after, "allowed") - verify_count(before, "allowed") == 5,
          "metrics: five checks allowed")
    # nginx asks twice for a refusal (the check, then the body): each refusal counts twice.
    check(verify_count(after, "invalid_auth") - verify_count(before, "invalid_auth") == 6,
          "metrics: three 401s, each asked twice")
    check(verify_count(after, "payment_required") == 2 and verify_count(after, "model_not_allowed") == 2,
          "metrics: the 402 and the 403")
    consumed = after[("steward_credit_consumed_usd_total", ())]
    check(consumed > 0, f"metrics: credit consumed ({consumed} USD)")
    check(after[("steward_log_head", ())] > 0, "metrics: the log head")


if __name__ == "__main__":
    main(sys.argv[1])
