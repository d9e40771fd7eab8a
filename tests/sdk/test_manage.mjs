// The official Deepgram JS SDK (npm @deepgram/sdk 5.x), unchanged, against `steward serve`:
// every manage method, the model catalog and auth grants. Only the base URL points at
// Steward; setup Deepgram's API has no endpoint for (signup, credit grants, metering) goes over
// plain fetch. Run by .ci/run after `npm install` in a scratch directory:
//
//   STEWARD_URL=http://127.0.0.1:PORT STEWARD_OPERATOR_TOKEN=... NODE_PATH=.../node_modules \
//     node tests/sdk/test_manage.mjs

import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import { join } from "node:path";

// The SDK lives in the scratch directory's node_modules, not beside this file.
const require = createRequire(join(process.env.NODE_PATH, "noop.js"));
const { DeepgramClient, DeepgramError } = require("@deepgram/sdk");

const BASE = process.env.STEWARD_URL.replace(/\/$/, "");
const OPERATOR = `Bearer ${process.env.STEWARD_OPERATOR_TOKEN}`;

async function http(method, path, body, auth) {
  const headers = { "Content-Type": "application/json" };
  if (auth) headers.Authorization = auth;
  const response = await fetch(BASE + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

function client(apiKey) {
  return new DeepgramClient({ apiKey, baseUrl: BASE, maxRetries: 0 });
}

let passed = 0;
function check(condition, what) {
  if (!condition) throw new Error(`failed: ${what}`);
  passed += 1;
  console.log(`ok - ${what}`);
}

async function refused(promise) {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeepgramError) return error;
    throw error;
  }
  throw new Error("expected the SDK to raise DeepgramError");
}

async function main() {
  const suffix = randomUUID().slice(0, 8);
  const signup = (name) =>
    http("POST", "/v1/signup", {
      email: `${name}-${suffix}@fruit.example`,
      first_name: name,
      last_name: "Grove",
      password: "correct horse battery",
    });
  const olive = await signup("olive");
  const mia = await signup("mia");
  const miaAddress = `mia-${suffix}@fruit.example`;
  const projectId = olive.project_id;
  const session = `Bearer ${olive.session_token}`;
  await http(
    "POST",
    `/v1/operator/projects/${projectId}/credits`,
    { amount: "50", units: "usd", source: "card", reference: "card-4242" },
    OPERATOR,
  );
  const ownerKey = (
    await http("POST", `/v1/projects/${projectId}/keys`, { comment: "js owner", scopes: ["owner"] }, session)
  ).key;
  const dg = client(ownerKey).manage.v1;

  // Projects.
  const projects = await dg.projects.list();
  check(projects.projects.some((p) => p.project_id === projectId), "projects.list");
  check((await dg.projects.get(projectId)).project_id === projectId, "projects.get");
  await dg.projects.update(projectId, { name: "Fruit Company" });
  check((await dg.projects.get(projectId)).name === "Fruit Company", "projects.update");

  // Keys.
  const created = await dg.projects.keys.create(projectId, {
    comment: "apple backend",
    scopes: ["member"],
    tags: ["apple"],
  });
  check(created.key.startsWith("stw_key_") && created.tags[0] === "apple", "keys.create");
  const listed = await dg.projects.keys.list(projectId);
  check(listed.api_keys.some((k) => k.api_key.api_key_id === created.api_key_id), "keys.list");
  const item = await dg.projects.keys.get(projectId, created.api_key_id);
  check(item.item.member.api_key.comment === "apple backend", "keys.get");

  // Metering with the apple key (plain HTTP), one request diarized.
  const requestIds = [];
  for (const [seconds, features] of [[60, ["diarize"]], [120, []]]) {
    const requestId = randomUUID();
    requestIds.push(requestId);
    await http(
      "POST",
      `/v1/projects/${projectId}/requests`,
      { request_id: requestId, endpoint: "listen", method: "sync", model: "nova-3",
        units: { audio_seconds: seconds }, code: 200, features },
      `Token ${created.key}`,
    );
  }

  // Invitations, members, scopes.
  await dg.projects.members.invites.create(projectId, { email: miaAddress, scope: "member" });
  const invites = await dg.projects.members.invites.list(projectId);
  check(invites.invites.length === 1 && invites.invites[0].email === miaAddress, "invites.create + list");
  const outbox = await http("GET", "/v1/operator/outbox", undefined, OPERATOR);
  const token = outbox.messages.filter((m) => m.to === miaAddress).pop().token;
  await http("POST", "/v1/invitations/accept", { token }, `Bearer ${mia.session_token}`);
  const members = await dg.projects.members.list(projectId);
  const miaId = members.members.find((m) => m.email === miaAddress).member_id;
  check(Boolean(miaId), "members.list");
  check((await dg.projects.members.scopes.list(projectId, miaId)).scopes[0] === "member", "members.scopes.list");
  await dg.projects.members.scopes.update(projectId, miaId, { scope: "admin" });
  check((await dg.projects.members.scopes.list(projectId, miaId)).scopes[0] === "admin", "members.scopes.update");
  await dg.projects.members.invites.create(projectId, { email: `pat-${suffix}@fruit.example`, scope: "member" });
  await dg.projects.members.invites.delete(projectId, `pat-${suffix}@fruit.example`);
  check((await dg.projects.members.invites.list(projectId)).invites.length === 0, "invites.delete");
  await dg.projects.members.delete(projectId, miaId);
  const after = await dg.projects.members.list(projectId);
  check(after.members.every((m) => m.member_id !== miaId), "members.delete");

  // Billing.
  const balances = await dg.projects.billing.balances.list(projectId);
  const card = balances.balances.find((b) => b.reference === "card-4242" && b.purchase_order_id === b.balance_id);
  check(Boolean(card), "billing.balances.list");
  check((await dg.projects.billing.balances.get(projectId, card.balance_id)).balance_id === card.balance_id,
    "billing.balances.get");
  const purchases = await dg.projects.billing.purchases.list(projectId);
  check(purchases.orders.some((o) => o.order_type === "card"), "billing.purchases.list");
  const billing = await dg.projects.billing.breakdown.list(projectId, { grouping: "tags" });
  check(billing.results.some((r) => (r.grouping.tags || [])[0] === "apple"), "billing.breakdown.list");
  const billingFields = await dg.projects.billing.fields.list(projectId);
  check(billingFields.tags.includes("apple"), "billing.fields.list");

  // Requests and usage, features included.
  const requests = await dg.projects.requests.list(projectId, { limit: 1 });
  check(requests.requests.length === 1 && requests.requests[0].request_id === requestIds[1], "requests.list");
  const one = await dg.projects.requests.get(projectId, requestIds[0]);
  check(one.request.request_id === requestIds[0], "requests.get");
  const usage = await dg.projects.usage.get(projectId, { diarize: true });
  check(usage.resolution.units === "day" && usage.requests === 1, "usage.get diarize=true");
  const breakdown = await dg.projects.usage.breakdown.get(projectId, { grouping: "feature_set" });
  const sets = breakdown.results.map((r) => r.grouping.feature_set).sort();
  check(JSON.stringify(sets) === JSON.stringify(["default", "diarize"]), "usage.breakdown.get grouping=feature_set");
  const fields = await dg.projects.usage.fields.list(projectId);
  check(fields.features.includes("diarize") && fields.models[0].name === "nova-3", "usage.fields.list");

  // Models.
  const catalog = await dg.models.list();
  const nova = catalog.stt.find((m) => m.canonical_name === "nova-3");
  check(Boolean(nova) && catalog.tts.length > 0, "models.list");
  const outdated = await dg.models.list({ include_outdated: true });
  check(outdated.stt.length > catalog.stt.length, "models.list include_outdated");
  check((await dg.models.get(nova.uuid)).canonical_name === "nova-3", "models.get");
  const mine = await dg.projects.models.list(projectId);
  check(mine.stt.some((m) => m.uuid === nova.uuid), "projects.models.list");
  check((await dg.projects.models.get(projectId, nova.uuid)).uuid === nova.uuid, "projects.models.get");

  // A grant, made with the member's key; the management API refuses it.
  const grant = await client(created.key).auth.v1.tokens.grant({ ttl_seconds: 60 });
  check(grant.access_token.split(".").length === 3 && grant.expires_in === 60, "auth.v1.tokens.grant");
  const withGrant = new DeepgramClient({ accessToken: grant.access_token, baseUrl: BASE, maxRetries: 0 });
  const refusal = await refused(withGrant.manage.v1.projects.list());
  check(refusal.statusCode === 401, "the management API refuses a grant");

  // Keys: deletion; errors carry Deepgram's body.
  await dg.projects.keys.delete(projectId, created.api_key_id);
  const remaining = await dg.projects.keys.list(projectId);
  check(remaining.api_keys.every((k) => k.api_key.api_key_id !== created.api_key_id), "keys.delete");
  const missing = await refused(dg.projects.get(randomUUID()));
  check(missing.statusCode === 404 && missing.body.category === "PROJECT_NOT_FOUND", "errors carry status and category");

  // Leaving, then deleting a project.
  const other = await http("POST", "/v1/projects", { name: "Scratch" }, session);
  await http("POST", `/v1/projects/${other.project_id}/invites`, { email: miaAddress, scope: "member" }, session);
  const outboxAgain = await http("GET", "/v1/operator/outbox", undefined, OPERATOR);
  const again = outboxAgain.messages.filter((m) => m.to === miaAddress).pop().token;
  await http("POST", "/v1/invitations/accept", { token: again }, `Bearer ${mia.session_token}`);
  const miaKey = (await http("POST", `/v1/projects/${other.project_id}/keys`,
    { comment: "mia", scopes: ["member"] }, `Bearer ${mia.session_token}`)).key;
  await client(miaKey).manage.v1.projects.leave(other.project_id);
  const dead = await refused(client(miaKey).manage.v1.projects.get(other.project_id));
  check(dead.statusCode === 401, "projects.leave kills the leaver's key");
  const scratchKey = (await http("POST", `/v1/projects/${other.project_id}/keys`,
    { comment: "scratch", scopes: ["owner"] }, session)).key;
  await client(scratchKey).manage.v1.projects.delete(other.project_id);
  const left = (await http("GET", "/v1/projects", undefined, session)).projects;
  check(left.length === 1 && left[0].project_id === projectId, "projects.delete");
  console.log(`js sdk: all ${passed} manage checks passed`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
