/* better-auth's JSON shapes of a user and a session (key order as better-auth writes them: the
 * core fields, then the running plugins' additional fields in GATEHOUSE_PLUGINS order, id last). */
#ifndef GH_AUTH_SHAPES_H
#define GH_AUTH_SHAPES_H

#include "json/json.h"
#include "store/store.h"

gh_json *gh_user_json(const gh_user *u);
gh_json *gh_session_json(const gh_session *s);

#endif
