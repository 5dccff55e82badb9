/* echo-radio-http.h: echod's Icecast-compatible radio front, on the main HTTP port.
 *
 *   PUT /<mount> and SOURCE /<mount>   a source client (ffmpeg icecast://, libshout and
 *       gst shout2send, butt, Liquidsoap): Basic auth as user "source" (the mount's
 *       password or [radio] source-password), ice-* headers, Content-Type; answered as
 *       Icecast 2.4 does (Expect: 100-continue gets "100 Continue" then "200 OK"); the body
 *       is the stream, read until the client disconnects (or sends nothing for
 *       source-timeout-seconds). 401 wrong credentials, 403 "Mountpoint in use", 415 an
 *       unsupported content type, 400 a bad mount name. Only paths no other route has.
 *   GET /radio/<mount>   a listener: the mount's bytes as received, Content-Type and icy-*
 *       headers from the source; with "Icy-MetaData: 1" (MP3/AAC mounts) icy-metaint and
 *       in-band titles. 404 without a source, 403 at max-listeners.
 *   GET /admin/metadata?mount=/<mount>&mode=updinfo&song=...[&charset=...] (or POST with
 *       those as a form)   a title
 *       update with Basic auth (admin-user/admin-password, or the mount's source
 *       credentials); Icecast's XML reply. 400 for malformed, oversize or control-character
 *       text (nothing changes), 401, 400 "Source does not exist".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-config.h"
#include "echo-radio-mounts.h"
#include "echo-server.h"

G_BEGIN_DECLS

typedef struct _EchoRadioHttp EchoRadioHttp;

/* Registers the routes on server (before it listens); server, mounts and config must outlive
 * the front. */
EchoRadioHttp *echo_radio_http_new (EchoServer *server, EchoRadioMounts *mounts,
    const EchoConfig *config);
/* Disconnects the sources (their mounts end); call before freeing mounts. */
void echo_radio_http_free (EchoRadioHttp *http);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioHttp, echo_radio_http_free)

G_END_DECLS
