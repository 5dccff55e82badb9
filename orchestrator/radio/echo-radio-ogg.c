/* echo-radio-ogg.c: see echo-radio-ogg.h. Pages are read as RFC 3533 lays them out: 27
 * header bytes ("OggS", version 0, flags, granule position, serial, sequence, CRC, segment
 * count), the lacing values, then the body. CRCs are not checked: the bytes are relayed as
 * they came, only the header pages are remembered.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-ogg.h"

#include <string.h>

#define PAGE_HEADER 27
/* header pages of a chain beyond this (huge cover art in the comments) are not kept */
#define HEADERS_MAX (1024 * 1024)

struct _EchoRadioOgg {
  guint8 header[PAGE_HEADER + 255];   /* the current page's header while it arrives */
  gsize header_len;
  guint64 page_offset;                /* stream offset of the current page */
  gsize body_left;                    /* body bytes of the current page still to come */
  gboolean page_is_header;
  GByteArray *building;               /* header pages of a new chain, while they arrive */
  guint64 building_start;
  gboolean building_overflow;
  GBytes *headers;                    /* the complete header pages of the current chain */
  guint64 headers_start, headers_end;
};

EchoRadioOgg *
echo_radio_ogg_new (void)
{
  return g_new0 (EchoRadioOgg, 1);
}

void
echo_radio_ogg_free (EchoRadioOgg *ogg)
{
  if (ogg == NULL)
    return;
  g_clear_pointer (&ogg->building, g_byte_array_unref);
  g_clear_pointer (&ogg->headers, g_bytes_unref);
  g_free (ogg);
}

static void
keep_header_bytes (EchoRadioOgg *ogg, const guint8 *data, gsize len)
{
  if (ogg->building == NULL || ogg->building_overflow)
    return;
  if (ogg->building->len + len > HEADERS_MAX) {
    ogg->building_overflow = TRUE;
    return;
  }
  g_byte_array_append (ogg->building, data, (guint) len);
}

/* The first page after the header pages: those are complete. */
static void
finish_headers (EchoRadioOgg *ogg)
{
  if (ogg->building == NULL)
    return;
  g_clear_pointer (&ogg->headers, g_bytes_unref);
  if (!ogg->building_overflow && ogg->building->len > 0) {
    ogg->headers_start = ogg->building_start;
    ogg->headers_end = ogg->page_offset;
    ogg->headers = g_byte_array_free_to_bytes (g_steal_pointer (&ogg->building));
  }
  g_clear_pointer (&ogg->building, g_byte_array_unref);
}

/* The header of the current page is complete: classify the page. */
static void
start_page (EchoRadioOgg *ogg)
{
  const guint8 *h = ogg->header;
  gboolean bos = (h[5] & 0x02) != 0;
  guint64 granule = 0;
  gsize body = 0;
  guint i;

  for (i = 0; i < 8; i++)
    granule |= (guint64) h[6 + i] << (8 * i);
  for (i = 0; i < h[26]; i++)
    body += h[PAGE_HEADER + i];

  if (bos && ogg->building == NULL) {
    /* a new chain begins: its headers replace the old ones once complete */
    ogg->building = g_byte_array_new ();
    ogg->building_start = ogg->page_offset;
    ogg->building_overflow = FALSE;
  }
  ogg->page_is_header = ogg->building != NULL && (bos || granule == 0);
  if (ogg->building != NULL && !ogg->page_is_header)
    finish_headers (ogg);
  if (ogg->page_is_header)
    keep_header_bytes (ogg, ogg->header, ogg->header_len);
  ogg->body_left = body;
}

void
echo_radio_ogg_feed (EchoRadioOgg *ogg, const guint8 *data, gsize len, guint64 offset)
{
  while (len > 0) {
    gsize want, take;

    if (ogg->body_left > 0) {
      take = MIN (len, ogg->body_left);
      if (ogg->page_is_header)
        keep_header_bytes (ogg, data, take);
      ogg->body_left -= take;
      data += take;
      len -= take;
      offset += take;
      continue;
    }

    if (ogg->header_len == 0)
      ogg->page_offset = offset;
    want = ogg->header_len < PAGE_HEADER ? PAGE_HEADER : PAGE_HEADER + ogg->header[26];
    take = MIN (len, want - ogg->header_len);
    memcpy (ogg->header + ogg->header_len, data, take);
    ogg->header_len += take;
    data += take;
    len -= take;
    offset += take;

    if (ogg->header_len >= 5 && (memcmp (ogg->header, "OggS", 4) != 0 || ogg->header[4] != 0)) {
      /* lost: look for the capture pattern again within what was taken */
      const guint8 *next = memchr (ogg->header + 1, 'O', ogg->header_len - 1);
      gsize keep = next != NULL ? ogg->header_len - (gsize) (next - ogg->header) : 0;

      memmove (ogg->header, ogg->header + ogg->header_len - keep, keep);
      ogg->page_offset += ogg->header_len - keep;
      ogg->header_len = keep;
      continue;
    }
    if (ogg->header_len == PAGE_HEADER && ogg->header[26] > 0)
      continue;               /* now the lacing values */
    if (ogg->header_len == want && (ogg->header_len > PAGE_HEADER || ogg->header[26] == 0)) {
      start_page (ogg);
      ogg->header_len = 0;
    }
  }
}

GBytes *
echo_radio_ogg_get_headers (EchoRadioOgg *ogg, guint64 *start, guint64 *end)
{
  if (ogg->headers == NULL)
    return NULL;
  if (start != NULL)
    *start = ogg->headers_start;
  if (end != NULL)
    *end = ogg->headers_end;
  return g_bytes_ref (ogg->headers);
}
