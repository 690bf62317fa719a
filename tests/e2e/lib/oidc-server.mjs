// A REAL OpenID provider for the e2e suites: the npm package oidc-provider (OpenID Certified),
// run as a child process by lib/oidc.mjs. Configuration from the environment:
//   PORT            where it listens (issuer http://127.0.0.1:PORT)
//   OIDC_CLIENTS    JSON array of oidc-provider client metadata
//   OIDC_USERS      JSON object: login → claims ({email, email_verified, name, picture})
//   OIDC_CONFORM    "false": the ID token carries the scopes' claims too (as Google's and Apple's
//                   do), not only sub (oidc-provider's conformIdTokenClaims)
// Logins go through oidc-provider's own development interactions (its login and consent pages).
//
// Faults that a correct provider never produces are injected into the next token response only,
// on request (POST /__fault {"mode": ...}), so that the relying party's checks can be shown to
// fail closed: "badkey" (ID token re-signed by another key under the same kid), "expired" (exp and
// iat an hour and two in the past, re-signed with the provider's key), "aud" (another audience),
// "nonce" (another nonce).
import http from "node:http";
import * as jose from "jose";
import Provider from "oidc-provider";

const port = Number(process.env.PORT);
const issuer = `http://127.0.0.1:${port}`;
const clients = JSON.parse(process.env.OIDC_CLIENTS || "[]");
const users = JSON.parse(process.env.OIDC_USERS || "{}");

const { privateKey } = await jose.generateKeyPair("RS256", { extractable: true });
const signingJwk = { ...(await jose.exportJWK(privateKey)), kid: "k1", alg: "RS256", use: "sig" };
const { privateKey: otherKey } = await jose.generateKeyPair("RS256", { extractable: true });

const provider = new Provider(issuer, {
  clients,
  jwks: { keys: [signingJwk] },
  cookies: { keys: ["e2e-cookie-key-0123456789"] },
  findAccount: async (_ctx, id) =>
    users[id] ? { accountId: id, claims: async () => ({ sub: id, ...users[id] }) } : undefined,
  claims: { openid: ["sub"], email: ["email", "email_verified"], profile: ["name", "picture"] },
  scopes: ["openid", "offline_access", "email", "profile"],
  features: { devInteractions: { enabled: true } },
  issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
  pkce: { required: () => false },
  conformIdTokenClaims: process.env.OIDC_CONFORM !== "false",
  ttl: { AccessToken: 3600, AuthorizationCode: 60, IdToken: 3600, RefreshToken: 86400, Interaction: 600, Session: 3600, Grant: 3600 },
});
provider.proxy = false;

let fault = null;
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path === "/token" && ctx.method === "POST" && fault && ctx.body && ctx.body.id_token) {
    const mode = fault;
    fault = null;
    const claims = jose.decodeJwt(ctx.body.id_token);
    const now = Math.floor(Date.now() / 1000);
    let key = privateKey;
    if (mode === "badkey") key = otherKey;
    if (mode === "expired") Object.assign(claims, { iat: now - 7200, exp: now - 3600 });
    if (mode === "aud") claims.aud = "someone-else";
    if (mode === "nonce") claims.nonce = "not-the-nonce-that-was-sent";
    ctx.body = { ...ctx.body, id_token: await new jose.SignJWT(claims).setProtectedHeader({ alg: "RS256", kid: "k1", typ: "JWT" }).sign(key) };
  }
});

const cb = provider.callback();
const server = http.createServer((req, res) => {
  if (req.url === "/__fault" && req.method === "POST") {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      fault = JSON.parse(body).mode || null;
      res.writeHead(204).end();
    });
    return;
  }
  cb(req, res);
});
server.listen(port, "127.0.0.1", () => process.stdout.write(`ready ${issuer}\n`));
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
