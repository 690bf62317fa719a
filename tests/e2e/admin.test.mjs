// The admin plugin (GATEHOUSE_PLUGINS=bearer,jwt,admin) through the official client with
// adminClient() and plain HTTP: user/session objects with role, banned, banReason, banExpires and
// impersonatedBy in better-auth's key order; sign-up/update-user refuse role and ignore banned;
// every /admin endpoint's success and refusal paths; non-admins denied; bans (sessions revoked,
// 403 BANNED_USER at sign-in, expiry lifting the ban); impersonation (admin_session cookie, no
// impersonating admins, impersonation sessions expire, hidden from list-sessions); the role in the
// JWT; the CLI; audit lines; and, on PostgreSQL, two-way with the REAL better-auth + admin().
// Also the compatibility gaps of the core (delete-user off by default, POST /get-session
// Cache-Control, the order of sign-up checks, update-session).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adminClient } from "better-auth/client/plugins";
import { admin as baAdmin } from "better-auth/plugins";
import { InProcessBetterAuth } from "./lib/better-auth.mjs";
import { makeClient } from "./lib/client.mjs";
import { GATEHOUSE_ONLY, SECRET, backends } from "./lib/config.mjs";
import { CookieJar, SESSION_COOKIE } from "./lib/cookies.mjs";
import { sql } from "./lib/db.mjs";
import { PASSWORD, assertError, forEachBackend, newEmail, signIn, signUp } from "./lib/fixtures.mjs";
import { raw } from "./lib/http.mjs";
import { freshDatabaseUrl, runCli, startServer } from "./lib/server.mjs";
import { fastapiSkipReason, startFastapiTasks, startTasks } from "./lib/tasks.mjs";
import { sleep } from "./lib/util.mjs";

const USER_KEYS = ["name", "email", "emailVerified", "image", "createdAt", "updatedAt", "role", "banned", "banReason", "banExpires", "id"];
const SESSION_KEYS = ["expiresAt", "token", "createdAt", "updatedAt", "ipAddress", "userAgent", "userId", "impersonatedBy", "id"];
const ENV = { GATEHOUSE_PLUGINS: "bearer,jwt,admin", GATEHOUSE_ADMIN_IMPERSONATION_SECONDS: "2" };
const BANNED = "You have been banned from this application. Please contact support if you believe this is an error.";

async function makeAdmin(srv, name = "Admin") {
  const a = await signUp(srv, { name });
  await srv.db.all(sql`UPDATE "user" SET "role" = ${"admin"} WHERE "id" = ${a.user.id}`);
  const { client } = makeClient(srv, { jar: a.jar, plugins: [adminClient()] });
  return { ...a, client };
}

forEachBackend("admin", (backend) => {
  let srv;
  let adm;
  before(async () => {
    srv = await startServer({ backend, hint: "admin", env: ENV });
    adm = await makeAdmin(srv);
  });
  after(async () => {
    await srv?.stop();
  });

  describe("additional fields", () => {
    it("user objects carry role/banned/banReason/banExpires and sessions impersonatedBy, in better-auth's key order", async () => {
      const a = await signUp(srv);
      assert.deepEqual(Object.keys(a.user), USER_KEYS);
      assert.equal(a.user.role, "user");
      assert.equal(a.user.banned, false);
      assert.equal(a.user.banReason, null);
      assert.equal(a.user.banExpires, null);
      const si = await signIn(srv, { email: a.email });
      assert.deepEqual(Object.keys(si.user), USER_KEYS);
      const gs = await raw(srv, "GET", "/get-session", { jar: si.jar });
      assert.deepEqual(Object.keys(gs.json.user), USER_KEYS);
      assert.deepEqual(Object.keys(gs.json.session), SESSION_KEYS);
      assert.equal(gs.json.session.impersonatedBy, null);
      const cp = await raw(srv, "POST", "/change-password", { json: { currentPassword: PASSWORD, newPassword: "another-password-1" }, jar: si.jar });
      assert.equal(cp.status, 200, cp.text);
      assert.deepEqual(Object.keys(cp.json.user), USER_KEYS);
    });

    it("sign-up refuses role (400 FIELD_NOT_ALLOWED) and ignores banned; update-user refuses truthy role/banned", async () => {
      const email = newEmail("role");
      let res = await raw(srv, "POST", "/sign-up/email", { json: { name: "R", email, password: PASSWORD, role: "admin" } });
      assertError(res, 400, "FIELD_NOT_ALLOWED", "role is not allowed to be set");
      assert.equal(await srv.db.userByEmail(email), null);
      res = await raw(srv, "POST", "/sign-up/email", { json: { name: "R", email, password: PASSWORD, banned: true, emailVerified: true, id: "x".repeat(32) } });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.json.user.banned, false);
      assert.equal(res.json.user.emailVerified, false);
      assert.notEqual(res.json.user.id, "x".repeat(32));
      const jar = new CookieJar();
      jar.absorb(res.headers["set-cookie"]);
      assertError(await raw(srv, "POST", "/update-user", { json: { role: "admin" }, jar }), 400, "FIELD_NOT_ALLOWED", "role is not allowed to be set");
      assertError(await raw(srv, "POST", "/update-user", { json: { banned: true }, jar }), 400, "FIELD_NOT_ALLOWED", "banned is not allowed to be set");
      assertError(await raw(srv, "POST", "/update-user", { json: { banned: false }, jar }), 400, null, "No fields to update");
      assertError(await raw(srv, "POST", "/update-session", { json: { impersonatedBy: adm.user.id }, jar }), 400, "FIELD_NOT_ALLOWED", "impersonatedBy is not allowed to be set");
      const row = await srv.db.userByEmail(email);
      assert.equal(row.role, "user");
    });
  });

  describe("permissions", () => {
    it("no session → 401 with an empty body; a user → 403 with the plugin's codes", async () => {
      const res = await raw(srv, "GET", "/admin/list-users");
      assert.equal(res.status, 401);
      assert.equal(res.text, "");
      const u = await signUp(srv);
      assertError(await raw(srv, "GET", "/admin/list-users", { jar: u.jar }), 403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS", "You are not allowed to list users");
      assertError(await raw(srv, "POST", "/admin/set-role", { json: { userId: u.user.id, role: "admin" }, jar: u.jar }), 403, "YOU_ARE_NOT_ALLOWED_TO_CHANGE_USERS_ROLE", "You are not allowed to change users role");
      assertError(await raw(srv, "POST", "/admin/ban-user", { json: { userId: adm.user.id }, jar: u.jar }), 403, "YOU_ARE_NOT_ALLOWED_TO_BAN_USERS", "You are not allowed to ban users");
      assertError(await raw(srv, "POST", "/admin/impersonate-user", { json: { userId: adm.user.id }, jar: u.jar }), 403, "YOU_ARE_NOT_ALLOWED_TO_IMPERSONATE_USERS", "You are not allowed to impersonate users");
      assertError(await raw(srv, "POST", "/admin/remove-user", { json: { userId: adm.user.id }, jar: u.jar }), 403, "YOU_ARE_NOT_ALLOWED_TO_DELETE_USERS", "You are not allowed to delete users");
      const hp = await raw(srv, "POST", "/admin/has-permission", { json: { permissions: { user: ["ban"] } }, jar: u.jar });
      assert.equal(hp.text, '{"error":null,"success":false}');
      const ha = await raw(srv, "POST", "/admin/has-permission", { json: { permissions: { user: ["ban", "list"], session: ["revoke"] } }, jar: adm.jar });
      assert.equal(ha.text, '{"error":null,"success":true}');
      const hi = await raw(srv, "POST", "/admin/has-permission", { json: { permissions: { user: ["impersonate-admins"] } }, jar: adm.jar });
      assert.equal(hi.json.success, false);
    });
  });

  describe("endpoints through adminClient", () => {
    it("set-role, create-user, get-user, update-user, list-users (search, filter, sort, paging)", async () => {
      const tag = `lu${Date.now()}`;
      const made = [];
      for (const n of ["Carol", "Alice", "Bob"]) {
        const { data, error } = await adm.client.admin.createUser({ email: `${n.toLowerCase()}-${tag}@example.com`, password: PASSWORD, name: `${n} ${tag}`, role: n === "Bob" ? ["user", "editor"] : undefined });
        assert.equal(error, null, JSON.stringify(error));
        assert.deepEqual(Object.keys(data.user), USER_KEYS);
        made.push(data.user);
      }
      assert.equal(made[0].role, "user");
      assert.equal(made[2].role, "user,editor");
      await signIn(srv, { email: made[1].email }); // the password works
      const dup = await raw(srv, "POST", "/admin/create-user", { json: { email: made[0].email, name: "x", password: PASSWORD }, jar: adm.jar });
      assertError(dup, 400, "USER_ALREADY_EXISTS_USE_ANOTHER_EMAIL", "User already exists. Use another email.");

      const sr = await adm.client.admin.setRole({ userId: made[0].id, role: "admin" });
      assert.equal(sr.error, null);
      assert.equal(sr.data.user.role, "admin");
      const gu = await raw(srv, "GET", `/admin/get-user?id=${made[0].id}`, { jar: adm.jar });
      assert.equal(gu.json.role, "admin");
      assertError(await raw(srv, "GET", "/admin/get-user?id=nope", { jar: adm.jar }), 404, "USER_NOT_FOUND", "User not found");

      const up = await adm.client.admin.updateUser({ userId: made[1].id, data: { name: `Alicia ${tag}` } });
      assert.equal(up.error, null);
      assert.equal(up.data.name, `Alicia ${tag}`);
      assertError(await raw(srv, "POST", "/admin/update-user", { json: { userId: made[1].id, data: {} }, jar: adm.jar }), 400, "NO_DATA_TO_UPDATE", "No data to update");
      assertError(await raw(srv, "POST", "/admin/update-user", { json: { userId: made[1].id, data: { password: "x" } }, jar: adm.jar }), 400, "PASSWORD_CANNOT_BE_UPDATED_VIA_UPDATE_USER", "Password cannot be updated through update-user. Use the set-user-password endpoint instead");

      let lu = await adm.client.admin.listUsers({ query: { searchValue: tag, searchField: "name", sortBy: "name", sortDirection: "asc" } });
      assert.equal(lu.error, null);
      assert.equal(lu.data.total, 3);
      assert.deepEqual(lu.data.users.map((u) => u.name.split(" ")[0]), ["Alicia", "Bob", "Carol"]);
      lu = await adm.client.admin.listUsers({ query: { searchValue: tag, searchField: "name", sortBy: "name", sortDirection: "desc", limit: 2, offset: 1 } });
      assert.equal(lu.data.total, 3);
      assert.equal(lu.data.limit, 2);
      assert.equal(lu.data.offset, 1);
      assert.deepEqual(lu.data.users.map((u) => u.name.split(" ")[0]), ["Bob", "Alicia"]);
      lu = await adm.client.admin.listUsers({ query: { searchValue: `carol-${tag}`, searchOperator: "starts_with" } });
      assert.deepEqual(lu.data.users.map((u) => u.id), [made[0].id]);
      lu = await adm.client.admin.listUsers({ query: { filterField: "role", filterValue: "user,editor" } });
      assert.deepEqual(lu.data.users.map((u) => u.id), [made[2].id]);
      const plain = await raw(srv, "GET", `/admin/list-users?searchValue=${tag}&searchField=name`, { jar: adm.jar });
      assert.deepEqual(Object.keys(plain.json), ["users", "total"]);
    });

    it("ban-user revokes the sessions, sign-in → 403 BANNED_USER; unban-user; ban expiry lifts the ban", async () => {
      const v = await signUp(srv);
      assertError(await raw(srv, "POST", "/admin/ban-user", { json: { userId: adm.user.id }, jar: adm.jar }), 400, "YOU_CANNOT_BAN_YOURSELF", "You cannot ban yourself");
      const { data, error } = await adm.client.admin.banUser({ userId: v.user.id, banReason: "spam" });
      assert.equal(error, null);
      assert.equal(data.user.banned, true);
      assert.equal(data.user.banReason, "spam");
      assert.equal(data.user.banExpires, null);
      assert.equal((await raw(srv, "GET", "/get-session", { jar: v.jar })).text, "null", "existing session stops working");
      assert.equal((await srv.db.sessionsOf(v.user.id)).length, 0);
      assertError(await raw(srv, "POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } }), 403, "BANNED_USER", BANNED);
      const ub = await adm.client.admin.unbanUser({ userId: v.user.id });
      assert.equal(ub.data.user.banned, false);
      assert.equal(ub.data.user.banReason, null);
      await signIn(srv, { email: v.email });
      // with an expiry: refused until it passes, then lifted at sign-in
      const b2 = await raw(srv, "POST", "/admin/ban-user", { json: { userId: v.user.id, banExpiresIn: 4 }, jar: adm.jar });
      assert.equal(b2.status, 200, b2.text);
      assert.equal(b2.json.user.banReason, "No reason");
      assert.ok(Date.parse(b2.json.user.banExpires) > Date.now());
      assertError(await raw(srv, "POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } }), 403, "BANNED_USER", BANNED);
      await sleep(Math.max(0, Date.parse(b2.json.user.banExpires) - Date.now()) + 300);
      await signIn(srv, { email: v.email });
      const row = await srv.db.userByEmail(v.email);
      assert.equal(Boolean(row.banned), false, "the expired ban was lifted");
      assert.equal(row.banExpires, null);
      if (!GATEHOUSE_ONLY) assert.ok(srv.logs.some((l) => l.event === "admin.ban_user" && l.user_id === v.user.id && l.admin_id === adm.user.id), "audit line");
    });

    it("impersonate-user / stop-impersonating with the admin_session cookie; no impersonating admins; hidden from list-sessions; the impersonation session expires", async () => {
      const t = await signUp(srv);
      const other = await makeAdmin(srv, "Other Admin");
      assertError(await raw(srv, "POST", "/admin/impersonate-user", { json: { userId: other.user.id }, jar: adm.jar }), 403, "YOU_CANNOT_IMPERSONATE_ADMINS", "You cannot impersonate admins");
      const jar = adm.jar.clone();
      const imp = await raw(srv, "POST", "/admin/impersonate-user", { json: { userId: t.user.id }, jar });
      assert.equal(imp.status, 200, imp.text);
      assert.deepEqual(Object.keys(imp.json), ["session", "user"]);
      assert.equal(imp.json.session.impersonatedBy, adm.user.id);
      assert.equal(imp.json.user.id, t.user.id);
      assert.ok(imp.headers["set-cookie"].some((c) => c.startsWith("better-auth.admin_session=") && /Max-Age=604800/.test(c)));
      assert.ok(imp.headers["set-cookie"].some((c) => c.startsWith("better-auth.dont_remember=")));
      const gs = await raw(srv, "GET", "/get-session", { jar });
      assert.equal(gs.json.user.id, t.user.id);
      assert.equal(gs.json.session.impersonatedBy, adm.user.id);
      const ls = await raw(srv, "GET", "/list-sessions", { jar });
      assert.equal(ls.status, 200);
      assert.deepEqual(ls.json.map((s) => s.userId), [t.user.id], "only the user's own session");
      const back = await raw(srv, "POST", "/admin/stop-impersonating", { json: {}, jar });
      assert.equal(back.status, 200, back.text);
      assert.equal(back.json.user.id, adm.user.id);
      assert.equal((await raw(srv, "GET", "/get-session", { jar })).json.user.id, adm.user.id);
      assertError(await raw(srv, "POST", "/admin/stop-impersonating", { json: {}, jar }), 400, null, "You are not impersonating anyone");
      // the impersonation session lives GATEHOUSE_ADMIN_IMPERSONATION_SECONDS (here 2 s)
      const j2 = adm.jar.clone();
      const imp2 = await raw(srv, "POST", "/admin/impersonate-user", { json: { userId: t.user.id }, jar: j2 });
      assert.ok(Date.parse(imp2.json.session.expiresAt) - Date.now() <= 2000);
      if (!GATEHOUSE_ONLY) {
        // the bearer token alone (no dont_remember cookie): get-session does not extend it
        const viaBearer = await raw(srv, "GET", "/get-session", { bearer: imp2.json.session.token, origin: null });
        assert.equal(viaBearer.json.session.expiresAt, imp2.json.session.expiresAt);
      }
      await sleep(2200);
      assert.equal((await raw(srv, "GET", "/get-session", { jar: j2 })).text, "null");
    });

    it("list-user-sessions, revoke-user-session(s), set-user-password, remove-user", async () => {
      const v = await signUp(srv);
      const s2 = await signIn(srv, { email: v.email });
      const ls = await adm.client.admin.listUserSessions({ userId: v.user.id });
      assert.equal(ls.error, null);
      assert.equal(ls.data.sessions.length, 2);
      assert.deepEqual(Object.keys(ls.data.sessions[0]), SESSION_KEYS);
      const r1 = await raw(srv, "POST", "/admin/revoke-user-session", { json: { sessionToken: s2.token }, jar: adm.jar });
      assert.equal(r1.text, '{"success":true}');
      assert.equal((await raw(srv, "GET", "/get-session", { jar: s2.jar })).text, "null");
      const r2 = await adm.client.admin.revokeUserSessions({ userId: v.user.id });
      assert.deepEqual(r2.data, { success: true });
      assert.equal((await raw(srv, "GET", "/get-session", { jar: v.jar })).text, "null");
      assertError(await raw(srv, "POST", "/admin/set-user-password", { json: { userId: v.user.id, newPassword: "short" }, jar: adm.jar }), 400, "PASSWORD_TOO_SHORT", "Password too short");
      const sp = await adm.client.admin.setUserPassword({ userId: v.user.id, newPassword: "a-new-password-2" });
      assert.deepEqual(sp.data, { status: true });
      await signIn(srv, { email: v.email, password: "a-new-password-2" });
      assertError(await raw(srv, "POST", "/admin/remove-user", { json: { userId: adm.user.id }, jar: adm.jar }), 400, "YOU_CANNOT_REMOVE_YOURSELF", "You cannot remove yourself");
      const rm = await adm.client.admin.removeUser({ userId: v.user.id });
      assert.deepEqual(rm.data, { success: true });
      assert.equal(await srv.db.userByEmail(v.email), null);
      assertError(await raw(srv, "POST", "/admin/remove-user", { json: { userId: v.user.id }, jar: adm.jar }), 404, "USER_NOT_FOUND", "User not found");
    });

    it("the role travels in the JWT (the jwt plugin puts the whole user in the payload)", async () => {
      const res = await raw(srv, "GET", "/token", { jar: adm.jar });
      assert.equal(res.status, 200, res.text);
      const payload = JSON.parse(Buffer.from(res.json.token.split(".")[1], "base64url").toString());
      assert.equal(payload.role, "admin");
      assert.equal(payload.banned, false);
      assert.equal(payload.sub, adm.user.id);
    });
  });

  describe("GATEHOUSE_ADMIN_USER_IDS", () => {
    it("a user id listed there has every admin permission whatever its role; impersonating it needs impersonate-admins", async () => {
      const u = await signUp(srv);
      const other = await startServer({ backend, databaseUrl: srv.databaseUrl, hint: "admin-ids", env: { ...ENV, GATEHOUSE_ADMIN_USER_IDS: `someone-else, ${u.user.id}` } });
      try {
        assert.equal(u.user.role, "user");
        const lu = await raw(other, "GET", "/admin/list-users?limit=1", { jar: u.jar });
        assert.equal(lu.status, 200, lu.text);
        assert.equal(lu.json.limit, 1);
        const hp = await raw(other, "POST", "/admin/has-permission", { json: { permissions: { user: ["impersonate-admins"] } }, jar: u.jar });
        assert.equal(hp.json.success, true);
        const imp = await raw(other, "POST", "/admin/impersonate-user", { json: { userId: u.user.id }, jar: adm.jar });
        assertError(imp, 403, "YOU_CANNOT_IMPERSONATE_ADMINS", "You cannot impersonate admins");
        // the same user on the server without the option is an ordinary user
        assertError(await raw(srv, "GET", "/admin/list-users", { jar: u.jar }), 403, "YOU_ARE_NOT_ALLOWED_TO_LIST_USERS", "You are not allowed to list users");
      } finally {
        await other.stop();
      }
    });
  });

  // gatehouse-tasks and the FastAPI example (integrations/fastapi/examples/tasks_app.py) alike
  for (const [name, start, skip] of [
    ["gatehouse-tasks", startTasks, false],
    ["the FastAPI example", startFastapiTasks, fastapiSkipReason(backend) || false],
  ]) describe(name, { skip: GATEHOUSE_ONLY || skip }, () => {
    it("an admin lists every user's tasks (?all=true, role from the JWT or the session); a user only their own (403 for all)", async () => {
      const tasks = await start({ backend, gatehouseUrl: srv.url, hint: "admin-tasks", env: { TASKS_AUTH: "any" } });
      try {
        const u = await signUp(srv);
        const jwtOf = async (jar) => (await raw(srv, "GET", "/token", { jar })).json.token;
        const uJwt = await jwtOf(u.jar);
        const aJwt = await jwtOf(adm.jar);
        let r = await tasks.call("POST", "/api/tasks", { bearer: uJwt, json: { title: "user's task" } });
        assert.equal(r.status, 201, r.text);
        r = await tasks.call("POST", "/api/tasks", { bearer: aJwt, json: { title: "admin's task" } });
        assert.equal(r.status, 201, r.text);
        r = await tasks.call("GET", "/api/tasks", { bearer: uJwt });
        assert.deepEqual(r.json.tasks.map((t) => t.title), ["user's task"]);
        r = await tasks.call("GET", "/api/tasks?all=true", { bearer: uJwt });
        assert.equal(r.status, 403);
        assert.deepEqual(r.json, { message: "Forbidden: listing every user's tasks needs an admin role", code: "FORBIDDEN" });
        r = await tasks.call("GET", "/api/tasks", { bearer: aJwt });
        assert.deepEqual(r.json.tasks.map((t) => t.title), ["admin's task"], "without all: only the admin's own");
        r = await tasks.call("GET", "/api/tasks?all=true", { bearer: aJwt });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json.tasks.map((t) => t.title).sort(), ["admin's task", "user's task"]);
        assert.equal(r.json.total, 2);
        // the same through delegation: the role of the session's user
        r = await tasks.call("GET", "/api/tasks?all=true", { cookie: adm.jar.header() });
        assert.equal(r.status, 200, r.text);
        assert.equal(r.json.total, 2);
        r = await tasks.call("GET", "/api/tasks?all=true", { cookie: u.jar.header() });
        assert.equal(r.status, 403);
      } finally {
        await tasks.stop();
      }
    });
  });

  describe("CLI", { skip: GATEHOUSE_ONLY }, () => {
    it("gatehouse user set-role / ban / unban / list", async () => {
      const v = await signUp(srv);
      const env = { DATABASE_URL: srv.databaseUrl, GATEHOUSE_SECRET: SECRET, GATEHOUSE_PLUGINS: ENV.GATEHOUSE_PLUGINS };
      let r = await runCli(["user", "set-role", "--email", v.email, "--role", "admin"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await srv.db.userByEmail(v.email)).role, "admin");
      r = await runCli(["user", "ban", "--email", v.email, "--reason", "cli"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.equal((await srv.db.sessionsOf(v.user.id)).length, 0);
      assertError(await raw(srv, "POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } }), 403, "BANNED_USER", BANNED);
      r = await runCli(["user", "list"], { env });
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`${v.user.id}\\s+${v.email}\\s+admin\\s+yes`));
      r = await runCli(["user", "unban", "--email", v.email], { env });
      assert.equal(r.code, 0, r.stderr);
      await signIn(srv, { email: v.email });
    });
  });
});

forEachBackend("compatibility gaps (core)", (backend) => {
  let srv;
  before(async () => {
    srv = await startServer({ backend, hint: "gaps" });
  });
  after(async () => {
    await srv?.stop();
  });

  it("delete-user is off by default: 401 without a session, 404 with an empty body after authentication", async () => {
    assertError(await raw(srv, "POST", "/delete-user", { json: {} }), 401, "UNAUTHORIZED", "Unauthorized");
    const a = await signUp(srv);
    const res = await raw(srv, "POST", "/delete-user", { json: { password: PASSWORD }, jar: a.jar });
    assert.equal(res.status, 404);
    assert.equal(res.text, "");
    assert.ok(await srv.db.userByEmail(a.email));
  });

  it("POST /get-session → 405 METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED with Cache-Control: no-store", async () => {
    const res = await raw(srv, "POST", "/get-session", { json: {} });
    assert.equal(res.status, 405);
    assert.equal(res.json.code, "METHOD_NOT_ALLOWED_DEFER_SESSION_REQUIRED");
    assert.equal(res.headers["cache-control"], "no-store");
  });

  it("sign-up with invalid fields and an empty password answers the schema's VALIDATION_ERROR first", async () => {
    assertError(await raw(srv, "POST", "/sign-up/email", { json: { email: newEmail(), password: "" } }), 400, "VALIDATION_ERROR", "[body.name] Invalid input: expected string, received undefined; [body.password] Too small: expected string to have >=1 characters");
    assertError(await raw(srv, "POST", "/sign-up/email", { json: { name: "n", email: newEmail(), password: "" } }), 400, "VALIDATION_ERROR", "[body.password] Too small: expected string to have >=1 characters");
  });

  it("POST /update-session: VALIDATION_ERROR for a non-object, No fields to update without session fields", async () => {
    const a = await signUp(srv);
    assertError(await raw(srv, "POST", "/update-session", { json: [1], jar: a.jar }), 400, "VALIDATION_ERROR", "[body] Invalid input: expected record, received array");
    assertError(await raw(srv, "POST", "/update-session", { json: { anything: 1 }, jar: a.jar }), 400, null, "No fields to update");
    assertError(await raw(srv, "POST", "/update-session", { json: {} }), 401, "UNAUTHORIZED", "Unauthorized");
  });
});

const pgSkip = backends().includes("postgres") ? GATEHOUSE_ONLY : "two-way runs on PostgreSQL only";

describe("admin two-way with the real better-auth + admin() [postgres]", { skip: pgSkip }, () => {
  let ba;
  let srv;
  let baAdminCookie;
  let gAdmin;
  before(async () => {
    const dbUrl = await freshDatabaseUrl("postgres", "admin-2way");
    ba = new InProcessBetterAuth(dbUrl, { plugins: [baAdmin()] });
    await ba.migrate();
    srv = await startServer({ databaseUrl: dbUrl, backend: "postgres", hint: "admin-2way", env: ENV });
    assert.deepEqual(await ba.pendingMigrations(), { toBeCreated: [], toBeAdded: [] }, "gatehouse's migration adds nothing better-auth lacks");
    const r = await ba.request("POST", "/sign-up/email", { json: { name: "BA Admin", email: newEmail("ba-admin"), password: PASSWORD } });
    await srv.db.all(sql`UPDATE "user" SET "role" = ${"admin"} WHERE "id" = ${r.json.user.id}`);
    const c = r.cookie(SESSION_COOKIE);
    baAdminCookie = `${c.name}=${c.value}`;
    gAdmin = await makeAdmin(srv, "Gatehouse Admin");
  });
  after(async () => {
    await srv?.stop();
    await ba?.close();
  });

  it("a ban made by better-auth is honoured by gatehouse, an unban by gatehouse by better-auth", async () => {
    const v = await signUp(srv);
    const res = await ba.request("POST", "/admin/ban-user", { json: { userId: v.user.id, banReason: "by ba" }, cookie: baAdminCookie, headers: { origin: ba.baseURL } });
    assert.equal(res.status, 200, res.text);
    assert.deepEqual(Object.keys(res.json.user), USER_KEYS, "the same user shape");
    assert.equal((await raw(srv, "GET", "/get-session", { jar: v.jar })).text, "null");
    assertError(await raw(srv, "POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } }), 403, "BANNED_USER", BANNED);
    const ub = await gAdmin.client.admin.unbanUser({ userId: v.user.id });
    assert.equal(ub.error, null);
    const si = await ba.request("POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } });
    assert.equal(si.status, 200, si.text);
    // and the other way round
    await gAdmin.client.admin.banUser({ userId: v.user.id });
    const si2 = await ba.request("POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } });
    assert.equal(si2.status, 403);
    assert.equal(si2.json.code, "BANNED_USER");
  });

  it("a role set by gatehouse grants permissions in better-auth, one set by better-auth in gatehouse", async () => {
    const v = await signUp(srv);
    await gAdmin.client.admin.setRole({ userId: v.user.id, role: "admin" });
    const si = await ba.request("POST", "/sign-in/email", { json: { email: v.email, password: PASSWORD } });
    const c = si.cookie(SESSION_COOKIE);
    const hp = await ba.request("POST", "/admin/has-permission", { json: { permissions: { user: ["ban"] } }, cookie: `${c.name}=${c.value}`, headers: { origin: ba.baseURL } });
    assert.equal(hp.text, '{"error":null,"success":true}');
    const w = await signUp(srv);
    const sr = await ba.request("POST", "/admin/set-role", { json: { userId: w.user.id, role: "admin" }, cookie: baAdminCookie, headers: { origin: ba.baseURL } });
    assert.equal(sr.status, 200, sr.text);
    const lu = await raw(srv, "GET", "/admin/list-users", { jar: w.jar });
    assert.equal(lu.status, 200, lu.text);
    // a user created by better-auth's admin shows the same fields in gatehouse
    const cu = await ba.request("POST", "/admin/create-user", { json: { email: newEmail("ba-made"), name: "BA Made", password: PASSWORD }, cookie: baAdminCookie, headers: { origin: ba.baseURL } });
    const gu = await raw(srv, "GET", `/admin/get-user?id=${cu.json.user.id}`, { jar: gAdmin.jar });
    assert.deepEqual(gu.json, cu.json.user);
  });
});
