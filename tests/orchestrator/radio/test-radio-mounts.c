/* test-radio-mounts.c: EchoRadioMounts without HTTP: credentials, the observer calls and
 * their order, statistics, and a listener on a socket pair receiving the exact ICY layout
 * (burst from a frame start, a metadata block every metaint audio bytes, the title at the
 * byte it was set for, "unchanged" blocks otherwise).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>
#include <sys/socket.h>

#include "echo-radio-icy.h"
#include "echo-radio-mounts.h"

typedef struct {
  GString *calls;
  guint64 data_bytes;
} Seen;

static void
seen_started (const char *mount, const char *content_type, const GstTagList *station,
    gpointer data)
{
  Seen *seen = data;
  const char *name = NULL;

  gst_tag_list_peek_string_index (station, GST_TAG_ORGANIZATION, 0, &name);
  g_string_append_printf (seen->calls, "started %s %s %s;", mount, content_type, name);
}

static void
seen_data (const char *mount, GBytes *bytes, gpointer data)
{
  ((Seen *) data)->data_bytes += g_bytes_get_size (bytes);
}

static void
seen_metadata (const char *mount, const GstTagList *tags, gpointer data)
{
  const char *title = NULL;

  gst_tag_list_peek_string_index (tags, GST_TAG_TITLE, 0, &title);
  g_string_append_printf (((Seen *) data)->calls, "metadata %s %s;", mount, title);
}

static void
seen_ended (const char *mount, gpointer data)
{
  g_string_append_printf (((Seen *) data)->calls, "ended %s;", mount);
}

static EchoConfig *
radio_config (void)
{
  EchoConfig *config = echo_config_new_defaults ();

  g_free (config->radio_source_password);
  config->radio_source_password = g_strdup ("pw");
  g_free (config->radio_mount_passwords);
  config->radio_mount_passwords = g_strdup ("/own:ownpw");
  g_free (config->radio_admin_password);
  config->radio_admin_password = g_strdup ("adm");
  config->radio_icy_metaint = 1000;
  config->radio_burst_bytes = 2000;
  return config;
}

/* n MP3 frames (MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes), byte i of the stream
 * being (offset + i) % 251 outside the headers so positions can be checked */
static GBytes *
mp3_frames (guint n)
{
  GByteArray *out = g_byte_array_new ();
  guint i, k;

  for (i = 0; i < n; i++) {
    guint8 frame[417];

    for (k = 0; k < sizeof frame; k++)
      frame[k] = (guint8) ((i * sizeof frame + k) % 251);
    memcpy (frame, "\xff\xfb\x90\x64", 4);
    g_byte_array_append (out, frame, sizeof frame);
  }
  return g_byte_array_free_to_bytes (out);
}

static void
test_credentials (void)
{
  g_autoptr (EchoConfig) config = radio_config ();
  g_autoptr (EchoRadioMounts) mounts = echo_radio_mounts_new (config);

  g_assert_true (echo_radio_mounts_check_source (mounts, "/live", "source", "pw"));
  g_assert_false (echo_radio_mounts_check_source (mounts, "/live", "admin", "pw"));
  g_assert_false (echo_radio_mounts_check_source (mounts, "/live", "source", "PW"));
  g_assert_false (echo_radio_mounts_check_source (mounts, "/own", "source", "pw"));
  g_assert_true (echo_radio_mounts_check_source (mounts, "/own", "source", "ownpw"));
  g_assert_true (echo_radio_mounts_check_admin (mounts, "/live", "admin", "adm"));
  g_assert_true (echo_radio_mounts_check_admin (mounts, "/own", "source", "ownpw"));
  g_assert_false (echo_radio_mounts_check_admin (mounts, "/live", "source", "ownpw"));
  g_assert_false (echo_radio_mounts_check_admin (mounts, NULL, "admin", ""));
}

static void
test_observers_and_stats (void)
{
  g_autoptr (EchoConfig) config = radio_config ();
  g_autoptr (EchoRadioMounts) mounts = echo_radio_mounts_new (config);
  g_autoptr (GstTagList) station = gst_tag_list_new (GST_TAG_ORGANIZATION, "FM", NULL);
  g_autoptr (GstTagList) title = gst_tag_list_new (GST_TAG_TITLE, "Tune", NULL);
  g_autoptr (GBytes) frames = mp3_frames (20);
  g_autoptr (GError) error = NULL;
  EchoRadioMountObserver observer = { seen_started, seen_data, seen_metadata, seen_ended };
  Seen seen = { g_string_new (NULL), 0 };
  EchoRadioStats stats;
  guint id;

  id = echo_radio_mounts_add_observer (mounts, &observer, &seen, NULL);
  g_assert_true (echo_radio_mounts_source_start (mounts, "/live", "audio/mpeg", station, &error));
  g_assert_no_error (error);
  g_assert_false (echo_radio_mounts_source_start (mounts, "/live", "audio/mpeg", NULL, &error));
  g_assert_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_MOUNT_IN_USE);
  g_clear_error (&error);
  g_assert_false (echo_radio_mounts_source_start (mounts, "/x", "text/plain", NULL, &error));
  g_assert_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_UNSUPPORTED_TYPE);
  g_clear_error (&error);
  g_assert_false (echo_radio_mounts_feed_metadata (mounts, "/none", title, &error));
  g_assert_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_NO_SOURCE);
  g_clear_error (&error);

  echo_radio_mounts_feed (mounts, "/live", frames);     /* 8340 bytes: published at once */
  g_assert_true (echo_radio_mounts_feed_metadata (mounts, "/live", title, NULL));
  echo_radio_mounts_source_end (mounts, "/live");
  g_assert_cmpstr (seen.calls->str, ==,
      "started /live audio/mpeg FM;metadata /live Tune;ended /live;");
  g_assert_cmpuint (seen.data_bytes, ==, g_bytes_get_size (frames));

  echo_radio_mounts_get_stats (mounts, &stats);
  g_assert_cmpuint (stats.sources, ==, 0);
  g_assert_cmpuint (stats.bytes_in, ==, g_bytes_get_size (frames));
  g_assert_cmpuint (stats.metadata_updates, ==, 1);
  g_assert_false (echo_radio_mounts_has_source (mounts, "/live"));

  /* a removed observer hears nothing more */
  echo_radio_mounts_remove_observer (mounts, id);
  g_assert_true (echo_radio_mounts_source_start (mounts, "/live", "audio/mpeg", NULL, NULL));
  echo_radio_mounts_source_end (mounts, "/live");
  g_assert_cmpstr (seen.calls->str, ==,
      "started /live audio/mpeg FM;metadata /live Tune;ended /live;");
  g_string_free (seen.calls, TRUE);
}

/* Reads what the listener's peer got until n bytes are in (or the peer closed). */
static GByteArray *
read_peer (GSocket *peer, gsize n)
{
  GByteArray *got = g_byte_array_new ();
  guint8 buffer[8192];
  gint64 deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;

  while (got->len < n && g_get_monotonic_time () < deadline) {
    gssize len;

    g_main_context_iteration (NULL, FALSE);
    len = g_socket_receive_with_blocking (peer, (char *) buffer, sizeof buffer, FALSE, NULL,
        NULL);
    if (len == 0)
      break;
    if (len > 0)
      g_byte_array_append (got, buffer, (guint) len);
  }
  return got;
}

static void
test_listener_icy_layout (void)
{
  g_autoptr (EchoConfig) config = radio_config ();
  g_autoptr (EchoRadioMounts) mounts = echo_radio_mounts_new (config);
  g_autoptr (GstTagList) title = gst_tag_list_new (GST_TAG_TITLE, "Tune", NULL);
  g_autoptr (GBytes) first = mp3_frames (10);    /* 4170 bytes */
  g_autoptr (GBytes) second = mp3_frames (10);
  g_autoptr (GBytes) head = g_bytes_new_static ("HEAD\r\n\r\n", 8);
  g_autoptr (GSocket) ours = NULL;
  g_autoptr (GSocket) peer = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  g_autoptr (GByteArray) got = NULL;
  g_autoptr (GByteArray) audio = g_byte_array_new ();
  const char *content_type = NULL;
  const GstTagList *station = NULL;
  gboolean icy = FALSE;
  EchoRadioStats stats;
  GString *titles = g_string_new (NULL);
  int fds[2];
  gsize at, audio_start;
  guint64 burst_start;

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  ours = g_socket_new_from_fd (fds[0], NULL);
  peer = g_socket_new_from_fd (fds[1], NULL);
  connection = g_socket_connection_factory_create_connection (ours);

  g_assert_true (echo_radio_mounts_source_start (mounts, "/live", "audio/mpeg", NULL, NULL));
  echo_radio_mounts_feed (mounts, "/live", first);
  g_assert_true (echo_radio_mounts_check_listener (mounts, "/live", &content_type, &station,
          &icy, NULL));
  g_assert_cmpstr (content_type, ==, "audio/mpeg");
  g_assert_true (icy);
  echo_radio_mounts_add_listener (mounts, "/live", G_IO_STREAM (connection), head, TRUE);
  /* the title applies from the second batch on */
  g_assert_true (echo_radio_mounts_feed_metadata (mounts, "/live", title, NULL));
  echo_radio_mounts_feed (mounts, "/live", second);

  /* burst: the last 2000 bytes of 4170 from a frame start = frame 6, offset 2502 */
  burst_start = 6 * 417;
  got = read_peer (peer, 8 + (8340 - burst_start) + 32);
  g_assert_cmpmem (got->data, 8, "HEAD\r\n\r\n", 8);
  /* split the rest: 1000 audio bytes, one block, ... */
  at = 8;
  audio_start = 0;
  while (at < got->len) {
    gsize take = MIN ((gsize) 1000, got->len - at);
    guint units;

    g_byte_array_append (audio, got->data + at, (guint) take);
    at += take;
    if (take < 1000 || at >= got->len)
      break;
    units = got->data[at];
    if (units > 0) {
      const char *text = (const char *) got->data + at + 1;

      /* the text, without its zero padding */
      g_string_append_len (titles, text, (gssize) strnlen (text, units * 16));
      g_string_append_printf (titles, "@%u|", (guint) audio->len);
    }
    at += 1 + units * 16;
  }
  g_assert_cmpuint (audio->len, ==, 8340 - burst_start);
  /* the audio is the stream from the burst start on, byte for byte */
  for (audio_start = 0; audio_start < audio->len; audio_start++) {
    guint64 offset = burst_start + audio_start;
    guint64 in_batch = offset % 4170;
    guint8 want = (guint8) (in_batch % 251);

    if (in_batch % 417 < 4)
      continue;               /* the frame headers */
    if (audio->data[audio_start] != want)
      g_error ("audio byte %" G_GSIZE_FORMAT " is %u, want %u", audio_start,
          audio->data[audio_start], want);
  }
  /* the title comes at the first metadata point after its byte (4170 - 2502 = 1668 audio
   * bytes in: the point at 2000), once; all other blocks were "unchanged" */
  g_assert_true (g_str_has_prefix (titles->str, "StreamTitle='Tune';"));
  g_assert_true (g_str_has_suffix (titles->str, "@2000|"));
  g_assert_cmpuint (strlen (titles->str), ==, strlen ("StreamTitle='Tune';@2000|"));

  echo_radio_mounts_get_stats (mounts, &stats);
  g_assert_cmpuint (stats.listeners, ==, 1);
  g_assert_cmpuint (stats.listeners_served, ==, 1);
  g_assert_cmpuint (stats.bytes_out, ==, got->len);

  /* the source leaves: the listener's connection closes */
  echo_radio_mounts_source_end (mounts, "/live");
  g_byte_array_unref (read_peer (peer, G_MAXSIZE));
  echo_radio_mounts_get_stats (mounts, &stats);
  g_assert_cmpuint (stats.listeners, ==, 0);
  g_string_free (titles, TRUE);
}

/* Splits what a listener got after its head into audio and the non-empty metadata blocks,
 * each noted as "TEXT@AUDIO_BYTES_BEFORE_IT|". FALSE when a block is malformed. */
static gboolean
split_icy (GByteArray *got, gsize at, guint metaint, GByteArray *audio, GString *titles)
{
  while (at < got->len) {
    gsize take = MIN ((gsize) metaint, got->len - at);
    guint units;

    g_byte_array_append (audio, got->data + at, (guint) take);
    at += take;
    if (take < metaint || at >= got->len)
      break;
    units = got->data[at];
    if (at + 1 + units * 16 > got->len)
      return FALSE;
    if (units > 0) {
      const char *text = (const char *) got->data + at + 1;

      g_string_append_len (titles, text, (gssize) strnlen (text, units * 16));
      g_string_append_printf (titles, "@%u|", (guint) audio->len);
    }
    at += 1 + units * 16;
  }
  return TRUE;
}

/* A listener on a socket pair of mount /live (already started). */
static GSocket *
add_listener (EchoRadioMounts *mounts, GBytes *head)
{
  g_autoptr (GSocket) ours = NULL;
  g_autoptr (GSocketConnection) connection = NULL;
  const char *content_type = NULL;
  const GstTagList *station = NULL;
  gboolean icy = FALSE;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM, 0, fds), ==, 0);
  ours = g_socket_new_from_fd (fds[0], NULL);
  connection = g_socket_connection_factory_create_connection (ours);
  g_assert_true (echo_radio_mounts_check_listener (mounts, "/live", &content_type, &station,
          &icy, NULL));
  g_assert_true (icy);
  echo_radio_mounts_add_listener (mounts, "/live", G_IO_STREAM (connection), head, TRUE);
  return g_socket_new_from_fd (fds[1], NULL);
}

/* Without a configured icy-metaint, the interval is derived from the stream's byte rate so
 * that a title lands within ECHO_RADIO_ICY_METAINT_TARGET_MS of audio after its first byte
 * (Icecast's 16000 bytes would be a whole second at 128 kbit/s). */
static void
test_derived_metaint (void)
{
  g_autoptr (EchoConfig) config = radio_config ();
  g_autoptr (EchoRadioMounts) mounts = NULL;
  g_autoptr (GstTagList) title = gst_tag_list_new (GST_TAG_TITLE, "Tune", NULL);
  g_autoptr (GstTagList) announced = gst_tag_list_new (GST_TAG_NOMINAL_BITRATE, 320000, NULL);
  g_autoptr (GBytes) head = g_bytes_new_static ("HEAD\r\n\r\n", 8);
  g_autoptr (GBytes) first = mp3_frames (20);    /* 8340 bytes */
  g_autoptr (GBytes) second = mp3_frames (20);
  g_autoptr (GSocket) peer = NULL;
  g_autoptr (GByteArray) got = NULL;
  g_autoptr (GByteArray) audio = g_byte_array_new ();
  GString *titles = g_string_new (NULL);
  /* 417 bytes per 1152 samples at 44.1 kHz */
  const double byte_rate = 417.0 * 44100 / 1152;
  guint metaint, title_at, landed_at;
  guint64 burst_start;

  config->radio_icy_metaint = 0;
  mounts = echo_radio_mounts_new (config);

  /* before its first bytes, a mount's interval follows the bitrate its source announced */
  g_assert_true (echo_radio_mounts_source_start (mounts, "/hi", "audio/mpeg", announced, NULL));
  g_assert_cmpuint (echo_radio_mounts_get_metaint (mounts, "/hi"), ==, 40000 / 20);
  g_assert_cmpuint (echo_radio_mounts_get_metaint (mounts, "/none"), ==, 0);

  /* measured on its first frames: 50 ms of 128 kbit/s at 44.1 kHz (798 bytes), a multiple
   * of 16 (not the 800 of an assumed 128 kbit/s) */
  g_assert_true (echo_radio_mounts_source_start (mounts, "/live", "audio/mpeg", NULL, NULL));
  echo_radio_mounts_feed (mounts, "/live", first);
  metaint = echo_radio_mounts_get_metaint (mounts, "/live");
  g_test_message ("derived icy-metaint %u = %.1f ms of audio", metaint,
      metaint * 1000 / byte_rate);
  g_assert_cmpuint (metaint, ==, 784);
  g_assert_cmpfloat (metaint * 1000 / byte_rate, <=, ECHO_RADIO_ICY_METAINT_TARGET_MS);
  g_assert_cmpfloat (metaint * 1000 / byte_rate, >, ECHO_RADIO_ICY_METAINT_TARGET_MS / 2);

  peer = add_listener (mounts, head);
  g_assert_true (echo_radio_mounts_feed_metadata (mounts, "/live", title, NULL));
  echo_radio_mounts_feed (mounts, "/live", second);

  /* burst: the last 2000 bytes of 8340 from a frame start = frame 16 */
  burst_start = 16 * 417;
  got = read_peer (peer, 8 + (16680 - burst_start) + (16680 - burst_start) / metaint + 32);
  g_assert_true (split_icy (got, 8, metaint, audio, titles));
  g_assert_cmpuint (audio->len, ==, 16680 - burst_start);
  g_assert_true (g_str_has_prefix (titles->str, "StreamTitle='Tune';@"));
  /* the title belongs to the audio from byte 8340 of the stream on; it lands at the first
   * metadata point from there, less than one interval later: within 50 ms of audio */
  title_at = (guint) (8340 - burst_start);
  landed_at = (guint) g_ascii_strtoull (strchr (titles->str, '@') + 1, NULL, 10);
  g_test_message ("title for audio byte %u landed before audio byte %u (%.1f ms later)",
      title_at, landed_at, (landed_at - title_at) * 1000 / byte_rate);
  g_assert_cmpuint (landed_at, >=, title_at);
  g_assert_cmpuint (landed_at - title_at, <, metaint);
  g_string_free (titles, TRUE);
}

/* A listener that has caught up with the source right at a metadata point: the block there
 * waits for the audio after it, so a title set now goes in it, not one interval later. */
static void
test_title_at_metadata_point (void)
{
  g_autoptr (EchoConfig) config = radio_config ();
  g_autoptr (EchoRadioMounts) mounts = NULL;
  g_autoptr (GstTagList) title = gst_tag_list_new (GST_TAG_TITLE, "Tune", NULL);
  g_autoptr (GBytes) head = g_bytes_new_static ("HEAD\r\n\r\n", 8);
  g_autoptr (GBytes) first = mp3_frames (10);    /* 4170 bytes */
  g_autoptr (GBytes) second = mp3_frames (10);
  g_autoptr (GSocket) peer = NULL;
  g_autoptr (GByteArray) got = NULL;
  g_autoptr (GByteArray) audio = g_byte_array_new ();
  GString *titles = g_string_new (NULL);

  /* the burst starts at frame 6 (2502): its 1668 bytes are two intervals of 834 */
  config->radio_icy_metaint = 834;
  mounts = echo_radio_mounts_new (config);
  g_assert_true (echo_radio_mounts_source_start (mounts, "/live", "audio/mpeg", NULL, NULL));
  echo_radio_mounts_feed (mounts, "/live", first);
  peer = add_listener (mounts, head);
  g_assert_cmpuint (echo_radio_mounts_get_metaint (mounts, "/live"), ==, 834);
  g_assert_true (echo_radio_mounts_feed_metadata (mounts, "/live", title, NULL));
  echo_radio_mounts_feed (mounts, "/live", second);

  /* 1668 + 4170 audio bytes, blocks at 834 .. 5004: five unchanged, one of 1 + 2 * 16 */
  got = read_peer (peer, 8 + 5838 + 5 + 33);
  g_assert_cmpuint (got->len, ==, 8 + 5838 + 5 + 33);
  g_assert_true (split_icy (got, 8, 834, audio, titles));
  g_assert_cmpuint (audio->len, ==, 5838);
  g_assert_cmpstr (titles->str, ==, "StreamTitle='Tune';@1668|");
  g_string_free (titles, TRUE);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/radio/mounts/credentials", test_credentials);
  g_test_add_func ("/radio/mounts/observers-and-stats", test_observers_and_stats);
  g_test_add_func ("/radio/mounts/listener-icy-layout", test_listener_icy_layout);
  g_test_add_func ("/radio/mounts/derived-metaint", test_derived_metaint);
  g_test_add_func ("/radio/mounts/title-at-metadata-point", test_title_at_metadata_point);
  return g_test_run ();
}
