/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icytest.h: builds synthetic ICY streams for tests and fuzz seeds, with the answer kept
 * beside them: the audio bytes alone, and where each metadata block applies.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  GByteArray *stream;           /* audio interleaved with length bytes and blocks */
  GByteArray *audio;            /* the audio bytes alone */
  GArray *block_audio_offsets;  /* guint64: audio offset each non-empty block applies at */
  GPtrArray *block_texts;       /* gchar*: the text of each non-empty block */
} IcyTestStream;

IcyTestStream *icy_test_stream_new (guint metaint, gsize audio_len,
    const guint8 * audio, const gchar * const *texts, guint title_every);
void icy_test_stream_free (IcyTestStream * s);
void icy_test_append_block (GByteArray * out, const gchar * text);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (IcyTestStream, icy_test_stream_free);

G_END_DECLS
