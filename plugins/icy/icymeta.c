/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icymeta.c: ICY metadata text and response-head parsing.
 *
 * Real stations send text that no strict grammar accepts: apostrophes inside single-quoted
 * values ("Don't Stop"), junk between a closing quote and the semicolon, missing semicolons,
 * Latin-1 or Windows-1252 bytes, and iHeart-style attribute lists inside StreamTitle. The
 * parser below is written against those, and never fails: whatever it cannot make sense of
 * stays in the raw text.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "icymeta.h"

#include <string.h>

/* Windows-1252 code points for bytes 0x80-0x9F; the rest of the code page is Latin-1. The five
 * bytes the code page leaves undefined decode to U+FFFD rather than to invisible C1 controls. */
static const gunichar cp1252_high[32] = {
  0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021,
  0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD,
  0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
  0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178,
};

static gunichar
cp1252_to_unichar (guint8 byte)
{
  if (byte >= 0x80 && byte <= 0x9F)
    return cp1252_high[byte - 0x80];
  return byte;
}

static gchar *
cp1252_decode (const guint8 * data, gsize len)
{
  GString *out = g_string_sized_new (len + len / 2 + 1);

  for (gsize i = 0; i < len; i++)
    g_string_append_unichar (out, cp1252_to_unichar (data[i]));
  return g_string_free (out, FALSE);
}

/* Text that was Windows-1252 but went through a Latin-1 to UTF-8 conversion on the way
 * (Icecast does this with metadata sent without a charset) carries C1 control characters
 * where the station meant curly quotes, dashes or the euro sign. C1 controls never belong in
 * a title, so map them back to what the code page meant. */
static gchar *
repair_c1_controls (const gchar * utf8)
{
  GString *out;

  if (strstr (utf8, "\xc2") == NULL)
    return g_strdup (utf8);

  out = g_string_sized_new (strlen (utf8));
  for (const gchar * p = utf8; *p; p = g_utf8_next_char (p)) {
    gunichar c = g_utf8_get_char (p);

    if (c >= 0x80 && c <= 0x9F)
      c = cp1252_to_unichar ((guint8) c);
    g_string_append_unichar (out, c);
  }
  return g_string_free (out, FALSE);
}

static gboolean
charset_is (const gchar * charset, const gchar * const *names)
{
  for (; *names; names++)
    if (g_ascii_strcasecmp (charset, *names) == 0)
      return TRUE;
  return FALSE;
}

/**
 * icy_text_to_utf8:
 * @data: text bytes (no terminating NUL needed)
 * @len: their length
 * @charset: %ICY_CHARSET_AUTO or an iconv charset name; %NULL means auto
 *
 * Auto keeps valid UTF-8 (mapping stray C1 controls to what Windows-1252 meant) and decodes
 * anything else as Windows-1252, which is what stations that are not UTF-8 almost always send.
 * An explicit charset is used as given; if the bytes do not convert, Windows-1252 is used.
 *
 * Returns: (transfer full): valid UTF-8, never %NULL. NUL bytes in @data are dropped.
 */
gchar *
icy_text_to_utf8 (const guint8 * data, gsize len, const gchar * charset)
{
  static const gchar *const utf8_names[] = { "utf-8", "utf8", NULL };
  static const gchar *const cp1252_names[] =
      { "windows-1252", "cp1252", "win-1252", NULL };
  g_autofree guint8 *clean = NULL;
  gsize n = 0;

  /* An embedded NUL would silently truncate the C string we return. */
  if (memchr (data, '\0', len) != NULL) {
    clean = g_malloc (len);
    for (gsize i = 0; i < len; i++)
      if (data[i] != '\0')
        clean[n++] = data[i];
    data = clean;
    len = n;
  }

  if (charset == NULL || g_ascii_strcasecmp (charset, ICY_CHARSET_AUTO) == 0) {
    g_autofree gchar *copy = NULL;

    if (!g_utf8_validate_len ((const gchar *) data, len, NULL))
      return cp1252_decode (data, len);
    copy = g_strndup ((const gchar *) data, len);
    return repair_c1_controls (copy);
  }

  if (charset_is (charset, utf8_names))
    return g_utf8_make_valid ((const gchar *) data, len);

  if (!charset_is (charset, cp1252_names)) {
    g_autofree gchar *converted = g_convert ((const gchar *) data, len,
        "UTF-8", charset, NULL, NULL, NULL);

    if (converted != NULL)
      return g_utf8_make_valid (converted, -1);
  }
  return cp1252_decode (data, len);
}

/**
 * icy_block_text_length:
 *
 * Returns: the length of the text in a metadata block: blocks are padded with NUL bytes
 * to a multiple of 16.
 */
gsize
icy_block_text_length (const guint8 * block, gsize len)
{
  const guint8 *nul = memchr (block, '\0', len);

  return nul ? (gsize) (nul - block) : len;
}

/**
 * icy_block_is_plausible:
 *
 * Whether a block could be metadata rather than audio bytes read at the wrong place: text
 * without control characters, containing at least one '=', followed only by NUL padding.
 * An empty (all-NUL) block is plausible. This is what tells the stream splitter it lost
 * its place.
 */
gboolean
icy_block_is_plausible (const guint8 * block, gsize len)
{
  gsize text_len = icy_block_text_length (block, len);
  gboolean has_equals = FALSE;

  for (gsize i = text_len; i < len; i++)
    if (block[i] != '\0')
      return FALSE;

  for (gsize i = 0; i < text_len; i++) {
    guint8 c = block[i];

    if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7F)
      return FALSE;
    if (c == '=')
      has_equals = TRUE;
  }
  return text_len == 0 || has_equals;
}

static gboolean
is_space (gchar c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static gboolean
is_key_char (gchar c)
{
  return g_ascii_isalnum (c) || c == '_' || c == '-' || c == '.';
}

/* Does a new "key=" pair (value quoted with ' or ") start at @p, after optional spaces?
 * End of text counts as a boundary too. */
static gboolean
is_pair_boundary (const gchar * s, gsize n, gsize p)
{
  gsize k;

  while (p < n && is_space (s[p]))
    p++;
  if (p >= n)
    return TRUE;
  if (!(g_ascii_isalpha (s[p]) || s[p] == '_'))
    return FALSE;
  for (k = p; k < n && is_key_char (s[k]); k++);
  while (k < n && is_space (s[k]))
    k++;
  if (k >= n || s[k] != '=')
    return FALSE;
  k++;
  while (k < n && is_space (s[k]))
    k++;
  return k < n && (s[k] == '\'' || s[k] == '"');
}

/* Finds the closing quote of a value that opened with @quote just before @start: the last
 * @quote before the first ';' that is followed by another pair or by the end of the text.
 * Quotes inside the value are thereby kept, and junk between the closing quote and the ';'
 * is skipped. Sets @next to where parsing continues. */
static gsize
find_value_end (const gchar * s, gsize n, gsize start, gchar quote,
    gsize * next)
{
  gssize last_quote = -1;

  for (gsize b = start; b < n; b++) {
    if (s[b] == quote)
      last_quote = b;
    else if (s[b] == ';' && last_quote >= 0 && is_pair_boundary (s, n, b + 1)) {
      *next = b + 1;
      return last_quote;
    }
  }
  *next = n;
  return last_quote >= 0 ? (gsize) last_quote : n;  /* unterminated: take the rest */
}

static gchar *
strip_dup (const gchar * s, gsize len)
{
  while (len > 0 && is_space (*s)) {
    s++;
    len--;
  }
  while (len > 0 && is_space (s[len - 1]))
    len--;
  return g_strndup (s, len);
}

/* Icecast 2.4 writes characters its mount charset (ISO-8859-1 by default) cannot hold as
 * XML character references: "&#23431;&#22810;&#30000; - First Love". Decodes well-formed
 * &#N; and &#xH; that name a printable character; anything else stays as it is. */
static gchar *
decode_char_refs (const gchar * s)
{
  GString *out;

  if (strstr (s, "&#") == NULL)
    return g_strdup (s);
  out = g_string_sized_new (strlen (s));
  while (*s) {
    const gchar *p = s + 2;
    gboolean hex = FALSE;
    gchar *end = NULL;
    guint64 c;

    if (s[0] != '&' || s[1] != '#') {
      g_string_append_c (out, *s++);
      continue;
    }
    if (*p == 'x' || *p == 'X') {
      hex = TRUE;
      p++;
    }
    c = (hex ? g_ascii_isxdigit (*p) : g_ascii_isdigit (*p))
        ? g_ascii_strtoull (p, &end, hex ? 16 : 10) : 0;
    if (end == NULL || *end != ';' || end - p > 8 || c < 0x20
        || (c >= 0x7F && c <= 0x9F) || (c >= 0xD800 && c <= 0xDFFF)
        || c > 0x10FFFF) {
      g_string_append_c (out, *s++);
      continue;
    }
    g_string_append_unichar (out, (gunichar) c);
    s = end + 1;
  }
  return g_string_free (out, FALSE);
}

static void
parse_pairs (const gchar * s, gsize n, GPtrArray * keys, GPtrArray * values)
{
  gsize i = 0;

  while (i < n) {
    const gchar *eq;
    gsize v, next;

    while (i < n && (is_space (s[i]) || s[i] == ';'))
      i++;
    if (i >= n)
      break;
    eq = memchr (s + i, '=', n - i);
    if (eq == NULL)
      break;                    /* trailing junk: it stays in the raw text */

    g_ptr_array_add (keys, strip_dup (s + i, eq - (s + i)));
    v = eq - s + 1;
    while (v < n && is_space (s[v]))
      v++;
    if (v < n && (s[v] == '\'' || s[v] == '"')) {
      gsize end = find_value_end (s, n, v + 1, s[v], &next);

      g_autofree gchar *value = g_strndup (s + v + 1, end - (v + 1));

      g_ptr_array_add (values, decode_char_refs (value));
    } else {
      const gchar *semi = memchr (s + v, ';', n - v);
      gsize end = semi ? (gsize) (semi - s) : n;

      g_autofree gchar *value = strip_dup (s + v, end - v);

      g_ptr_array_add (values, decode_char_refs (value));
      next = semi ? end + 1 : n;
    }
    i = next;
  }
}

static const gchar *
lookup (GPtrArray * keys, GPtrArray * values, const gchar * key)
{
  for (guint i = 0; i < keys->len; i++)
    if (g_ascii_strcasecmp (g_ptr_array_index (keys, i), key) == 0)
      return g_ptr_array_index (values, i);
  return NULL;
}

gboolean
icy_split_artist_title (const gchar * text, const gchar * sep, gchar ** artist,
    gchar ** title)
{
  const gchar *at;
  g_autofree gchar *a = NULL;
  g_autofree gchar *t = NULL;

  if (sep == NULL || *sep == '\0' || (at = strstr (text, sep)) == NULL)
    return FALSE;
  a = strip_dup (text, at - text);
  t = g_strstrip (g_strdup (at + strlen (sep)));
  if (*a == '\0' || *t == '\0')
    return FALSE;
  *artist = g_steal_pointer (&a);
  *title = g_steal_pointer (&t);
  return TRUE;
}

/* iHeart-style streams put attributes inside StreamTitle, either alone
 * (title="Song",artist="Band",url="...") or after a display prefix
 * (Band - Song - text="Song" song_spot="M" MediaBaseId="..."). Finds where the first
 * attribute starts and collects title/text and artist. */
static gboolean
find_attribute_start (const gchar * s, gsize n, gsize from, gsize * start,
    gsize * value_start)
{
  for (gsize p = from; p < n; p++) {
    gsize k = p;

    if (!(g_ascii_isalpha (s[p]) || s[p] == '_'))
      continue;
    if (p > 0 && !(is_space (s[p - 1]) || s[p - 1] == ',' || s[p - 1] == '-'))
      continue;
    while (k < n && is_key_char (s[k]))
      k++;
    if (k + 1 < n && s[k] == '=' && s[k + 1] == '"') {
      *start = p;
      *value_start = k + 2;
      return TRUE;
    }
  }
  return FALSE;
}

static void
parse_title_attributes (const gchar * s, gchar ** prefix, gchar ** attr_title,
    gchar ** attr_artist)
{
  gsize n = strlen (s), start, value_start, p = 0;
  gboolean first = TRUE;

  while (find_attribute_start (s, n, p, &start, &value_start)) {
    g_autofree gchar *name = g_strndup (s + start, value_start - 2 - start);
    gsize end = value_start;

    if (first) {
      gsize plen = start;

      /* drop the " - " or "," that joins the prefix to the attributes */
      while (plen > 0 && (is_space (s[plen - 1]) || s[plen - 1] == '-'
              || s[plen - 1] == ','))
        plen--;
      *prefix = strip_dup (s, plen);
      first = FALSE;
    }
    /* the value ends at a '"' followed by the end, a space or a comma */
    while (end < n && !(s[end] == '"' && (end + 1 == n || is_space (s[end + 1])
                || s[end + 1] == ',')))
      end++;
    if ((g_ascii_strcasecmp (name, "title") == 0
            || g_ascii_strcasecmp (name, "text") == 0) && *attr_title == NULL)
      *attr_title = strip_dup (s + value_start, end - value_start);
    else if (g_ascii_strcasecmp (name, "artist") == 0 && *attr_artist == NULL)
      *attr_artist = strip_dup (s + value_start, end - value_start);
    p = end + 1;
  }
}

static void
analyse_stream_title (IcyMetadata * meta, const gchar * value,
    const gchar * separator)
{
  g_autofree gchar *prefix = NULL;
  g_autofree gchar *attr_title = NULL;
  g_autofree gchar *attr_artist = NULL;
  g_autofree gchar *split_artist = NULL;
  g_autofree gchar *split_title = NULL;

  parse_title_attributes (value, &prefix, &attr_title, &attr_artist);
  if (attr_title == NULL && attr_artist == NULL) {
    /* plain "Artist - Title" (or any text) */
    meta->stream_title = strip_dup (value, strlen (value));
    if (*meta->stream_title == '\0')
      return;
    if (!icy_split_artist_title (meta->stream_title, separator, &meta->artist,
            &meta->title))
      meta->title = g_strdup (meta->stream_title);
    return;
  }

  if (prefix != NULL && *prefix != '\0')
    icy_split_artist_title (prefix, separator, &split_artist, &split_title);
  meta->artist = attr_artist ? g_steal_pointer (&attr_artist)
      : g_steal_pointer (&split_artist);
  if (attr_title != NULL)
    meta->title = g_steal_pointer (&attr_title);
  else if (split_title != NULL)
    meta->title = g_steal_pointer (&split_title);
  else if (prefix != NULL && *prefix != '\0')
    meta->title = g_strdup (prefix);

  if (prefix != NULL && *prefix != '\0')
    meta->stream_title = g_steal_pointer (&prefix);
  else if (meta->artist && meta->title)
    meta->stream_title = g_strdup_printf ("%s%s%s", meta->artist,
        separator && *separator ? separator : " - ", meta->title);
  else
    meta->stream_title = g_strdup (meta->title ? meta->title : meta->artist);
}

/**
 * icy_metadata_parse:
 * @block: a metadata block (its text, optionally followed by NUL padding)
 * @len: its length
 * @options: charset and artist/title separator
 *
 * Returns: (transfer full): the parsed metadata; never %NULL.
 */
IcyMetadata *
icy_metadata_parse (const guint8 * block, gsize len,
    const IcyParseOptions * options)
{
  IcyMetadata *meta = g_new0 (IcyMetadata, 1);
  const gchar *stream_title, *stream_url;

  meta->raw = icy_text_to_utf8 (block, icy_block_text_length (block, len),
      options->charset);
  meta->keys = g_ptr_array_new_with_free_func (g_free);
  meta->values = g_ptr_array_new_with_free_func (g_free);
  parse_pairs (meta->raw, strlen (meta->raw), meta->keys, meta->values);

  stream_title = lookup (meta->keys, meta->values, "StreamTitle");
  if (stream_title != NULL)
    analyse_stream_title (meta, stream_title, options->separator);
  stream_url = lookup (meta->keys, meta->values, "StreamUrl");
  if (stream_url != NULL && *stream_url != '\0')
    meta->stream_url = g_strdup (stream_url);
  return meta;
}

void
icy_metadata_free (IcyMetadata * meta)
{
  if (meta == NULL)
    return;
  g_free (meta->raw);
  g_ptr_array_unref (meta->keys);
  g_ptr_array_unref (meta->values);
  g_free (meta->stream_title);
  g_free (meta->stream_url);
  g_free (meta->artist);
  g_free (meta->title);
  g_free (meta);
}

/* Everything else is derived from the raw text. */
gboolean
icy_metadata_equal (const IcyMetadata * a, const IcyMetadata * b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return strcmp (a->raw, b->raw) == 0;
}

static gboolean
is_prefix_of (const guint8 * data, gsize len, const gchar * word)
{
  gsize wlen = strlen (word);

  return memcmp (data, word, MIN (len, wlen)) == 0;
}

static const guint8 *
find_head_end (const guint8 * data, gsize len, gsize * head_len)
{
  for (gsize i = 0; i + 1 < len; i++) {
    if (data[i] != '\n')
      continue;
    if (data[i + 1] == '\n') {
      *head_len = i + 2;
      return data + i;
    }
    if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n') {
      *head_len = i + 3;
      return data + i;
    }
  }
  return NULL;
}

/**
 * icy_response_head_parse:
 * @data: the first bytes of a stream
 * @len: how many
 * @charset: how to decode header values that are not UTF-8 (as icy_text_to_utf8())
 * @head: (out): set when %ICY_HEAD_COMPLETE is returned
 *
 * Recognises the response head of an ICY or HTTP server at the start of a captured stream
 * ("ICY 200 OK\r\nicy-metaint: 16000\r\n...\r\n\r\n"), so headers that an HTTP library would
 * have decoded or dropped (Latin-1 station names) reach us as the server sent them.
 */
IcyHeadResult
icy_response_head_parse (const guint8 * data, gsize len, const gchar * charset,
    IcyResponseHead ** head)
{
  gsize head_len = 0, line_start;
  g_autoptr (IcyResponseHead) h = NULL;
  g_autofree gchar *status_line = NULL;
  const gchar *code;
  guint64 status;

  if (len == 0)
    return ICY_HEAD_NEED_MORE;
  if (!is_prefix_of (data, len, "ICY ") && !is_prefix_of (data, len, "HTTP/"))
    return ICY_HEAD_NOT_A_HEAD;
  if (len < 5)
    return ICY_HEAD_NEED_MORE;
  if (find_head_end (data, MIN (len, ICY_MAX_HEAD_SIZE), &head_len) == NULL)
    return len >= ICY_MAX_HEAD_SIZE ? ICY_HEAD_NOT_A_HEAD : ICY_HEAD_NEED_MORE;

  /* status line: "ICY 200 OK" or "HTTP/1.0 200 OK" */
  line_start = 0;
  while (line_start < head_len && data[line_start] != '\n')
    line_start++;
  status_line = g_strndup ((const gchar *) data, line_start);
  code = strchr (status_line, ' ');
  if (code == NULL || !g_ascii_isdigit (code[1]))
    return ICY_HEAD_NOT_A_HEAD;
  status = g_ascii_strtoull (code + 1, NULL, 10);
  if (status < 100 || status > 999)
    return ICY_HEAD_NOT_A_HEAD;

  h = g_new0 (IcyResponseHead, 1);
  h->length = head_len;
  h->status = status;
  h->headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (gsize p = line_start + 1; p < head_len;) {
    const guint8 *eol = memchr (data + p, '\n', head_len - p);
    gsize end = eol ? (gsize) (eol - data) : head_len;
    const guint8 *colon = memchr (data + p, ':', end - p);

    if (colon != NULL && colon > data + p) {
      g_autofree gchar *name = strip_dup ((const gchar *) data + p,
          colon - (data + p));
      gsize vstart = colon - data + 1;
      gsize vend = end;
      gboolean token = *name != '\0';

      for (const gchar * c = name; *c && token; c++)
        token = g_ascii_isalnum (*c) || *c == '-' || *c == '_';
      while (vstart < vend && is_space (data[vstart]))
        vstart++;
      while (vend > vstart && is_space (data[vend - 1]))
        vend--;
      if (token) {
        gchar *lower = g_ascii_strdown (name, -1);

        if (!g_hash_table_contains (h->headers, lower))
          g_hash_table_insert (h->headers, lower,
              icy_text_to_utf8 (data + vstart, vend - vstart, charset));
        else
          g_free (lower);
      }
    }
    p = end + 1;
  }

  {
    const gchar *metaint = g_hash_table_lookup (h->headers, "icy-metaint");
    guint64 v = 0;

    if (metaint != NULL && g_ascii_string_to_unsigned (metaint, 10, 1,
            G_MAXINT, &v, NULL))
      h->metaint = (gint) v;
  }

  *head = g_steal_pointer (&h);
  return ICY_HEAD_COMPLETE;
}

void
icy_response_head_free (IcyResponseHead * head)
{
  if (head == NULL)
    return;
  g_hash_table_unref (head->headers);
  g_free (head);
}
