// Writes tests/vectors/totp-better-auth.json: codes made by better-auth's own TOTP (@better-auth/utils
// otp, the version tests/e2e pins), for the C unit test of src/plugins/totp.c. In tests/e2e:
//   node lib/gen-totp-vectors.mjs > ../vectors/totp-better-auth.json
// The clock is moved with a fixed Date.now for each time (createOTP reads Date.now()).
import { createOTP } from "@better-auth/utils/otp";
import { readFileSync } from "node:fs";

const utilsVersion = JSON.parse(
  readFileSync(new URL("../node_modules/@better-auth/utils/package.json", import.meta.url), "utf8"),
).version;
const secrets = [
  "voSQR8RIJfcXGrPDvH_vM0mmClwRDhzr",
  "A-b_C9d8E7f6G5h4I3j2K1l0MnOpQrSt",
  "0123456789abcdefghijklmnopqrstuv",
  "-_-_-_-_ZZZZZZZZzzzzzzzz99999999",
];
const times = [0, 29, 30, 59, 1111111109, 1234567890, 2000000000, 1796083200, 20000000000];
const realNow = Date.now;
const codes = [];
for (const secret of secrets) {
  const otp = createOTP(secret, { digits: 6, period: 30 });
  for (const t of times) {
    Date.now = () => t * 1000;
    codes.push({ secret, unix_time: t, code: await otp.totp() });
  }
}
const verify = [];
for (const secret of secrets.slice(0, 2)) {
  const otp = createOTP(secret, { digits: 6, period: 30 });
  for (const [made, at] of [[59, 59], [59, 89], [59, 29], [59, 119], [59, 0], [1234567890, 1234567950], [1234567890, 1234567830]]) {
    Date.now = () => made * 1000;
    const code = await otp.totp();
    Date.now = () => at * 1000;
    verify.push({ secret, code, code_unix_time: made, verify_unix_time: at, valid: await otp.verify(code) });
  }
}
Date.now = realNow;
const uris = [
  ["voSQR8RIJfcXGrPDvH_vM0mmClwRDhzr", "Better Auth", "alice@example.com"],
  ["A-b_C9d8E7f6G5h4I3j2K1l0MnOpQrSt", "My App & Co/ü", "bob+2fa@example.com"],
].map(([secret, issuer, account]) => ({ secret, issuer, account, uri: createOTP(secret, { digits: 6, period: 30 }).url(issuer, account) }));
process.stdout.write(
  JSON.stringify({ generator: `@better-auth/utils ${utilsVersion} createOTP (digits 6, period 30)`, codes, verify, uris }, null, 1) + "\n",
);
