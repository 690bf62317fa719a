/* better-auth's JSON shapes of users and sessions. */
#include "auth/shapes.h"

#include "auth/fields.h"
#include "common/time.h"

static gh_json *date_json(int64_t ms) {
  char b[GH_ISO_LEN];
  gh_iso8601(ms, b);
  return gh_json_str(b);
}

gh_json *gh_user_json(const gh_user *u) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "name", gh_json_str(u->name));
  gh_json_set_new(o, "email", gh_json_str(u->email));
  gh_json_set_new(o, "emailVerified", gh_json_bool(u->email_verified));
  gh_json_set_new(o, "image", gh_json_str(u->image));
  gh_json_set_new(o, "createdAt", date_json(u->created_at));
  gh_json_set_new(o, "updatedAt", date_json(u->updated_at));
  gh_fields_json(o, GH_MODEL_USER, &u->extra);
  gh_json_set_new(o, "id", gh_json_str(u->id));
  return o;
}

gh_json *gh_session_json(const gh_session *s) {
  gh_json *o = gh_json_object();
  gh_json_set_new(o, "expiresAt", date_json(s->expires_at));
  gh_json_set_new(o, "token", gh_json_str(s->token));
  gh_json_set_new(o, "createdAt", date_json(s->created_at));
  gh_json_set_new(o, "updatedAt", date_json(s->updated_at));
  gh_json_set_new(o, "ipAddress", gh_json_str(s->ip_address));
  gh_json_set_new(o, "userAgent", gh_json_str(s->user_agent));
  gh_json_set_new(o, "userId", gh_json_str(s->user_id));
  gh_fields_json(o, GH_MODEL_SESSION, &s->extra);
  gh_json_set_new(o, "id", gh_json_str(s->id));
  return o;
}
