/* echod-test-util.c: see echod-test-util.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echod-test-util.h"

#include <math.h>
#include <string.h>

EchodHarness *
echod_test_start (const char *config_text, double scale)
{
  g_autoptr (GError) error = NULL;
  EchodHarness *h = echod_harness_new ();

  if (config_text != NULL)
    echod_harness_set_config (h, config_text);
  if (scale > 0) {
    char text[G_ASCII_DTOSTR_BUF_SIZE];

    echod_harness_setenv (h, "ECHO_TEST_TIME_SCALE", g_ascii_dtostr (text, sizeof text, scale));
  }
  if (!echod_harness_start (h, &error))
    g_error ("echod did not start: %s", error->message);
  return h;
}

char *
echod_test_path (const char *id, const char *suffix)
{
  return g_strdup_printf ("/api/share/%s%s", id, suffix);
}

void
echod_test_start_session (EchodHarness *h, const char *id)
{
  g_autofree char *body = g_strdup_printf ("{\"sessionId\":\"%s\"}", id);
  g_autoptr (EchodReply) reply = echod_harness_request (h, "POST", "/api/share/start", body);
  JsonObject *obj;

  if (reply->status != 200)
    g_error ("start %s: %u %s", id, reply->status, reply->text);
  obj = echod_reply_object (reply);
  g_assert_true (json_object_get_boolean_member (obj, "success"));
  g_assert_cmpstr (json_object_get_string_member (obj, "sessionId"), ==, id);
  g_assert_cmpint (json_object_get_int_member (obj, "timestamp"), >,
      G_GINT64_CONSTANT (1600000000000));
}

float *
echod_test_samples (guint seed, gsize n)
{
  static const guint32 special_bits[] = {
    0x00000000, 0x80000000,     /* +0, -0 */
    0x00000001, 0x807fffff,     /* subnormals */
    0x7f7fffff, 0xff7fffff,     /* the largest finite values */
    0x3f800000, 0xbf800000,     /* +-1 */
    0x7fc12345, 0xff800000,     /* a NaN with a payload, -infinity */
  };
  float *samples = g_new (float, n);
  GRand *rand = g_rand_new_with_seed (seed);
  gsize i;

  for (i = 0; i < n; i++) {
    if (i < G_N_ELEMENTS (special_bits))
      memcpy (&samples[i], &special_bits[i], sizeof (float));
    else
      samples[i] = (float) (sin (i * 0.05 + seed) * g_rand_double_range (rand, 0.1, 1.0));
  }
  g_rand_free (rand);
  return samples;
}

EchodReply *
echod_test_post_chunk (EchodHarness *h, const char *id, gint64 sequence, guint rate,
    guint channels, const float *samples, guint n_frames)
{
  g_autofree char *path = echod_test_path (id, "/audio");
  g_autofree char *body = echod_audio_body (samples, n_frames, rate, channels, sequence,
      1700000000000 + sequence * 93);

  return echod_harness_request (h, "POST", path, body);
}

void
echod_test_post_chunk_ok (EchodHarness *h, const char *id, gint64 sequence, guint rate,
    guint channels, guint n_frames)
{
  g_autofree float *samples = echod_test_samples ((guint) sequence, (gsize) n_frames * channels);
  g_autoptr (EchodReply) reply = echod_test_post_chunk (h, id, sequence, rate, channels,
      samples, n_frames);
  JsonObject *obj;

  if (reply->status != 200)
    g_error ("chunk %" G_GINT64_FORMAT ": %u %s", sequence, reply->status, reply->text);
  obj = echod_reply_object (reply);
  g_assert_true (json_object_get_boolean_member (obj, "success"));
  g_assert_true (json_object_get_boolean_member (obj, "buffered"));
}

void
echod_test_assert_chunk (JsonObject *chunk, guint rate, guint channels, guint n_frames)
{
  gint64 sequence = json_object_get_int_member (chunk, "sequenceNumber");
  g_autofree float *want = echod_test_samples ((guint) sequence, (gsize) n_frames * channels);
  g_autofree float *got = NULL;
  gsize n = 0;

  g_assert_cmpint (json_object_get_int_member (chunk, "sampleRate"), ==, rate);
  g_assert_cmpint (json_object_get_int_member (chunk, "channels"), ==, channels);
  g_assert_cmpint (json_object_get_int_member (chunk, "timestamp"), ==,
      1700000000000 + sequence * 93);
  got = echod_chunk_samples (chunk, &n);
  g_assert_cmpuint (n, ==, (gsize) n_frames * channels);
  /* bit for bit, NaN payloads and signed zeros included */
  g_assert_cmpmem (got, n * sizeof (float), want, n * sizeof (float));
}

gint64
echod_test_member_int (EchodReply *reply, const char *member)
{
  JsonObject *obj = echod_reply_object (reply);

  g_assert_true (json_object_has_member (obj, member));
  return json_object_get_int_member (obj, member);
}

char *
echod_test_metrics (EchodHarness *h)
{
  g_autoptr (EchodReply) reply = echod_harness_request_full (h, "GET", "/metrics", "", NULL, 0,
      NULL);

  g_assert_cmpuint (reply->status, ==, 200);
  return g_strdup (reply->text);
}

int
echod_test_exit (int status)
{
  g_thread_pool_set_max_unused_threads (0);
  g_thread_pool_stop_unused_threads ();
  /* the stopped threads exit on their own: let them be gone before the leak scan */
  g_usleep (G_USEC_PER_SEC / 5);
  return status;
}
