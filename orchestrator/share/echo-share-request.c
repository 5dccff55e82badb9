/* echo-share-request.c: the share API's request parsers (see the header for the rules). */
#include "echo-share-request.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "echo-share-error.h"

/* Room for the fields around "data" in an audio body (names, numbers, whitespace). */
#define AUDIO_BODY_SLACK 4096

gboolean
echo_share_session_id_is_valid (const char *id)
{
  if (id == NULL)
    return FALSE;
  for (int i = 0; i < 6; i++) {
    if (!g_ascii_isdigit (id[i]))
      return FALSE;
  }
  return id[6] == '\0';
}

gboolean
echo_share_request_check_session_id (const char *id, GError **error)
{
  if (echo_share_session_id_is_valid (id))
    return TRUE;
  g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_SESSION_ID,
      "Session ID must be exactly 6 digits");
  return FALSE;
}

/* ---- the lexical gate ---- */

static gboolean
json_fail (GError **error, gsize offset, const char *what)
{
  g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON,
      "Body is not valid JSON: %s at byte %" G_GSIZE_FORMAT, what, offset);
  return FALSE;
}

/* TRUE when @p starts with a \uHHHH escape whose value is in [@base, @base + 0x3ff]. */
static gboolean
is_surrogate_escape (const char *p, gsize len, guint base)
{
  guint value = 0;

  if (len < 6 || p[0] != '\\' || p[1] != 'u')
    return FALSE;
  for (int k = 2; k < 6; k++) {
    if (!g_ascii_isxdigit (p[k]))
      return FALSE;
    value = value * 16 + (guint) g_ascii_xdigit_value (p[k]);
  }
  return value >= base && value <= base + 0x3ff;
}

/* Scans the string starting at body[*pos] == '"'; leaves *pos after the closing quote. */
static gboolean
scan_string (const char *body, gsize len, gsize *pos, GError **error)
{
  gsize i = *pos + 1;

  while (i < len) {
    guchar c = (guchar) body[i];

    if (c == '"') {
      *pos = i + 1;
      return TRUE;
    }
    if (c < 0x20)
      return json_fail (error, i, "raw control character in a string");
    if (c == '\\') {
      if (i + 1 >= len)
        break;
      switch (body[i + 1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
          i += 2;
          break;
        case 'u':
          if (i + 6 > len)
            return json_fail (error, i, "truncated \\u escape");
          for (int k = 2; k < 6; k++) {
            if (!g_ascii_isxdigit (body[i + k]))
              return json_fail (error, i, "bad \\u escape");
          }
          if (strncmp (body + i + 2, "0000", 4) == 0)
            return json_fail (error, i, "NUL character (\\u0000) in a string");
          /* UTF-16 surrogates must come in pairs: high (D800-DBFF) then low (DC00-DFFF). */
          if (is_surrogate_escape (body + i, len - i, 0xd800)) {
            if (!is_surrogate_escape (body + i + 6, len - i - 6, 0xdc00))
              return json_fail (error, i, "unpaired UTF-16 surrogate in a \\u escape");
            i += 12;
          } else if (is_surrogate_escape (body + i, len - i, 0xdc00)) {
            return json_fail (error, i, "unpaired UTF-16 surrogate in a \\u escape");
          } else {
            i += 6;
          }
          break;
        default:
          return json_fail (error, i, "bad escape in a string");
      }
      continue;
    }
    i++;
  }
  return json_fail (error, *pos, "unterminated string");
}

/* Scans a number token per RFC 8259; integers must fit in 64 bits, others must be finite. */
static gboolean
scan_number (const char *body, gsize len, gsize *pos, GError **error)
{
  gsize start = *pos, i = *pos;
  gboolean is_integer = TRUE;
  g_autofree char *token = NULL;

  if (body[i] == '-')
    i++;
  if (i < len && body[i] == '0') {
    i++;
  } else if (i < len && body[i] >= '1' && body[i] <= '9') {
    while (i < len && g_ascii_isdigit (body[i]))
      i++;
  } else {
    return json_fail (error, start, "malformed number");
  }
  if (i < len && body[i] == '.') {
    is_integer = FALSE;
    i++;
    if (i >= len || !g_ascii_isdigit (body[i]))
      return json_fail (error, start, "malformed number");
    while (i < len && g_ascii_isdigit (body[i]))
      i++;
  }
  if (i < len && (body[i] == 'e' || body[i] == 'E')) {
    is_integer = FALSE;
    i++;
    if (i < len && (body[i] == '+' || body[i] == '-'))
      i++;
    if (i >= len || !g_ascii_isdigit (body[i]))
      return json_fail (error, start, "malformed number");
    while (i < len && g_ascii_isdigit (body[i]))
      i++;
  }
  /* A number runs into a letter or digit only when it is not one (e.g. 0x10, 01). */
  if (i < len && (g_ascii_isalnum (body[i]) || body[i] == '.' || body[i] == '-' || body[i] == '+'))
    return json_fail (error, start, "malformed number");

  token = g_strndup (body + start, i - start);
  if (is_integer) {
    gint64 value;

    if (!g_ascii_string_to_signed (token, 10, G_MININT64, G_MAXINT64, &value, NULL))
      return json_fail (error, start, "integer out of the 64-bit range");
  } else {
    double value = g_ascii_strtod (token, NULL);

    if (!isfinite (value))
      return json_fail (error, start, "number out of range");
  }
  *pos = i;
  return TRUE;
}

static gboolean
is_ascii (const char *text, gsize len)
{
  guchar any = 0;

  for (gsize i = 0; i < len; i++)
    any |= (guchar) text[i];
  return any < 0x80;
}

/* The strict gate (see the header). On success *top_level_members holds how many members the
 * root object names (counted by their ':'), to detect duplicates json-glib would merge. */
static gboolean
check_json_text (const char *body, gsize len, guint *top_level_members, GError **error)
{
  char stack[ECHO_SHARE_REQUEST_MAX_DEPTH];
  guint depth = 0;
  gsize i = 0;

  *top_level_members = 0;
  /* Bodies are almost always ASCII (base64 audio): GLib's UTF-8 check costs ten times
   * this byte-wise OR, so it runs only when a byte says it must. */
  if (!is_ascii (body, len) && !g_utf8_validate_len (body, len, NULL)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON,
        "Body is not valid UTF-8 text");
    return FALSE;
  }
  while (i < len) {
    char c = body[i];

    switch (c) {
      case ' ': case '\t': case '\n': case '\r': case ',':
        i++;
        break;
      case ':':
        if (depth == 1 && stack[0] == '{')
          (*top_level_members)++;
        i++;
        break;
      case '{': case '[':
        if (depth == ECHO_SHARE_REQUEST_MAX_DEPTH)
          return json_fail (error, i, "nested deeper than 64 levels");
        stack[depth++] = c;
        i++;
        break;
      case '}': case ']':
        if (depth == 0 || stack[depth - 1] != (c == '}' ? '{' : '['))
          return json_fail (error, i, "unbalanced brackets");
        depth--;
        i++;
        break;
      case '"':
        if (!scan_string (body, len, &i, error))
          return FALSE;
        break;
      default:
        if (c == '-' || g_ascii_isdigit (c)) {
          if (!scan_number (body, len, &i, error))
            return FALSE;
        } else if (g_ascii_isalpha (c)) {
          gsize start = i;

          while (i < len && g_ascii_isalpha (body[i]))
            i++;
          if (!((i - start == 4 && strncmp (body + start, "true", 4) == 0) ||
                  (i - start == 5 && strncmp (body + start, "false", 5) == 0) ||
                  (i - start == 4 && strncmp (body + start, "null", 4) == 0)))
            return json_fail (error, start, "unexpected word");
        } else {
          return json_fail (error, i, "unexpected character");
        }
        break;
    }
  }
  if (depth != 0)
    return json_fail (error, len, "unbalanced brackets");
  return TRUE;
}

/* Gate + json-glib; returns the root object (a new reference) or NULL with an error. */
static JsonObject *
parse_object (const char *body, gsize len, GError **error)
{
  g_autoptr (JsonParser) parser = NULL;
  g_autoptr (GError) local_error = NULL;
  guint members;
  JsonNode *root;
  JsonObject *object;

  if (body == NULL)
    len = 0;
  if (len > G_MAXSSIZE) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE,
        "Body is too large");
    return NULL;
  }
  if (len == 0) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON,
        "Body is empty; a JSON object is required");
    return NULL;
  }
  if (!check_json_text (body, len, &members, error))
    return NULL;

  parser = json_parser_new ();  /* the immutable one hashes every string it seals */
  if (!json_parser_load_from_data (parser, body, (gssize) len, &local_error)) {
    /* json-glib quotes the input it choked on, possibly cut inside a character. */
    g_autofree char *reason = g_utf8_make_valid (local_error->message, -1);

    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON,
        "Body is not valid JSON: %s", reason);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON,
        "Body must be a JSON object");
    return NULL;
  }
  object = json_node_get_object (root);
  if (json_object_get_size (object) != members) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_JSON,
        "Body names the same member more than once");
    return NULL;
  }
  return json_object_ref (object);
}

/* ---- typed field access ---- */

static gboolean
field_fail (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
field_fail (GError **error, const char *format, ...)
{
  va_list args;
  g_autofree char *message = NULL;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_FIELD, message);
  return FALSE;
}

static gboolean
node_is_integer (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_INT64;
}

static gboolean
node_is_number (JsonNode *node)
{
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  return type == G_TYPE_INT64 || type == G_TYPE_DOUBLE;
}

static gboolean
node_is_string (JsonNode *node)
{
  return node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING;
}

/* A required integer member within [min, max]. */
static gboolean
get_integer (JsonObject *object, const char *name, gint64 min, gint64 max, gint64 *out,
    GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return field_fail (error, "%s is required", name);
  if (!node_is_integer (node) || json_node_get_int (node) < min || json_node_get_int (node) > max) {
    if (max == G_MAXINT64 && min == G_MININT64)
      return field_fail (error, "%s must be an integer", name);
    if (max == G_MAXINT64)
      return field_fail (error, "%s must be an integer >= %" G_GINT64_FORMAT, name, min);
    return field_fail (error, "%s must be an integer between %" G_GINT64_FORMAT " and %"
        G_GINT64_FORMAT, name, min, max);
  }
  *out = json_node_get_int (node);
  return TRUE;
}

/* ---- start ---- */

char *
echo_share_request_parse_start (const char *body, gsize len, GError **error)
{
  g_autoptr (JsonObject) object = parse_object (body, len, error);
  JsonNode *node;
  const char *id;

  if (object == NULL)
    return NULL;
  node = json_object_get_member (object, "sessionId");
  if (node == NULL) {
    field_fail (error, "sessionId is required");
    return NULL;
  }
  if (!node_is_string (node)) {
    field_fail (error, "sessionId must be a string of 6 digits");
    return NULL;
  }
  id = json_node_get_string (node);
  if (!echo_share_request_check_session_id (id, error))
    return NULL;
  return g_strdup (id);
}

/* ---- audio ---- */

gsize
echo_share_request_max_audio_body (gsize max_chunk_bytes)
{
  return (max_chunk_bytes + 2) / 3 * 4 + AUDIO_BODY_SLACK;
}

/* Each byte's 6-bit value in the standard alphabet plus one; 0 outside it. A table
 * rather than comparisons: this check runs over every byte of every audio chunk. */
static const guint8 *
base64_table (void)
{
  static guint8 table[256];
  static gsize ready = 0;

  if (g_once_init_enter (&ready)) {
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

    for (guint i = 0; i < 64; i++)
      table[(guchar) alphabet[i]] = (guint8) (i + 1);
    g_once_init_leave (&ready, 1);
  }
  return table;
}

static int
base64_value (char c)
{
  return (int) base64_table ()[(guchar) c] - 1;
}

/* Strict RFC 4648 base64 (see the header). Returns the decoded length through @decoded_len. */
static gboolean
check_base64 (const char *text, gsize len, gsize *decoded_len, GError **error)
{
  gsize padding = 0;

  if (len % 4 != 0)
    return field_fail (error, "data must be base64 (its length %" G_GSIZE_FORMAT
        " is not a multiple of 4)", len);
  if (len >= 1 && text[len - 1] == '=')
    padding++;
  if (len >= 2 && text[len - 2] == '=')
    padding++;
  {
    const guint8 *table = base64_table ();

    for (gsize i = 0; i < len - padding; i++) {
      if (table[(guchar) text[i]] == 0)
        return field_fail (error, "data must be base64 (bad character at offset %"
            G_GSIZE_FORMAT ")", i);
    }
  }
  /* Canonical encoders leave the bits below the last character's payload zero. */
  if (padding == 1 && (base64_value (text[len - 2]) & 0x03) != 0)
    return field_fail (error, "data must be base64 (non-zero padding bits)");
  if (padding == 2 && (base64_value (text[len - 3]) & 0x0f) != 0)
    return field_fail (error, "data must be base64 (non-zero padding bits)");
  *decoded_len = len / 4 * 3 - padding;
  return TRUE;
}

/* Decodes base64 that check_base64() accepted (so every character is in the table and
 * the padding is right) into @decoded_len bytes. */
static guchar *
base64_decode_checked (const char *text, gsize decoded_len)
{
  const guint8 *table = base64_table ();
  guchar *out = g_malloc (MAX (decoded_len, 1));
  gsize o = 0;

  for (gsize i = 0; o < decoded_len; i += 4) {
    guint32 group = (guint32) (table[(guchar) text[i]] - 1) << 18 |
        (guint32) (table[(guchar) text[i + 1]] - 1) << 12;

    out[o++] = (guchar) (group >> 16);
    if (o < decoded_len) {
      group |= (guint32) (table[(guchar) text[i + 2]] - 1) << 6;
      out[o++] = (guchar) (group >> 8);
    }
    if (o < decoded_len) {
      group |= (guint32) (table[(guchar) text[i + 3]] - 1);
      out[o++] = (guchar) group;
    }
  }
  return out;
}

void
echo_share_audio_request_free (EchoShareAudioRequest *request)
{
  if (request == NULL)
    return;
  g_clear_pointer (&request->samples, g_bytes_unref);
  g_free (request->data_base64);
  g_free (request);
}

EchoShareAudioRequest *
echo_share_request_parse_audio (const char *body, gsize len, gsize max_chunk_bytes,
    GError **error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (EchoShareAudioRequest) request = NULL;
  JsonNode *data_node;
  const char *data;
  gsize data_len, decoded_len = 0, out_len = 0;
  gint64 sample_rate, channels, timestamp, sequence;
  guchar *decoded;

  if (len > echo_share_request_max_audio_body (max_chunk_bytes)) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE,
        "Audio body is %" G_GSIZE_FORMAT " bytes; chunks are limited to %" G_GSIZE_FORMAT
        " bytes of audio", len, max_chunk_bytes);
    return NULL;
  }
  object = parse_object (body, len, error);
  if (object == NULL)
    return NULL;

  data_node = json_object_get_member (object, "data");
  if (data_node == NULL) {
    field_fail (error, "data is required");
    return NULL;
  }
  if (!node_is_string (data_node)) {
    field_fail (error, "data must be a base64 string");
    return NULL;
  }
  if (!get_integer (object, "sampleRate", ECHO_SHARE_MIN_SAMPLE_RATE,
          ECHO_SHARE_MAX_SAMPLE_RATE, &sample_rate, error) ||
      !get_integer (object, "channels", 1, ECHO_SHARE_MAX_CHANNELS, &channels, error) ||
      !get_integer (object, "timestamp", G_MININT64, G_MAXINT64, &timestamp, error) ||
      !get_integer (object, "sequenceNumber", 0, G_MAXINT64, &sequence, error))
    return NULL;

  data = json_node_get_string (data_node);
  data_len = strlen (data);
  if (!check_base64 (data, data_len, &decoded_len, error))
    return NULL;
  if (decoded_len == 0) {
    field_fail (error, "data must not be empty");
    return NULL;
  }
  if (decoded_len > max_chunk_bytes) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE,
        "Audio chunk is %" G_GSIZE_FORMAT " bytes; the limit is %" G_GSIZE_FORMAT " bytes",
        decoded_len, max_chunk_bytes);
    return NULL;
  }
  if (decoded_len % (4 * (gsize) channels) != 0) {
    field_fail (error, "data must hold whole frames: %" G_GSIZE_FORMAT " bytes is not a "
        "multiple of %" G_GINT64_FORMAT " (4-byte float x %" G_GINT64_FORMAT " channels)",
        decoded_len, 4 * channels, channels);
    return NULL;
  }

  request = g_new0 (EchoShareAudioRequest, 1);
  request->data_base64 = g_strdup (data);
  decoded = base64_decode_checked (data, decoded_len);
  out_len = decoded_len;
#if G_BYTE_ORDER == G_BIG_ENDIAN
  for (gsize i = 0; i + 3 < out_len; i += 4) {
    guint32 v;

    memcpy (&v, decoded + i, 4);
    v = GUINT32_FROM_LE (v);
    memcpy (decoded + i, &v, 4);
  }
#endif
  request->samples = g_bytes_new_take (decoded, out_len);
  request->sample_rate = (guint) sample_rate;
  request->channels = (guint) channels;
  request->n_frames = (guint) (decoded_len / (4 * (gsize) channels));
  request->timestamp = timestamp;
  request->sequence_number = sequence;
  return g_steal_pointer (&request);
}

/* ---- metadata ---- */

void
echo_share_metadata_request_free (EchoShareMetadataRequest *request)
{
  if (request == NULL)
    return;
  g_free (request->json);
  g_free (request->title);
  g_free (request->artist);
  g_free (request);
}

static gboolean
check_optional_string (JsonObject *object, const char *name, char **out, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_is_string (node))
    return field_fail (error, "%s must be a string or null", name);
  if (out != NULL)
    *out = g_strdup (json_node_get_string (node));
  return TRUE;
}

static gboolean
check_optional_seconds (JsonObject *object, const char *name, GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL)
    return TRUE;
  if (!node_is_number (node) || json_node_get_double (node) < 0)
    return field_fail (error, "%s must be a number >= 0", name);
  return TRUE;
}

EchoShareMetadataRequest *
echo_share_request_parse_metadata (const char *body, gsize len, gsize max_metadata_bytes,
    GError **error)
{
  g_autoptr (JsonObject) object = NULL;
  g_autoptr (EchoShareMetadataRequest) request = NULL;
  JsonNode *node;
  gsize start = 0, end = len;

  if (len > max_metadata_bytes) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_PAYLOAD_TOO_LARGE,
        "Metadata is %" G_GSIZE_FORMAT " bytes; the limit is %" G_GSIZE_FORMAT " bytes",
        len, max_metadata_bytes);
    return NULL;
  }
  object = parse_object (body, len, error);
  if (object == NULL)
    return NULL;

  request = g_new0 (EchoShareMetadataRequest, 1);
  if (!check_optional_string (object, "title", &request->title, error) ||
      !check_optional_string (object, "artist", &request->artist, error) ||
      !check_optional_string (object, "lyrics", NULL, error) ||
      !check_optional_string (object, "thumbnailData", NULL, error) ||
      !check_optional_seconds (object, "elapsedSeconds", error) ||
      !check_optional_seconds (object, "totalSeconds", error))
    return NULL;
  node = json_object_get_member (object, "hasSyncedLyrics");
  if (node != NULL && !(JSON_NODE_HOLDS_VALUE (node) &&
          json_node_get_value_type (node) == G_TYPE_BOOLEAN)) {
    field_fail (error, "hasSyncedLyrics must be true or false");
    return NULL;
  }
  node = json_object_get_member (object, "timestamp");
  if (node != NULL && !node_is_integer (node)) {
    field_fail (error, "timestamp must be an integer");
    return NULL;
  }

  /* The gate passed, so the text is one JSON object with only whitespace around it. */
  while (start < end && g_ascii_isspace (body[start]))
    start++;
  while (end > start && g_ascii_isspace (body[end - 1]))
    end--;
  request->json = g_strndup (body + start, end - start);
  request->json_len = end - start;
  return g_steal_pointer (&request);
}

/* ---- audio query ---- */

gboolean
echo_share_request_parse_audio_query (GHashTable *query, EchoShareAudioQuery *out,
    GError **error)
{
  const char *since = query != NULL ? g_hash_table_lookup (query, "since") : NULL;
  const char *limit = query != NULL ? g_hash_table_lookup (query, "limit") : NULL;
  const char *format = query != NULL ? g_hash_table_lookup (query, "format") : NULL;
  gint64 since_value = -1;
  guint64 limit_value = ECHO_SHARE_MAX_CHUNKS_PER_REPLY;

  g_return_val_if_fail (out != NULL, FALSE);

  if (since != NULL &&
      !g_ascii_string_to_signed (since, 10, -1, G_MAXINT64, &since_value, NULL)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_PARAMETER,
        "since must be an integer >= -1");
    return FALSE;
  }
  if (limit != NULL &&
      !g_ascii_string_to_unsigned (limit, 10, 1, ECHO_SHARE_MAX_CHUNKS_PER_REPLY,
          &limit_value, NULL)) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_PARAMETER,
        "limit must be an integer between 1 and %d", ECHO_SHARE_MAX_CHUNKS_PER_REPLY);
    return FALSE;
  }
  if (format == NULL || strcmp (format, "float") == 0) {
    out->format = ECHO_SHARE_AUDIO_FORMAT_FLOAT;
  } else if (strcmp (format, "opus") == 0) {
    out->format = ECHO_SHARE_AUDIO_FORMAT_OPUS;
  } else {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_INVALID_PARAMETER,
        "format must be \"float\" or \"opus\"");
    return FALSE;
  }
  out->since = since_value;
  out->limit = (guint) limit_value;
  return TRUE;
}
