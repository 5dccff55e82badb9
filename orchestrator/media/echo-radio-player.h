/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-radio-player.h: the player of one radio session.
 *
 * It plays a radio station into the factory's "radio" pipeline (pipelines/radio.pipeline),
 * whose sharerelay serves it to `echosyncsrc session=ID` receivers in sample-accurate sync.
 * The station comes in one of two ways:
 *   - pull: an http(s) stream URL (Icecast/Shoutcast with ICY titles, or plain HTTP),
 *     through the template's `station` chain (souphttpsrc iradio-mode=true ! icymetademux
 *     ! decodebin ...), one instance per connection;
 *   - push: encoded bytes a source client sent to echod (PUT/SOURCE /mount), with titles
 *     given in between (admin/metadata updinfo), decoded by the player.
 *
 * What the receivers hear is one continuous live stream whatever the upstream does: the
 * relay's timeline never stops. When the upstream dies (an error, the end of the stream,
 * or no audio for ECHO_RADIO_PLAYER_STALL_MS), the audio it already delivered plays out,
 * then the fallback plays (silence by default, a looping local file, or another station's
 * URL) while the player reconnects with exponential backoff (1 s doubling to 30 s, +-20%
 * jitter); when the upstream has ECHO_RADIO_PLAYER_PREBUFFER_MS of audio again it
 * takes over. Every switch fades out and in (ECHO_RADIO_PLAYER_FADE_MS): no clicks.
 * Decoder trouble never reaches the relay as noise: a decoder discontinuity (lost sync on
 * corrupt data) drops the audio around it and splices the two sides with short fades;
 * samples that are not finite or far out of range are dropped the same way; a pushed
 * stream that stops decoding (the source changed format) gets a new decoder.
 *
 * Titles (GstTagList: GST_TAG_TITLE, GST_TAG_ARTIST, GST_TAG_HOMEPAGE (StreamUrl),
 * GST_TAG_ORGANIZATION (station), GST_TAG_GENRE, GST_TAG_NOMINAL_BITRATE,
 * GST_TAG_AUDIO_CODEC) travel with the audio they belong to, and the `title` callback
 * fires when that audio is rendered by the receivers: its relay running time plus the
 * session latency, on the relay's clock. Switching to the fallback announces the
 * fallback's tags (an empty list for silence).
 *
 * Threading: everything here is called from one thread, the one whose thread-default
 * GMainContext was current in echo_radio_player_new(); the callbacks are dispatched on
 * that context, never on a streaming thread. A callback may call any function here,
 * echo_radio_player_free() included. Decoding and feeding run on GStreamer's threads and
 * the player's own feeder thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gst/gst.h>

#include "echo-pipeline-factory.h"

G_BEGIN_DECLS

typedef struct _EchoRadioPlayer EchoRadioPlayer;

/* The relay's session latency for a radio session, ms: from a sample's time on the session
 * clock to its render at every receiver. A frame leaves the relay about 47 ms after that
 * time (the live source's 10 ms, the mixer's 20 ms wait and 10 ms buffer, Opus lookahead)
 * and a receiver keeps 40 ms for rendering: at 100 ms, a frame's fan-out had 12 ms left,
 * no NACK could ever be repaired in time, and 500 receivers saw underruns
 * (bench/run-radio-bench). 250 ms leaves 160 ms for the fan-out, jitter and repairs;
 * radio is live but nobody hears a quarter second against the station's own delay. */
#define ECHO_RADIO_PLAYER_LATENCY_MS 250
/* How far ahead of the clock audio is fed to the relay (pause and switch reaction). */
#define ECHO_RADIO_PLAYER_LEAD_MS 150
/* The fade of every switch, pause and resume. */
#define ECHO_RADIO_PLAYER_FADE_MS 20
/* Decoded audio an upstream must hold before it is heard (after a start or an underrun):
 * the jitter buffer against network hiccups. */
#define ECHO_RADIO_PLAYER_PREBUFFER_MS 500
/* An upstream that delivers no audio for this long is dead (pull mode). */
#define ECHO_RADIO_PLAYER_STALL_MS 3000
/* Audio queued beyond this (a big server burst, clock drift) is dropped, oldest first. */
#define ECHO_RADIO_PLAYER_MAX_QUEUE_MS 10000
/* Reconnection delays: doubling from MIN to MAX, +-20% jitter. */
#define ECHO_RADIO_PLAYER_BACKOFF_MIN_MS 1000
#define ECHO_RADIO_PLAYER_BACKOFF_MAX_MS 30000

typedef enum
{
  /* the first connection to the upstream (or a pushed stream's decoder) is starting;
   * silence plays */
  ECHO_RADIO_PLAYER_STATE_CONNECTING,
  /* the upstream is heard */
  ECHO_RADIO_PLAYER_STATE_PLAYING,
  /* the upstream died; the detail says the attempt, the next delay and why */
  ECHO_RADIO_PLAYER_STATE_RECONNECTING,
  /* the fallback is heard (silence, the file or the fallback station): the upstream is
   * down or re-buffering, a pushed source closed, or the player is idle */
  ECHO_RADIO_PLAYER_STATE_FALLBACK,
} EchoRadioPlayerState;

/* "connecting", "playing", "reconnecting", "fallback" */
const char *echo_radio_player_state_to_string (EchoRadioPlayerState state);

typedef struct
{
  /* a title (tag list) starts to play at the receivers now: its first sample is being
   * rendered (relay running time + latency); not when it was parsed */
  void (*title) (EchoRadioPlayer * player, const GstTagList * tags, gpointer data);
  /* the upstream's state changed; @detail: human-readable (an URL, a reason, "attempt 3,
   * next in 4.1 s: ...") */
  void (*state) (EchoRadioPlayer * player, EchoRadioPlayerState state, const char *detail,
      gpointer data);
  /* something the caller can act on failed: the relay pipeline (rebuilt once), a
   * fallback file that cannot be decoded, a pushed content type nothing decodes */
  void (*failed) (EchoRadioPlayer * player, const GError * error, gpointer data);
} EchoRadioPlayerCallbacks;

/**
 * echo_radio_player_new:
 * @factory: the loaded templates (with a "radio" one); must outlive the player
 * @session_id: the radio session's id ({session}: lower-case hex and '-', a uuid): also
 *   the relay's session name, what `echosyncsrc session=` finds
 * @token: (nullable): receivers must know it; NULL or "": open session
 * @announce: announce the session by mDNS
 * @callbacks: (nullable): copied; any member may be NULL
 * @data: for the callbacks
 * @error: return location for an ECHO_PIPELINE_ERROR (NOT_FOUND: no radio.pipeline)
 *
 * Builds the relay pipeline and sets it PLAYING (silence): the relay's port is bound on
 * return.
 *
 * Returns: (transfer full): the player, or NULL with @error set
 */
EchoRadioPlayer *echo_radio_player_new (EchoPipelineFactory * factory,
    const char *session_id, const char *token, gboolean announce,
    const EchoRadioPlayerCallbacks * callbacks, gpointer data, GError ** error);

/* Stops at once and frees; pending callbacks are not called. NULL is allowed. */
void echo_radio_player_free (EchoRadioPlayer * player);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioPlayer, echo_radio_player_free)

/**
 * echo_radio_player_play_url:
 * @url: http:// or https:// (at most 2048 bytes, printable ASCII)
 * @headers: (nullable) (array zero-terminated=1): extra request headers, "Name: value"
 * @error: ECHO_PIPELINE_ERROR_INVALID_VALUE for a bad URL or header,
 *   ECHO_PIPELINE_ERROR_FAILED when the relay pipeline is gone and cannot be rebuilt
 *
 * Pulls the station at @url from now on (replacing a pulled or pushed one; the audio of
 * the previous one already queued is dropped with a fade). Connection trouble is
 * reported by the `state` callback, not here.
 */
gboolean echo_radio_player_play_url (EchoRadioPlayer * player, const char *url,
    const char *const *headers, GError ** error);

/**
 * echo_radio_player_push_open:
 * @content_type: the source's Content-Type: audio/mpeg, audio/ogg, application/ogg,
 *   audio/aac, audio/aacp, audio/flac, audio/webm (parameters after ';' ignored)
 * @error: ECHO_PIPELINE_ERROR_INVALID_VALUE for another type,
 *   ECHO_PIPELINE_ERROR_NOT_FOUND when no installed decoder takes it
 *
 * The station is now pushed: echo_radio_player_push_bytes() feeds it (replacing a pulled
 * or previously pushed one).
 */
gboolean echo_radio_player_push_open (EchoRadioPlayer * player, const char *content_type,
    GError ** error);

/* Encoded bytes of the pushed stream, in order (ignored when no push is open). At most
 * 2 MB wait for the decoder; beyond that the oldest are dropped. */
void echo_radio_player_push_bytes (EchoRadioPlayer * player, GBytes * bytes);

/* In-band metadata of the pushed stream: it plays with the audio of the bytes pushed
 * after it. Only the title tags listed above are kept. */
void echo_radio_player_push_metadata (EchoRadioPlayer * player, const GstTagList * tags);

/* The source is gone: what it sent plays out, then the fallback. */
void echo_radio_player_push_close (EchoRadioPlayer * player);

/* What plays while the upstream is down: silence (the default; NULL here restores it),
 * a local file played in a loop, or another station's URL. The last call wins. */
void echo_radio_player_set_fallback_file (EchoRadioPlayer * player, const char *path);
void echo_radio_player_set_fallback_url (EchoRadioPlayer * player, const char *url);

/* The session volume, linear gain 0..1 (values above 1 are taken as 1), reached by a
 * 50 ms ramp. */
void echo_radio_player_set_volume (EchoRadioPlayer * player, double volume);

/* Pause fades out to silence; the upstream stays connected (a live station does not
 * wait: resume plays it live again, fading in). Both are idempotent. */
void echo_radio_player_pause (EchoRadioPlayer * player);
void echo_radio_player_resume (EchoRadioPlayer * player);

/* The UDP port sharerelay serves the session on, 0 when the pipeline failed. */
guint16 echo_radio_player_get_relay_port (EchoRadioPlayer * player);

/* The title of what the receivers hear now (the last `title` callback's tags), NULL
 * before any. */
GstTagList *echo_radio_player_get_title (EchoRadioPlayer * player);

EchoRadioPlayerState echo_radio_player_get_state (EchoRadioPlayer * player);

/* The running relay pipeline (transfer none; NULL after a failure), for tests and
 * stats: its elements are the template's, without the `station` chain. */
GstPipeline *echo_radio_player_get_pipeline (EchoRadioPlayer * player);

G_END_DECLS
