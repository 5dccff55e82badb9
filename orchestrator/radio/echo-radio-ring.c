/* echo-radio-ring.c: see echo-radio-ring.h.
 *
 * Chunks sit in a GPtrArray in offset order: a listener finds its chunk by binary search,
 * and trimming drops a prefix. A mount has a few hundred chunks at most (seconds of audio
 * in chunks of a few KB), so neither needs more.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-ring.h"

typedef struct {
  guint64 offset;
  GBytes *bytes;
  gint64 arrived_us;
} RingChunk;

typedef struct {
  guint64 offset;
  guint serial;
  GBytes *block;
} RingTitle;

struct _EchoRadioRing {
  GPtrArray *chunks;          /* of RingChunk*, oldest first */
  GPtrArray *titles;          /* of RingTitle*, oldest first */
  guint64 head;
  guint next_serial;
};

static void
ring_chunk_free (gpointer data)
{
  RingChunk *chunk = data;

  g_bytes_unref (chunk->bytes);
  g_free (chunk);
}

static void
ring_title_free (gpointer data)
{
  RingTitle *title = data;

  g_bytes_unref (title->block);
  g_free (title);
}

EchoRadioRing *
echo_radio_ring_new (void)
{
  EchoRadioRing *ring = g_new0 (EchoRadioRing, 1);

  ring->chunks = g_ptr_array_new_with_free_func (ring_chunk_free);
  ring->titles = g_ptr_array_new_with_free_func (ring_title_free);
  ring->next_serial = 1;
  return ring;
}

void
echo_radio_ring_free (EchoRadioRing *ring)
{
  if (ring == NULL)
    return;
  g_ptr_array_unref (ring->chunks);
  g_ptr_array_unref (ring->titles);
  g_free (ring);
}

void
echo_radio_ring_append (EchoRadioRing *ring, GBytes *bytes, gint64 arrived_us)
{
  RingChunk *chunk;

  if (g_bytes_get_size (bytes) == 0)
    return;
  chunk = g_new0 (RingChunk, 1);
  chunk->offset = ring->head;
  chunk->bytes = g_bytes_ref (bytes);
  chunk->arrived_us = arrived_us;
  g_ptr_array_add (ring->chunks, chunk);
  ring->head += g_bytes_get_size (bytes);
}

guint64
echo_radio_ring_head (EchoRadioRing *ring)
{
  return ring->head;
}

guint64
echo_radio_ring_tail (EchoRadioRing *ring)
{
  if (ring->chunks->len == 0)
    return ring->head;
  return ((RingChunk *) g_ptr_array_index (ring->chunks, 0))->offset;
}

gboolean
echo_radio_ring_locate (EchoRadioRing *ring, guint64 offset, GBytes **bytes, gsize *skip,
    gint64 *arrived_us)
{
  guint low = 0, high = ring->chunks->len;
  RingChunk *chunk;

  if (offset >= ring->head || offset < echo_radio_ring_tail (ring))
    return FALSE;
  /* the last chunk starting at or before offset; listeners are mostly near the head */
  chunk = g_ptr_array_index (ring->chunks, ring->chunks->len - 1);
  if (chunk->offset > offset) {
    while (high - low > 1) {
      guint mid = low + (high - low) / 2;

      if (((RingChunk *) g_ptr_array_index (ring->chunks, mid))->offset <= offset)
        low = mid;
      else
        high = mid;
    }
    chunk = g_ptr_array_index (ring->chunks, low);
  }
  *bytes = chunk->bytes;
  *skip = (gsize) (offset - chunk->offset);
  if (arrived_us != NULL)
    *arrived_us = chunk->arrived_us;
  return TRUE;
}

void
echo_radio_ring_trim (EchoRadioRing *ring, guint64 keep_bytes, gint64 older_than_us)
{
  guint drop = 0;
  guint64 tail;
  guint titles = 0;

  while (drop < ring->chunks->len) {
    RingChunk *chunk = g_ptr_array_index (ring->chunks, drop);

    if (chunk->arrived_us >= older_than_us ||
        ring->head - (chunk->offset + g_bytes_get_size (chunk->bytes)) < keep_bytes)
      break;
    drop++;
  }
  if (drop > 0)
    g_ptr_array_remove_range (ring->chunks, 0, drop);

  /* keep the title in effect at the tail: it is the one a listener starting there gets */
  tail = echo_radio_ring_tail (ring);
  while (titles + 1 < ring->titles->len &&
      ((RingTitle *) g_ptr_array_index (ring->titles, titles + 1))->offset <= tail)
    titles++;
  if (titles > 0)
    g_ptr_array_remove_range (ring->titles, 0, titles);
}

guint
echo_radio_ring_set_title (EchoRadioRing *ring, GBytes *block)
{
  RingTitle *title = g_new0 (RingTitle, 1);

  title->offset = ring->head;
  title->serial = ring->next_serial++;
  title->block = g_bytes_ref (block);
  /* two changes between the same bytes: only the newer one will ever be sent */
  if (ring->titles->len > 0 &&
      ((RingTitle *) g_ptr_array_index (ring->titles, ring->titles->len - 1))->offset ==
      ring->head)
    g_ptr_array_remove_index (ring->titles, ring->titles->len - 1);
  g_ptr_array_add (ring->titles, title);
  return title->serial;
}

GBytes *
echo_radio_ring_title_at (EchoRadioRing *ring, guint64 offset, guint *serial)
{
  guint i = ring->titles->len;

  while (i > 0) {
    RingTitle *title = g_ptr_array_index (ring->titles, i - 1);

    if (title->offset <= offset) {
      *serial = title->serial;
      return title->block;
    }
    i--;
  }
  *serial = 0;
  return NULL;
}
