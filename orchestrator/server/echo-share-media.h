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

G_END_DECLS
