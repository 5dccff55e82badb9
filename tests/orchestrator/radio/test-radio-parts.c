/* test-radio-parts.c: the pieces of orchestrator/radio that need no network: mount names,
 * Basic credentials, the /admin/metadata query (charsets, oversize, control characters),
 * station tags, ICY blocks, frame and page finding, the Ogg header pages, and the ring.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "echo-radio-format.h"
#include "echo-radio-icy.h"
#include "echo-radio-ogg.h"
#include "echo-radio-request.h"
#include "echo-radio-ring.h"

static void
test_mount_names (void)
{
  g_autofree char *longest = g_strnfill (64, 'a');
  g_autofree char *too_long = g_strnfill (65, 'a');
  g_autofree char *m64 = g_strconcat ("/", longest, NULL);
  g_autofree char *m65 = g_strconcat ("/", too_long, NULL);

  g_assert_true (echo_radio_mount_is_valid ("/live"));
  g_assert_true (echo_radio_mount_is_valid ("/live.mp3"));
  g_assert_true (echo_radio_mount_is_valid ("/a-b_c.9"));
  g_assert_true (echo_radio_mount_is_valid (m64));
  g_assert_false (echo_radio_mount_is_valid (m65));
  g_assert_false (echo_radio_mount_is_valid ("/"));
  g_assert_false (echo_radio_mount_is_valid ("live"));
  g_assert_false (echo_radio_mount_is_valid ("/a/b"));
  g_assert_false (echo_radio_mount_is_valid ("/.."));
  g_assert_false (echo_radio_mount_is_valid ("/."));
  g_assert_false (echo_radio_mount_is_valid ("/sp ace"));
  g_assert_false (echo_radio_mount_is_valid ("/\xc3\xa9"));
  g_assert_false (echo_radio_mount_is_valid (NULL));
}

static void
test_basic_auth (void)
{
  g_autofree char *user = NULL;
  g_autofree char *password = NULL;

  /* "source:pw:with:colons" */
  g_assert_true (echo_radio_parse_basic_auth ("Basic c291cmNlOnB3OndpdGg6Y29sb25z", &user,
          &password));
  g_assert_cmpstr (user, ==, "source");
  g_assert_cmpstr (password, ==, "pw:with:colons");
  g_clear_pointer (&user, g_free);
  g_clear_pointer (&password, g_free);
  g_assert_true (echo_radio_parse_basic_auth ("basic   YWRtaW46", &user, &password));
  g_assert_cmpstr (user, ==, "admin");
  g_assert_cmpstr (password, ==, "");
  g_clear_pointer (&user, g_free);
  g_clear_pointer (&password, g_free);

  g_assert_false (echo_radio_parse_basic_auth (NULL, &user, &password));
  g_assert_false (echo_radio_parse_basic_auth ("Bearer abc", &user, &password));
  g_assert_false (echo_radio_parse_basic_auth ("Basic ", &user, &password));
  g_assert_false (echo_radio_parse_basic_auth ("Basic !!!!", &user, &password));
  /* no colon */
  g_assert_false (echo_radio_parse_basic_auth ("Basic c291cmNl", &user, &password));
  /* "a\0b:c" and invalid UTF-8 "\xff:x" */
  g_assert_false (echo_radio_parse_basic_auth ("Basic YQBiOmM=", &user, &password));
  g_assert_false (echo_radio_parse_basic_auth ("Basic /zp4", &user, &password));
  g_assert_null (user);
  g_assert_null (password);
}

static void
test_content_types (void)
{
  EchoRadioFormat format = ECHO_RADIO_FORMAT_UNKNOWN;
  g_autoptr (GError) error = NULL;

  g_assert_cmpstr (echo_radio_source_content_type ("audio/mpeg", &format, NULL), ==,
      "audio/mpeg");
  g_assert_cmpint (format, ==, ECHO_RADIO_FORMAT_MP3);
  g_assert_cmpstr (echo_radio_source_content_type ("Application/OGG; foo=bar", &format, NULL),
      ==, "application/ogg");
  g_assert_cmpint (format, ==, ECHO_RADIO_FORMAT_OGG);
  g_assert_cmpstr (echo_radio_source_content_type ("audio/aacp", &format, NULL), ==,
      "audio/aacp");
  g_assert_cmpint (format, ==, ECHO_RADIO_FORMAT_AAC);
  g_assert_null (echo_radio_source_content_type ("video/mp4", &format, &error));
  g_assert_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_UNSUPPORTED_TYPE);
  g_assert_cmpuint (echo_radio_error_http_status (error->code), ==, 415);
  g_clear_error (&error);
  g_assert_null (echo_radio_source_content_type (NULL, &format, &error));
  g_assert_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_UNSUPPORTED_TYPE);
}

static EchoRadioMetadataUpdate *
parse_ok (const char *query)
{
  g_autoptr (GError) error = NULL;
  EchoRadioMetadataUpdate *update = echo_radio_parse_metadata_query (query, &error);

  g_assert_no_error (error);
  g_assert_nonnull (update);
  return update;
}

static void
assert_title (EchoRadioMetadataUpdate *update, const char *want)
{
  const char *title = NULL;

  g_assert_true (gst_tag_list_peek_string_index (update->tags, GST_TAG_TITLE, 0, &title));
  g_assert_cmpstr (title, ==, want);
}

static void
parse_fails (const char *query)
{
  g_autoptr (GError) error = NULL;

  g_assert_null (echo_radio_parse_metadata_query (query, &error));
  g_assert_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
}

static void
test_metadata_query (void)
{
  g_autoptr (EchoRadioMetadataUpdate) plain = NULL;
  g_autoptr (EchoRadioMetadataUpdate) latin1 = NULL;
  g_autoptr (EchoRadioMetadataUpdate) utf8 = NULL;
  g_autoptr (EchoRadioMetadataUpdate) split = NULL;
  g_autoptr (EchoRadioMetadataUpdate) longest = NULL;
  g_autoptr (GString) big = g_string_new ("mode=updinfo&mount=/live&song=");
  const char *artist = NULL;
  const char *url = NULL;
  guint i;

  plain = parse_ok ("mount=%2Flive&mode=updinfo&song=It%27s+a+Song&url=http%3A%2F%2Fx.example");
  g_assert_cmpstr (plain->mount, ==, "/live");
  assert_title (plain, "It's a Song");
  g_assert_true (gst_tag_list_peek_string_index (plain->tags, GST_TAG_HOMEPAGE, 0, &url));
  g_assert_cmpstr (url, ==, "http://x.example");

  /* Icecast's default charset is ISO-8859-1: %E9 is e-acute */
  latin1 = parse_ok ("mode=updinfo&mount=/live&song=Caf%E9");
  assert_title (latin1, "Caf\xc3\xa9");
  utf8 = parse_ok ("mode=updinfo&mount=/live&song=Caf%C3%A9&charset=UTF-8");
  assert_title (utf8, "Caf\xc3\xa9");

  split = parse_ok ("mode=updinfo&mount=/live&artist=Band&title=Tune");
  assert_title (split, "Tune");
  g_assert_true (gst_tag_list_peek_string_index (split->tags, GST_TAG_ARTIST, 0, &artist));
  g_assert_cmpstr (artist, ==, "Band");

  /* an empty song clears the title: no GST_TAG_TITLE, StreamTitle='' for listeners */
  {
    g_autoptr (EchoRadioMetadataUpdate) cleared = parse_ok ("mode=updinfo&mount=/live&song=");
    const char *none = NULL;

    g_assert_false (gst_tag_list_peek_string_index (cleared->tags, GST_TAG_TITLE, 0, &none));
  }

  for (i = 0; i < ECHO_RADIO_METADATA_MAX; i++)
    g_string_append_c (big, 'x');
  longest = parse_ok (big->str);
  g_string_append_c (big, 'x');
  parse_fails (big->str);                       /* 1025 bytes */

  parse_fails ("mode=updinfo&mount=/live&song=a%0Db");           /* CR */
  parse_fails ("mode=updinfo&mount=/live&song=a%00b");           /* NUL */
  parse_fails ("mode=updinfo&mount=/live&song=%85%9F%01garbage");  /* C1 and C0 */
  parse_fails ("mode=updinfo&mount=/live&song=%FF%FE&charset=UTF-8");  /* not UTF-8 */
  parse_fails ("mode=updinfo&mount=/live&song=x&charset=NO-SUCH-CHARSET");
  parse_fails ("mode=updinfo&mount=/live&song=%G1");
  parse_fails ("mode=updinfo&mount=/live&song=%4");
  parse_fails ("mode=other&mount=/live&song=x");
  parse_fails ("mount=/live&song=x");
  parse_fails ("mode=updinfo&song=x");
  parse_fails ("mode=updinfo&mount=live&song=x");
  parse_fails ("mode=updinfo&mount=/a%00b&song=x");
  parse_fails ("mode=updinfo&mount=/live");
  parse_fails ("");
  parse_fails (NULL);
}

static void
test_station_tags (void)
{
  EchoRadioIceHeaders ice = {
    .name = "Test FM", .genre = "Jazz", .url = "http://fm.example", .description = " ",
    .audio_info = "channels=2;bitrate=96;samplerate=44100",
  };
  g_autoptr (GstTagList) tags = echo_radio_station_tags (&ice, ECHO_RADIO_FORMAT_MP3);
  EchoRadioIceHeaders bad = { .name = "a\r\nInjected: yes", .bitrate = "128" };
  g_autoptr (GstTagList) bad_tags = echo_radio_station_tags (&bad, ECHO_RADIO_FORMAT_OGG);
  const char *text = NULL;
  guint bitrate = 0;

  g_assert_true (gst_tag_list_peek_string_index (tags, GST_TAG_ORGANIZATION, 0, &text));
  g_assert_cmpstr (text, ==, "Test FM");
  g_assert_true (gst_tag_list_peek_string_index (tags, GST_TAG_GENRE, 0, &text));
  g_assert_cmpstr (text, ==, "Jazz");
  g_assert_true (gst_tag_list_peek_string_index (tags, GST_TAG_HOMEPAGE, 0, &text));
  g_assert_false (gst_tag_list_peek_string_index (tags, GST_TAG_DESCRIPTION, 0, &text));
  g_assert_true (gst_tag_list_get_uint (tags, GST_TAG_NOMINAL_BITRATE, &bitrate));
  g_assert_cmpuint (bitrate, ==, 96000);
  g_assert_true (gst_tag_list_peek_string_index (tags, GST_TAG_AUDIO_CODEC, 0, &text));

  /* a header value that would break a listener's response head is dropped */
  g_assert_false (gst_tag_list_peek_string_index (bad_tags, GST_TAG_ORGANIZATION, 0, &text));
  g_assert_true (gst_tag_list_get_uint (bad_tags, GST_TAG_NOMINAL_BITRATE, &bitrate));
  g_assert_cmpuint (bitrate, ==, 128000);
}

static void
test_icy_block (void)
{
  g_autoptr (GstTagList) tags = gst_tag_list_new (GST_TAG_TITLE, "Tune", GST_TAG_ARTIST,
      "Band's", GST_TAG_HOMEPAGE, "http://x", NULL);
  g_autoptr (GBytes) block = echo_radio_icy_block (tags);
  g_autoptr (GBytes) empty = echo_radio_icy_block (NULL);
  g_autoptr (GBytes) unchanged = echo_radio_icy_unchanged_block ();
  g_autoptr (GString) huge = g_string_new (NULL);
  g_autoptr (GstTagList) huge_tags = NULL;
  g_autoptr (GBytes) huge_block = NULL;
  const guint8 *data;
  gsize len;
  guint i;

  data = g_bytes_get_data (block, &len);
  g_assert_cmpuint (len, ==, 1 + 16 * (gsize) data[0]);
  g_assert_cmpstr ((const char *) data + 1, ==,
      "StreamTitle='Band's - Tune';StreamUrl='http://x';");
  data = g_bytes_get_data (empty, &len);
  g_assert_cmpuint (len, ==, 17);
  g_assert_cmpstr ((const char *) data + 1, ==, "StreamTitle='';");
  g_assert_cmpuint (g_bytes_get_size (unchanged), ==, 1);
  g_assert_cmpuint (((const guint8 *) g_bytes_get_data (unchanged, NULL))[0], ==, 0);

  /* 3000 two-byte characters: cut to fit 255 units, on a character boundary */
  for (i = 0; i < 3000; i++)
    g_string_append (huge, "\xc3\xa9");
  huge_tags = gst_tag_list_new (GST_TAG_TITLE, huge->str, NULL);
  huge_block = echo_radio_icy_block (huge_tags);
  data = g_bytes_get_data (huge_block, &len);
  g_assert_cmpuint (data[0], ==, 255);
  g_assert_cmpuint (len, ==, 1 + 255 * 16);
  g_assert_true (g_utf8_validate ((const char *) data + 1, -1, NULL));
  g_assert_true (g_str_has_suffix ((const char *) data + 1, "';"));
}

/* Three MP3 frames (MPEG-1 layer III, 128 kbit/s, 44.1 kHz: 417 bytes each). */
static GByteArray *
mp3_frames (guint n)
{
  GByteArray *out = g_byte_array_new ();
  guint i;

  for (i = 0; i < n; i++) {
    guint8 frame[417] = { 0xff, 0xfb, 0x90, 0x64 };

    g_byte_array_append (out, frame, sizeof frame);
  }
  return out;
}

static void
test_formats (void)
{
  g_autoptr (GByteArray) frames = mp3_frames (3);
  g_autoptr (GByteArray) shifted = g_byte_array_new ();
  static const guint8 junk[5] = { 1, 2, 3, 0xff, 0x00 };

  g_assert_cmpint (echo_radio_format_sniff (frames->data, frames->len), ==,
      ECHO_RADIO_FORMAT_MP3);
  g_assert_cmpint (echo_radio_format_sniff ((const guint8 *) "OggS\0\2", 6), ==,
      ECHO_RADIO_FORMAT_OGG);
  g_assert_cmpint (echo_radio_format_sniff (junk, sizeof junk), ==, ECHO_RADIO_FORMAT_UNKNOWN);
  g_assert_cmpuint (echo_radio_format_unit_length (ECHO_RADIO_FORMAT_MP3, frames->data, 4), ==,
      417);

  g_byte_array_append (shifted, junk, sizeof junk);
  g_byte_array_append (shifted, frames->data, frames->len);
  g_assert_cmpint (echo_radio_format_find_unit (ECHO_RADIO_FORMAT_MP3, shifted->data,
          shifted->len), ==, sizeof junk);
  g_assert_cmpint (echo_radio_format_find_unit (ECHO_RADIO_FORMAT_MP3, junk, 3), ==, -1);
  g_assert_cmpint (echo_radio_format_find_unit (ECHO_RADIO_FORMAT_FLAC, junk, 3), ==, 0);
  g_assert_true (echo_radio_format_has_icy (ECHO_RADIO_FORMAT_MP3));
  g_assert_false (echo_radio_format_has_icy (ECHO_RADIO_FORMAT_OGG));
}

/* An Ogg page: flags, granule position, a body of body_len bytes of fill. */
static void
append_page (GByteArray *out, guint8 flags, guint64 granule, guint8 body_len, guint8 fill)
{
  guint8 header[28] = { 'O', 'g', 'g', 'S', 0, flags };
  guint i;

  for (i = 0; i < 8; i++)
    header[6 + i] = (guint8) (granule >> (8 * i));
  header[26] = 1;
  header[27] = body_len;
  g_byte_array_append (out, header, sizeof header);
  for (i = 0; i < body_len; i++)
    g_byte_array_append (out, &fill, 1);
}

static void
test_ogg_headers (void)
{
  g_autoptr (GByteArray) stream = g_byte_array_new ();
  g_autoptr (EchoRadioOgg) ogg = echo_radio_ogg_new ();
  g_autoptr (GBytes) headers = NULL;
  g_autoptr (GBytes) chained = NULL;
  guint64 start = 0, end = 0;
  gsize at = 0, header_len, chain_start;

  append_page (stream, 0x02, 0, 30, 'i');       /* BOS: identification */
  append_page (stream, 0x00, 0, 60, 'c');       /* comments + setup */
  header_len = stream->len;
  append_page (stream, 0x00, 4096, 100, 'a');   /* audio */
  append_page (stream, 0x00, 8192, 100, 'a');

  /* fed in odd pieces, as a socket delivers */
  while (at < stream->len) {
    gsize piece = MIN ((gsize) 7, stream->len - at);

    echo_radio_ogg_feed (ogg, stream->data + at, piece, at);
    at += piece;
  }
  headers = echo_radio_ogg_get_headers (ogg, &start, &end);
  g_assert_nonnull (headers);
  g_assert_cmpuint (g_bytes_get_size (headers), ==, header_len);
  g_assert_cmpmem (g_bytes_get_data (headers, NULL), header_len, stream->data, header_len);
  g_assert_cmpuint (start, ==, 0);
  g_assert_cmpuint (end, ==, header_len);

  /* garbage, then a new chain: its headers replace the first ones once complete */
  chain_start = stream->len + 3;
  g_byte_array_append (stream, (const guint8 *) "xyz", 3);
  append_page (stream, 0x02, 0, 20, 'J');
  append_page (stream, 0x00, 100, 10, 'b');
  echo_radio_ogg_feed (ogg, stream->data + at, stream->len - at, at);
  chained = echo_radio_ogg_get_headers (ogg, &start, &end);
  g_assert_cmpuint (g_bytes_get_size (chained), ==, 28 + 20);
  g_assert_cmpuint (start, ==, chain_start);
  g_assert_cmpuint (end, ==, chain_start + 48);
}

static void
test_ring (void)
{
  g_autoptr (EchoRadioRing) ring = echo_radio_ring_new ();
  g_autoptr (GBytes) a = g_bytes_new_static ("aaaa", 4);
  g_autoptr (GBytes) b = g_bytes_new_static ("bbbbbb", 6);
  g_autoptr (GBytes) c = g_bytes_new_static ("cc", 2);
  g_autoptr (GBytes) t1 = g_bytes_new_static ("1", 1);
  g_autoptr (GBytes) t2 = g_bytes_new_static ("2", 1);
  GBytes *chunk = NULL;
  gsize skip = 0;
  gint64 arrived = 0;
  guint serial = 0;

  g_assert_cmpuint (echo_radio_ring_head (ring), ==, 0);
  g_assert_false (echo_radio_ring_locate (ring, 0, &chunk, &skip, NULL));
  echo_radio_ring_append (ring, a, 100);
  g_assert_cmpuint (echo_radio_ring_set_title (ring, t1), ==, 1);
  echo_radio_ring_append (ring, b, 200);
  echo_radio_ring_set_title (ring, t2);
  echo_radio_ring_append (ring, c, 300);
  g_assert_cmpuint (echo_radio_ring_head (ring), ==, 12);

  g_assert_true (echo_radio_ring_locate (ring, 7, &chunk, &skip, &arrived));
  g_assert_true (chunk == b);
  g_assert_cmpuint (skip, ==, 3);
  g_assert_cmpint (arrived, ==, 200);
  g_assert_true (echo_radio_ring_locate (ring, 11, &chunk, &skip, NULL));
  g_assert_true (chunk == c);
  g_assert_false (echo_radio_ring_locate (ring, 12, &chunk, &skip, NULL));

  g_assert_null (echo_radio_ring_title_at (ring, 3, &serial));
  g_assert_cmpuint (serial, ==, 0);
  g_assert_true (echo_radio_ring_title_at (ring, 4, &serial) == t1);
  g_assert_true (echo_radio_ring_title_at (ring, 9, &serial) == t1);
  g_assert_true (echo_radio_ring_title_at (ring, 10, &serial) == t2);
  g_assert_cmpuint (serial, ==, 2);

  /* keeping 3 bytes needs "bbbbbb" even though it is old; only "aaaa" goes */
  echo_radio_ring_trim (ring, 3, 250);
  g_assert_cmpuint (echo_radio_ring_tail (ring), ==, 4);
  g_assert_true (echo_radio_ring_title_at (ring, 4, &serial) == t1);
  /* keep 2 bytes, drop what arrived before 250: "bbbbbb" goes too */
  echo_radio_ring_trim (ring, 2, 250);
  g_assert_cmpuint (echo_radio_ring_tail (ring), ==, 10);
  g_assert_false (echo_radio_ring_locate (ring, 9, &chunk, &skip, NULL));
  g_assert_true (echo_radio_ring_title_at (ring, 10, &serial) == t2);
  /* the burst keeps what a new listener needs even when old */
  echo_radio_ring_trim (ring, 2, 1000);
  g_assert_cmpuint (echo_radio_ring_tail (ring), ==, 10);
}

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/radio/mount-names", test_mount_names);
  g_test_add_func ("/radio/basic-auth", test_basic_auth);
  g_test_add_func ("/radio/content-types", test_content_types);
  g_test_add_func ("/radio/metadata-query", test_metadata_query);
  g_test_add_func ("/radio/station-tags", test_station_tags);
  g_test_add_func ("/radio/icy-block", test_icy_block);
  g_test_add_func ("/radio/formats", test_formats);
  g_test_add_func ("/radio/ogg-headers", test_ogg_headers);
  g_test_add_func ("/radio/ring", test_ring);
  return g_test_run ();
}
