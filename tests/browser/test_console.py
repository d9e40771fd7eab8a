"""The Console in a real browser: Debian's headless Chromium driven by Playwright (PyPI), never a
browser Playwright downloads. Two people click through the seed's flows against the real
`steward serve` binary, with invitation emails through a real SMTP server (aiosmtpd, as in
tests/smtp). Run by .ci/run:

    python tests/browser/test_console.py target/debug/steward SCREENSHOT_DIR

The flows, as the seed describes them:
- Olive signs up, creates a second project from the Projects dropdown, renames it in Settings;
- she invites Mia by email ("Invite New Member", "Email Address(es)", "Send Invites");
- Mia opens the link from the email signed out, signs up, comes back and accepts;
- as a member Mia sees neither Team Members, Billing nor Budgets, and makes a key (its secret
  once);
- Olive changes Mia's role, makes and deletes a key, moves credit between her projects,
  reads Usage (and downloads its CSV) and the Audit Log;
- Olive sets a hard budget on a tag in Budgets, and the tag's next request is refused;
- on a key's page Olive rotates Mia's key (the previous secret works for the overlap) and takes
  Mia's second key over;
- Olive removes Mia, seeing first which key will stop working (and whom she could hand it to);
  Mia's key then fails while the key handed over works on, and Mia's console says the project
  is not found.

Each view is saved as a PNG in SCREENSHOT_DIR (the README's screenshots are these).
"""

import csv
import io
import os
import re
import secrets
import subprocess
import sys
import tempfile

from playwright.sync_api import expect, sync_playwright

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "smtp"))
import test_delivery  # noqa: E402
from test_delivery import OPERATOR, Smtp, free_port, wait_until  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium keeps dialing Google's hosts, which this
# closed network refuses (the machine notes).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
PASSWORD = "correct horse battery"


def check(condition, what):
    if not condition:
        raise AssertionError(what)
    print(f"ok - {what}")


class Steward(test_delivery.Steward):
    """`steward serve` whose public URL is itself, so that the email's link opens here."""

    def __init__(self, binary, work, smtp_port):
        super().__init__(binary, os.path.join(work, "data"), free_port(), smtp_port)
        self.log = os.path.join(work, "serve.log")

    def start(self):
        self.process = subprocess.Popen(
            [self.binary, "serve", "--data-dir", self.data, "--listen", f"127.0.0.1:{self.port}",
             "--smtp-url", f"smtp://127.0.0.1:{self.smtp_port}",
             "--smtp-from", "Steward <steward@fruit.example>",
             "--public-url", self.base, "--signups-per-minute", "0"],
            env=dict(os.environ, STEWARD_OPERATOR_TOKEN=OPERATOR),
            stdout=open(self.log, "ab"), stderr=subprocess.STDOUT)
        wait_until(self.healthy, "steward to serve")


def invitation_link(smtp, address):
    """The accept link of the newest email to `address`, from the plain-text part."""
    mail = wait_until(lambda: smtp.messages_to(address), f"the email to {address}")[-1]
    text = mail.get_body(preferencelist=("plain",)).get_content()
    return next(line for line in text.splitlines() if "/console/invitations/accept?" in line)


def shot(page, directory, name):
    page.wait_for_load_state()
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=os.path.join(directory, f"{name}.png"))


def follow(page, link, heading):
    """Clicks a link and waits for the page it opens, whose fields may share a label with this one's
    ("Email" on Log in and Sign up, "Project Name" on Settings and Create Project)."""
    page.get_by_role("link", name=link).click()
    expect(page.get_by_role("heading", name=heading, level=1)).to_be_visible()


def sign_up(page, email, first):
    follow(page, "Sign up", "Sign up")
    page.get_by_label("Email").fill(email)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill("Grove")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign up").click()


def open_view(page, name):
    page.get_by_role("navigation").get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name, level=1)).to_be_visible()


def main(binary, screenshots):
    os.makedirs(screenshots, exist_ok=True)
    work = tempfile.mkdtemp()
    smtp = Smtp(free_port(), os.path.join(work, "maildir"))
    smtp.start()
    steward = Steward(binary, work, smtp.port)
    steward.start()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                run(browser, steward, smtp, screenshots)
            finally:
                browser.close()
    finally:
        steward.stop()
        smtp.stop()
    print("browser: ok")


def run(browser, steward, smtp, screenshots):
    viewport = {"width": 1100, "height": 720}
    olive_context = browser.new_context(viewport=viewport, accept_downloads=True)
    olive = olive_context.new_page()
    errors = []
    # Script errors and CSP violations; a refused form's 4xx answer is expected, not an error.
    expected = "Failed to load resource: the server responded with a status of 4"
    olive.on("console", lambda message: errors.append(message.text)
             if message.type == "error" and not message.text.startswith(expected) else None)

    # Sign in: /console sends a signed-out person to "Log in"; Olive signs up.
    olive.goto(steward.base + "/console")
    expect(olive.get_by_role("button", name="Log in")).to_be_visible()
    shot(olive, screenshots, "login")
    sign_up(olive, "olive@fruit.example", "Olive")
    olive.wait_for_url("**/console/projects/*/settings")
    expect(olive.get_by_role("heading", name="Settings")).to_be_visible()
    check(True, "signing up opens the first project's Settings")
    first_project = olive.url.split("/console/projects/")[1].split("/")[0]

    # The Projects dropdown: "Create Project", then rename it in Settings.
    olive.get_by_text("Projects", exact=False).first.click()
    follow(olive, "Create Project", "Create Project")
    olive.get_by_label("Project Name").fill("Fruit Staging")
    olive.get_by_role("button", name="Create Project").click()
    expect(olive.get_by_label("Project Name")).to_have_value("Fruit Staging")
    olive.wait_for_url(lambda url: url.endswith("/settings") and first_project not in url)
    second_project = olive.url.split("/console/projects/")[1].split("/")[0]
    olive.get_by_label("Project Name").fill("Fruit Labs")
    olive.get_by_role("button", name="Update").click()
    expect(olive.get_by_label("Project Name")).to_have_value("Fruit Labs")
    olive.get_by_text("Projects", exact=False).first.click()
    expect(olive.get_by_role("link", name="Fruit Labs")).to_be_visible()
    check(True, "a project is created from the Projects dropdown and renamed with Update")
    olive.goto(f"{steward.base}/console/projects/{first_project}/settings")
    shot(olive, screenshots, "settings")

    # Team Members: invite Mia (and a bad address, refused with its reason).
    open_view(olive, "Team Members")
    olive.get_by_label("Email Address(es)").fill("mia@fruit.example\nnot-an-address")
    olive.get_by_label("Role", exact=True).select_option("member")
    olive.get_by_role("button", name="Send Invites").click()
    expect(olive.get_by_text("mia@fruit.example: sent")).to_be_visible()
    expect(olive.get_by_text("not-an-address: not sent")).to_be_visible()
    expect(olive.get_by_role("button", name="Resend Invitation")).to_be_visible()
    check(True, "each address is its own invitation; the page says which were refused")

    # Mia follows the email's link signed out, signs up, and comes back to accept.
    link = invitation_link(smtp, "mia@fruit.example")
    mia_context = browser.new_context(viewport=viewport)
    mia = mia_context.new_page()
    mia.goto(link)
    expect(mia.get_by_role("button", name="Log in")).to_be_visible()
    sign_up(mia, "mia@fruit.example", "Mia")
    expect(mia.get_by_role("button", name="Accept Invitation")).to_be_visible()
    expect(mia.get_by_text("as member")).to_be_visible()
    shot(mia, screenshots, "accept-invitation")
    mia.get_by_role("button", name="Accept Invitation").click()
    mia.wait_for_url(f"**/console/projects/{first_project}/settings")
    expect(mia.get_by_text("Your role: member")).to_be_visible()
    check(True, "the link's invitation is accepted")

    # As a member, Mia is not offered Team Members, Billing or the Audit Log.
    nav = mia.get_by_role("navigation")
    for hidden in ["Team Members", "Billing", "Budgets", "Audit Log"]:
        expect(nav.get_by_role("link", name=hidden)).to_have_count(0)
    check(True, "a member sees no Team Members, Billing, Budgets or Audit Log")

    # Mia makes a key: its secret is shown once, with a copy button.
    open_view(mia, "API Keys")
    expect(mia.get_by_label("Role", exact=True).locator("option")).to_have_count(1)
    mia.get_by_label("Comment").fill("mia-laptop")
    mia.get_by_label("Tags").fill("customer-a")
    mia.get_by_role("button", name="Create API Key").click()
    secret_field = mia.get_by_label("Secret")
    expect(secret_field).to_be_visible()
    secret = secret_field.input_value()
    expect(mia.get_by_role("button", name="Copy")).to_be_visible()
    shot(mia, screenshots, "api-key-created")
    mia_key = f"Token {secret}"
    status, _ = steward.call("GET", f"/v1/projects/{first_project}", mia_key)
    check(status == 200, "the secret shown once works against the API")
    mia.reload()
    check(secret not in mia.content(), "the secret is never shown again")

    # Olive changes Mia's role, and back.
    olive.goto(f"{steward.base}/console/projects/{first_project}/members")
    olive.get_by_label("Role of mia@fruit.example").select_option("admin")
    olive.get_by_role("row", name=re.compile("mia@fruit.example")).get_by_role(
        "button", name="Change").click()
    expect(olive.get_by_text("The role was changed.")).to_be_visible()
    expect(olive.get_by_label("Role of mia@fruit.example")).to_have_value("admin")
    olive.get_by_label("Role of mia@fruit.example").select_option("member")
    olive.get_by_role("row", name=re.compile("mia@fruit.example")).get_by_role(
        "button", name="Change").click()
    expect(olive.get_by_label("Role of mia@fruit.example")).to_have_value("member")
    check(True, "the Role control changes a member's role")
    shot(olive, screenshots, "team-members")

    # Olive makes a key and deletes it with its trash button ("Delete <comment>").
    open_view(olive, "API Keys")
    olive.get_by_label("Comment").fill("ci-runner")
    olive.get_by_role("button", name="Create API Key").click()
    expect(olive.get_by_label("Secret")).to_be_visible()
    ci_key = f"Token {olive.get_by_label('Secret').input_value()}"
    olive.goto(f"{steward.base}/console/projects/{first_project}/keys")
    expect(olive.get_by_role("button", name="Delete mia-laptop")).to_be_visible()
    shot(olive, screenshots, "api-keys")
    olive.once("dialog", lambda dialog: dialog.accept())
    olive.get_by_role("button", name="Delete ci-runner").click()
    expect(olive.get_by_text("The key ci-runner was deleted.")).to_be_visible()
    expect(olive.get_by_role("button", name="Delete ci-runner")).to_have_count(0)
    status, _ = steward.call("GET", f"/v1/projects/{first_project}", ci_key)
    check(status == 401, "a deleted key stops working")

    # Billing: support grants contract and card credit; Olive moves some to Fruit Labs.
    for grant in [{"amount": "50", "units": "usd", "source": "contract",
                   "expires_at": "2027-12-31", "reference": "PO-117"},
                  {"amount": "20", "units": "usd", "source": "card"}]:
        status, body = steward.call("POST", f"/v1/operator/projects/{first_project}/credits",
                                    f"Bearer {OPERATOR}", grant)
        assert status == 200, body
    open_view(olive, "Billing")
    expect(olive.get_by_role("cell", name="contract").first).to_be_visible()
    olive.get_by_label("To project").select_option(label="Fruit Labs")
    olive.get_by_label("Amount (USD)").fill("lots")
    olive.get_by_role("button", name="Transfer").click()
    expect(olive.locator("#amount-error")).to_be_visible()
    olive.get_by_label("Amount (USD)").fill("60")
    olive.get_by_role("button", name="Transfer").click()
    expect(olive.get_by_text("$60.00 moved to Fruit Labs, keeping its expiry.")).to_be_visible()
    shot(olive, screenshots, "billing")
    status, balances = steward.call("GET", f"/v1/projects/{second_project}/balances",
                                    f"Bearer {session_of(olive_context)}")
    assert status == 200, (status, balances)
    moved = {(b["source"], str(b["amount"]), b.get("expiration", "")[:10])
             for b in balances["balances"]}
    check(("contract", "50", "2027-12-31") in moved and ("card", "10", "") in moved,
          "the moved credit keeps its expiry")

    # Usage: Mia's key meters requests; Olive reads the month and downloads its CSV.
    for seconds, tags in [(90, ["apple"]), (30, []), (600, ["pear", "apple"])]:
        status, body = steward.call(
            "POST", f"/v1/projects/{first_project}/requests", mia_key,
            {"request_id": secrets.token_hex(16), "endpoint": "listen", "method": "sync",
             "model": "nova-3", "units": {"audio_seconds": seconds}, "code": 200,
             "tags": tags})
        assert status == 200, body
    open_view(olive, "Usage")
    # Mia's key carries customer-a, so every request does; apple and pear are the requests' own.
    for tag, requests in [("customer-a", "3"), ("apple", "2"), ("pear", "1")]:
        row = olive.get_by_role("row", name=re.compile(f"^{tag} "))
        expect(row.get_by_role("cell").nth(1)).to_have_text(requests)
    expect(olive.get_by_role("row", name=re.compile("^Total ")).get_by_role(
        "columnheader").nth(1)).to_have_text("3")
    expect(olive.locator("svg.chart rect")).to_have_count(1)
    shot(olive, screenshots, "usage")
    with olive.expect_download() as download:
        olive.get_by_role("link", name="Download CSV").click()
    rows = list(csv.reader(io.StringIO(open(download.value.path()).read())))
    check(any("customer-a" in row for row in rows) and rows[-1][0] == "total",
          "Download CSV is the billing breakdown by tag, with its total")

    # The Audit Log, as sentences.
    open_view(olive, "Audit Log")
    expect(olive.get_by_text("Olive invited mia@fruit.example as member")).to_be_visible()
    expect(olive.get_by_text("Mia accepted the invitation")).to_be_visible()
    olive.get_by_label("Type").select_option("role_changed")
    olive.get_by_role("button", name="Filter").click()
    expect(olive.get_by_text("changed the role of Mia from member to admin")).to_be_visible()
    expect(olive.locator("tbody tr")).to_have_count(2)
    check(True, "the audit log reads as sentences and filters by type")
    olive.goto(f"{steward.base}/console/projects/{first_project}/audit")
    shot(olive, screenshots, "audit-log")

    # Budgets: a hard budget on apple below its spend; apple's next request is refused.
    open_view(olive, "Budgets")
    expect(olive.get_by_role("row", name=re.compile("^customer-a ")).get_by_role(
        "cell").nth(1)).not_to_have_text("$0.00")
    olive.get_by_label("Tag", exact=True).fill("apple")
    olive.get_by_label("Monthly budget (USD)").fill("a lot")
    olive.get_by_role("button", name="Set Budget").click()
    expect(olive.locator("#monthly-error")).to_be_visible()
    olive.get_by_label("Monthly budget (USD)").fill("0.001")
    olive.get_by_label("Hard: refuse the requests that would pass it").check()
    olive.get_by_role("button", name="Set Budget").click()
    expect(olive.get_by_text("The budget of apple is set.")).to_be_visible()
    apple = olive.get_by_role("row", name=re.compile("^apple "))
    expect(apple.get_by_role("cell").nth(4)).to_have_text("reached: its requests are refused")
    shot(olive, screenshots, "budgets")
    status, body = steward.call(
        "POST", f"/v1/projects/{first_project}/requests", mia_key,
        {"request_id": secrets.token_hex(16), "endpoint": "listen", "method": "sync",
         "model": "nova-3", "units": {"audio_seconds": 5}, "code": 200, "tags": ["apple"]})
    check(status == 402 and "apple" in body["message"],
          "a request past a hard budget is refused, naming the tag")
    olive.get_by_role("button", name="Remove the budget of apple").click()
    expect(olive.get_by_text("The budget of apple was removed.")).to_be_visible()

    # A key's page: Olive rotates mia-laptop with an hour's overlap, then takes mia-batch over.
    status, body = steward.call("POST", f"/v1/projects/{first_project}/keys",
                                f"Bearer {session_of(mia_context)}",
                                {"comment": "mia-batch", "scopes": ["member"]})
    assert status == 200, body
    batch_key = f"Token {body['key']}"
    open_view(olive, "API Keys")
    olive.get_by_role("link", name="mia-laptop").click()
    expect(olive.get_by_role("heading", name="API key mia-laptop")).to_be_visible()
    olive.get_by_label("The previous secret").select_option(label="works 1 hour more")
    olive.get_by_role("button", name="Rotate Secret").click()
    expect(olive.get_by_text("The previous secret works until")).to_be_visible()
    rotated_key = f"Token {olive.get_by_label('Secret', exact=True).input_value()}"
    shot(olive, screenshots, "api-key-rotated")
    for what, key in [("new", rotated_key), ("previous", mia_key)]:
        status, _ = steward.call("GET", f"/v1/projects/{first_project}", key)
        check(status == 200, f"the {what} secret works during the overlap")
    open_view(olive, "API Keys")
    olive.get_by_role("link", name="mia-batch").click()
    olive.get_by_label("Hand over to").select_option(label="Olive Grove (olive@fruit.example)")
    olive.get_by_role("button", name="Hand Over").click()
    expect(olive.get_by_text("The key now acts as Olive Grove (olive@fruit.example).")).to_be_visible()
    check(True, "a key is handed over from its page")

    # Olive removes Mia, seeing first that mia-laptop will stop working (mia-batch is hers now).
    open_view(olive, "Team Members")
    olive.get_by_role("link", name="Remove mia@fruit.example").click()
    dying = olive.get_by_role("row", name=re.compile("^mia-laptop "))
    expect(dying).to_be_visible()
    expect(dying.get_by_role("cell").nth(1)).to_have_text("3")
    expect(olive.get_by_role("row", name=re.compile("^mia-batch "))).to_have_count(0)
    expect(olive.get_by_label("Hand the keys over to")).to_have_value("")
    shot(olive, screenshots, "remove-member")
    olive.get_by_role("button", name="Remove mia@fruit.example").click()
    expect(olive.get_by_role("cell", name="mia@fruit.example")).to_have_count(0)
    for key in [rotated_key, mia_key]:
        status, _ = steward.call("GET", f"/v1/projects/{first_project}", key)
        check(status == 401, "the removed member's key is dead")
    status, _ = steward.call("GET", f"/v1/projects/{first_project}", batch_key)
    check(status == 200, "the key handed over works on")
    mia.goto(f"{steward.base}/console/projects/{first_project}/settings")
    expect(mia.get_by_role("heading", name="Project not found")).to_be_visible()
    check(True, "the project is not found for the removed member")

    # Log out: the console sends Olive to sign in again.
    olive.get_by_role("button", name="Log out").click()
    expect(olive.get_by_role("button", name="Log in")).to_be_visible()
    olive.goto(f"{steward.base}/console/projects/{first_project}/keys")
    expect(olive.get_by_role("button", name="Log in")).to_be_visible()
    check(True, "after Log out a view asks to sign in")
    check(not errors, f"no script errors or CSP violations in the browser ({errors})")


def session_of(context):
    return next(c["value"] for c in context.cookies() if c["name"] == "steward_session")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
