/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-player.h: the server-side player of one music session.
 *
 * It plays the session's server-side tracks (uploads, HTTP files) into the factory's
 * "music" pipeline (pipelines/music.pipeline), whose sharerelay serves them to
 * `echosyncsrc session=ID` receivers in sample-accurate sync. The relay's timeline never
 * stops: between tracks and while paused the receivers hear silence, not a dead session.
 *
 * The player knows tracks by the caller's item id and a URI; it does not know the queue.
 * The caller (the session logic) says what plays now (play), what follows
 * (queue_next: decoded ahead, joined without a gap), and reacts to the callbacks:
 *   - started (item): the item's first audio is due at the relay now (its timeline
 *     begins; receivers hear it the session latency later). Once per item: at play(),
 *     or at a gapless join; not again after a seek or a resume.
 *   - ended (item): the item's last sample is due now (a natural end, EOS). When a
 *     next item was queued, its `started` follows at once.
 *   - failed (item, message): the item cannot be decoded (missing file, not audio,
 *     corrupt data, a decoder error halfway). For the playing item it comes when the
 *     audio it did produce has played out; for a queued next item, when it would have
 *     started. The player carries on (silence, or the next item); echod keeps running.
 *
 * Threading: everything here is called from one thread, the one whose thread-default
 * GMainContext was current in echo_music_player_new(); the callbacks are dispatched on
 * that context, never on a streaming thread. A callback may call any function here,
 * echo_music_player_free() included. Decoding and feeding run on GStreamer's and the
 * player's own threads.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "echo-pipeline-factory.h"

G_BEGIN_DECLS

typedef struct _EchoMusicPlayer EchoMusicPlayer;

/* The relay's session latency for a music session, ms (as the share default). */
#define ECHO_MUSIC_PLAYER_LATENCY_MS 100
/* How far ahead of the clock decoded audio is fed: what pause, seek and play take to be
 * heard. */
#define ECHO_MUSIC_PLAYER_LEAD_MS 150
/* The fade at a start, a resume and a pause. */
#define ECHO_MUSIC_PLAYER_FADE_MS 20

typedef struct
{
  void (*started) (EchoMusicPlayer * player, const char *item_id, gpointer user_data);
  void (*ended) (EchoMusicPlayer * player, const char *item_id, gpointer user_data);
  void (*failed) (EchoMusicPlayer * player, const char *item_id, const char *message,
      gpointer user_data);
  gpointer user_data;
} EchoMusicPlayerCallbacks;

/**
 * echo_music_player_new:
 * @factory: the loaded templates (with a "music" one); must outlive the player
 * @session_id: the music session's id ({session}: lower-case hex and '-'): also the
 *   relay's session name, what `echosyncsrc session=` finds
 * @token: (nullable): receivers must know it; NULL or "": open session
 * @announce: announce the session by mDNS
 * @callbacks: (nullable): copied; any member may be NULL
 * @error: return location for an ECHO_PIPELINE_ERROR
 *
 * Builds the pipeline and sets it PLAYING (silence): the relay's port is bound on return.
 *
 * Returns: (transfer full): the player, or NULL with @error set
 */
EchoMusicPlayer *echo_music_player_new (EchoPipelineFactory * factory,
    const char *session_id, const char *token, gboolean announce,
    const EchoMusicPlayerCallbacks * callbacks, GError ** error);

/* Stops at once (no fade) and frees; pending callbacks are not called. NULL is allowed. */
void echo_music_player_free (EchoMusicPlayer * player);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicPlayer, echo_music_player_free)

/**
 * echo_music_player_play:
 * @item_id: the caller's name for this track (1..128 printable ASCII)
 * @uri: file:// or http(s)://
 * @start_ms: where to start, >= 0 (beyond the end: the item ends at once)
 * @error: ECHO_PIPELINE_ERROR_INVALID_VALUE for a bad id, URI or position,
 *   ECHO_PIPELINE_ERROR_FAILED when the pipeline is gone and cannot be rebuilt
 *
 * Replaces whatever plays (and the queued next item) with @uri from @start_ms, fading
 * it in as soon as its decoder is ready; unpauses. Decoding problems are reported by
 * the `failed` callback, not here. Audio of the previous item already fed (up to
 * ECHO_MUSIC_PLAYER_LEAD_MS) still plays out first.
 */
gboolean echo_music_player_play (EchoMusicPlayer * player, const char *item_id,
    const char *uri, gint64 start_ms, GError ** error);

/**
 * echo_music_player_queue_next:
 *
 * @uri follows the current item without a gap: its decoder starts now and waits with
 * its first audio ready. Replaces a previously queued next item. With nothing playing
 * (idle, or the current item already ended) this is echo_music_player_play() from 0.
 */
gboolean echo_music_player_queue_next (EchoMusicPlayer * player, const char *item_id,
    const char *uri, GError ** error);

/* Forgets the queued next item (the queue changed): the current item then ends into
 * silence. */
void echo_music_player_clear_next (EchoMusicPlayer * player);

/* Pause fades the current item out (ECHO_MUSIC_PLAYER_FADE_MS) and holds its position;
 * the output is silence meanwhile. Resume fades it back in where it stopped. Both are
 * idempotent; a play() unpauses. */
void echo_music_player_pause (EchoMusicPlayer * player);
void echo_music_player_resume (EchoMusicPlayer * player);
gboolean echo_music_player_is_paused (EchoMusicPlayer * player);

/**
 * echo_music_player_seek:
 * @position_ms: >= 0
 *
 * Restarts the current item at @position_ms (fading in; paused stays paused).
 *
 * Returns: FALSE with ECHO_PIPELINE_ERROR_NOT_FOUND when nothing plays,
 *   ECHO_PIPELINE_ERROR_INVALID_VALUE for a negative position
 */
gboolean echo_music_player_seek (EchoMusicPlayer * player, gint64 position_ms,
    GError ** error);

/* The session volume 0..100 (linear gain volume / 100, as HTML audio), reached by a
 * 50 ms ramp on the pipeline's volume element. Values above 100 are taken as 100. */
void echo_music_player_set_volume (EchoMusicPlayer * player, guint volume);
guint echo_music_player_get_volume (EchoMusicPlayer * player);

/* The current and the queued item stop at once (their audio already fed plays out);
 * the output is silence. No callback follows for them. */
void echo_music_player_stop (EchoMusicPlayer * player);

/**
 * echo_music_player_get_position_ms:
 * @item_id: (out) (optional) (transfer full): the item the position is of
 *
 * The position in the item audible at the relay now: ms since its start, frozen while
 * paused; an item still loading reports its start position.
 *
 * Returns: the position, or -1 (and NULL) when nothing plays or loads
 */
gint64 echo_music_player_get_position_ms (EchoMusicPlayer * player, char **item_id);

/* The UDP port sharerelay serves the session on, 0 when the pipeline failed. */
guint16 echo_music_player_get_relay_port (EchoMusicPlayer * player);

/* The running music pipeline (transfer none; NULL after a failure), for tests and stats:
 * its elements are the template's. */
GstPipeline *echo_music_player_get_pipeline (EchoMusicPlayer * player);

G_END_DECLS
