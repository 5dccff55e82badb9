/* echo-share-ring.c: a session's chunk buffer (see the header). */
#include "echo-share-ring.h"

#include <string.h>

struct _EchoShareRing {
  GPtrArray *chunks;      /* of EchoShareChunk*, ascending sequence */
  guint64 frames;         /* sum of n_frames over chunks */
  guint64 max_frames;
};

static void
chunk_clear (gpointer data)
{
  EchoShareChunk *chunk = data;

  g_clear_pointer (&chunk->payload, g_bytes_unref);
  g_clear_pointer (&chunk->json, g_free);
}

EchoShareChunk *
echo_share_chunk_new (gint64 sequence, gint64 timestamp, guint n_frames, GBytes *payload,
    char *json)
{
  EchoShareChunk *chunk = g_rc_box_new0 (EchoShareChunk);

  chunk->sequence = sequence;
  chunk->timestamp = timestamp;
  chunk->n_frames = n_frames;
  chunk->payload = payload != NULL ? g_bytes_ref (payload) : NULL;
  chunk->json = json;
  chunk->json_len = json != NULL ? strlen (json) : 0;
  return chunk;
}

EchoShareChunk *
echo_share_chunk_ref (EchoShareChunk *chunk)
{
  return g_rc_box_acquire (chunk);
}

void
echo_share_chunk_unref (EchoShareChunk *chunk)
{
  g_rc_box_release_full (chunk, chunk_clear);
}

EchoShareRing *
echo_share_ring_new (guint64 max_frames)
{
  EchoShareRing *ring = g_new0 (EchoShareRing, 1);

  ring->chunks = g_ptr_array_new_with_free_func ((GDestroyNotify) echo_share_chunk_unref);
  ring->max_frames = max_frames;
  return ring;
}

void
echo_share_ring_free (EchoShareRing *ring)
{
  if (ring == NULL)
    return;
  g_ptr_array_unref (ring->chunks);
  g_free (ring);
}

void
echo_share_ring_set_max_frames (EchoShareRing *ring, guint64 max_frames)
{
  ring->max_frames = max_frames;
}

guint
echo_share_ring_push (EchoShareRing *ring, EchoShareChunk *chunk)
{
  guint evict = 0, overflows = 0;
  guint64 frames;

  g_return_val_if_fail (ring != NULL && chunk != NULL, 0);
  g_return_val_if_fail (chunk->sequence > echo_share_ring_newest_sequence (ring), 0);

  g_ptr_array_add (ring->chunks, echo_share_chunk_ref (chunk));
  ring->frames += chunk->n_frames;

  frames = ring->frames;
  while (frames > ring->max_frames && evict + 1 < ring->chunks->len) {
    EchoShareChunk *old = g_ptr_array_index (ring->chunks, evict);

    frames -= old->n_frames;
    if (!old->delivered)
      overflows++;
    evict++;
  }
  if (evict > 0)
    g_ptr_array_remove_range (ring->chunks, 0, evict);
  ring->frames = frames;
  return overflows;
}

/* Index of the first chunk with sequence > @since (chunks->len when none). */
static guint
first_after (EchoShareRing *ring, gint64 since)
{
  guint lo = 0, hi = ring->chunks->len;

  while (lo < hi) {
    guint mid = lo + (hi - lo) / 2;
    EchoShareChunk *chunk = g_ptr_array_index (ring->chunks, mid);

    if (chunk->sequence > since)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

EchoShareChunk *
echo_share_ring_find (EchoShareRing *ring, gint64 sequence)
{
  guint index;
  EchoShareChunk *chunk;

  if (sequence == G_MININT64)
    return NULL;
  index = first_after (ring, sequence - 1);
  if (index >= ring->chunks->len)
    return NULL;
  chunk = g_ptr_array_index (ring->chunks, index);
  return chunk->sequence == sequence ? chunk : NULL;
}

gint64
echo_share_ring_newest_sequence (EchoShareRing *ring)
{
  if (ring->chunks->len == 0)
    return -1;
  return ((EchoShareChunk *) g_ptr_array_index (ring->chunks, ring->chunks->len - 1))->sequence;
}

gint64
echo_share_ring_oldest_sequence (EchoShareRing *ring)
{
  if (ring->chunks->len == 0)
    return -1;
  return ((EchoShareChunk *) g_ptr_array_index (ring->chunks, 0))->sequence;
}

guint
echo_share_ring_get_length (EchoShareRing *ring)
{
  return ring->chunks->len;
}

guint64
echo_share_ring_get_frames (EchoShareRing *ring)
{
  return ring->frames;
}

char *
echo_share_ring_collect_json (EchoShareRing *ring, gint64 since, guint limit, gsize *out_len)
{
  guint first, end;
  gsize size = 2;
  GString *text;

  g_return_val_if_fail (ring != NULL, NULL);

  if (limit == 0 || ring->chunks->len == 0)
    return NULL;
  if (since < 0) {
    first = ring->chunks->len > limit ? ring->chunks->len - limit : 0;
  } else {
    first = first_after (ring, since);
  }
  if (first >= ring->chunks->len)
    return NULL;
  end = first + MIN (limit, ring->chunks->len - first);

  for (guint i = first; i < end; i++)
    size += ((EchoShareChunk *) g_ptr_array_index (ring->chunks, i))->json_len + 1;
  text = g_string_sized_new (size);
  g_string_append_c (text, '[');
  for (guint i = first; i < end; i++) {
    EchoShareChunk *chunk = g_ptr_array_index (ring->chunks, i);

    if (i > first)
      g_string_append_c (text, ',');
    g_string_append_len (text, chunk->json, (gssize) chunk->json_len);
    chunk->delivered = TRUE;
  }
  g_string_append_c (text, ']');
  if (out_len != NULL)
    *out_len = text->len;
  return g_string_free (text, FALSE);
}

void
echo_share_ring_clear (EchoShareRing *ring)
{
  g_ptr_array_set_size (ring->chunks, 0);
  ring->frames = 0;
}
