/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Fuzz target: the Echo session protocol parser (plugins/sync/echoproto.c), which reads
 * every datagram a relay or a receiver gets from the network. What must hold for any
 * input: no crash, no out-of-bounds read, and a datagram that parses re-serialises to a
 * packet that parses to the same fields (the writer and the parser agree).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "echoproto.h"

static const guint8 key[ECHO_KEY_SIZE] = { 1, 2, 3, 4, 5, 6, 7, 8 };

int
LLVMFuzzerTestOneInput (const uint8_t * data, size_t size)
{
  EchoPacket p, again;
  guint8 out[ECHO_MAX_PACKET];
  gsize len;

  if (echo_packet_parse (data, size, &p) != ECHO_PARSE_OK)
    return 0;
  echo_packet_check_tag (data, size, key);
  len = echo_packet_write (&p, (p.flags & ECHO_PACKET_FLAG_TAGGED) ? key : NULL, out,
      sizeof (out));
  if (len == 0)
    return 0;                   /* e.g. a body the writer pads differently */
  if (echo_packet_parse (out, len, &again) != ECHO_PARSE_OK)
    abort ();
  if (again.type != p.type || again.session_id != p.session_id)
    abort ();
  if (p.type == ECHO_PACKET_AUDIO &&
      (again.audio.payload_len != p.audio.payload_len ||
          memcmp (again.audio.payload, p.audio.payload, p.audio.payload_len) != 0 ||
          again.audio.sample_index != p.audio.sample_index ||
          again.audio.capture_time != p.audio.capture_time))
    abort ();
  if (p.type == ECHO_PACKET_NACK &&
      (again.nack.count != p.nack.count ||
          memcmp (again.nack.seqs, p.nack.seqs, 4 * p.nack.count) != 0))
    abort ();
  if ((p.flags & ECHO_PACKET_FLAG_TAGGED) && !echo_packet_check_tag (out, len, key))
    abort ();
  return 0;
}
