-- gatehouse's durable mail outbox (src/mail/mail.c): a message is written here in the same
-- transaction as the token it carries, delivered by the delivery thread, deleted once the SMTP
-- server accepted it; failures are retried with a doubling delay and, after the last attempt,
-- kept with "failedAt" set for the operator. Not a better-auth table.
create table if not exists "gatehouse_mail_outbox" ("id" text not null primary key, "recipient" text not null, "sender" text not null, "message" text not null, "attempts" bigint not null, "nextAttemptAt" timestamptz not null, "createdAt" timestamptz not null, "lastError" text, "failedAt" timestamptz);

create index if not exists "gatehouse_mail_outbox_due_idx" on "gatehouse_mail_outbox" ("nextAttemptAt");
