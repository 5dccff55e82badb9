/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-guarded-fetch.h: one HTTP exchange of the resolver under an EchoUrlGuard. Blocking
 * (the resolver runs it in a worker thread, with a SoupSession of that thread). Redirects
 * are never followed by libsoup (SOUP_MESSAGE_NO_REDIRECT): this file follows at most
 * ECHO_FETCH_MAX_REDIRECTS by hand, each target checked like the first URL, and an
 * Authorization header never follows a redirect to another origin. Replies are read up to
 * a size cap. No proxy is used: the guard must see the real peer.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "echo-url-guard.h"

G_BEGIN_DECLS

#define ECHO_FETCH_MAX_REDIRECTS 5

typedef struct
{
  const char *method;           /* "GET", "HEAD", "POST" */
  const char *url;
  const char *const *headers;   /* name, value, name, value, ..., NULL; or NULL */
  GBytes *body;                 /* request body or NULL */
  const char *body_type;        /* its Content-Type */
  gsize max_body;               /* the reply body is read up to this; 0: not read at all */
} EchoFetchRequest;

typedef struct
{
  guint status;
  char *content_type;           /* media type without parameters, lower case; NULL: none */
  gint64 content_length;        /* -1: not said */
  char *final_url;              /* after redirects */
  GBytes *body;                 /* never NULL (empty when not read) */
} EchoFetchReply;

void        echo_fetch_reply_free (EchoFetchReply *reply);

/* A session for one worker thread: no proxy, I/O timeout @timeout_ms (rounded up to
 * seconds: libsoup's unit), echod's User-Agent. */
SoupSession *echo_guarded_session_new (guint timeout_ms);

/* Any HTTP status is a reply (the caller judges it). Errors: ECHO_MUSIC_ERROR_FORBIDDEN
 * (the guard refused a URL, a redirect target or the connected peer),
 * ECHO_MUSIC_ERROR_PROVIDER (network failure, I/O timeout, too many redirects, reply over
 * max_body), G_IO_ERROR_CANCELLED. */
EchoFetchReply *echo_guarded_fetch (SoupSession *session, const EchoUrlGuard *guard,
    const EchoFetchRequest *request, GCancellable *cancellable, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoFetchReply, echo_fetch_reply_free)

G_END_DECLS
