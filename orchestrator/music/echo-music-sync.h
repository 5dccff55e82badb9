/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-music-sync.h: the decisions of the music sync protocol between echod (the clock) and
 * WebSocket clients that play tracks in their own players. Pure: no I/O, no clock.
 *
 * Drift. A client reports its playback position in heartbeats; the server compares it with
 * where the session's timeline says it should be and answers OK, SEEK (to the expected
 * position) or RESYNC (pause and resync), the seed's 500 ms and 3 s floors by default, both
 * strictly greater-than.
 *
 * Time. Clients learn the server's clock NTP-style over the socket: the client sends
 * {"type":"music:time","t0":<its clock, ms>}, the server answers {"type":"music:time","t0",
 * "t1":<server receive, ms>,"t2":<server send, ms>} and the client, reading its clock t3 on
 * receipt, computes offset = ((t1 - t0) + (t2 - t3)) / 2 (server minus client) and the round
 * trip rtt = (t3 - t0) - (t2 - t1). Times are doubles in ms with sub-ms fractions: the goal
 * is control-level sync within 20 ms.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum
{
  ECHO_MUSIC_SYNC_OK,
  ECHO_MUSIC_SYNC_SEEK,         /* seek to the expected position */
  ECHO_MUSIC_SYNC_RESYNC,       /* pause, then resync from the session's state */
} EchoMusicSyncVerdict;

/* "ok", "seek", "resync" */
const char *echo_music_sync_verdict_to_string (EchoMusicSyncVerdict verdict);

typedef struct
{
  double seek_ms;               /* drift above this: SEEK (500) */
  double resync_ms;             /* drift above this: RESYNC (3000) */
} EchoMusicSyncThresholds;

#define ECHO_MUSIC_SYNC_DEFAULT_SEEK_MS 500.0
#define ECHO_MUSIC_SYNC_DEFAULT_RESYNC_MS 3000.0

void        echo_music_sync_thresholds_init_defaults (EchoMusicSyncThresholds *thresholds);

/* The verdict for a client at @client_position_ms when the timeline says @expected_ms:
 * |drift| > resync_ms: RESYNC; > seek_ms: SEEK; else OK. @thresholds NULL: the defaults. */
EchoMusicSyncVerdict echo_music_sync_judge (double expected_ms, double client_position_ms,
                                            const EchoMusicSyncThresholds *thresholds);

/* The largest magnitude of a position, offset or drift (ms: ~31 years), and of a clock
 * reading (clientTime, t0: clients send Unix ms, 1.7e12 in 2023; 1e14 is the year 5138). */
#define ECHO_MUSIC_SYNC_MAX_ABS 1e12
#define ECHO_MUSIC_SYNC_MAX_ABS_TIME 1e14

/* A client's music:heartbeat: {"sessionId","clientOffset","drift","positionMs"?,
 * "clientTime"?} (seed 000 plus two optional members). clientOffset is the client's
 * playback position in ms (seed: localOffset); positionMs, when present, is the same
 * measured more precisely and wins; drift is the client's own estimate; clientTime is the
 * client's clock (ms) when it measured, corrected to server time when the client did the
 * time exchange. Other members (e.g. "type") are ignored. */
typedef struct
{
  char *session_id;
  double client_offset;
  double drift;
  gboolean has_position;
  double position_ms;
  gboolean has_client_time;
  double client_time;
} EchoMusicHeartbeat;

/* Strict: sessionId a string of 1..128 printable ASCII characters, numbers finite and within
 * +-ECHO_MUSIC_SYNC_MAX_ABS (clientTime: ECHO_MUSIC_SYNC_MAX_ABS_TIME); INVALID
 * (ECHO_MUSIC_ERROR) naming the member otherwise. */
EchoMusicHeartbeat *echo_music_heartbeat_parse (JsonObject *obj, GError **error);
void                echo_music_heartbeat_free (EchoMusicHeartbeat *heartbeat);

/* positionMs when present, else clientOffset. */
double              echo_music_heartbeat_get_position (const EchoMusicHeartbeat *heartbeat);

/* Reads a music:time request's "t0" (finite, within +-ECHO_MUSIC_SYNC_MAX_ABS_TIME). */
gboolean    echo_music_sync_parse_time_request (JsonObject *obj, double *t0, GError **error);

/* {"type":"music:time","t0":..,"t1":..,"t2":..} as JSON text. */
char       *echo_music_sync_format_time_reply (double t0, double t1, double t2);

/* The client's side of the exchange (also used by tests and the example client): @offset =
 * server clock minus client clock, @rtt = the network round trip without the server's
 * processing time. Either out pointer may be NULL. */
void        echo_music_sync_offset (double t0, double t1, double t2, double t3,
                                    double *offset, double *rtt);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoMusicHeartbeat, echo_music_heartbeat_free)

G_END_DECLS
