/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icymeta.h: ICY (Shoutcast/Icecast) metadata text and response-head parsing.
 *
 * Pure functions over bytes received from the network; no GStreamer. Every string they
 * return is valid UTF-8, whatever the input was.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* A metadata block holds at most 255 * 16 bytes of text. */
#define ICY_MAX_BLOCK_SIZE (255 * 16)

/* How text that arrived without a declared encoding is decoded. */
#define ICY_CHARSET_AUTO "auto"

typedef struct
{
  gchar *raw;                   /* the whole text, decoded */
  GPtrArray *keys;              /* gchar*, in wire order, duplicates kept */
  GPtrArray *values;            /* gchar*, same length as keys */
  gchar *stream_title;          /* StreamTitle for display; NULL if absent, "" if cleared */
  gchar *stream_url;            /* StreamUrl; NULL if absent or empty */
  gchar *artist;                /* NULL when unknown */
  gchar *title;                 /* NULL when unknown or cleared */
} IcyMetadata;

typedef struct
{
  const gchar *charset;         /* ICY_CHARSET_AUTO, or any iconv name ("ISO-8859-2"...) */
  const gchar *separator;       /* "Artist<sep>Title"; NULL or "" disables the split */
} IcyParseOptions;

/* Splits "Artist<sep>Title" at the first @sep, both sides stripped and non-empty (FALSE
 * otherwise, nothing set). The one rule for StreamTitle and for titles pushed to echod. */
gboolean icy_split_artist_title (const gchar * text, const gchar * sep, gchar ** artist,
    gchar ** title);

gchar *icy_text_to_utf8 (const guint8 * data, gsize len, const gchar * charset);

gsize icy_block_text_length (const guint8 * block, gsize len);
gboolean icy_block_is_plausible (const guint8 * block, gsize len);

IcyMetadata *icy_metadata_parse (const guint8 * block, gsize len,
    const IcyParseOptions * options);
void icy_metadata_free (IcyMetadata * meta);
gboolean icy_metadata_equal (const IcyMetadata * a, const IcyMetadata * b);

/* The response head a server sends before an ICY stream ("ICY 200 OK" or "HTTP/1.x 200"). */
typedef enum
{
  ICY_HEAD_NOT_A_HEAD,          /* the stream does not start with a response head */
  ICY_HEAD_NEED_MORE,           /* could be one; give more bytes */
  ICY_HEAD_COMPLETE,
} IcyHeadResult;

#define ICY_MAX_HEAD_SIZE (16 * 1024)

typedef struct
{
  gsize length;                 /* bytes of the head, blank line included */
  guint status;
  gint metaint;                 /* icy-metaint, 0 when absent or invalid */
  /* lower-cased header name -> decoded value; the first occurrence wins */
  GHashTable *headers;
} IcyResponseHead;

IcyHeadResult icy_response_head_parse (const guint8 * data, gsize len,
    const gchar * charset, IcyResponseHead ** head);
void icy_response_head_free (IcyResponseHead * head);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcyMetadata, icy_metadata_free);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcyResponseHead, icy_response_head_free);

G_END_DECLS
