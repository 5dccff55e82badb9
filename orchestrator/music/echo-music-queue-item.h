/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-queue-item.h: one entry of a music session's queue (seed 000's QueueItem, seed
 * 001's vote fields): which track, who asked for it and when, its votes (one per user), and
 * where it is in its life (queued -> playing -> played or skipped). Also the names of the
 * statuses and loop modes, and the item's two JSON forms (the API's and the store's).
 *
 * Items live in an EchoMusicQueue, which owns them; every play is its own item, so a track
 * replayed by loop ONE or loop ALL gets a fresh id (back() is the one exception: it plays
 * the same item again, see echo-music-queue.h).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "echo-track.h"

G_BEGIN_DECLS

typedef enum
{
  ECHO_LOOP_OFF,
  ECHO_LOOP_ONE,                /* a track that ends naturally plays again */
  ECHO_LOOP_ALL,                /* ended tracks go to the back of the queue */
} EchoLoopMode;

/* "OFF", "ONE", "ALL" */
const char *echo_loop_mode_to_string (EchoLoopMode mode);
gboolean    echo_loop_mode_from_string (const char *text, EchoLoopMode *mode);

typedef enum
{
  ECHO_QUEUE_QUEUED,
  ECHO_QUEUE_PLAYING,
  ECHO_QUEUE_PLAYED,            /* ended naturally */
  ECHO_QUEUE_SKIPPED,           /* ended by a skip */
} EchoQueueStatus;

/* "queued", "playing", "played", "skipped" */
const char *echo_queue_status_to_string (EchoQueueStatus status);
gboolean    echo_queue_status_from_string (const char *text, EchoQueueStatus *status);

typedef struct
{
  char *id;                     /* unique in its queue (current, queued and history) */
  EchoTrack *track;             /* owned */
  char *added_by;               /* user id */
  gint64 requested_at_ms;       /* Unix ms */
  int votes;                    /* the sum of the voters' +1/-1 */
  GHashTable *voters;           /* user id -> GINT_TO_POINTER (+1 or -1) */
  guint position;               /* 0-based index in play order while queued */
  EchoQueueStatus status;
  gint64 started_at_ms;         /* 0: not yet */
  gint64 ended_at_ms;           /* 0: not yet */

  /* Bookkeeping of the queue (kept in the store form, not shown by the API). */
  guint64 serial;               /* arrival order: the last tie-break of the vote order */
  guint round;                  /* the loop ALL cycle it belongs to: shuffle plays a round
                                 * through before starting the next */
  char *requeued_as;            /* ended under loop ALL: the id of its copy queued at the
                                 * back (back() takes that copy out again); else NULL */
  guint64 revision;             /* bumped (echo_queue_item_changed ()) whenever a member of
                                 * the API form other than "position" changes: what queue
                                 * deltas compare */

  /* echo_queue_item_to_json_text ()'s cache: the text, and the revision and position it
   * was made for. */
  char *api_text;
  guint64 api_text_revision;
  guint api_text_position;
} EchoQueueItem;

/* A queued item (status QUEUED, no votes) holding a copy of @track. */
EchoQueueItem *echo_queue_item_new (const EchoTrack *track, const char *added_by,
                                    gint64 requested_at_ms);
void           echo_queue_item_free (EchoQueueItem *item);

/* The voters' ids, sorted (so every JSON form is deterministic); the strings belong to
 * @item. */
GPtrArray     *echo_queue_item_sorted_voters (const EchoQueueItem *item);

/* API form: {"id","trackId","track":{echo_track_to_json},"addedById","requestedAt" (ISO
 * 8601 with ms),"votes","voters":[user ids, sorted],"position","status","startedAt",
 * "endedAt" (ISO 8601 or null)}. */
JsonNode      *echo_queue_item_to_json (const EchoQueueItem *item);
/* The same form as JSON text, made once per revision and position and kept in @item (so a
 * queue of unchanged items serializes by concatenation); valid until @item changes. */
const char    *echo_queue_item_to_json_text (EchoQueueItem *item);
/* To be called by whoever changes a member of the API form (position excepted). */
void           echo_queue_item_changed (EchoQueueItem *item);

/* Store form: everything, bookkeeping included, as a JSON object node. */
JsonNode      *echo_queue_item_to_store_json (const EchoQueueItem *item);

/* Reads the store form back; INVALID (ECHO_MUSIC_ERROR) for anything malformed: wrong
 * types, missing members, a vote that is not +1/-1, votes that are not the voters' sum. */
EchoQueueItem *echo_queue_item_from_store_json (JsonNode *node, GError **error);


G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoQueueItem, echo_queue_item_free)

G_END_DECLS
