"""Invitation emails through a real SMTP server: aiosmtpd (PyPI), writing a Maildir, in front of
the real `steward serve` binary. Run by .ci/run:

    python tests/smtp/test_delivery.py target/debug/steward

What it checks, each as the seed describes it:
- an invitation arrives, plain text and HTML, naming project, inviter and role, with a link
  whose token accepts it (the invitee joins);
- a resend delivers a new token, and the old one is refused;
- with the SMTP server down the invite still answers 200; the outbox shows the failed attempts;
  once the server is up the email is delivered;
- the server SIGKILLed right after answering an invite (the SMTP server down meanwhile) and
  restarted: the email is delivered;
- an address the SMTP server refuses permanently (550) is marked failed after one attempt.
"""

import email
import email.policy
import json
import mailbox
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
OPERATOR = secrets.token_hex(24)
PUBLIC_URL = "https://console.fruit.example"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition, what, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}")


class Smtp:
    """aiosmtpd on a fixed port, writing to a Maildir; refuses recipients starting "nobody"."""

    def __init__(self, port, maildir):
        self.port, self.maildir, self.process = port, maildir, None

    def start(self):
        env = dict(os.environ, PYTHONPATH=HERE)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{self.port}",
             "-c", "handlers.RefusingMaildir", self.maildir],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: self.accepts(), "the SMTP server to listen")

    def accepts(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            return True
        except OSError:
            return False

    def stop(self):
        self.process.terminate()
        self.process.wait(10)

    def messages_to(self, address):
        box = mailbox.Maildir(self.maildir, factory=None, create=True)
        found = []
        for key in sorted(box.keys()):
            with box.get_file(key) as file:
                message = email.message_from_binary_file(file, policy=email.policy.default)
            if message["To"] == address:
                found.append(message)
        return found


class Steward:
    def __init__(self, binary, data, port, smtp_port):
        self.binary, self.data, self.port, self.smtp_port = binary, data, port, smtp_port
        self.base = f"http://127.0.0.1:{port}"
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--smtp-url", f"smtp://127.0.0.1:{self.smtp_port}", "--smtp-from",
             "Steward <steward@fruit.example>", "--smtp-max-attempts", "30",
             "--public-url", PUBLIC_URL, "--signups-per-minute", "0"],
            env=dict(os.environ, STEWARD_OPERATOR_TOKEN=OPERATOR),
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.data + ".log"), "ab"))
        wait_until(lambda: self.healthy(), "steward to serve")

    def healthy(self):
        try:
            urllib.request.urlopen(self.base + "/healthz", timeout=0.5)
            return True
        except OSError:
            return False

    def kill(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self):
        self.process.terminate()
        self.process.wait(20)

    def call(self, method, path, auth=None, body=None):
        request = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if auth:
            request.add_header("Authorization", auth)
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def signup(self, name):
        status, account = self.call("POST", "/v1/signup", body={
            "email": f"{name}@fruit.example", "first_name": name.title(), "last_name": "Grove",
            "password": "correct horse battery"})
        assert status == 200, account
        return account

    def outbox(self, address):
        status, outbox = self.call("GET", "/v1/operator/outbox", f"Bearer {OPERATOR}")
        assert status == 200, outbox
        return [m for m in outbox["messages"] if m["to"] == address]


def link_token(message):
    """The token of the accept link in the plain-text part (and the same in the HTML part)."""
    text = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    link = [line for line in text.splitlines() if line.startswith(PUBLIC_URL)][0]
    parsed = urllib.parse.urlparse(link)
    assert parsed.path == "/console/invitations/accept", link
    token = urllib.parse.parse_qs(parsed.query)["token"][0]
    assert f"token={token}" in html, html
    return token


def main(binary):
    work = tempfile.mkdtemp()
    smtp = Smtp(free_port(), os.path.join(work, "maildir"))
    steward = Steward(binary, os.path.join(work, "data"), free_port(), smtp.port)
    smtp.start()
    steward.start()
    olive = steward.signup("olive")
    project = olive["project_id"]
    owner = f"Bearer {olive['session_token']}"
    status, _ = steward.call("PATCH", f"/v1/projects/{project}", owner, {"name": "Fruit Company"})
    assert status == 200

    def invite(name, role="member"):
        status, body = steward.call("POST", f"/v1/projects/{project}/invites", owner,
                                    {"email": f"{name}@fruit.example", "scope": role})
        assert status == 200, body

    def accept(person, token):
        return steward.call("POST", "/v1/invitations/accept", f"Bearer {person['session_token']}",
                            {"token": token})

    # An invitation arrives with a working link.
    mia = steward.signup("mia")
    invite("mia", "admin")
    mail = wait_until(lambda: smtp.messages_to("mia@fruit.example"), "mia's email")[0]
    check("Fruit Company" in mail["Subject"] and "Olive Grove" in mail["Subject"],
          "the subject names the project and who invited")
    text = mail.get_body(preferencelist=("plain",)).get_content()
    check(" as admin" in text and "expires" in text, "the email says the role and the expiry")
    status, body = accept(mia, link_token(mail))
    check(status == 200, "the link's token accepts the invitation")
    status, members = steward.call("GET", f"/v1/projects/{project}/members", owner)
    check(any(m["email"] == "mia@fruit.example" for m in members["members"]), "mia joined")
    sent = steward.outbox("mia@fruit.example")[-1]["delivery"]
    check(sent["state"] == "sent" and sent["server_answer"].startswith("250"),
          "the outbox shows the message sent, with the server's answer")

    # A resend delivers a new token; the old one is refused.
    pat = steward.signup("pat")
    invite("pat")
    first = wait_until(lambda: smtp.messages_to("pat@fruit.example"), "pat's first email")
    status, body = steward.call("POST", f"/v1/projects/{project}/invites/pat@fruit.example/resend",
                                owner)
    assert status == 200, body
    both = wait_until(lambda: len(smtp.messages_to("pat@fruit.example")) == 2 and
                      smtp.messages_to("pat@fruit.example"), "pat's second email")
    # Maildir keys do not order two messages of the same second: tell them apart by token.
    old = link_token(first[0])
    tokens = {link_token(message) for message in both}
    check(len(tokens) == 2 and old in tokens, "the resend carries a new token")
    new = (tokens - {old}).pop()
    status, body = accept(pat, old)
    check(status != 200, f"the old token is refused ({status} {body.get('category')})")
    status, body = accept(pat, new)
    check(status == 200, "the new token accepts")

    # The SMTP server down: the invite still succeeds, and the email goes once it is up.
    smtp.stop()
    invite("quinn")
    pending = wait_until(lambda: [m for m in steward.outbox("quinn@fruit.example")
                                  if m["delivery"]["attempts"] >= 1], "a failed attempt")[0]
    check(pending["delivery"]["state"] == "pending" and pending["delivery"]["last_error"],
          "with the SMTP server down the message stays pending, with the error")
    smtp.start()
    wait_until(lambda: smtp.messages_to("quinn@fruit.example"), "quinn's email", seconds=40)
    check(True, "delivered once the SMTP server is up")

    # Killed right after answering an invite (the SMTP server down, so it cannot have been
    # sent yet), then restarted: the email is delivered.
    smtp.stop()
    invite("rose")
    steward.kill()
    smtp.start()
    steward.start()
    wait_until(lambda: smtp.messages_to("rose@fruit.example"), "rose's email after the restart")
    check(True, "an invite answered just before a SIGKILL is delivered after the restart")

    # Refused permanently: failed after one attempt, not retried.
    invite("nobody")
    failed = wait_until(lambda: [m for m in steward.outbox("nobody@fruit.example")
                                 if m["delivery"]["state"] == "failed"], "the refusal")[0]
    check(failed["delivery"]["attempts"] == 1 and "550" in failed["delivery"]["last_error"],
          "an address refused with 550 fails at once")
    status, invites = steward.call("GET", f"/v1/projects/{project}/invites", owner)
    delivery = {i["email"]: i.get("delivery") for i in invites["invites"]}
    check(delivery.get("nobody@fruit.example") == "failed"
          and delivery.get("quinn@fruit.example") == "sent",
          "the pending invitations show their emails' delivery (failed, sent)")

    # Revoked before it goes out: not sent.
    smtp.stop()
    invite("sam")
    status, _ = steward.call("DELETE", f"/v1/projects/{project}/invites/sam@fruit.example", owner)
    assert status == 200
    smtp.start()
    cancelled = wait_until(lambda: [m for m in steward.outbox("sam@fruit.example")
                                    if m["delivery"]["state"] == "cancelled"], "the cancellation",
                           seconds=40)
    check(cancelled and not smtp.messages_to("sam@fruit.example"),
          "a revoked invitation's email is cancelled, not sent")

    steward.stop()
    smtp.stop()
    print("smtp: invitation emails delivered through a real SMTP server")


if __name__ == "__main__":
    main(sys.argv[1])
