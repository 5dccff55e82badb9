/* echo-share-ring.h: a session's buffer of recent chunks, bounded by audio duration.
 *
 * One ring type serves both buffers of a session: the sharer's float chunks and the Opus
 * packets the media pipeline produces. Chunks arrive in ascending sequence order (the session
 * checks that) and the ring keeps the newest ones whose frames add up to at most max_frames
 * (always at least the newest chunk). Each chunk carries its reply JSON object, built once when
 * it is created, so answering a poll only concatenates text.
 *
 * A chunk is "delivered" once it was handed to a receiver (a poll reply or a listening
 * WebSocket); evicting one that never was is a buffer overflow, which push() reports. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
  gint64 sequence;
  gint64 timestamp;
  guint n_frames;
  GBytes *payload;    /* float32 samples (host order) or one Opus packet */
  char *json;         /* this chunk's JSON object text */
  gsize json_len;
  gboolean delivered;
} EchoShareChunk;

/* Takes ownership of @json; refs @payload. Reference counted (g_rc_box). */
EchoShareChunk *echo_share_chunk_new (gint64 sequence, gint64 timestamp, guint n_frames,
                                      GBytes *payload, char *json);
EchoShareChunk *echo_share_chunk_ref (EchoShareChunk *chunk);
void            echo_share_chunk_unref (EchoShareChunk *chunk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoShareChunk, echo_share_chunk_unref)

typedef struct _EchoShareRing EchoShareRing;

EchoShareRing  *echo_share_ring_new (guint64 max_frames);
void            echo_share_ring_free (EchoShareRing *ring);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoShareRing, echo_share_ring_free)

/* Changing the bound evicts at the next push. */
void            echo_share_ring_set_max_frames (EchoShareRing *ring, guint64 max_frames);

/* Appends @chunk (a new reference is taken); its sequence must be above the newest. Evicts the
 * oldest chunks beyond max_frames and returns how many of them were never delivered. */
guint           echo_share_ring_push (EchoShareRing *ring, EchoShareChunk *chunk);

/* The buffered chunk with this sequence number, or NULL (transfer none). */
EchoShareChunk *echo_share_ring_find (EchoShareRing *ring, gint64 sequence);

gint64          echo_share_ring_newest_sequence (EchoShareRing *ring);  /* -1 when empty */
gint64          echo_share_ring_oldest_sequence (EchoShareRing *ring);  /* -1 when empty */
guint           echo_share_ring_get_length (EchoShareRing *ring);
guint64         echo_share_ring_get_frames (EchoShareRing *ring);

/* A JSON array of up to @limit chunks, ascending: with @since == -1 the newest @limit chunks,
 * otherwise the oldest chunks with sequence > @since (so a reader that fell behind resumes
 * at the oldest still buffered). Marks them delivered. NULL when there are none (the 204
 * case); else the text, its length through @out_len (nullable). */
char           *echo_share_ring_collect_json (EchoShareRing *ring, gint64 since, guint limit,
                                              gsize *out_len);

void            echo_share_ring_clear (EchoShareRing *ring);

G_END_DECLS
