/* test-echod-lifecycle.c: what happens to share sessions over time and across restarts of
 * a real echod. It proves:
 *  - echod stopped with SIGTERM (exit 0) and started again on the same data directory or
 *    database brings its sessions back active with their metadata; the buffered audio
 *    (a few seconds, live) is dropped by design and the sharer carries on posting;
 *  - the same after SIGKILL: nothing a client was told succeeded is lost;
 *  - a session nobody posts to ends with reason "timeout" after session-timeout-minutes,
 *    answers "ended" for ended-retention-minutes and is then not found, also across a
 *    restart (time scaled with ECHO_TEST_TIME_SCALE);
 *  - a share session is audible through echosyncsrc: a sine posted at real-time cadence
 *    comes out of `echosyncsrc uri=echo://127.0.0.1:PORT/ID` (the port from the status
 *    reply's syncPort) as non-silent audio.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/app/gstappsink.h>
#include <gst/gst.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "echod-test-util.h"

#define RATE 44100
#define CHANNELS 2
#define FRAMES 4096
#define METADATA "{\"title\":\"Survivor\",\"artist\":\"Restart\",\"elapsedSeconds\":12.5}"
#define DEADLINE_S 60

static void
restart_keeps_session (int signum)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  g_autoptr (GError) error = NULL;
  int status;
  gint64 seq;

  echod_test_start_session (h, "654321");
  for (seq = 0; seq < 3; seq++)
    echod_test_post_chunk_ok (h, "654321", seq, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST",
        "/api/share/654321/metadata", METADATA);
    g_assert_cmpuint (reply->status, ==, 200);
  }

  status = echod_harness_stop (h, signum);
  if (signum == SIGTERM) {
    g_assert_true (WIFEXITED (status));
    g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  } else {
    g_assert_true (WIFSIGNALED (status));
    g_assert_cmpint (WTERMSIG (status), ==, signum);
  }
  echod_harness_start (h, &error);
  g_assert_no_error (error);

  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/654321/status",
        NULL);
    JsonObject *obj;

    g_assert_cmpuint (reply->status, ==, 200);
    obj = echod_reply_object (reply);
    g_assert_true (json_object_get_boolean_member (obj, "isActive"));
    g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (obj,
                "currentMetadata"), "title"), ==, "Survivor");
    g_assert_cmpint (json_object_get_int_member (obj, "sampleRate"), ==, RATE);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/654321/metadata", NULL);
    g_assert_cmpuint (reply->status, ==, 200);
    g_assert_cmpstr (reply->text, ==, METADATA);
  }
  /* the ring is empty after a restart; the id is still taken; the sharer goes on */
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/654321/audio?since=-1", NULL);
    g_assert_cmpuint (reply->status, ==, 204);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start",
        "{\"sessionId\":\"654321\"}");
    echod_reply_assert_error (reply, 409, "SESSION_EXISTS");
  }
  echod_test_post_chunk_ok (h, "654321", 3, RATE, CHANNELS, FRAMES);
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET",
        "/api/share/654321/audio?since=-1", NULL);
    JsonArray *chunks;

    g_assert_cmpuint (reply->status, ==, 200);
    chunks = json_node_get_array (reply->json);
    g_assert_cmpuint (json_array_get_length (chunks), ==, 1);
    echod_test_assert_chunk (json_array_get_object_element (chunks, 0), RATE, CHANNELS, FRAMES);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/654321/stop",
        NULL);
    g_assert_cmpuint (reply->status, ==, 200);
    /* the bytes received before the restart count too */
    g_assert_cmpint (echod_test_member_int (reply, "bytesTransferred"), ==,
        4 * FRAMES * CHANNELS * 4);
  }
}

static void
test_restart_term (void)
{
  restart_keeps_session (SIGTERM);
}

static void
test_restart_kill (void)
{
  restart_keeps_session (SIGKILL);
}

/* Polls the status route until its code is not `while_code` (NULL: 200); returns the
 * last reply. */
static EchodReply *
status_until_change (EchodHarness *h, const char *path, const char *while_code)
{
  gint64 deadline = g_get_monotonic_time () + DEADLINE_S * G_USEC_PER_SEC;

  for (;;) {
    EchodReply *reply = echod_harness_request (h, "GET", path, NULL);
    const char *code = reply->status == 200 ? NULL :
        json_object_get_string_member_with_default (echod_reply_object (reply), "code", "");

    if (g_strcmp0 (code, while_code) != 0)
      return reply;
    if (g_get_monotonic_time () > deadline)
      g_error ("%s still %s after %d s: %s", path, while_code ? while_code : "200",
          DEADLINE_S, reply->text);
    echod_reply_free (reply);
    echod_harness_spin (100);
  }
}

static void
test_timeout_and_tombstone (void)
{
  /* one minute each, at 60x: about a second of real time each */
  g_autoptr (EchodHarness) h = echod_test_start ("[share]\nsession-timeout-minutes=1\n"
      "ended-retention-minutes=1\n", 60);
  g_autoptr (EchodReply) ended = NULL;
  g_autoptr (EchodReply) gone = NULL;
  g_autoptr (GError) error = NULL;
  JsonObject *obj;

  echod_test_start_session (h, "765432");
  echod_test_start_session (h, "765433");
  ended = status_until_change (h, "/api/share/765432/status", NULL);
  echod_reply_assert_error (ended, 404, "SESSION_ENDED");
  obj = echod_reply_object (ended);
  g_assert_false (json_object_get_boolean_member (obj, "isActive"));
  g_assert_cmpstr (json_object_get_string_member (obj, "reason"), ==, "timeout");

  /* the tombstone survives a restart, and then expires */
  echod_harness_stop (h, SIGTERM);
  echod_harness_start (h, &error);
  g_assert_no_error (error);
  gone = status_until_change (h, "/api/share/765432/status", "SESSION_ENDED");
  echod_reply_assert_error (gone, 404, "SESSION_NOT_FOUND");
  g_assert_false (json_object_has_member (echod_reply_object (gone), "ended"));
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/health", NULL);
    g_assert_cmpint (echod_test_member_int (reply, "activeSessions"), ==, 0);
  }
}

/* Root mean square of the F32 samples in a sample. */
static double
sample_rms (GstSample *sample)
{
  GstBuffer *buffer = gst_sample_get_buffer (sample);
  GstMapInfo map;
  double sum = 0;
  gsize i, n;

  g_assert_true (gst_buffer_map (buffer, &map, GST_MAP_READ));
  n = map.size / sizeof (float);
  for (i = 0; i < n; i++) {
    float v = ((const float *) map.data)[i];

    sum += (double) v * v;
  }
  gst_buffer_unmap (buffer, &map);
  return n > 0 ? sqrt (sum / n) : 0;
}

static void
test_echosyncsrc_receives (void)
{
  g_autoptr (EchodHarness) h = echod_test_start (NULL, 0);
  g_autoptr (GstElement) pipeline = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree char *description = NULL;
  GstElement *sink;
  gint64 sync_port, seq, start_us;
  double loudest = 0;
  guint64 received = 0;
  float *chunk = g_new (float, FRAMES * CHANNELS);
  guint64 frame = 0;

  echod_test_start_session (h, "876543");
  /* the first chunk makes the media pipeline, and so the relay */
  for (seq = 0; seq < 2; seq++) {
    g_autoptr (EchodReply) reply = NULL;
    guint i;

    for (i = 0; i < FRAMES; i++, frame++)
      chunk[2 * i] = chunk[2 * i + 1] = (float) (0.5 * sin (2 * G_PI * 440.0 * frame / RATE));
    reply = echod_test_post_chunk (h, "876543", seq, RATE, CHANNELS, chunk, FRAMES);
    g_assert_cmpuint (reply->status, ==, 200);
  }
  {
    g_autoptr (EchodReply) reply = echod_harness_request (h, "GET", "/api/share/876543/status",
        NULL);
    sync_port = echod_test_member_int (reply, "syncPort");
    g_assert_cmpint (sync_port, >, 0);
  }

  description = g_strdup_printf ("echosyncsrc uri=echo://127.0.0.1:%" G_GINT64_FORMAT
      "/876543 token=echo-test-token ! audioconvert ! audio/x-raw,format=F32LE ! "
      "appsink name=out sync=false max-buffers=1000 drop=true", sync_port);
  pipeline = gst_parse_launch (description, &error);
  g_assert_no_error (error);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
      GST_STATE_CHANGE_FAILURE);

  /* a sharer posting in real time, ~93 ms a chunk, for up to 20 s or until we heard it */
  start_us = g_get_monotonic_time ();
  for (seq = 2; seq < 220 && loudest < 0.1; seq++) {
    g_autoptr (EchodReply) reply = NULL;
    gint64 due = start_us + (seq - 2) * FRAMES * G_USEC_PER_SEC / RATE;
    GstSample *sample;
    guint i;

    for (i = 0; i < FRAMES; i++, frame++)
      chunk[2 * i] = chunk[2 * i + 1] = (float) (0.5 * sin (2 * G_PI * 440.0 * frame / RATE));
    reply = echod_test_post_chunk (h, "876543", seq, RATE, CHANNELS, chunk, FRAMES);
    g_assert_cmpuint (reply->status, ==, 200);
    while ((sample = gst_app_sink_try_pull_sample (GST_APP_SINK (sink), 0)) != NULL) {
      loudest = MAX (loudest, sample_rms (sample));
      received++;
      gst_sample_unref (sample);
    }
    while (g_get_monotonic_time () < due)
      echod_harness_spin (5);
  }
  g_test_message ("echosyncsrc delivered %" G_GUINT64_FORMAT " buffers, loudest RMS %.3f",
      received, loudest);
  /* a 0.5 sine has an RMS of 0.35; Opus and concealment keep it well above 0.1 */
  g_assert_cmpfloat (loudest, >, 0.1);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  g_free (chunk);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/echod/lifecycle/restart-term", test_restart_term);
  g_test_add_func ("/echod/lifecycle/restart-kill", test_restart_kill);
  g_test_add_func ("/echod/lifecycle/timeout-and-tombstone", test_timeout_and_tombstone);
  g_test_add_func ("/echod/lifecycle/echosyncsrc-receives", test_echosyncsrc_receives);
  return g_test_run ();
}
