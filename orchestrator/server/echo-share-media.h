/* echo-share-media.h: each share session's media pipeline, attached and detached as the
 * session lives.
 *
 * When a session's first audio chunk fixes its format, an EchoSharePipeline is built for
 * it (pipelines/share.pipeline): the chunks go in as they arrive, sharerelay serves the
 * session to echosyncsrc receivers (announced by mDNS when discovery is on; the relay's
 * token is the share bearer token without its "Bearer " prefix, so only clients that know
 * it can subscribe), and every Opus packet the pipeline encodes is fed back into the
 * session's Opus ring (GET audio?format=opus, WebSocket format=opus). When the session
 * ends, the pipeline is torn down.
 *
 * A pipeline error is logged and counted (echo_pipeline_errors_total); the pipeline is
 * rebuilt once per session, and after a second failure the session carries on without
 * one (HTTP and WebSocket audio are unaffected). Nothing here ends a session or echod.
 *
 * Cost per session (pipelines/share.pipeline): memory is bounded by the template's
 * queues, under 2 MB for a stereo sharer with every queue full (normally a few hundred
 * KB in flight); CPU is converting and resampling (about 0.2% of a core) while nobody
 * listens, plus sharerelay's Opus while an echosyncsrc is subscribed, plus the Opus
 * branch while someone wants format=opus (below).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-config.h"
#include "echo-pipeline-factory.h"
#include "echo-share-pool.h"

G_BEGIN_DECLS

typedef struct _EchoShareMedia EchoShareMedia;

/* Attaches to every session pool starts or restores from now on. factory and config are
 * borrowed and must outlive the object. */
EchoShareMedia *echo_share_media_new (EchoSharePool *pool, EchoPipelineFactory *factory,
    const EchoConfig *config);
/* Tears every pipeline down. */
void echo_share_media_free (EchoShareMedia *media);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoShareMedia, echo_share_media_free)

/* The UDP port sharerelay serves session_id on, 0 when it has no running pipeline. */
guint16 echo_share_media_get_sync_port (EchoShareMedia *media, const char *session_id);

/* Sessions with a running pipeline. */
guint echo_share_media_get_pipeline_count (EchoShareMedia *media);

/* The Opus branch of a session's pipeline encodes only while someone wants its packets
 * (opusenc costs about 1.3% of a core per session; most sessions have only float
 * listeners). Two kinds of demand keep it on:
 *  - a GET .../audio?format=opus: echo_share_media_poll_opus() keeps it on for
 *    ECHO_SHARE_POLLER_WINDOW_US (5 s) after the poll, as a poller counts as a listener;
 *  - a WebSocket client with format=opus: echo_share_media_hold_opus() keeps it on until
 *    the matching echo_share_media_release_opus().
 * A poll that turns it on finds no packet yet (204); packets follow within the pipeline's
 * latency. Unknown or ended sessions are ignored. */
void echo_share_media_poll_opus (EchoShareMedia *media, const char *session_id);
/* Returns a hold id (> 0) for release, 0 when the session has no media (ended). */
guint echo_share_media_hold_opus (EchoShareMedia *media, const char *session_id);
/* Releases a hold; a hold the session no longer has (it ended, or was restarted under the
 * same id) is ignored. */
void echo_share_media_release_opus (EchoShareMedia *media, const char *session_id,
    guint hold_id);
/* Whether the session's Opus branch is wanted now (and so encoding, once it has a pipeline). */
gboolean echo_share_media_get_opus_wanted (EchoShareMedia *media, const char *session_id);
/* Sessions whose Opus branch is wanted now. */
guint echo_share_media_get_opus_count (EchoShareMedia *media);

G_END_DECLS
