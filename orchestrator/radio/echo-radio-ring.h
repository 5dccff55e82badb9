/* echo-radio-ring.h: the recent bytes of one mount, shared by all of its listeners.
 *
 * The mount's stream is numbered by byte offset from the source's first byte. The ring keeps
 * the newest chunks (GBytes, each as published, never copied) with the time each arrived,
 * and the title changes with the offset each applies from, so a listener reading behind the
 * newest byte still gets the title that belongs to the audio it is at. Listeners hold
 * offsets, not pointers; the ring only drops what is older than its caller says.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoRadioRing EchoRadioRing;

EchoRadioRing *echo_radio_ring_new (void);
void echo_radio_ring_free (EchoRadioRing *ring);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioRing, echo_radio_ring_free)

/* Appends a chunk (a new reference is kept) that arrived at arrived_us (monotonic). */
void echo_radio_ring_append (EchoRadioRing *ring, GBytes *chunk, gint64 arrived_us);
/* The offset one past the newest byte. */
guint64 echo_radio_ring_head (EchoRadioRing *ring);
/* The offset of the oldest byte still kept (== head when empty). */
guint64 echo_radio_ring_tail (EchoRadioRing *ring);

/* The kept bytes from offset on, in place: the chunk holding offset and the position in it.
 * FALSE when offset is not within [tail, head). *arrived_us: when that chunk arrived. */
gboolean echo_radio_ring_locate (EchoRadioRing *ring, guint64 offset, GBytes **chunk,
    gsize *skip, gint64 *arrived_us);

/* Drops the oldest chunks as long as at least keep_bytes stay and the chunk arrived before
 * older_than_us. Title changes before the new tail are dropped too, but the one in effect
 * at the tail stays. */
void echo_radio_ring_trim (EchoRadioRing *ring, guint64 keep_bytes, gint64 older_than_us);

/* A title change from the current head on: block is what a listener gets (see
 * echo-radio-icy.h), a new reference is kept. Returns its serial (1, 2, ...). */
guint echo_radio_ring_set_title (EchoRadioRing *ring, GBytes *block);
/* The title block in effect at offset and its serial; NULL (serial 0) when there is none. */
GBytes *echo_radio_ring_title_at (EchoRadioRing *ring, guint64 offset, guint *serial);

G_END_DECLS
