-- better-auth 1.7.25 core tables (user, session, account, verification),
-- as better-auth's migrator creates them on SQLite: dates are ISO-8601 text in columns declared
-- "date", booleans integer 0/1, no defaults. IF NOT EXISTS: on a database that better-auth already
-- created this changes nothing and only records the version. gatehouse runs each migration file in
-- one transaction and records it in "gatehouse_migrations": no BEGIN/COMMIT in these files.
-- The jwt plugin's "jwks" table is that plugin's own migration (jwt/001_jwks, src/plugins/jwt.c).
create table if not exists "user" ("id" text not null primary key, "name" text not null, "email" text not null unique, "emailVerified" integer not null, "image" text, "createdAt" date not null, "updatedAt" date not null);

create table if not exists "session" ("id" text not null primary key, "expiresAt" date not null, "token" text not null unique, "createdAt" date not null, "updatedAt" date not null, "ipAddress" text, "userAgent" text, "userId" text not null references "user" ("id") on delete cascade);

create table if not exists "account" ("id" text not null primary key, "accountId" text not null, "providerId" text not null, "userId" text not null references "user" ("id") on delete cascade, "accessToken" text, "refreshToken" text, "idToken" text, "accessTokenExpiresAt" date, "refreshTokenExpiresAt" date, "scope" text, "password" text, "createdAt" date not null, "updatedAt" date not null);

create table if not exists "verification" ("id" text not null primary key, "identifier" text not null, "value" text not null, "expiresAt" date not null, "createdAt" date not null, "updatedAt" date not null);


create index if not exists "session_userId_idx" on "session" ("userId");

create index if not exists "account_userId_idx" on "account" ("userId");

create index if not exists "verification_identifier_idx" on "verification" ("identifier");
