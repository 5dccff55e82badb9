/* echo-radio-request.c: see echo-radio-request.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-request.h"

#include <string.h>

gboolean
echo_radio_mount_is_valid (const char *mount)
{
  gsize len, i;

  if (mount == NULL || mount[0] != '/')
    return FALSE;
  len = strlen (mount + 1);
  if (len < 1 || len > ECHO_RADIO_MOUNT_MAX || strcmp (mount, "/.") == 0 ||
      strcmp (mount, "/..") == 0)
    return FALSE;
  for (i = 1; i <= len; i++) {
    char c = mount[i];

    if (!g_ascii_isalnum (c) && c != '.' && c != '_' && c != '-')
      return FALSE;
  }
  return TRUE;
}

gboolean
echo_radio_parse_basic_auth (const char *header, char **user, char **password)
{
  g_autofree guchar *decoded = NULL;
  g_autofree char *text = NULL;
  const char *colon;
  gsize len, i;

  *user = NULL;
  *password = NULL;
  if (header == NULL || g_ascii_strncasecmp (header, "Basic ", 6) != 0)
    return FALSE;
  header += 6;
  while (*header == ' ')
    header++;
  /* base64 only: g_base64_decode skips what is not, and would accept garbage */
  len = strlen (header);
  while (len > 0 && header[len - 1] == ' ')
    len--;
  if (len == 0 || len > 4096)
    return FALSE;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isalnum (header[i]) && header[i] != '+' && header[i] != '/' &&
        header[i] != '=')
      return FALSE;
  }
  text = g_strndup (header, len);
  decoded = g_base64_decode (text, &len);
  if (decoded == NULL || len == 0 || memchr (decoded, '\0', len) != NULL ||
      !g_utf8_validate ((const char *) decoded, (gssize) len, NULL))
    return FALSE;
  colon = memchr (decoded, ':', len);
  if (colon == NULL)
    return FALSE;
  *user = g_strndup ((const char *) decoded, colon - (const char *) decoded);
  *password = g_strndup (colon + 1, len - (colon + 1 - (const char *) decoded));
  return TRUE;
}

/* Text that is fit to show: UTF-8 as is when valid, otherwise read as Latin-1 (what old
 * source clients send); NULL when empty, too long, or holding control characters. */
static char *
header_text (const char *value)
{
  g_autofree char *text = NULL;
  const char *p;

  if (value == NULL)
    return NULL;
  while (*value == ' ' || *value == '\t')
    value++;
  if (*value == '\0' || strlen (value) > ECHO_RADIO_METADATA_MAX)
    return NULL;
  text = g_utf8_validate (value, -1, NULL) ? g_strdup (value) :
      g_convert (value, -1, "UTF-8", "ISO-8859-1", NULL, NULL, NULL);
  if (text == NULL)
    return NULL;
  g_strchomp (text);
  for (p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p)))
      return NULL;
  }
  return *text != '\0' ? g_steal_pointer (&text) : NULL;
}

/* kbit/s as a decimal number -> bit/s; 0 when it is not one */
static guint
parse_kbps (const char *text, gsize len)
{
  guint64 value = 0;
  gsize i;

  if (len == 0 || len > 6)
    return 0;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isdigit (text[i]))
      return 0;
    value = value * 10 + (guint64) (text[i] - '0');
  }
  return (guint) MIN (value * 1000, G_MAXUINT);
}

/* "bitrate=128;channels=2;samplerate=44100" (also "ice-bitrate=", as some clients send) */
static guint
audio_info_bitrate (const char *info)
{
  g_auto (GStrv) parts = NULL;
  guint i;

  if (info == NULL || strlen (info) > ECHO_RADIO_METADATA_MAX)
    return 0;
  parts = g_strsplit (info, ";", 16);
  for (i = 0; parts[i] != NULL; i++) {
    char *item = g_strstrip (parts[i]);

    if (g_str_has_prefix (item, "ice-"))
      item += 4;
    if (g_ascii_strncasecmp (item, "bitrate=", 8) == 0)
      return parse_kbps (item + 8, strlen (item + 8));
  }
  return 0;
}

GstTagList *
echo_radio_station_tags (const EchoRadioIceHeaders *headers, EchoRadioFormat format)
{
  GstTagList *tags = gst_tag_list_new_empty ();
  const struct {
    const char *value;
    const char *tag;
  } texts[] = {
    { headers->name, GST_TAG_ORGANIZATION },
    { headers->genre, GST_TAG_GENRE },
    { headers->description, GST_TAG_DESCRIPTION },
    { headers->url, GST_TAG_HOMEPAGE },
  };
  guint bitrate = 0;
  guint i;

  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_GLOBAL);
  for (i = 0; i < G_N_ELEMENTS (texts); i++) {
    g_autofree char *text = header_text (texts[i].value);

    if (text != NULL)
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, texts[i].tag, text, NULL);
  }
  if (headers->bitrate != NULL)
    bitrate = parse_kbps (headers->bitrate, strlen (headers->bitrate));
  if (bitrate == 0)
    bitrate = audio_info_bitrate (headers->audio_info);
  if (bitrate != 0)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_NOMINAL_BITRATE, bitrate, NULL);
  if (echo_radio_format_codec_name (format) != NULL)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_AUDIO_CODEC,
        echo_radio_format_codec_name (format), NULL);
  return tags;
}

static int
hex_value (char c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

GBytes *
echo_radio_form_decode (const char *text, gsize len)
{
  g_autoptr (GByteArray) out = g_byte_array_sized_new ((guint) MIN (len, G_MAXUINT));
  gsize i;

  for (i = 0; i < len; i++) {
    guint8 byte = (guint8) text[i];

    if (byte == '%') {
      int high, low;

      if (i + 2 >= len)
        return NULL;
      high = hex_value (text[i + 1]);
      low = hex_value (text[i + 2]);
      if (high < 0 || low < 0)
        return NULL;
      byte = (guint8) (high << 4 | low);
      i += 2;
    } else if (byte == '+') {
      byte = ' ';
    }
    g_byte_array_append (out, &byte, 1);
  }
  return g_byte_array_free_to_bytes (g_steal_pointer (&out));
}

char *
echo_radio_query_value (const char *query, const char *name)
{
  g_autoptr (GBytes) found = NULL;
  const char *p = query != NULL ? query : "";
  gsize name_len = strlen (name);
  gsize len;
  const char *data;

  while (*p != '\0') {
    const char *end = strchr (p, '&');
    gsize item = end != NULL ? (gsize) (end - p) : strlen (p);

    if (item > name_len && p[name_len] == '=' && strncmp (p, name, name_len) == 0) {
      g_clear_pointer (&found, g_bytes_unref);
      found = echo_radio_form_decode (p + name_len + 1, item - name_len - 1);
    }
    p += item;
    if (*p == '&')
      p++;
  }
  if (found == NULL)
    return NULL;
  data = g_bytes_get_data (found, &len);
  if (len == 0 || memchr (data, '\0', len) != NULL || !g_utf8_validate (data, (gssize) len, NULL))
    return NULL;
  return g_strndup (data, len);
}

void
echo_radio_metadata_update_free (EchoRadioMetadataUpdate *update)
{
  if (update == NULL)
    return;
  g_free (update->mount);
  if (update->tags != NULL)
    gst_tag_list_unref (update->tags);
  g_free (update);
}

/* A metadata value in its charset -> UTF-8 without control characters. */
static char *
decode_value (const char *name, GBytes *raw, const char *charset, GError **error)
{
  gsize len;
  const char *data = g_bytes_get_data (raw, &len);
  g_autofree char *text = NULL;
  const char *p;

  if (len > ECHO_RADIO_METADATA_MAX) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
        "%s is longer than %d bytes", name, ECHO_RADIO_METADATA_MAX);
    return NULL;
  }
  if (len == 0)
    return g_strdup ("");     /* an empty title clears it (its bytes may be NULL) */
  if (memchr (data, '\0', len) != NULL) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
        "%s holds control characters", name);
    return NULL;
  }
  if (g_ascii_strcasecmp (charset, "UTF-8") == 0 || g_ascii_strcasecmp (charset, "UTF8") == 0) {
    if (!g_utf8_validate (data, (gssize) len, NULL)) {
      g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
          "%s is not valid UTF-8", name);
      return NULL;
    }
    text = g_strndup (data, len);
  } else {
    g_autoptr (GError) local = NULL;

    text = g_convert (data, (gssize) len, "UTF-8", charset, NULL, NULL, &local);
    if (text == NULL) {
      g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
          "%s does not decode as %s", name, charset);
      return NULL;
    }
  }
  for (p = text; *p != '\0'; p = g_utf8_next_char (p)) {
    if (g_unichar_iscntrl (g_utf8_get_char (p))) {
      g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
          "%s holds control characters", name);
      return NULL;
    }
  }
  return g_steal_pointer (&text);
}

/* The charset's name: printable ASCII, short (iconv gets it as is). */
static gboolean
charset_is_plausible (GBytes *raw)
{
  gsize len, i;
  const guint8 *data = g_bytes_get_data (raw, &len);

  if (len == 0 || len > 40)
    return FALSE;
  for (i = 0; i < len; i++) {
    if (!g_ascii_isalnum (data[i]) && data[i] != '-' && data[i] != '_' && data[i] != '.' &&
        data[i] != ':')
      return FALSE;
  }
  return TRUE;
}

EchoRadioMetadataUpdate *
echo_radio_parse_metadata_query (const char *query, GError **error)
{
  /* the parameters Icecast reads; each may appear once (the last one wins, as Icecast) */
  enum { P_MODE, P_MOUNT, P_SONG, P_TITLE, P_ARTIST, P_URL, P_CHARSET, N_PARAMS };
  static const char *const names[N_PARAMS] = { "mode", "mount", "song", "title", "artist",
    "url", "charset" };
  GBytes *values[N_PARAMS] = { NULL };
  g_autoptr (EchoRadioMetadataUpdate) update = NULL;
  g_autofree char *charset = NULL;
  const char *p = query != NULL ? query : "";
  gboolean ok = FALSE;
  guint i;

  while (*p != '\0') {
    const char *end = strchr (p, '&');
    const char *eq;
    gsize len = end != NULL ? (gsize) (end - p) : strlen (p);
    g_autoptr (GBytes) name = NULL;

    eq = memchr (p, '=', len);
    if (eq != NULL) {
      name = echo_radio_form_decode (p, eq - p);
      for (i = 0; name != NULL && i < N_PARAMS; i++) {
        if (g_bytes_get_size (name) == strlen (names[i]) &&
            memcmp (g_bytes_get_data (name, NULL), names[i], strlen (names[i])) == 0) {
          g_clear_pointer (&values[i], g_bytes_unref);
          values[i] = echo_radio_form_decode (eq + 1, len - (eq + 1 - p));
          if (values[i] == NULL) {
            g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
                "%s: malformed %%-escape", names[i]);
            goto out;
          }
        }
      }
    }
    p += len;
    if (*p == '&')
      p++;
  }

  if (values[P_MODE] == NULL || g_bytes_get_size (values[P_MODE]) != 7 ||
      memcmp (g_bytes_get_data (values[P_MODE], NULL), "updinfo", 7) != 0) {
    g_set_error_literal (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
        "No such action (mode must be updinfo)");
    goto out;
  }
  update = g_new0 (EchoRadioMetadataUpdate, 1);
  if (values[P_MOUNT] != NULL && g_bytes_get_size (values[P_MOUNT]) <= ECHO_RADIO_MOUNT_MAX + 1)
    update->mount = g_strndup (g_bytes_get_data (values[P_MOUNT], NULL),
        g_bytes_get_size (values[P_MOUNT]));
  if (update->mount == NULL || strlen (update->mount) != g_bytes_get_size (values[P_MOUNT]) ||
      !echo_radio_mount_is_valid (update->mount)) {
    g_set_error_literal (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
        "Missing or invalid mount parameter");
    goto out;
  }
  if (values[P_SONG] == NULL && values[P_TITLE] == NULL && values[P_ARTIST] == NULL) {
    g_set_error_literal (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
        "No song (or title, artist) given");
    goto out;
  }
  if (values[P_CHARSET] != NULL) {
    if (!charset_is_plausible (values[P_CHARSET])) {
      g_set_error_literal (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID,
          "Invalid charset");
      goto out;
    }
    charset = g_strndup (g_bytes_get_data (values[P_CHARSET], NULL),
        g_bytes_get_size (values[P_CHARSET]));
  } else {
    charset = g_strdup ("ISO-8859-1");
  }

  update->tags = gst_tag_list_new_empty ();
  gst_tag_list_set_scope (update->tags, GST_TAG_SCOPE_STREAM);
  {
    const struct {
      guint param;
      const char *tag;
    } fields[] = {
      { P_SONG, GST_TAG_TITLE },
      { P_TITLE, GST_TAG_TITLE },
      { P_ARTIST, GST_TAG_ARTIST },
      { P_URL, GST_TAG_HOMEPAGE },
    };

    for (i = 0; i < G_N_ELEMENTS (fields); i++) {
      g_autofree char *text = NULL;

      if (values[fields[i].param] == NULL)
        continue;
      /* song= is the whole "Artist - Title" line, as a listener's player shows it */
      if (values[P_SONG] != NULL && (fields[i].param == P_TITLE || fields[i].param == P_ARTIST))
        continue;
      text = decode_value (names[fields[i].param], values[fields[i].param], charset, error);
      if (text == NULL)
        goto out;
      gst_tag_list_add (update->tags, GST_TAG_MERGE_REPLACE, fields[i].tag, text, NULL);
    }
  }
  ok = TRUE;

out:
  for (i = 0; i < N_PARAMS; i++)
    g_clear_pointer (&values[i], g_bytes_unref);
  return ok ? g_steal_pointer (&update) : NULL;
}
