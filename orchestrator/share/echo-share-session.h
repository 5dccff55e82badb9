/* echo-share-session.h: one Music Share session, from start to its tombstone.
 *
 * A session owns what the sharer sent: the audio format fixed by its first chunk, a ring of
 * the last audio-buffer-seconds of float chunks, a ring of Opus packets fed by the media
 * pipeline, the current metadata (with its TTL), the per-session rate limits, the pollers seen
 * recently and the attached listeners (WebSocket clients, the media pipeline).
 *
 * Sessions are created, ended and forgotten by their EchoSharePool; callers get them from
 * echo_share_pool_start() / echo_share_pool_lookup() (transfer none: take a reference to keep
 * one across main-loop iterations, e.g. for a WebSocket). An ended session stays a valid object:
 * every operation on it fails with SESSION_ENDED.
 *
 * Threading: main thread only (the thread whose main context the pool was created on). The
 * media pipeline's streaming threads must hand Opus packets over with g_main_context_invoke()
 * or similar before calling echo_share_session_push_opus(). */
#pragma once

#include <glib-object.h>

#include "echo-share-request.h"

G_BEGIN_DECLS

#define ECHO_TYPE_SHARE_SESSION (echo_share_session_get_type ())
G_DECLARE_FINAL_TYPE (EchoShareSession, echo_share_session, ECHO, SHARE_SESSION, GObject)

/* How long a poller (a client that GETs audio or metadata) counts as a listener. */
#define ECHO_SHARE_POLLER_WINDOW_US (5 * G_USEC_PER_SEC)

const char *echo_share_session_get_id (EchoShareSession *session);
gboolean    echo_share_session_is_active (EchoShareSession *session);
gint64      echo_share_session_get_start_time_ms (EchoShareSession *session);   /* Unix ms */

/* FALSE until the first audio chunk fixed the format. Out arguments nullable. */
gboolean    echo_share_session_get_format (EchoShareSession *session, guint *sample_rate,
                                           guint *channels);

/* The newest accepted sequence number, -1 before the first chunk. */
gint64      echo_share_session_get_latest_sequence (EchoShareSession *session);

/* Receiver listeners (is_receiver) plus distinct pollers seen in the last 5 s. */
guint       echo_share_session_get_listener_count (EchoShareSession *session);

/* Decoded audio bytes accepted so far. */
guint64     echo_share_session_get_bytes_in (EchoShareSession *session);

/* ---- the sharer ---- */

/* POST metadata: validates @body (see echo_share_request_parse_metadata()), applies the
 * metadata-rate limit, persists it, and tells the listeners. *listeners_notified (nullable)
 * receives the live listener count. Errors: SESSION_ENDED, RATE_LIMITED, INVALID_JSON,
 * INVALID_FIELD, PAYLOAD_TOO_LARGE, STORE_FAILED (nothing changed). */
gboolean    echo_share_session_post_metadata (EchoShareSession *session, const char *body,
                                              gsize len, guint *listeners_notified,
                                              GError **error);

/* POST audio: validates @body (see echo_share_request_parse_audio()), applies the audio-rate
 * limit, checks format and sequence, buffers the chunk and hands it to the listeners.
 * *buffered (nullable) is TRUE for a new chunk and FALSE for a retry of a sequence number
 * already accepted (still buffered, or the newest). A forward jump in sequenceNumber is
 * accepted and counted as a gap. Errors: SESSION_ENDED, RATE_LIMITED, INVALID_JSON,
 * INVALID_FIELD, PAYLOAD_TOO_LARGE, FORMAT_CHANGED, SEQUENCE_BACKWARDS. */
gboolean    echo_share_session_post_audio (EchoShareSession *session, const char *body,
                                           gsize len, gboolean *buffered, GError **error);

/* Ends the session (reason "stopped"): persists the tombstone first (STORE_FAILED leaves the
 * session active), then tells the listeners and the pool's "session-ended" handlers.
 * *duration_s: seconds since start, rounded to 0.1 s; *bytes_transferred: decoded audio bytes
 * received. Both nullable. Errors: SESSION_ENDED, STORE_FAILED. */
gboolean    echo_share_session_stop (EchoShareSession *session, double *duration_s,
                                     guint64 *bytes_transferred, GError **error);

/* ---- receivers ---- */

/* The current metadata object text, as posted (a shared reference: no copy per poll, even
 * for a 5 MB thumbnail; the bytes are followed by a NUL not counted in the size). Errors:
 * SESSION_ENDED, METADATA_NOT_FOUND (none posted yet, or older than metadata-ttl-seconds). */
GBytes     *echo_share_session_get_metadata_json (EchoShareSession *session, GError **error);

/* GET audio: up to @limit (clamped to 1..10) chunks as a JSON array text in *out_json, for
 * @format: since == -1 (or below): the newest chunks; otherwise those with sequenceNumber >
 * since, oldest first (a reader behind the ring resumes at its oldest chunk; one at or ahead
 * of the newest gets none).
 * Returns TRUE with *out_json NULL when there is nothing (HTTP 204). The returned text is
 * counted as bytes out. Float chunks are the sharer's objects {data, sampleRate, channels,
 * timestamp, sequenceNumber}; Opus ones are {data, encoding:"opus", sampleRate:48000,
 * channels, frames, timestamp, sequenceNumber} in their own numbering. Errors: SESSION_ENDED. */
gboolean    echo_share_session_get_audio_json (EchoShareSession *session, gint64 since,
                                               guint limit, EchoShareAudioFormat format,
                                               char **out_json, GError **error);

/* The status route's body for an active session: {"isActive":true,"startTime","listenerCount",
 * "currentMetadata":{"title","artist"}|null,"sampleRate","channels","latestSequence"} (the last
 * three null before the first chunk). Errors: SESSION_ENDED. */
char       *echo_share_session_status_json (EchoShareSession *session, GError **error);

/* Records that the polling client @client_key (e.g. its address + User-Agent) asked for audio
 * or metadata now: it counts as a listener for the next 5 s. At most 4096 distinct keys are
 * remembered per session. No-op on an ended session. */
void        echo_share_session_note_poller (EchoShareSession *session, const char *client_key);

/* Adds to the bytes-out counter what the caller sent outside get_audio_json() (WebSocket). */
void        echo_share_session_add_bytes_out (EchoShareSession *session, guint64 n_bytes);

/* ---- listeners ---- */

/* Callbacks of one listener; any may be NULL. Called on the main thread, in the order the
 * listeners were added, after the session's state reflects the event (a chunk callback can
 * already see its chunk in get_audio_json()). A callback may remove any listener, itself
 * included. String arguments are valid only during the call. */
typedef struct {
  /* New metadata: the object text as posted. */
  void (*metadata) (EchoShareSession *session, const char *metadata_json, gpointer user_data);
  /* A new float chunk: @samples interleaved (n_frames * channels), the sharer's
   * @timestamp (ms, its clock) and the chunk's reply object. */
  void (*audio_chunk) (EchoShareSession *session, const float *samples, guint n_frames,
                       gint64 timestamp, const char *chunk_json, gpointer user_data);
  /* A new Opus packet from push_opus(), and its reply object. */
  void (*opus_packet) (EchoShareSession *session, const guint8 *packet, gsize len,
                       guint n_frames, const char *packet_json, gpointer user_data);
  /* The session ended ("stopped" or "timeout"). The listener is removed right after this
   * callback returns (its destroy notify runs); no other callback follows. */
  void (*ended) (EchoShareSession *session, const char *reason, gint64 ended_at_ms,
                 gpointer user_data);
  /* TRUE for a client that listens (a WebSocket): it counts in listenerCount and chunks handed
   * to it are "delivered" (not overflows). FALSE for an internal consumer (the media pipeline). */
  gboolean is_receiver;
} EchoShareListenerCallbacks;

/* Attaches a listener; @callbacks is copied. Returns its id (> 0), or 0 when the session has
 * ended, in which case @user_data is not taken (@destroy is not called). @destroy (nullable)
 * runs once no callback of the listener is running any more after it was removed: by
 * remove_listener(), after its ended callback, or when the pool is freed (echod shutting down:
 * no ended callback then, the session stays active in the store). */
guint       echo_share_session_add_listener (EchoShareSession *session,
                                             const EchoShareListenerCallbacks *callbacks,
                                             gpointer user_data, GDestroyNotify destroy);
/* Unknown or already removed ids are ignored. */
void        echo_share_session_remove_listener (EchoShareSession *session, guint listener_id);

/* ---- the media pipeline ---- */

/* Appends one Opus packet of @n_frames frames at 48 kHz (in the session's channel count) to the
 * Opus ring, numbered in its own sequence from 0, and hands it to the listeners. @timestamp is
 * the capture time in the sharer's clock (as its chunks carry). Ignored on an ended session
 * or for an empty packet. */
void        echo_share_session_push_opus (EchoShareSession *session, const guint8 *packet,
                                          gsize len, guint n_frames, gint64 timestamp);

G_END_DECLS
