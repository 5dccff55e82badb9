/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-json.h: reading members of stored JSON objects defensively. Each getter checks
 * the member's type (and range) and fails with ECHO_MUSIC_ERROR_INVALID naming the member, so
 * a truncated or hand-edited document is refused with a clear message instead of crashing.
 * Used by the store forms of tracks and queues; internal to echo-music. Also the one
 * formatter of times for the API's JSON, and of strings in JSON assembled as text.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* A string member; absent or null is an error when @required, else gives NULL. The string
 * is copied into *@out. */
gboolean echo_music_json_get_string (JsonObject *obj, const char *name, gboolean required,
                                     char **out, GError **error);

/* A required integer member within [@min, @max]. */
gboolean echo_music_json_get_int (JsonObject *obj, const char *name, gint64 min, gint64 max,
                                  gint64 *out, GError **error);

/* A required boolean member. */
gboolean echo_music_json_get_boolean (JsonObject *obj, const char *name, gboolean *out,
                                      GError **error);

/* A required object (or, with @nullable, null: *@out = NULL) member; borrowed. */
gboolean echo_music_json_get_object (JsonObject *obj, const char *name, gboolean nullable,
                                     JsonObject **out, GError **error);

/* A required array member; borrowed. */
gboolean echo_music_json_get_array (JsonObject *obj, const char *name, JsonArray **out,
                                    GError **error);

/* Parses @text into a root that must be an object; INVALID (naming @what) otherwise. */
JsonNode *echo_music_json_parse_object (const char *text, const char *what, GError **error);

/* Unix ms as ISO 8601 UTC with milliseconds ("2026-11-21T23:00:00.000Z"); floor division,
 * so times before 1970 keep a millisecond part in 0..999. */
char     *echo_music_json_format_time_ms (gint64 unix_ms);

/* Appends @text (UTF-8) as a JSON string, quotes included: for JSON assembled as text from
 * parts already serialized (queue events). */
void      echo_music_json_append_string (GString *out, const char *text);

/* An immutable deep copy of @node (or @node itself, referenced, when already sealed), so
 * copies of a track can share it safely. */
JsonNode *echo_music_json_freeze (JsonNode *node);

G_END_DECLS
