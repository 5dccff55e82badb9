/* echo-radio-api.h: radio stations, radio sessions and the music/radio mode of each
 * community (seed 001's RadioPlayer and ModeController).
 *
 * Routes (ECHO_ROUTE_AUTH_USER, as the music API; JSON; errors in the server's shape):
 *   GET    /api/radio/{communityId}/stations              every station of the community
 *   POST   /api/radio/{communityId}/stations              create (station managers)
 *   GET    /api/radio/{communityId}/stations/{stationId}
 *   PUT    /api/radio/{communityId}/stations/{stationId}  update: the members given
 *   DELETE /api/radio/{communityId}/stations/{stationId}  (stops it if it plays)
 *   GET    /api/radio/{communityId}/state                 mode, station, now playing,
 *                                                         upstream, receivers
 *   POST   /api/radio/{communityId}/mode  {mode: "radio", stationId?} | {mode: "music"}
 *                                         | {mode: "none"}          (radio controllers)
 * Station managers: the host application, or a user with role admin, moderator or mod.
 * Radio controllers: those, and role dj.
 *
 * Modes. Music and radio are exclusive in a community. Switching to radio (under the
 * community's lock: switches run one at a time, on the main loop) pauses every playing
 * music session of the community and remembers which; switching back to music resumes
 * those still paused. A music command that starts playing (play, a queue add to an idle
 * session) in radio mode switches the community to music first. The mode is stored
 * (collection "radio_state", seed 001's music_radio_state) and comes back after a restart,
 * radio playing again.
 *
 * A radio session is an EchoRadioPlayer (pipelines/radio.pipeline into sharerelay:
 * `echosyncsrc session=<receivers.session>` hears it). Its station's audio is pulled from
 * streamUrl or pushed by a source client to the station's mount (echo-radio-mounts.h).
 * Titles reach clients when their audio plays: `radio:now_playing` to the room
 * "radio:<communityId>" (a WebSocket client joins it with {"type":"radio:subscribe",
 * "communityId"}) and `overlay:now_playing` (kind "radio") to "overlay:<communityId>";
 * `radio:mode_change` / `overlay:mode_change` on every switch; `radio:upstream` when the
 * upstream's state changes (playing, reconnecting, fallback). Stations whose titles come
 * from an HTTP JSON API are polled every pollSeconds.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-config.h"
#include "echo-music-api.h"
#include "echo-pipeline-factory.h"
#include "echo-radio-mounts.h"
#include "echo-server.h"
#include "echo-store.h"

G_BEGIN_DECLS

typedef struct _EchoRadioApi EchoRadioApi;

#define ECHO_RADIO_STATIONS_COLLECTION "radio_stations"
#define ECHO_RADIO_STATE_COLLECTION "radio_state"

/* Registers the routes, reads the stations and modes back from @store and starts the
 * radio sessions that were playing. Everything is borrowed and must outlive the API. */
EchoRadioApi *echo_radio_api_new (EchoServer *server, EchoStore *store,
    EchoPipelineFactory *factory, EchoRadioMounts *mounts, EchoMusicApi *music,
    const EchoConfig *config, GError **error);
void echo_radio_api_free (EchoRadioApi *api);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioApi, echo_radio_api_free)

G_END_DECLS
