/* Session resolution (cookie or a plugin's credential), the "session" middleware, rolling
 * refresh, and creating sessions. */
#ifndef GH_AUTH_SESSIONS_H
#define GH_AUTH_SESSIONS_H

#include <stdbool.h>

#include "common/status.h"
#include "http/http.h"
#include "store/store.h"

typedef struct gh_auth gh_auth;

typedef struct gh_sess {
  bool present;       /* a correctly signed session token came with the request */
  bool found;         /* it names a live session */
  bool dont_remember; /* valid dont_remember cookie present */
  bool stale;         /* signed with an older secret: re-issue with the current one */
  bool resolved;      /* the identity came from a plugin's credential hook (e.g. an API key):
                         no session cookie, nothing refreshed */
  const char *answer; /* resolved: get-session's answer for it (gh_credential.answer) or NULL */
  /* A credential hook refused the request (gh_credential.refuse): nothing found; answer it with
   * gh_session_refusal. */
  const gh_err_info *refused;
  const char *refused_body;
  const char *token;
  gh_session s;
  gh_user u;
} gh_sess;

/* Reads the token (a plugin's credential hook, then the cookie), loads the session, deletes it if
 * expired. GH_OK also when there is no session (check ->found). */
GH_MUST_CHECK gh_status gh_session_resolve(gh_auth *au, gh_store *st, gh_req *req, gh_sess *out);
/* Answers the refusal of a credential hook (s->refused). */
void gh_session_refusal(gh_resp *resp, const gh_sess *s);
/* The "session" middleware: resolves, answers 401 (+ clearing cookies for a dead session) or a
 * DB error. true = continue with out->found set. */
bool gh_require_session(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp, gh_sess *out);
/* Rolling refresh (spec §3 step 5): when expiresAt - expiresIn + updateAge <= now and no
 * dont_remember cookie, extends the session to now + expiresIn and re-sends the cookie. */
GH_MUST_CHECK gh_status gh_session_refresh_if_due(gh_auth *au, gh_store *st, gh_req *req,
                                                  gh_resp *resp, gh_sess *s);
/* Creates a session row for user (rememberMe semantics), sets its cookie, runs session_created. */
GH_MUST_CHECK gh_status gh_session_create(gh_auth *au, gh_store *st, gh_req *req, gh_resp *resp,
                                          const gh_user *u, bool dont_remember, gh_session *out);
/* Fills a new session (ids, token, times, ip, user agent) without storing it. */
void gh_session_fill(gh_auth *au, gh_req *req, const char *user_id, bool dont_remember,
                     gh_session *s);
/* The preamble of every protected route: origin check (state-changing routes), the thread's store,
 * the session middleware. false = the response is already set. */
bool gh_protected(gh_auth *au, gh_req *req, gh_resp *resp, bool state_changing, gh_store **st,
                  gh_sess *s);

#endif
