/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * provider-replay.h: the providers as the resolver's tests see them: a libsoup server on
 * 127.0.0.1 (port 0) that answers by rules (method, path, required query parameters) with
 * recorded provider replies from fixtures/, redirects or silence, and records every
 * request it got (method, path, query, Authorization, Range, body). Runs on the test's
 * main context: iterate it while a resolution is under way.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _ProviderReplay ProviderReplay;

typedef struct
{
  char *method;
  char *path;
  GHashTable *query;            /* decoded; never NULL */
  char *authorization;          /* NULL when absent */
  char *range;
  char *body;                   /* "" when none */
} ReplayRequest;

ProviderReplay *provider_replay_new (void);
void        provider_replay_free (ProviderReplay *replay);

/* "http://127.0.0.1:PORT" */
const char *provider_replay_origin (ProviderReplay *replay);
guint       provider_replay_port (ProviderReplay *replay);

/* Rules are tried newest first. @method NULL: any; @query "k=v&k2=v2" or NULL: those
 * parameters must be present with those values. @fixture: a file of fixtures/ sent as
 * application/json (NULL: no body). */
void        provider_replay_add_fixture (ProviderReplay *replay, const char *method,
    const char *path, const char *query, guint status, const char *fixture);
/* Like the above with a literal body and type; @once: the rule is used one time only. */
void        provider_replay_add_body (ProviderReplay *replay, const char *method, const char *path,
    const char *query, guint status, const char *content_type, const char *body,
    gboolean once);
void        provider_replay_add_redirect (ProviderReplay *replay, const char *path, guint status,
    const char *location);
/* Requests to @path get no answer until the replay server is freed. */
void        provider_replay_add_silence (ProviderReplay *replay, const char *path);

/* Every request so far, oldest first (ReplayRequest*). */
GPtrArray  *provider_replay_requests (ProviderReplay *replay);
guint       provider_replay_count (ProviderReplay *replay, const char *path);
/* The newest request to @path, or NULL. */
const ReplayRequest *provider_replay_last (ProviderReplay *replay, const char *path);
void        provider_replay_forget_requests (ProviderReplay *replay);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (ProviderReplay, provider_replay_free)

G_END_DECLS
