/* echo-radio-ogg.h: the header pages of an Ogg radio stream.
 *
 * A player can decode Ogg Vorbis or Opus only after the stream's header packets
 * (identification, comments, setup), which a source sends once, at its start (and again at
 * each new chain, when the stream's format or comments change). A listener joining later
 * gets these pages first, then the live pages. This reads the source's bytes as they come
 * and keeps the header pages of the current chain: the beginning-of-stream pages and every
 * page with granule position 0 after them.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoRadioOgg EchoRadioOgg;

EchoRadioOgg *echo_radio_ogg_new (void);
void echo_radio_ogg_free (EchoRadioOgg *ogg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioOgg, echo_radio_ogg_free)

/* The next bytes of the stream, which start at stream offset `offset` (bytes may be cut
 * anywhere). Bytes that are not Ogg pages are skipped until a page header is found again. */
void echo_radio_ogg_feed (EchoRadioOgg *ogg, const guint8 *data, gsize len, guint64 offset);

/* The header pages of the current chain once they are complete (a new reference), or NULL.
 * start/end: the stream offsets they span (end = offset of the first page after them). */
GBytes *echo_radio_ogg_get_headers (EchoRadioOgg *ogg, guint64 *start, guint64 *end);

G_END_DECLS
