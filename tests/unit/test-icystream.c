/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Unit tests of the ICY byte-stream splitter: exact audio at every split, metadata at the
 * right audio offsets, loss and recovery of the boundaries, truncation.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "icystream.h"
#include "icytest.h"

static const gchar *const titles[] = {
  "StreamTitle='Guns N' Roses - Sweet Child O' Mine';",
  "StreamTitle='Don't Stop';StreamUrl='http://example.com/';",
  "StreamTitle='';",
  NULL
};

typedef struct
{
  GByteArray *audio;
  GArray *meta_offsets;         /* guint64 */
  GPtrArray *meta_texts;
  guint lost, found;
  gboolean truncated;
} Collected;

static void
collected_init (Collected * c)
{
  c->audio = g_byte_array_new ();
  c->meta_offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  c->meta_texts = g_ptr_array_new_with_free_func (g_free);
  c->lost = c->found = 0;
  c->truncated = FALSE;
}

static void
collected_clear (Collected * c)
{
  g_byte_array_unref (c->audio);
  g_array_unref (c->meta_offsets);
  g_ptr_array_unref (c->meta_texts);
}

static void
take_chunk (Collected * c, const IcyChunk * chunk, const guint8 * input)
{
  switch (chunk->kind) {
    case ICY_CHUNK_AUDIO:
      g_assert_cmpuint (chunk->audio_offset, ==, c->audio->len);
      if (chunk->in_input)
        g_assert_true (chunk->data == input + chunk->input_offset);
      g_byte_array_append (c->audio, chunk->data, chunk->size);
      break;
    case ICY_CHUNK_METADATA:
      g_array_append_val (c->meta_offsets, chunk->audio_offset);
      g_ptr_array_add (c->meta_texts, g_strndup ((const gchar *) chunk->data,
              icy_block_text_length (chunk->data, chunk->size)));
      break;
    case ICY_CHUNK_LOST_SYNC:
      c->lost++;
      break;
    case ICY_CHUNK_FOUND_SYNC:
      c->found++;
      break;
  }
}

/* Whether run_splitter() first offers each piece to icy_stream_take_audio(), as the
 * element does. */
static gboolean use_take_audio;

/* Feeds @data in pieces of the sizes in @pieces (cycled), then finishes. */
static void
run_splitter (guint metaint, const guint8 * data, gsize len,
    const gsize * pieces, guint n_pieces, Collected * c)
{
  IcyStream s;
  IcyChunk chunk;
  gsize pos = 0;

  icy_stream_init (&s, metaint);
  for (guint i = 0; pos < len; i++) {
    gsize n = MIN (pieces[i % n_pieces], len - pos);

    if (use_take_audio && icy_stream_take_audio (&s, n, &chunk)) {
      g_assert_cmpuint (chunk.size, ==, n);
      chunk.data = data + pos;
      take_chunk (c, &chunk, data + pos);
      pos += n;
      continue;
    }
    icy_stream_feed (&s, data + pos, n);
    while (icy_stream_next (&s, &chunk))
      take_chunk (c, &chunk, data + pos);
    pos += n;
  }
  while (icy_stream_finish (&s, &chunk, &c->truncated))
    take_chunk (c, &chunk, NULL);
  icy_stream_clear (&s);
}

static void
assert_matches (const IcyTestStream * ts, const Collected * c)
{
  g_assert_cmpmem (c->audio->data, c->audio->len, ts->audio->data,
      ts->audio->len);
  g_assert_cmpuint (c->meta_offsets->len, ==, ts->block_audio_offsets->len);
  for (guint i = 0; i < c->meta_offsets->len; i++) {
    g_assert_cmpuint (g_array_index (c->meta_offsets, guint64, i), ==,
        g_array_index (ts->block_audio_offsets, guint64, i));
    g_assert_cmpstr (g_ptr_array_index (c->meta_texts, i), ==,
        g_ptr_array_index (ts->block_texts, i));
  }
  g_assert_cmpuint (c->lost, ==, 0);
}

static void
test_whole_stream (void)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (1000, 10500, NULL,
      titles, 2);
  gsize whole = ts->stream->len;
  Collected c;

  collected_init (&c);
  run_splitter (1000, ts->stream->data, ts->stream->len, &whole, 1, &c);
  assert_matches (ts, &c);
  g_assert_false (c.truncated);
  collected_clear (&c);
}

/* The same stream cut in two at every byte position, inside and around each block. */
static void
test_every_split_position (void)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (97, 700, NULL,
      titles, 1);

  for (gsize cut = 0; cut <= ts->stream->len; cut++) {
    gsize pieces[2] = { cut, ts->stream->len };
    Collected c;

    collected_init (&c);
    run_splitter (97, ts->stream->data, ts->stream->len, pieces, 2, &c);
    assert_matches (ts, &c);
    collected_clear (&c);
  }
}

static void
test_piece_sizes (void)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (64, 4000, NULL,
      titles, 3);

  for (gsize size = 1; size <= 130; size++) {
    Collected c;

    collected_init (&c);
    run_splitter (64, ts->stream->data, ts->stream->len, &size, 1, &c);
    assert_matches (ts, &c);
    collected_clear (&c);
  }
}

static void
test_no_metadata (void)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (0, 5000, NULL, NULL, 0);
  gsize piece = 333;
  Collected c;

  collected_init (&c);
  run_splitter (0, ts->stream->data, ts->stream->len, &piece, 1, &c);
  assert_matches (ts, &c);
  collected_clear (&c);
}

static void
test_truncated_block (void)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 300, NULL,
      titles, 1);
  gsize whole;
  Collected c;

  /* stop in the middle of the first block: its length byte points past the end */
  whole = 100 + 1 + 10;
  collected_init (&c);
  run_splitter (100, ts->stream->data, whole, &whole, 1, &c);
  g_assert_cmpuint (c.audio->len, ==, 100);
  g_assert_cmpmem (c.audio->data, 100, ts->audio->data, 100);
  g_assert_cmpuint (c.meta_offsets->len, ==, 0);
  g_assert_true (c.truncated);
  collected_clear (&c);
}

/* Bytes dropped from the middle of a stream (a capture that lost a packet): the boundaries
 * after the hole are found again, and every title after that arrives. */
static void
test_resync_after_hole (void)
{
  const guint metaint = 500;
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (metaint, 40 * metaint,
      NULL, titles, 1);
  g_autoptr (GByteArray) holed = g_byte_array_new ();
  gsize hole_at = 3 * (metaint + 1) + 200, hole = 37;
  gsize piece = 512;
  guint tail_blocks;
  Collected c;

  g_byte_array_append (holed, ts->stream->data, hole_at);
  g_byte_array_append (holed, ts->stream->data + hole_at + hole,
      ts->stream->len - hole_at - hole);

  collected_init (&c);
  run_splitter (metaint, holed->data, holed->len, &piece, 1, &c);
  g_assert_cmpuint (c.lost, >=, 1);
  g_assert_cmpuint (c.found, ==, c.lost);
  /* the last titles all arrive, in order, at the same spacing */
  tail_blocks = 30;
  g_assert_cmpuint (c.meta_texts->len, >=, tail_blocks);
  for (guint i = 1; i <= tail_blocks; i++)
    g_assert_cmpstr (g_ptr_array_index (c.meta_texts, c.meta_texts->len - i),
        ==, g_ptr_array_index (ts->block_texts, ts->block_texts->len - i));
  /* and the audio after the last boundary is exact */
  g_assert_cmpmem (c.audio->data + c.audio->len - metaint, metaint,
      ts->audio->data + ts->audio->len - metaint, metaint);
  collected_clear (&c);
}

/* Random bytes: everything is accounted for, nothing crashes, nothing is lost. */
static void
test_random_bytes (void)
{
  GRand *rand = g_rand_new_with_seed (7);

  for (guint round = 0; round < 50; round++) {
    gsize len = g_rand_int_range (rand, 1, 20000);
    guint metaint = g_rand_int_range (rand, 1, 3000);
    g_autofree guint8 *data = g_malloc (len);
    gsize piece = g_rand_int_range (rand, 1, 5000);
    gsize meta_bytes = 0;
    Collected c;

    for (gsize i = 0; i < len; i++)
      data[i] = g_rand_int_range (rand, 0, 256);
    collected_init (&c);
    run_splitter (metaint, data, len, &piece, 1, &c);
    for (guint i = 0; i < c.meta_texts->len; i++)
      meta_bytes += strlen (g_ptr_array_index (c.meta_texts, i));
    /* audio + metadata never exceeds the input */
    g_assert_cmpuint (c.audio->len + meta_bytes, <=, len);
    collected_clear (&c);
  }
  g_rand_free (rand);
}

/* A wrong interval is noticed and the right boundaries are not invented: the output is
 * the whole input (minus nothing), since no chain of boundaries fits. */
static void
test_wrong_interval (void)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (1000, 20000, NULL,
      titles, 1);
  gsize piece = 4096;
  Collected c;

  collected_init (&c);
  run_splitter (777, ts->stream->data, ts->stream->len, &piece, 1, &c);
  g_assert_cmpuint (c.lost, >=, 1);
  collected_clear (&c);
}

/* Pieces that are audio only, accounted without being read, change nothing. */
static void
test_take_audio (void)
{
  use_take_audio = TRUE;
  test_piece_sizes ();
  test_every_split_position ();
  test_resync_after_hole ();
  use_take_audio = FALSE;
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/icystream/whole-stream", test_whole_stream);
  g_test_add_func ("/icystream/every-split-position",
      test_every_split_position);
  g_test_add_func ("/icystream/piece-sizes-1-to-130", test_piece_sizes);
  g_test_add_func ("/icystream/take-audio", test_take_audio);
  g_test_add_func ("/icystream/no-metadata", test_no_metadata);
  g_test_add_func ("/icystream/truncated-block", test_truncated_block);
  g_test_add_func ("/icystream/resync-after-hole", test_resync_after_hole);
  g_test_add_func ("/icystream/random-bytes", test_random_bytes);
  g_test_add_func ("/icystream/wrong-interval", test_wrong_interval);
  return g_test_run ();
}
