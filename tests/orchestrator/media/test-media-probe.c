/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * test-media-probe.c: echo_media_probe_file() on real files generated here with
 * gst-launch-1.0 (and ffmpeg for AAC, skipped when it is not installed). It proves that:
 *  - MP3 (with ID3 tags), Ogg Opus, Ogg Vorbis, FLAC, FLAC in Ogg, WAV, M4A/AAC and ADTS
 *    AAC are accepted with the right container, codec, rate, channels, a duration within
 *    100 ms of the truth, and the tags written into them;
 *  - a text file, a PNG, an empty file, a truncated MP3, a video-only Matroska file and
 *    Matroska audio are refused as UNSUPPORTED with a message naming what was found;
 *  - the async form runs in a worker thread and returns on the caller's context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <string.h>

#include "echo-media-probe.h"
#include "echo-music-error.h"

static char *dir;

static char *
path_of (const char *name)
{
  return g_build_filename (dir, name, NULL);
}

static gboolean
run (const char *const *argv)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *err = NULL;
  gint status = 0;

  if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH |
          G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err, &status, &error)) {
    g_test_message ("%s: %s", argv[0], error->message);
    return FALSE;
  }
  if (!g_spawn_check_wait_status (status, &error)) {
    g_test_message ("%s failed: %s", argv[0], err);
    return FALSE;
  }
  return TRUE;
}

/* gst-launch-1.0 with 2 s of a 44.1 kHz stereo tone (tagged) through @encode into @name. */
static char *
make (const char *name, const char *encode)
{
  char *path = path_of (name);
  g_autofree char *location = g_strdup_printf ("location=%s", path);
  g_auto (GStrv) enc = g_strsplit (encode, " ", -1);
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  guint i;

  g_ptr_array_add (argv, "gst-launch-1.0");
  g_ptr_array_add (argv, "-q");
  g_ptr_array_add (argv, "audiotestsrc");
  g_ptr_array_add (argv, "num-buffers=200");
  g_ptr_array_add (argv, "samplesperbuffer=441");
  g_ptr_array_add (argv, "!");
  g_ptr_array_add (argv, "audio/x-raw,rate=44100,channels=2");
  g_ptr_array_add (argv, "!");
  g_ptr_array_add (argv, "taginject");
  /* gst-launch-1.0 joins its arguments with spaces: no spaces in the values */
  g_ptr_array_add (argv, "tags=title=ProbeSong,artist=ProbeArtist,album=ProbeAlbum");
  for (i = 0; enc[i] != NULL; i++)
    g_ptr_array_add (argv, enc[i]);
  g_ptr_array_add (argv, "!");
  g_ptr_array_add (argv, "filesink");
  g_ptr_array_add (argv, location);
  g_ptr_array_add (argv, NULL);
  g_assert_true (run ((const char *const *) argv->pdata));
  return path;
}

static EchoMediaProbe *
probe_ok (const char *path)
{
  g_autoptr (GError) error = NULL;
  EchoMediaProbe *probe = echo_media_probe_file (path, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (probe);
  g_test_message ("%s: %s/%s %" G_GINT64_FORMAT " ms %u Hz %u ch", path,
      probe->container, probe->codec, probe->duration_ms, probe->rate, probe->channels);
  return probe;
}

static void
assert_accepted (const char *name, const char *encode, const char *container,
    const char *codec, guint rate, gboolean tags)
{
  g_autofree char *path = make (name, encode);
  g_autoptr (EchoMediaProbe) probe = probe_ok (path);

  /* Ogg typefinds as audio/ogg or application/ogg, depending on its streams */
  if (g_str_equal (container, "ogg"))
    g_assert_true (g_str_equal (probe->container, "audio/ogg")
        || g_str_equal (probe->container, "application/ogg"));
  else
    g_assert_cmpstr (probe->container, ==, container);
  g_assert_cmpstr (probe->codec, ==, codec);
  g_assert_cmpint (ABS (probe->duration_ms - 2000), <=, 100);
  g_assert_cmpuint (probe->rate, ==, rate);
  g_assert_cmpuint (probe->channels, ==, 2);
  if (tags) {
    g_assert_cmpstr (probe->title, ==, "ProbeSong");
    g_assert_cmpstr (probe->artist, ==, "ProbeArtist");
    g_assert_cmpstr (probe->album, ==, "ProbeAlbum");
  }
}

static void
assert_refused (const char *path, const char *named)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMediaProbe) probe = echo_media_probe_file (path, NULL, &error);

  g_assert_null (probe);
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED);
  g_test_message ("%s", error->message);
  if (named != NULL && strstr (error->message, named) == NULL)
    g_error ("'%s' does not name '%s'", error->message, named);
}

static void
test_mp3 (void)
{
  assert_accepted ("a.mp3", "! lamemp3enc ! id3v2mux", "audio/mpeg", "mp3", 44100, TRUE);
}

static void
test_opus (void)
{
  assert_accepted ("a.opus", "! audioresample ! opusenc ! oggmux", "ogg",
      "opus", 48000, TRUE);
}

static void
test_vorbis (void)
{
  assert_accepted ("a.ogg", "! vorbisenc ! oggmux", "ogg", "vorbis", 44100,
      TRUE);
}

static void
test_flac (void)
{
  assert_accepted ("a.flac", "! flacenc", "audio/x-flac", "flac", 44100, TRUE);
  assert_accepted ("b.oga", "! flacenc ! oggmux", "ogg", "flac", 44100,
      FALSE);
}

static void
test_wav (void)
{
  assert_accepted ("a.wav", "! wavenc", "audio/x-wav", "pcm", 44100, FALSE);
}

static gboolean
have_aac_decoder (void)
{
  g_autoptr (GstCaps) caps = gst_caps_from_string ("audio/mpeg,mpegversion=4,"
      "stream-format=raw");
  GList *decoders = gst_element_factory_list_get_elements
      (GST_ELEMENT_FACTORY_TYPE_DECODER, GST_RANK_MARGINAL);
  GList *usable = gst_element_factory_list_filter (decoders, caps, GST_PAD_SINK, FALSE);
  gboolean found = usable != NULL;

  gst_plugin_feature_list_free (usable);
  gst_plugin_feature_list_free (decoders);
  return found;
}

static void
test_aac (void)
{
  g_autofree char *m4a = path_of ("a.m4a");
  g_autofree char *adts = path_of ("a.aac");
  const char *m4a_argv[] = { "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "sine=frequency=440:duration=2:sample_rate=44100", "-ac", "2", "-c:a", "aac",
    "-metadata", "title=ProbeSong", "-metadata", "artist=ProbeArtist", "-metadata",
    "album=ProbeAlbum", m4a, NULL
  };
  const char *adts_argv[] = { "ffmpeg", "-loglevel", "error", "-y", "-f", "lavfi", "-i",
    "sine=frequency=440:duration=2:sample_rate=44100", "-ac", "2", "-c:a", "aac", "-f",
    "adts", adts, NULL
  };
  g_autofree char *ffmpeg = g_find_program_in_path ("ffmpeg");

  if (ffmpeg == NULL) {
    g_test_skip ("ffmpeg is not installed: no AAC encoder to make the files");
    return;
  }
  g_assert_true (run (m4a_argv));
  g_assert_true (run (adts_argv));
  if (!have_aac_decoder ()) {
    /* what echod cannot decode it does not accept, naming what is missing */
    assert_refused (m4a, "cannot be decoded");
    assert_refused (adts, "cannot be decoded");
    g_test_message ("no AAC decoder installed: AAC files are refused as undecodable");
    return;
  }
  {
    g_autoptr (EchoMediaProbe) probe = probe_ok (m4a);

    g_assert_cmpstr (probe->codec, ==, "aac");
    g_assert_true (g_str_equal (probe->container, "video/quicktime")
        || g_str_equal (probe->container, "audio/x-m4a"));
    g_assert_cmpint (ABS (probe->duration_ms - 2000), <=, 100);
    g_assert_cmpuint (probe->rate, ==, 44100);
    g_assert_cmpuint (probe->channels, ==, 2);
    g_assert_cmpstr (probe->title, ==, "ProbeSong");
    g_assert_cmpstr (probe->artist, ==, "ProbeArtist");
  }
  {
    g_autoptr (EchoMediaProbe) probe = probe_ok (adts);

    g_assert_cmpstr (probe->codec, ==, "aac");
    g_assert_cmpstr (probe->container, ==, "audio/mpeg");
    g_assert_cmpint (ABS (probe->duration_ms - 2000), <=, 100);
  }
}

static void
test_refused (void)
{
  g_autofree char *text = path_of ("notes.txt");
  g_autofree char *empty = path_of ("empty.mp3");
  g_autofree char *missing = path_of ("missing.mp3");
  g_autofree char *png = path_of ("a.png");
  g_autofree char *png_location = g_strdup_printf ("location=%s", png);
  g_autofree char *mkv = path_of ("v.mkv");
  g_autofree char *mkv_location = g_strdup_printf ("location=%s", mkv);
  g_autofree char *mka = NULL;
  g_autofree char *mp3 = NULL;
  g_autofree char *cut = path_of ("cut.mp3");
  g_autofree char *contents = NULL;
  gsize len = 0;
  const char *png_argv[] = { "gst-launch-1.0", "-q", "videotestsrc", "num-buffers=1", "!",
    "video/x-raw,width=64,height=48", "!", "pngenc", "!", "filesink", png_location, NULL
  };
  const char *mkv_argv[] = { "gst-launch-1.0", "-q", "videotestsrc", "num-buffers=30",
    "!", "video/x-raw,width=64,height=48", "!", "vp8enc", "!", "matroskamux", "!",
    "filesink", mkv_location, NULL
  };

  g_assert_true (g_file_set_contents (text, "Lyrics, not audio.\nLine two.\n", -1, NULL));
  assert_refused (text, "text/plain");
  g_assert_true (g_file_set_contents (empty, "", 0, NULL));
  assert_refused (empty, "empty");
  assert_refused (missing, "unreadable");
  g_assert_true (run (png_argv));
  assert_refused (png, "image/png");
  g_assert_true (run (mkv_argv));
  assert_refused (mkv, "video/x-matroska");
  mka = make ("a.mka", "! audioresample ! opusenc ! matroskamux");
  assert_refused (mka, "matroska");

  /* an MP3 cut off inside its first frame */
  mp3 = make ("b.mp3", "! lamemp3enc");
  g_assert_true (g_file_get_contents (mp3, &contents, &len, NULL));
  g_assert_cmpuint (len, >, 2000);
  g_assert_true (g_file_set_contents (cut, contents, 200, NULL));
  assert_refused (cut, NULL);
}

static void
on_probed (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GMainLoop *loop = user_data;
  g_autoptr (GError) error = NULL;
  g_autoptr (EchoMediaProbe) probe = NULL;

  g_assert_true (echo_media_probe_file_finish (result, &probe, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (probe->codec, ==, "pcm");
  g_main_loop_quit (loop);
}

static void
on_refused (GObject * source, GAsyncResult * result, gpointer user_data)
{
  GMainLoop *loop = user_data;
  g_autoptr (GError) error = NULL;
  EchoMediaProbe *probe = NULL;

  g_assert_false (echo_media_probe_file_finish (result, &probe, &error));
  g_assert_null (probe);
  g_assert_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED);
  g_main_loop_quit (loop);
}

static void
test_async (void)
{
  g_autofree char *wav = make ("c.wav", "! wavenc");
  g_autofree char *text = path_of ("d.txt");
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  echo_media_probe_file_async (wav, NULL, on_probed, loop);
  g_main_loop_run (loop);
  g_assert_true (g_file_set_contents (text, "plain text\n", -1, NULL));
  echo_media_probe_file_async (text, NULL, on_refused, loop);
  g_main_loop_run (loop);
}

static void
remove_dir (const char *d)
{
  g_autoptr (GDir) it = g_dir_open (d, 0, NULL);
  const char *name;

  while (it != NULL && (name = g_dir_read_name (it)) != NULL) {
    g_autofree char *path = g_build_filename (d, name, NULL);

    g_assert_cmpint (g_remove (path), ==, 0);
  }
  g_assert_cmpint (g_rmdir (d), ==, 0);
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  int ret;

  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);

  g_test_add_func ("/media-probe/mp3", test_mp3);
  g_test_add_func ("/media-probe/opus", test_opus);
  g_test_add_func ("/media-probe/vorbis", test_vorbis);
  g_test_add_func ("/media-probe/flac", test_flac);
  g_test_add_func ("/media-probe/wav", test_wav);
  g_test_add_func ("/media-probe/aac", test_aac);
  g_test_add_func ("/media-probe/refused", test_refused);
  g_test_add_func ("/media-probe/async", test_async);

  ret = g_test_run ();
  remove_dir (dir);
  g_free (dir);
  return ret;
}
