/* Tests of the chunk ring: eviction by frames, the overflow count, and which chunks a
 * reader gets for each "since". */
#include <json-glib/json-glib.h>

#include "echo-share-ring.h"

static EchoShareChunk *
make_chunk (gint64 sequence, guint n_frames)
{
  g_autoptr (GBytes) payload = g_bytes_new_take (g_malloc0 (n_frames * 4), n_frames * 4);

  return echo_share_chunk_new (sequence, 1000 + sequence, n_frames, payload,
      g_strdup_printf ("{\"sequenceNumber\":%" G_GINT64_FORMAT "}", sequence));
}

static guint
push (EchoShareRing *ring, gint64 sequence, guint n_frames)
{
  g_autoptr (EchoShareChunk) chunk = make_chunk (sequence, n_frames);

  return echo_share_ring_push (ring, chunk);
}

/* The sequence numbers in a collected reply, as "a,b,c" ("" for NULL). */
static char *
collected (EchoShareRing *ring, gint64 since, guint limit)
{
  gsize len = 0;
  g_autofree char *json = echo_share_ring_collect_json (ring, since, limit, &len);
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GString) out = g_string_new (NULL);
  g_autoptr (GError) error = NULL;
  JsonArray *array;

  if (json == NULL)
    return g_strdup ("");
  g_assert_cmpuint (len, ==, strlen (json));
  g_assert_true (json_parser_load_from_data (parser, json, -1, &error));
  g_assert_no_error (error);
  array = json_node_get_array (json_parser_get_root (parser));
  for (guint i = 0; i < json_array_get_length (array); i++) {
    JsonObject *object = json_array_get_object_element (array, i);

    g_string_append_printf (out, "%s%" G_GINT64_FORMAT, i ? "," : "",
        json_object_get_int_member (object, "sequenceNumber"));
  }
  return g_string_free (g_steal_pointer (&out), FALSE);
}

#define assert_collected(ring, since, limit, expected) \
  G_STMT_START { \
    g_autofree char *got_ = collected ((ring), (since), (limit)); \
    g_assert_cmpstr (got_, ==, (expected)); \
  } G_STMT_END

static void
test_eviction_by_frames (void)
{
  /* 1 s at 44.1 kHz in 4096-frame chunks (the seed's 93 ms): 10 chunks fit (40960 frames),
   * the 11th does not. */
  g_autoptr (EchoShareRing) ring = echo_share_ring_new (44100);

  for (gint64 s = 0; s < 10; s++)
    g_assert_cmpuint (push (ring, s, 4096), ==, 0);
  g_assert_cmpuint (echo_share_ring_get_length (ring), ==, 10);
  g_assert_cmpuint (echo_share_ring_get_frames (ring), ==, 40960);

  /* Nobody read anything: the evicted chunk is an overflow. */
  g_assert_cmpuint (push (ring, 10, 4096), ==, 1);
  g_assert_cmpuint (echo_share_ring_get_length (ring), ==, 10);
  g_assert_cmpint (echo_share_ring_oldest_sequence (ring), ==, 1);
  g_assert_cmpint (echo_share_ring_newest_sequence (ring), ==, 10);
  g_assert_cmpuint (echo_share_ring_get_frames (ring), <=, 44100);

  /* A big chunk evicts as many small ones as its frames need. */
  g_assert_cmpuint (push (ring, 11, 4096 * 5), ==, 5);
  g_assert_cmpint (echo_share_ring_oldest_sequence (ring), ==, 6);

  /* A chunk longer than the whole ring is still kept, alone. */
  g_assert_cmpuint (push (ring, 12, 100000), ==, 6);
  g_assert_cmpuint (echo_share_ring_get_length (ring), ==, 1);
  g_assert_cmpint (echo_share_ring_oldest_sequence (ring), ==, 12);
}

static void
test_delivered_chunks_are_not_overflows (void)
{
  g_autoptr (EchoShareRing) ring = echo_share_ring_new (4096 * 3);
  guint overflows = 0;

  /* A reader that keeps up (since = the last it got) sees every chunk. */
  for (gint64 s = 0; s < 50; s++) {
    g_autofree char *expected = g_strdup_printf ("%" G_GINT64_FORMAT, s);

    overflows += push (ring, s, 4096);
    assert_collected (ring, s - 1, 10, expected);
  }
  g_assert_cmpuint (overflows, ==, 0);

  /* Then it stops reading: every chunk pushed out from now on is an overflow. */
  for (gint64 s = 50; s < 60; s++)
    overflows += push (ring, s, 4096);
  /* 47..49 had been read when they went; 50..56 had not. */
  g_assert_cmpuint (overflows, ==, 7);
}

static void
test_since_semantics (void)
{
  g_autoptr (EchoShareRing) ring = echo_share_ring_new (1000000);

  assert_collected (ring, -1, 10, "");          /* empty: 204 */
  for (gint64 s = 5; s < 30; s++)
    push (ring, s, 100);
  /* Sequence 31, 32 skipped: a gap. */
  push (ring, 33, 100);

  /* -1: the newest chunks, ascending. */
  assert_collected (ring, -1, 10, "21,22,23,24,25,26,27,28,29,33");
  assert_collected (ring, -1, 3, "28,29,33");
  /* N: those after N, oldest first, at most limit. */
  assert_collected (ring, 10, 10, "11,12,13,14,15,16,17,18,19,20");
  assert_collected (ring, 10, 2, "11,12");
  assert_collected (ring, 28, 10, "29,33");
  assert_collected (ring, 30, 10, "33");        /* inside the gap */
  /* Too old (evicted or never there): resume at the oldest buffered. */
  assert_collected (ring, 0, 4, "5,6,7,8");
  /* Up to date or ahead of the newest: nothing. */
  assert_collected (ring, 33, 10, "");
  assert_collected (ring, 1000, 10, "");
  assert_collected (ring, G_MAXINT64, 10, "");
  /* limit 0 asks for nothing. */
  assert_collected (ring, -1, 0, "");

  g_assert_nonnull (echo_share_ring_find (ring, 5));
  g_assert_nonnull (echo_share_ring_find (ring, 33));
  g_assert_null (echo_share_ring_find (ring, 31));
  g_assert_null (echo_share_ring_find (ring, 4));
  g_assert_null (echo_share_ring_find (ring, G_MININT64));

  echo_share_ring_clear (ring);
  assert_collected (ring, -1, 10, "");
  g_assert_cmpint (echo_share_ring_newest_sequence (ring), ==, -1);
  g_assert_cmpuint (echo_share_ring_get_frames (ring), ==, 0);
}

static void
test_reply_is_cached_text (void)
{
  g_autoptr (EchoShareRing) ring = echo_share_ring_new (1000);
  g_autofree char *json = NULL;

  push (ring, 1, 10);
  push (ring, 2, 10);
  json = echo_share_ring_collect_json (ring, -1, 10, NULL);
  g_assert_cmpstr (json, ==, "[{\"sequenceNumber\":1},{\"sequenceNumber\":2}]");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/share/ring/eviction-by-frames", test_eviction_by_frames);
  g_test_add_func ("/share/ring/delivered-not-overflow", test_delivered_chunks_are_not_overflows);
  g_test_add_func ("/share/ring/since", test_since_semantics);
  g_test_add_func ("/share/ring/cached-text", test_reply_is_cached_text);
  return g_test_run ();
}
