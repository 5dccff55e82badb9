/* echo-radio-icy.h: ICY in-band metadata blocks, as a listener that asked for
 * `Icy-MetaData: 1` receives them every icy-metaint audio bytes: one length byte N, then
 * 16*N bytes of `StreamTitle='...';StreamUrl='...';` padded with zeros. N = 0 (the single
 * byte 0) means "unchanged".
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>
#include <gst/gst.h>

G_BEGIN_DECLS

/* Icecast's default interval: a title lands up to 1 s after its audio at 128 kbit/s. */
#define ECHO_RADIO_ICY_METAINT 16000

/* A derived interval holds this much audio: a title set for the audio from some byte on
 * reaches a listener at the first metadata point from that byte on, at most this late. */
#define ECHO_RADIO_ICY_METAINT_TARGET_MS 50
/* Its bounds: streams below about 40 kbit/s get blocks no closer than this (a block costs a
 * byte and a write slice per listener); none gets them further apart than Icecast does. */
#define ECHO_RADIO_ICY_METAINT_MIN 256
#define ECHO_RADIO_ICY_METAINT_MAX ECHO_RADIO_ICY_METAINT

/* The icy-metaint for a stream of bytes_per_second: ECHO_RADIO_ICY_METAINT_TARGET_MS of its
 * audio, a multiple of 16, within the bounds above. */
guint echo_radio_icy_metaint_for_rate (guint bytes_per_second);

/* The block for a title: StreamTitle is "ARTIST - TITLE" (or whichever of them is set; ''
 * when neither), StreamUrl (only when GST_TAG_HOMEPAGE is set) the URL. Text is cut at a
 * character boundary so the block fits 255*16 bytes. Quotes are sent as they are, as Icecast
 * does (players read up to the last "';"). */
GBytes *echo_radio_icy_block (const GstTagList *tags);

/* The one-byte "unchanged" block (a shared reference). */
GBytes *echo_radio_icy_unchanged_block (void);

/* The StreamTitle text for tags ("ARTIST - TITLE", "TITLE", "ARTIST" or ""). */
char *echo_radio_icy_stream_title (const GstTagList *tags);

G_END_DECLS
