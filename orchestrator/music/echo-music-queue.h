/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-queue.h: the queue of one music session: what plays now, what plays next and
 * in which order, what played before (history), and counters for stats. Pure logic: no I/O,
 * no clock ("now" is a parameter, Unix ms), randomness from a GRand the caller passes.
 * Not thread-safe (one session, one thread).
 *
 * Order. The queued items are kept in play order and each one's position is its index.
 * With voting on, the order is (most votes first, then earliest requested_at, then arrival)
 * and is kept sorted after every add and vote; with voting off it is the manual order that
 * reorder() changes, new items going to the back. Switching voting off keeps the order the
 * votes had made (the list a listener sees does not jump); switching it on sorts by votes.
 *
 * Playing. start() takes the next item when nothing plays; advance() ends the playing item
 * (PLAYED or SKIPPED: it goes to history, counters updated) and takes the next:
 * - loop ONE replays the same track (a fresh item) after a natural end, moves on after a skip;
 * - loop ALL queues a fresh copy of every ended item at the back (with voting on: where a
 *   new request with no votes goes), so the queue never runs dry; the copies belong to the
 *   next round;
 * - shuffle picks uniformly among the queued items of the lowest round (so with loop ALL
 *   every item plays once per cycle), otherwise the first in play order.
 * back() plays the newest history item again (the same item, same id, taken out of history)
 * and returns the playing item to the front of the queue (with voting on, to where its votes
 * put it).
 *
 * Failures. Every operation that can fail validates first and changes nothing when it fails
 * (GError in ECHO_MUSIC_ERROR). Items returned are owned by the queue and valid until the
 * queue next changes.
 *
 * Limits. max_items bounds the queued items that add() and add_many() may create; back()
 * and loop ALL never fail for it (they can leave the queue one item over). history keeps
 * the newest history_limit ended items; stats count every item ever ended.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "echo-music-queue-item.h"
#include "echo-track.h"

G_BEGIN_DECLS

#define ECHO_MUSIC_QUEUE_DEFAULT_MAX_ITEMS 500
#define ECHO_MUSIC_QUEUE_DEFAULT_HISTORY_LIMIT 100

typedef struct _EchoMusicQueue EchoMusicQueue;

/* @max_items >= 1; @history_limit may be 0 (no history, back() always NOT_FOUND). */
EchoMusicQueue *echo_music_queue_new (guint max_items, guint history_limit);
void            echo_music_queue_free (EchoMusicQueue *queue);

guint           echo_music_queue_get_max_items (EchoMusicQueue *queue);
guint           echo_music_queue_get_history_limit (EchoMusicQueue *queue);

gboolean        echo_music_queue_get_voting (EchoMusicQueue *queue);
void            echo_music_queue_set_voting (EchoMusicQueue *queue, gboolean voting);

/* The number of queued items (the playing one not counted). */
guint           echo_music_queue_get_length (EchoMusicQueue *queue);

/* Queues a copy of @track requested by @user_id (non-empty, else INVALID); QUEUE_FULL when
 * max_items are queued. */
EchoQueueItem  *echo_music_queue_add (EchoMusicQueue *queue, const EchoTrack *track,
                                      const char *user_id, gint64 now_ms, GError **error);

/* All of @tracks (EchoTrack*) or none: QUEUE_FULL when they do not all fit. Returns the new
 * items in the order of @tracks (the array is the caller's, the items the queue's). */
GPtrArray      *echo_music_queue_add_many (EchoMusicQueue *queue, GPtrArray *tracks,
                                           const char *user_id, gint64 now_ms,
                                           GError **error);

/* Takes a queued item out. NOT_FOUND for an unknown id; CONFLICT for the playing item (skip
 * it instead) and for history items. */
gboolean        echo_music_queue_remove (EchoMusicQueue *queue, const char *item_id,
                                         GError **error);

/* Moves a queued item to @new_position (0-based, < length: else INVALID), shifting the
 * others. CONFLICT while voting is on (votes decide the order then) and for items that are
 * not queued; NOT_FOUND for an unknown id. */
gboolean        echo_music_queue_reorder (EchoMusicQueue *queue, const char *item_id,
                                          guint new_position, GError **error);

/* @user_id votes @value (+1 or -1, else INVALID) for a queued item. TRUE when the vote
 * counted; FALSE without an error when @user_id had already voted for it (seed 001: one
 * vote per user, a second one is ignored); FALSE with an error when it failed: NOT_FOUND
 * (unknown id), CONFLICT (the item is playing or ended), INVALID (value, empty user). */
gboolean        echo_music_queue_vote (EchoMusicQueue *queue, const char *item_id,
                                       const char *user_id, int value, GError **error);

/* The item with this id, queued, playing or in history; NULL when there is none. */
EchoQueueItem  *echo_music_queue_lookup (EchoMusicQueue *queue, const char *item_id);

/* The queued items in play order (a new array of the queue's items). */
GPtrArray      *echo_music_queue_upcoming (EchoMusicQueue *queue);

/* The playing item or NULL. */
EchoQueueItem  *echo_music_queue_current (EchoMusicQueue *queue);

/* When nothing plays, the next item starts playing (see the order above); when something
 * plays already, nothing changes. Returns the playing item, NULL when the queue is empty.
 * @rand: for shuffle; NULL uses GLib's global generator. */
EchoQueueItem  *echo_music_queue_start (EchoMusicQueue *queue, gboolean shuffle, GRand *rand,
                                        gint64 now_ms);

/* Ends the playing item (if any) with @end (ECHO_QUEUE_PLAYED or ECHO_QUEUE_SKIPPED) and
 * starts the next one as @loop and @shuffle say. Returns the new playing item, NULL when the
 * queue ran dry. */
EchoQueueItem  *echo_music_queue_advance (EchoMusicQueue *queue, EchoQueueStatus end,
                                          EchoLoopMode loop, gboolean shuffle, GRand *rand,
                                          gint64 now_ms);

/* Plays the newest history item again (see above); NOT_FOUND when history is empty. */
EchoQueueItem  *echo_music_queue_back (EchoMusicQueue *queue, gint64 now_ms, GError **error);

/* Removes every queued item (not the playing one); returns how many. */
guint           echo_music_queue_clear (EchoMusicQueue *queue);

/* Ended items, newest first, at most @limit (0: all kept). A new array of the queue's items. */
GPtrArray      *echo_music_queue_history (EchoMusicQueue *queue, guint limit);

typedef struct
{
  char *user_id;
  guint count;
} EchoQueueRequester;

typedef struct
{
  guint played;                 /* items that ended naturally */
  guint skipped;                /* items that were skipped */
  gint64 total_played_ms;       /* listening time of ended items: ended_at - started_at,
                                 * at most the track's duration when it is known */
  GPtrArray *top_requesters;    /* EchoQueueRequester*: tracks each user added (add,
                                 * add_many), most first, ties by user id */
} EchoQueueStats;

/* @top: how many requesters at most (0: all). */
EchoQueueStats *echo_music_queue_stats (EchoMusicQueue *queue, guint top);
void            echo_queue_stats_free (EchoQueueStats *stats);

/* {"played","skipped","totalPlayedMs","topRequesters":[{"userId","count"}]} */
JsonNode       *echo_queue_stats_to_json (const EchoQueueStats *stats);

/* The queued items in play order as an array of echo_queue_item_to_json objects. */
JsonNode       *echo_music_queue_to_json (EchoMusicQueue *queue);

/* The same as JSON text, made from the items' cached texts (echo_queue_item_to_json_text). */
char           *echo_music_queue_to_json_text (EchoMusicQueue *queue);

/* Queue deltas: what a client holding the queue as it was at a mark needs to hold it as it
 * is now. A mark remembers the queued items' ids, order and revisions. The delta is JSON
 * object members (no braces):
 *   "removed":[item ids no longer queued],
 *   "items":[echo_queue_item_to_json objects, new or changed since the mark, in play order],
 *   "order":[every queued item id in play order]   (only when needed, see below)
 * and a client applies it so: drop the removed ids; replace each listed item it holds and
 * append the others in the order given; then, when "order" is present, sort by it. Its
 * items' "position" members are their indexes in the result. */
typedef struct _EchoMusicQueueMark EchoMusicQueueMark;

EchoMusicQueueMark *echo_music_queue_mark_new (EchoMusicQueue *queue);
void            echo_music_queue_mark_free (EchoMusicQueueMark *mark);
/* NULL when nothing changed since @mark. */
char           *echo_music_queue_delta_text (EchoMusicQueue *queue,
                                             const EchoMusicQueueMark *mark);

/* History (newest first, at most @limit, 0: all) as an array of item objects. */
JsonNode       *echo_music_queue_history_to_json (EchoMusicQueue *queue, guint limit);

/* The whole queue (limits, voting flag, playing item, queued items, history, counters) as
 * one JSON text for the store; deterministic (equal queues give equal texts). */
char           *echo_music_queue_serialize (EchoMusicQueue *queue);

/* Reads serialize()'s text back. INVALID (ECHO_MUSIC_ERROR) for anything malformed or
 * inconsistent (wrong types, duplicate ids, a status that does not fit where the item is,
 * more history than its limit); never crashes on any input. */
EchoMusicQueue *echo_music_queue_deserialize (const char *text, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicQueue, echo_music_queue_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoQueueStats, echo_queue_stats_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicQueueMark, echo_music_queue_mark_free)

G_END_DECLS
