/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-icecast.c: icymetademux against a real Icecast server and real source clients.
 *
 * Each case starts a private Icecast (tests/lib/icecast.c), streams MP3 to it from a real
 * source client (ffmpeg, or gst-launch-1.0 with shout2send), and listens in-process with
 *
 *   souphttpsrc iradio-mode=true ! icymetademux ! decodebin ! fakesink
 *
 * while the title is changed through Icecast's admin API, as a station's playout software
 * does, one title at a time, each once the previous one has arrived. The titles cover the
 * encodings that reach listeners in practice: ASCII with apostrophes, UTF-8 declared with
 * charset=UTF-8, UTF-8 sent without a charset, and Latin-1 bytes sent without a charset.
 * Icecast converts declared titles to the mount's charset (ISO-8859-1 unless configured)
 * and passes undeclared ones through as they came, so one stream mixes Latin-1 and UTF-8
 * blocks; each source client runs against a mount with the default charset and one
 * declared UTF-8. On an ISO-8859-1 mount, characters outside Latin-1 arrive as XML
 * character references ("&#23431;"), which icymetademux decodes.
 *
 * It proves that every title arrives, in order and decoded to the intended UTF-8:
 *  - in the icy-metadata messages (raw, keys, values, stream-title, artist, title),
 *  - in the tags reaching the sink (title, artist),
 *  - in the current-title property at the end;
 * and that each message's offset and raw-offset are where an independent walk over the
 * bytes souphttpsrc delivered finds the block. The in-band bytes of every block are printed.
 *
 * Skipped only when icecast2 or ffmpeg is not installed.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>
#include <locale.h>
#include <string.h>

#include "icecast.h"

#define MOUNT "/live.mp3"
/* generous: a metadata interval is about 1 s of audio at 128 kbit/s */
#define TIMEOUT_S 20

typedef struct
{
  const gchar *path;
  const gchar *client;          /* "ffmpeg" or "shout2send" */
  const gchar *mount_charset;   /* NULL: Icecast's default, ISO-8859-1 */
} Case;

static const Case cases[] = {
  {"/icecast/ffmpeg/latin1-mount", "ffmpeg", NULL},
  {"/icecast/ffmpeg/utf8-mount", "ffmpeg", "UTF-8"},
  {"/icecast/shout2send/latin1-mount", "shout2send", NULL},
  {"/icecast/shout2send/utf8-mount", "shout2send", "UTF-8"},
};

typedef struct
{
  const gchar *send;            /* the song= bytes */
  const gchar *charset;         /* the charset= parameter, NULL for none */
  const gchar *expect;          /* the StreamTitle a listener must see, UTF-8 */
  const gchar *artist;          /* NULL: nothing to split at " - " */
  const gchar *title;
} Song;

static const Song songs[] = {
  {"Guns N' Roses - Sweet Child O' Mine", NULL,
      "Guns N' Roses - Sweet Child O' Mine", "Guns N' Roses",
      "Sweet Child O' Mine"},
  {"Sigur Rós - Hoppípolla", "UTF-8",
      "Sigur Rós - Hoppípolla", "Sigur Rós", "Hoppípolla"},
  /* Latin-1: \xe9 is é */
  {"Caf\xe9 Tacvba - Eres", NULL,
      "Café Tacvba - Eres", "Café Tacvba", "Eres"},
  {"Don't Stop", NULL, "Don't Stop", NULL, "Don't Stop"},
  /* a default (ISO-8859-1) mount sends it as &#23431;... character references */
  {"宇多田ヒカル - First Love", "UTF-8",
      "宇多田ヒカル - First Love", "宇多田ヒカル", "First Love"},
  {"Björk - Jóga", "UTF-8", "Björk - Jóga", "Björk", "Jóga"},
  {"Mötley Crüe - Kickstart My Heart", NULL,
      "Mötley Crüe - Kickstart My Heart", "Mötley Crüe",
      "Kickstart My Heart"},
};

typedef struct
{
  EchoIcecast *ic;
  GstElement *pipeline;
  GstElement *demux;
  GstElement *sink;
  GstBus *bus;
  GPtrArray *messages;          /* GstStructure: every icy-metadata message */
  GPtrArray *tag_titles;        /* gchar: titles in the sink's tags, no repeats */
  GPtrArray *tag_artists;       /* gchar: their artists, NULL for none */
  guint meta_next, tag_next;    /* where the next title must show up */
  GMutex lock;
  GByteArray *raw;              /* every byte icymetademux received */
} Listener;

/* ---- failing with the servers' logs ---------------------------------------------------- */

static void G_GNUC_PRINTF (5, 6) G_GNUC_NORETURN
fail_at (EchoIcecast * ic, const gchar * file, gint line, const gchar * func,
    const gchar * format, ...)
{
  g_autofree gchar *logs = echo_icecast_get_logs (ic);
  g_autofree gchar *msg = NULL;
  va_list args;

  va_start (args, format);
  msg = g_strdup_vprintf (format, args);
  va_end (args);
  g_printerr ("%s", logs);
  g_assertion_message (G_LOG_DOMAIN, file, line, func, msg);
  g_abort ();
}

#define fail(ic, ...) fail_at (ic, __FILE__, __LINE__, G_STRFUNC, __VA_ARGS__)
#define check_no_error(ic, ok, error) \
  G_STMT_START { if (!(ok)) fail (ic, "%s", (error)->message); } G_STMT_END

/* Printable ASCII as is, anything else as \xNN: exactly the bytes. */
static gchar *
escape_bytes (const guint8 * data, gsize len)
{
  GString *out = g_string_new (NULL);

  for (gsize i = 0; i < len; i++) {
    if (data[i] >= 0x20 && data[i] < 0x7f && data[i] != '\\')
      g_string_append_c (out, data[i]);
    else
      g_string_append_printf (out, "\\x%02x", data[i]);
  }
  return g_string_free (out, FALSE);
}

/* ---- the listener ------------------------------------------------------------------ */

static GstPadProbeReturn
tap_raw (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Listener *l = user_data;
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  GstMapInfo map;

  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_mutex_lock (&l->lock);
    g_byte_array_append (l->raw, map.data, map.size);
    g_mutex_unlock (&l->lock);
    gst_buffer_unmap (buf, &map);
  }
  return GST_PAD_PROBE_OK;
}

static void
listener_start (Listener * l, EchoIcecast * ic)
{
  g_autofree gchar *url = echo_icecast_get_url (ic, MOUNT);
  g_autofree gchar *desc = g_strdup_printf ("souphttpsrc location=%s "
      "iradio-mode=true ! icymetademux name=demux ! decodebin "
      "! fakesink name=sink sync=false", url);
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPad) demux_sink = NULL;

  memset (l, 0, sizeof (*l));
  l->ic = ic;
  l->pipeline = gst_parse_launch (desc, &error);
  g_assert_no_error (error);
  l->demux = gst_bin_get_by_name (GST_BIN (l->pipeline), "demux");
  l->sink = gst_bin_get_by_name (GST_BIN (l->pipeline), "sink");
  l->bus = gst_element_get_bus (l->pipeline);
  l->messages = g_ptr_array_new_with_free_func ((GDestroyNotify)
      gst_structure_free);
  l->tag_titles = g_ptr_array_new_with_free_func (g_free);
  l->tag_artists = g_ptr_array_new_with_free_func (g_free);
  g_mutex_init (&l->lock);
  l->raw = g_byte_array_new ();

  demux_sink = gst_element_get_static_pad (l->demux, "sink");
  gst_pad_add_probe (demux_sink, GST_PAD_PROBE_TYPE_BUFFER, tap_raw, l, NULL);

  g_test_message ("listening to %s", url);
  if (gst_element_set_state (l->pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE)
    fail (ic, "the listener pipeline does not start");
}

static void
listener_free (Listener * l)
{
  gst_element_set_state (l->pipeline, GST_STATE_NULL);
  gst_object_unref (l->bus);
  gst_object_unref (l->sink);
  gst_object_unref (l->demux);
  gst_object_unref (l->pipeline);
  g_ptr_array_unref (l->messages);
  g_ptr_array_unref (l->tag_titles);
  g_ptr_array_unref (l->tag_artists);
  g_byte_array_unref (l->raw);
  g_mutex_clear (&l->lock);
}

static void
handle_message (Listener * l, GstMessage * msg)
{
  g_autoptr (GError) error = NULL;
  g_autofree gchar *debug = NULL;
  const GstStructure *s = gst_message_get_structure (msg);

  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
      gst_message_parse_error (msg, &error, &debug);
      fail (l->ic, "error from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          error->message, debug);
    case GST_MESSAGE_WARNING:
      gst_message_parse_warning (msg, &error, &debug);
      fail (l->ic, "warning from %s: %s (%s)", GST_MESSAGE_SRC_NAME (msg),
          error->message, debug);
    case GST_MESSAGE_EOS:
      fail (l->ic, "the stream ended");
    case GST_MESSAGE_ELEMENT:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (l->demux)
          && gst_structure_has_name (s, "icy-metadata")) {
        guint64 offset = 0;

        gst_structure_get_uint64 (s, "offset", &offset);
        g_test_message ("icy-metadata at audio byte %" G_GUINT64_FORMAT ": %s",
            offset, gst_structure_get_string (s, "raw"));
        g_ptr_array_add (l->messages, gst_structure_copy (s));
      }
      break;
    case GST_MESSAGE_TAG:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (l->sink)) {
        g_autoptr (GstTagList) tags = NULL;
        g_autofree gchar *title = NULL;
        g_autofree gchar *artist = NULL;
        guint n = l->tag_titles->len;

        gst_message_parse_tag (msg, &tags);
        /* the parser and decoder repeat the title with every bitrate update */
        if (!gst_tag_list_get_string (tags, GST_TAG_TITLE, &title)
            || (n > 0 && strcmp (title, l->tag_titles->pdata[n - 1]) == 0))
          break;
        gst_tag_list_get_string (tags, GST_TAG_ARTIST, &artist);
        g_test_message ("tags at the sink: title \"%s\", artist \"%s\"", title,
            artist ? artist : "(none)");
        g_ptr_array_add (l->tag_titles, g_steal_pointer (&title));
        g_ptr_array_add (l->tag_artists, g_steal_pointer (&artist));
      }
      break;
    default:
      break;
  }
}

/* Handles bus messages until @done returns TRUE; fails after TIMEOUT_S. */
static void
pump_until (Listener * l, gboolean (*done) (Listener *, const Song *),
    const Song * song, const gchar * what)
{
  gint64 deadline = g_get_monotonic_time () + TIMEOUT_S * G_USEC_PER_SEC;

  while (!done (l, song)) {
    gint64 left = deadline - g_get_monotonic_time ();
    GstMessage *msg;

    if (left <= 0)
      fail (l->ic, "no %s after %d s", what, TIMEOUT_S);
    msg = gst_bus_timed_pop (l->bus, left * GST_USECOND);
    if (msg != NULL) {
      handle_message (l, msg);
      gst_message_unref (msg);
    }
  }
}

static gboolean
any_metadata (Listener * l, const Song * unused)
{
  return l->messages->len > 0;
}

static void
check_strv_field (const GstStructure * s, const gchar * field,
    const gchar * expected)
{
  const GValue *array = gst_structure_get_value (s, field);

  g_assert_nonnull (array);
  g_assert_true (GST_VALUE_HOLDS_ARRAY (array));
  g_assert_cmpuint (gst_value_array_get_size (array), ==, 1);
  g_assert_cmpstr (g_value_get_string (gst_value_array_get_value (array, 0)),
      ==, expected);
}

static void
check_message (const GstStructure * s, const Song * song)
{
  g_autofree gchar *raw = g_strdup_printf ("StreamTitle='%s';", song->expect);
  const gchar *raw_got = gst_structure_get_string (s, "raw");

  /* raw is the text as sent: where an ISO-8859-1 mount wrote character references
   * ("&#23431;"), only the parsed fields are decoded */
  if (strstr (raw_got, "&#") == NULL)
    g_assert_cmpstr (raw_got, ==, raw);
  check_strv_field (s, "keys", "StreamTitle");
  check_strv_field (s, "values", song->expect);
  g_assert_cmpstr (gst_structure_get_string (s, "stream-title"), ==,
      song->expect);
  g_assert_cmpstr (gst_structure_get_string (s, "artist"), ==, song->artist);
  g_assert_cmpstr (gst_structure_get_string (s, "title"), ==, song->title);
  g_assert_null (gst_structure_get_string (s, "stream-url"));
}

/* TRUE once @song showed up both as a message and at the sink, right after the previous
 * title. Before the first of our titles, the initial metadata (Icecast's empty title,
 * shout2send's "Unknown - Unknown") is let through. */
static gboolean
song_arrived (Listener * l, const Song * song)
{
  gboolean first = song == &songs[0];

  for (; l->meta_next < l->messages->len; l->meta_next++) {
    const GstStructure *s = l->messages->pdata[l->meta_next];
    const gchar *title = gst_structure_get_string (s, "stream-title");

    if (g_strcmp0 (title, song->expect) == 0)
      break;
    if (!first)
      fail (l->ic, "icy-metadata \"%s\" while waiting for \"%s\"", title,
          song->expect);
  }
  for (; l->tag_next < l->tag_titles->len; l->tag_next++) {
    const gchar *title = l->tag_titles->pdata[l->tag_next];

    if (strcmp (title, song->title) == 0)
      break;
    if (!first)
      fail (l->ic, "title tag \"%s\" while waiting for \"%s\"", title,
          song->title);
  }
  if (l->meta_next == l->messages->len || l->tag_next == l->tag_titles->len)
    return FALSE;

  check_message (l->messages->pdata[l->meta_next], song);
  g_assert_cmpstr (l->tag_artists->pdata[l->tag_next], ==, song->artist);
  l->meta_next++;
  l->tag_next++;
  return TRUE;
}

/* Walks the bytes souphttpsrc delivered, block by block, prints every metadata block, and
 * checks that each icy-metadata message is where its block is. */
static void
check_offsets (Listener * l, guint metaint)
{
  const guint8 *data = l->raw->data;
  gsize len = l->raw->len, pos = 0;
  const guint8 *prev = NULL;
  gsize prev_len = 0;
  guint n = 0;

  for (guint64 boundary = 1;; boundary++) {
    gsize block_len;

    pos += metaint;
    if (pos >= len)
      break;
    block_len = data[pos] * 16;
    if (pos + 1 + block_len > len)
      break;
    /* a block with the previous text again is no new metadata */
    if (block_len > 0 && !(prev_len == block_len
            && memcmp (prev, data + pos + 1, block_len) == 0)) {
      gsize text_len = strnlen ((const gchar *) data + pos + 1, block_len);
      g_autofree gchar *text = escape_bytes (data + pos + 1, text_len);

      g_test_message ("in-band block at byte %" G_GSIZE_FORMAT ": %s", pos,
          text);
      if (n < l->messages->len) {
        const GstStructure *s = l->messages->pdata[n];
        guint64 offset = 0, raw_offset = 0;

        gst_structure_get_uint64 (s, "offset", &offset);
        gst_structure_get_uint64 (s, "raw-offset", &raw_offset);
        g_assert_cmpuint (raw_offset, ==, pos);
        g_assert_cmpuint (offset, ==, boundary * metaint);
      }
      n++;
      prev = data + pos + 1;
      prev_len = block_len;
    }
    pos += 1 + block_len;
  }
  /* every message had its block */
  g_assert_cmpuint (n, >=, l->messages->len);
}

/* ---- the test ---------------------------------------------------------------------- */

static void
start_source (EchoIcecast * ic, const gchar * client)
{
  g_autofree gchar *target = g_strdup_printf ("icecast://source:%s@127.0.0.1:%u"
      MOUNT, echo_icecast_get_source_password (ic),
      echo_icecast_get_port (ic));
  g_autofree gchar *port = g_strdup_printf ("port=%u",
      echo_icecast_get_port (ic));
  g_autofree gchar *password = g_strdup_printf ("password=%s",
      echo_icecast_get_source_password (ic));
  const gchar *ffmpeg[] = { "ffmpeg", "-nostdin", "-hide_banner",
    "-loglevel", "warning", "-re", "-f", "lavfi", "-i", "sine=frequency=440",
    "-c:a", "libmp3lame", "-b:a", "128k", "-content_type", "audio/mpeg",
    "-f", "mp3", target, NULL
  };
  /* lamemp3enc's default VBR makes a sine tone about 36 kbit/s: a title every 4 s */
  const gchar *shout2send[] = { "gst-launch-1.0", "-q",
    "audiotestsrc", "is-live=true", "!", "audioconvert", "!",
    "lamemp3enc", "target=bitrate", "bitrate=128", "cbr=true", "!",
    "shout2send", "ip=127.0.0.1", port, password, "mount=" MOUNT, NULL
  };
  g_autoptr (GError) error = NULL;
  gboolean ok;

  ok = echo_icecast_spawn_source (ic, client, strcmp (client, "ffmpeg") == 0
      ? ffmpeg : shout2send, &error);
  check_no_error (ic, ok, error);
  ok = echo_icecast_wait_mount (ic, MOUNT, TIMEOUT_S * 1000, &error);
  check_no_error (ic, ok, error);
}

static void
test_titles (gconstpointer data)
{
  const Case *c = data;
  g_autofree gchar *icecast = echo_icecast_find_binary ();
  g_autofree gchar *ffmpeg = g_find_program_in_path ("ffmpeg");
  g_autoptr (EchoIcecast) ic = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (GstPad) demux_sink = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autofree gchar *current = NULL;
  const gchar *last = NULL;
  Listener l;
  gint metaint = 0;
  gboolean ok;

  if (icecast == NULL || ffmpeg == NULL) {
    g_test_skip (icecast ? "ffmpeg is not installed" :
        "icecast2 is not installed");
    return;
  }

  ic = echo_icecast_new ();
  if (c->mount_charset != NULL)
    echo_icecast_set_mount_charset (ic, MOUNT, c->mount_charset);
  ok = echo_icecast_start (ic, &error);
  check_no_error (ic, ok, error);
  g_test_message ("Icecast on port %u, mount charset %s, source %s",
      echo_icecast_get_port (ic), c->mount_charset ? c->mount_charset :
      "default", c->client);
  start_source (ic, c->client);

  listener_start (&l, ic);
  /* the first block tells that audio flows through the element */
  pump_until (&l, any_metadata, NULL, "icy-metadata");

  for (guint i = 0; i < G_N_ELEMENTS (songs); i++) {
    const Song *song = &songs[i];

    g_test_message ("setting \"%s\"%s%s", song->expect,
        song->charset ? " with charset=" : " without charset",
        song->charset ? song->charset : "");
    ok = echo_icecast_set_song (ic, MOUNT, song->send, song->charset, &error);
    check_no_error (ic, ok, error);
    pump_until (&l, song_arrived, song, song->expect);
    last = song->expect;
  }

  g_object_get (l.demux, "current-title", &current, NULL);
  g_assert_cmpstr (current, ==, last);

  demux_sink = gst_element_get_static_pad (l.demux, "sink");
  caps = gst_pad_get_current_caps (demux_sink);
  g_assert_nonnull (caps);
  g_assert_true (gst_structure_get_int (gst_caps_get_structure (caps, 0),
          "metadata-interval", &metaint));
  gst_element_set_state (l.pipeline, GST_STATE_NULL);
  check_offsets (&l, metaint);

  listener_free (&l);
}

int
main (int argc, char **argv)
{
  /* no proxy: see GIO_USE_PROXY_RESOLVER in tests/meson.build */
  setlocale (LC_ALL, "");       /* titles print as text, not '?' */
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add_data_func (cases[i].path, &cases[i], test_titles);
  return g_test_run ();
}
