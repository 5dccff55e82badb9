/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-guarded-fetch.c: the guard applied to a real exchange: URL and addresses before
 * connecting, the peer once connected, every redirect by hand.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-guarded-fetch.h"

#include <string.h>

#include "echo-music-error.h"

void
echo_fetch_reply_free (EchoFetchReply *reply)
{
  if (reply == NULL)
    return;
  g_free (reply->content_type);
  g_free (reply->final_url);
  g_clear_pointer (&reply->body, g_bytes_unref);
  g_free (reply);
}

SoupSession *
echo_guarded_session_new (guint timeout_ms)
{
  guint seconds = MAX (1u, (timeout_ms + 999) / 1000);

  return soup_session_new_with_options ("proxy-resolver", NULL,
      "timeout", seconds, "idle-timeout", seconds,
      "user-agent", "echod-resolver/1", NULL);
}

/* What the network-event handler needs: the peer is checked once connected, before a
 * byte of the request is written. */
typedef struct
{
  const EchoUrlGuard *guard;
  GCancellable *cancellable;
  GError *refused;
} PeerCheck;

static void
on_network_event (SoupMessage *msg, GSocketClientEvent event, GIOStream *connection,
    gpointer user_data)
{
  PeerCheck *check = user_data;
  g_autoptr (GSocketAddress) remote = NULL;

  if (event != G_SOCKET_CLIENT_CONNECTED || !G_IS_SOCKET_CONNECTION (connection) ||
      check->refused != NULL)
    return;
  remote = g_socket_connection_get_remote_address (G_SOCKET_CONNECTION (connection), NULL);
  if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS (remote)) {
    g_set_error (&check->refused, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_FORBIDDEN,
        "refused: the connected peer has no IP address");
  } else if (!echo_url_guard_check_address (check->guard,
          g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (remote)),
          &check->refused)) {
    /* refused is set */
  } else {
    return;
  }
  g_cancellable_cancel (check->cancellable);
}

static void
cancel_child (GCancellable *parent, gpointer child)
{
  g_cancellable_cancel (child);
}

static gboolean
is_redirect (guint status)
{
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

static gboolean
same_origin (GUri *a, GUri *b)
{
  return g_ascii_strcasecmp (g_uri_get_scheme (a), g_uri_get_scheme (b)) == 0 &&
      g_ascii_strcasecmp (g_uri_get_host (a), g_uri_get_host (b)) == 0 &&
      g_uri_get_port (a) == g_uri_get_port (b);
}

static GBytes *
read_body (GInputStream *stream, gsize max_body, const char *host,
    GCancellable *cancellable, GError **error)
{
  g_autoptr (GByteArray) buffer = g_byte_array_new ();
  guint8 chunk[16384];

  for (;;) {
    gssize n = g_input_stream_read (stream, chunk, sizeof chunk, cancellable, error);

    if (n < 0)
      return NULL;
    if (n == 0)
      break;
    if (buffer->len + (gsize) n > max_body) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
          "%s sent a reply larger than %" G_GSIZE_FORMAT " bytes", host, max_body);
      return NULL;
    }
    g_byte_array_append (buffer, chunk, (guint) n);
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&buffer));
}

/* A transport error as the caller sees it: cancellation stays as it is, a refused peer is
 * FORBIDDEN, the rest is the provider's (or the network's) failure. */
static void
propagate_transport_error (GError **error, GError *local, PeerCheck *check,
    const char *host)
{
  if (check->refused != NULL) {
    g_propagate_error (error, g_steal_pointer (&check->refused));
    g_error_free (local);
  } else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
      local->domain == ECHO_MUSIC_ERROR) {
    g_propagate_error (error, local);
  } else if (g_error_matches (local, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
        "%s did not answer in time", host);
    g_error_free (local);
  } else {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
        "could not reach %s: %s", host, local->message);
    g_error_free (local);
  }
}

/* One exchange without following anything. */
static EchoFetchReply *
fetch_once (SoupSession *session, const EchoUrlGuard *guard, GUri *uri, const char *method,
    const EchoFetchRequest *request, gboolean with_body, gboolean with_authorization,
    GCancellable *cancellable, char **location, GError **error)
{
  g_autoptr (SoupMessage) msg = NULL;
  g_autoptr (GInputStream) stream = NULL;
  g_autoptr (GCancellable) child = g_cancellable_new ();
  g_autoptr (EchoFetchReply) reply = NULL;
  GError *local = NULL;
  PeerCheck check = { guard, child, NULL };
  SoupMessageHeaders *headers;
  const char *host = g_uri_get_host (uri);
  gulong handler = 0;

  *location = NULL;
  if (!echo_url_guard_check_uri (guard, uri, error) ||
      !echo_url_guard_check_host_addresses (guard, host, cancellable, error))
    return NULL;

  msg = soup_message_new_from_uri (method, uri);
  soup_message_add_flags (msg, SOUP_MESSAGE_NO_REDIRECT);
  headers = soup_message_get_request_headers (msg);
  for (guint i = 0; request->headers != NULL && request->headers[i] != NULL &&
      request->headers[i + 1] != NULL; i += 2) {
    if (!with_authorization && g_ascii_strcasecmp (request->headers[i], "Authorization") == 0)
      continue;
    soup_message_headers_replace (headers, request->headers[i], request->headers[i + 1]);
  }
  if (with_body && request->body != NULL)
    soup_message_set_request_body_from_bytes (msg, request->body_type, request->body);
  if (!echo_url_guard_allows_private (guard))
    g_signal_connect (msg, "network-event", G_CALLBACK (on_network_event), &check);

  if (cancellable != NULL)
    handler = g_cancellable_connect (cancellable, G_CALLBACK (cancel_child),
        g_object_ref (child), g_object_unref);
  stream = soup_session_send (session, msg, child, &local);
  if (stream != NULL) {
    reply = g_new0 (EchoFetchReply, 1);
    reply->status = soup_message_get_status (msg);
    if (is_redirect (reply->status)) {
      *location = g_strdup (soup_message_headers_get_one (
              soup_message_get_response_headers (msg), "Location"));
      reply->body = g_bytes_new (NULL, 0);
    } else if (request->max_body > 0) {
      reply->body = read_body (stream, request->max_body, host, child, &local);
    } else {
      reply->body = g_bytes_new (NULL, 0);
    }
    g_input_stream_close (stream, NULL, NULL);
  }
  g_signal_handlers_disconnect_by_data (msg, &check);
  if (cancellable != NULL)
    g_cancellable_disconnect (cancellable, handler);

  if (local != NULL) {
    propagate_transport_error (error, local, &check, host);
    g_clear_error (&check.refused);
    return NULL;
  }
  if (check.refused != NULL) {
    g_propagate_error (error, check.refused);
    return NULL;
  }
  {
    SoupMessageHeaders *response = soup_message_get_response_headers (msg);
    const char *type = soup_message_headers_get_content_type (response, NULL);

    reply->content_type = type != NULL ? g_ascii_strdown (type, -1) : NULL;
    reply->content_length = soup_message_headers_get_encoding (response) ==
        SOUP_ENCODING_CONTENT_LENGTH ? soup_message_headers_get_content_length (response) : -1;
    reply->final_url = g_uri_to_string (uri);
  }
  return g_steal_pointer (&reply);
}

EchoFetchReply *
echo_guarded_fetch (SoupSession *session, const EchoUrlGuard *guard,
    const EchoFetchRequest *request, GCancellable *cancellable, GError **error)
{
  g_autoptr (GUri) first = NULL;
  g_autoptr (GUri) uri = NULL;
  const char *method;
  gboolean with_body = TRUE;

  g_return_val_if_fail (SOUP_IS_SESSION (session), NULL);
  g_return_val_if_fail (guard != NULL && request != NULL && request->url != NULL, NULL);

  method = request->method != NULL ? request->method : "GET";
  first = g_uri_parse (request->url, G_URI_FLAGS_ENCODED, NULL);
  if (first == NULL || g_uri_get_host (first) == NULL) {
    g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_INVALID,
        "not an absolute URL: %s", request->url);
    return NULL;
  }
  uri = g_uri_ref (first);

  for (guint hop = 0;; hop++) {
    g_autofree char *location = NULL;
    g_autoptr (EchoFetchReply) reply = NULL;
    GUri *next;

    reply = fetch_once (session, guard, uri, method, request, with_body,
        same_origin (first, uri), cancellable, &location, error);
    if (reply == NULL)
      return NULL;
    if (!is_redirect (reply->status))
      return g_steal_pointer (&reply);
    if (location == NULL) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
          "%s redirected (HTTP %u) without a Location", g_uri_get_host (uri), reply->status);
      return NULL;
    }
    if (hop >= ECHO_FETCH_MAX_REDIRECTS) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
          "more than %d redirects from %s", ECHO_FETCH_MAX_REDIRECTS, request->url);
      return NULL;
    }
    next = g_uri_parse_relative (uri, location, G_URI_FLAGS_ENCODED, NULL);
    if (next == NULL || g_uri_get_host (next) == NULL) {
      g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_PROVIDER,
          "%s redirected to an invalid URL", g_uri_get_host (uri));
      g_clear_pointer (&next, g_uri_unref);
      return NULL;
    }
    g_uri_unref (uri);
    uri = next;
    /* As browsers do: 303 always, 301/302 for a POST, continue as GET without the body. */
    if ((reply->status == 303 && strcmp (method, "HEAD") != 0) ||
        ((reply->status == 301 || reply->status == 302) && strcmp (method, "POST") == 0)) {
      method = "GET";
      with_body = FALSE;
    }
  }
}
