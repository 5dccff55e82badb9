/* share-test-util.c: helpers of the share tests (see the header). */
#include "share-test-util.h"

#include <glib/gstdio.h>
#include <string.h>

char *
share_test_audio_body (gint64 sequence, guint sample_rate, guint channels, guint n_frames,
    gint64 timestamp)
{
  g_autofree float *samples = g_new (float, (gsize) n_frames * channels);
  g_autofree char *data = NULL;

  for (gsize i = 0; i < (gsize) n_frames * channels; i++) {
    float value = (float) sequence + (float) i / 1000.0f;
    guint32 bits;

    /* The wire format is little-endian float32 whatever the host. */
    memcpy (&bits, &value, 4);
    bits = GUINT32_TO_LE (bits);
    memcpy (&samples[i], &bits, 4);
  }
  data = g_base64_encode ((const guchar *) samples, (gsize) n_frames * channels * 4);
  return g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":%u,\"channels\":%u,"
      "\"timestamp\":%" G_GINT64_FORMAT ",\"sequenceNumber\":%" G_GINT64_FORMAT "}",
      data, sample_rate, channels, timestamp, sequence);
}

char *
share_test_audio_body_with_data (const char *data, guint sample_rate, guint channels,
    gint64 sequence)
{
  return g_strdup_printf ("{\"data\":\"%s\",\"sampleRate\":%u,\"channels\":%u,"
      "\"timestamp\":1700000000000,\"sequenceNumber\":%" G_GINT64_FORMAT "}",
      data, sample_rate, channels, sequence);
}

static gint64
clock_now_ms (gpointer user_data)
{
  return ((ShareTestClock *) user_data)->wall_ms;
}

static gint64
clock_monotonic_us (gpointer user_data)
{
  return ((ShareTestClock *) user_data)->mono_us;
}

void
share_test_clock_init (ShareTestClock *clock)
{
  clock->wall_ms = G_GINT64_CONSTANT (1700000000000);
  clock->mono_us = G_GINT64_CONSTANT (1000) * G_USEC_PER_SEC;
}

void
share_test_clock_advance_ms (ShareTestClock *clock, gint64 ms)
{
  clock->wall_ms += ms;
  clock->mono_us += ms * 1000;
}

void
share_test_clock_install (ShareTestClock *clock, EchoSharePool *pool)
{
  echo_share_pool_set_clock (pool, clock_now_ms, clock_monotonic_us, clock);
}

void
share_test_store_open (ShareTestStore *store)
{
  g_autoptr (GError) error = NULL;

  store->dir = g_dir_make_tmp (NULL, &error);
  g_assert_no_error (error);
  store->store = echo_store_open (store->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store->store);
}

void
share_test_store_reopen (ShareTestStore *store)
{
  g_autoptr (GError) error = NULL;

  g_clear_pointer (&store->store, echo_store_free);
  store->store = echo_store_open (store->dir, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (store->store);
}

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK)) {
    g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
    const char *name;

    while (dir != NULL && (name = g_dir_read_name (dir)) != NULL) {
      g_autofree char *child = g_build_filename (path, name, NULL);

      remove_tree (child);
    }
    g_rmdir (path);
  } else {
    g_unlink (path);
  }
}

void
share_test_store_close (ShareTestStore *store)
{
  g_clear_pointer (&store->store, echo_store_free);
  if (store->dir != NULL)
    remove_tree (store->dir);
  g_clear_pointer (&store->dir, g_free);
}
