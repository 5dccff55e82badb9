/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * Unit tests of the ICY text parsers: metadata blocks as real stations send them, charset
 * handling, and the in-band response head.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <string.h>

#include "icymeta.h"

static const IcyParseOptions default_options = { ICY_CHARSET_AUTO, " - " };

static IcyMetadata *
parse_with (const gchar * text, const IcyParseOptions * options)
{
  return icy_metadata_parse ((const guint8 *) text, strlen (text), options);
}

static IcyMetadata *
parse (const gchar * text)
{
  return parse_with (text, &default_options);
}

static void
test_plain_title (void)
{
  g_autoptr (IcyMetadata) m =
      parse ("StreamTitle='Daft Punk - One More Time';StreamUrl='';");

  g_assert_cmpstr (m->stream_title, ==, "Daft Punk - One More Time");
  g_assert_cmpstr (m->artist, ==, "Daft Punk");
  g_assert_cmpstr (m->title, ==, "One More Time");
  g_assert_null (m->stream_url);        /* empty StreamUrl is no URL */
  g_assert_cmpuint (m->keys->len, ==, 2);
}

static void
test_apostrophes_inside_value (void)
{
  g_autoptr (IcyMetadata) a =
      parse ("StreamTitle='Guns N' Roses - Sweet Child O' Mine';");
  g_autoptr (IcyMetadata) b = parse ("StreamTitle='Don't Stop';StreamUrl='x';");
  g_autoptr (IcyMetadata) c = parse ("StreamTitle='It's';");

  g_assert_cmpstr (a->artist, ==, "Guns N' Roses");
  g_assert_cmpstr (a->title, ==, "Sweet Child O' Mine");
  g_assert_cmpstr (b->title, ==, "Don't Stop");
  g_assert_null (b->artist);
  g_assert_cmpstr (b->stream_url, ==, "x");
  g_assert_cmpstr (c->title, ==, "It's");
}

static void
test_double_quotes (void)
{
  g_autoptr (IcyMetadata) a = parse ("StreamTitle=\"Queen - Bohemian Rhapsody\";"
      "StreamUrl=\"http://q.example/\";");
  g_autoptr (IcyMetadata) b =
      parse ("StreamTitle='The \"Best\" Of - Track';");

  g_assert_cmpstr (a->artist, ==, "Queen");
  g_assert_cmpstr (a->title, ==, "Bohemian Rhapsody");
  g_assert_cmpstr (a->stream_url, ==, "http://q.example/");
  g_assert_cmpstr (b->artist, ==, "The \"Best\" Of");
}

static void
test_junk_after_closing_quote (void)
{
  g_autoptr (IcyMetadata) a =
      parse ("StreamTitle='A - B' garbage here;StreamUrl='http://u';");
  g_autoptr (IcyMetadata) b = parse ("StreamTitle='A - B'");    /* no ';' */
  g_autoptr (IcyMetadata) c = parse ("StreamTitle='A - B';;; trailing junk");
  g_autoptr (IcyMetadata) d = parse ("StreamTitle='Unterminated - Value");

  g_assert_cmpstr (a->title, ==, "B");
  g_assert_cmpstr (a->stream_url, ==, "http://u");
  g_assert_cmpstr (b->stream_title, ==, "A - B");
  g_assert_cmpstr (c->stream_title, ==, "A - B");
  g_assert_cmpuint (c->keys->len, ==, 1);
  g_assert_cmpstr (d->stream_title, ==, "Unterminated - Value");
}

static void
test_semicolon_inside_value (void)
{
  g_autoptr (IcyMetadata) a = parse ("StreamTitle='A;B=C - D';StreamUrl='u';");
  g_autoptr (IcyMetadata) b = parse ("StreamTitle='Foo';Bar';");

  g_assert_cmpstr (a->stream_title, ==, "A;B=C - D");
  g_assert_cmpstr (a->stream_url, ==, "u");
  g_assert_cmpstr (b->stream_title, ==, "Foo';Bar");
}

static void
test_empty_title_clears (void)
{
  g_autoptr (IcyMetadata) m = parse ("StreamTitle='';");

  g_assert_cmpstr (m->stream_title, ==, "");
  g_assert_null (m->title);
  g_assert_null (m->artist);
}

static void
test_no_stream_title (void)
{
  g_autoptr (IcyMetadata) m = parse ("StreamUrl='http://x';");

  g_assert_null (m->stream_title);
  g_assert_null (m->title);
  g_assert_cmpstr (m->stream_url, ==, "http://x");
}

static void
test_unknown_keys_kept (void)
{
  g_autoptr (IcyMetadata) m =
      parse ("StreamTitle='A - B';adw_ad='true';durationMilliseconds='30000';"
      "insertionType='midroll';StreamTitle='second';");

  g_assert_cmpuint (m->keys->len, ==, 5);
  g_assert_cmpstr (g_ptr_array_index (m->keys, 1), ==, "adw_ad");
  g_assert_cmpstr (g_ptr_array_index (m->values, 2), ==, "30000");
  g_assert_cmpstr (g_ptr_array_index (m->values, 4), ==, "second");
  /* the first StreamTitle wins */
  g_assert_cmpstr (m->stream_title, ==, "A - B");
}

static void
test_unquoted_value (void)
{
  g_autoptr (IcyMetadata) m = parse ("StreamTitle=Plain - Value;Other=1");

  g_assert_cmpstr (m->artist, ==, "Plain");
  g_assert_cmpstr (m->title, ==, "Value");
  g_assert_cmpstr (g_ptr_array_index (m->values, 1), ==, "1");
}

static void
test_full_block (void)
{
  guint8 block[ICY_MAX_BLOCK_SIZE];
  const gchar *head = "StreamTitle='";
  g_autoptr (IcyMetadata) m = NULL;

  /* 4080 bytes of text, no NUL at all */
  memcpy (block, head, strlen (head));
  memset (block + strlen (head), 'x', sizeof (block) - strlen (head) - 2);
  block[sizeof (block) - 2] = '\'';
  block[sizeof (block) - 1] = ';';
  g_assert_true (icy_block_is_plausible (block, sizeof (block)));
  m = icy_metadata_parse (block, sizeof (block), &default_options);
  g_assert_cmpuint (strlen (m->raw), ==, ICY_MAX_BLOCK_SIZE);
  g_assert_cmpuint (strlen (m->stream_title), ==,
      ICY_MAX_BLOCK_SIZE - strlen (head) - 2);
}

static void
test_iheart_attributes (void)
{
  g_autoptr (IcyMetadata) a =
      parse ("StreamTitle='title=\"Blinding Lights\",artist=\"The Weeknd\","
      "url=\"song_spot=\\\"M\\\"\"';StreamUrl='';");
  g_autoptr (IcyMetadata) b =
      parse ("StreamTitle='Dua Lipa - Levitating - text=\"Levitating\" "
      "song_spot=\"M\" MediaBaseId=\"2710513\" itunesTrackId=\"0\" "
      "amgTrackId=\"-1\" length=\"00:03:23\"';");
  g_autoptr (IcyMetadata) c = parse ("StreamTitle='text=\"Spot Block\" "
      "song_spot=\"T\" length=\"00:00:30\"';");

  g_assert_cmpstr (a->title, ==, "Blinding Lights");
  g_assert_cmpstr (a->artist, ==, "The Weeknd");
  g_assert_cmpstr (a->stream_title, ==, "The Weeknd - Blinding Lights");

  g_assert_cmpstr (b->title, ==, "Levitating");
  g_assert_cmpstr (b->artist, ==, "Dua Lipa");
  g_assert_cmpstr (b->stream_title, ==, "Dua Lipa - Levitating");

  g_assert_cmpstr (c->title, ==, "Spot Block");
  g_assert_null (c->artist);
  g_assert_cmpstr (c->stream_title, ==, "Spot Block");
}

static void
test_separator_options (void)
{
  IcyParseOptions no_split = { ICY_CHARSET_AUTO, NULL };
  IcyParseOptions slash = { ICY_CHARSET_AUTO, " / " };
  g_autoptr (IcyMetadata) a =
      parse_with ("StreamTitle='AC/DC - Back In Black';", &no_split);
  g_autoptr (IcyMetadata) b =
      parse_with ("StreamTitle='Artist / Song - Remix';", &slash);
  g_autoptr (IcyMetadata) c =
      parse ("StreamTitle='Song - 2011 Remaster - Bonus';");
  g_autoptr (IcyMetadata) d = parse ("StreamTitle=' - Only Title';");

  g_assert_null (a->artist);
  g_assert_cmpstr (a->title, ==, "AC/DC - Back In Black");
  g_assert_cmpstr (b->artist, ==, "Artist");
  g_assert_cmpstr (b->title, ==, "Song - Remix");
  /* split at the first separator */
  g_assert_cmpstr (c->artist, ==, "Song");
  g_assert_cmpstr (c->title, ==, "2011 Remaster - Bonus");
  /* an empty side means no split */
  g_assert_null (d->artist);
  g_assert_cmpstr (d->title, ==, "- Only Title");
}

static void
test_charset_utf8_kept (void)
{
  g_autoptr (IcyMetadata) m =
      parse ("StreamTitle='Sigur R\xc3\xb3s - Hopp\xc3\xadpolla';");

  g_assert_cmpstr (m->artist, ==, "Sigur R\xc3\xb3s");
  g_assert_cmpstr (m->title, ==, "Hopp\xc3\xadpolla");
}

static void
test_charset_cp1252_fallback (void)
{
  /* Latin-1 é and Windows-1252 curly quotes and en dash, not valid UTF-8 */
  g_autoptr (IcyMetadata) m =
      parse ("StreamTitle='Caf\xe9 Tacvba \x96 \x93" "Eres\x94';");

  g_assert_true (g_utf8_validate (m->raw, -1, NULL));
  g_assert_cmpstr (m->stream_title, ==,
      "Caf\xc3\xa9 Tacvba \xe2\x80\x93 \xe2\x80\x9c" "Eres\xe2\x80\x9d");
}

static void
test_charset_c1_repair (void)
{
  /* What Icecast makes of 0x93/0x94 when it assumes ISO-8859-1: U+0093, U+0094 */
  g_autofree gchar *s = icy_text_to_utf8 ((const guint8 *)
      "\xc2\x93quoted\xc2\x94 \xc2\x80", 14, ICY_CHARSET_AUTO);

  g_assert_cmpstr (s, ==, "\xe2\x80\x9cquoted\xe2\x80\x9d \xe2\x82\xac");
}

static void
test_charset_explicit (void)
{
  /* "Привет" in windows-1251 */
  const guint8 cyr[] = { 0xcf, 0xf0, 0xe8, 0xe2, 0xe5, 0xf2 };
  g_autofree gchar *a = icy_text_to_utf8 (cyr, sizeof (cyr), "windows-1251");
  g_autofree gchar *b = icy_text_to_utf8 ((const guint8 *) "\xe9", 1,
      "ISO-8859-1");
  g_autofree gchar *c = icy_text_to_utf8 ((const guint8 *) "ok\xff", 3,
      "UTF-8");
  g_autofree gchar *d = icy_text_to_utf8 ((const guint8 *) "\x93x", 2,
      "no-such-charset");
  g_autofree gchar *e = icy_text_to_utf8 ((const guint8 *) "\x81\x8d", 2,
      "windows-1252");

  g_assert_cmpstr (a, ==, "\xd0\x9f\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");
  g_assert_cmpstr (b, ==, "\xc3\xa9");
  /* declared UTF-8 that is not: replacement character, still valid */
  g_assert_cmpstr (c, ==, "ok\xef\xbf\xbd");
  /* unknown charset: Windows-1252 */
  g_assert_cmpstr (d, ==, "\xe2\x80\x9cx");
  /* bytes Windows-1252 leaves undefined */
  g_assert_cmpstr (e, ==, "\xef\xbf\xbd\xef\xbf\xbd");
}

/* What a default Icecast mount sends for characters outside ISO-8859-1 */
static void
test_character_references (void)
{
  g_autoptr (IcyMetadata) a = parse ("StreamTitle='&#23431;&#22810;&#30000;"
      "&#12498;&#12459;&#12523; - First Love';");
  g_autoptr (IcyMetadata) b =
      parse ("StreamTitle='&#x41;&#X42; &#0; &#xD800; &#99999999; &#12 &#; "
      "&amp; &#x110000;';");

  g_assert_cmpstr (a->artist, ==, "\xe5\xae\x87\xe5\xa4\x9a\xe7\x94\xb0"
      "\xe3\x83\x92\xe3\x82\xab\xe3\x83\xab");
  g_assert_cmpstr (a->title, ==, "First Love");
  /* the raw text stays as sent */
  g_assert_nonnull (strstr (a->raw, "&#23431;"));
  /* only well-formed references to printable characters are decoded */
  g_assert_cmpstr (b->title, ==,
      "AB &#0; &#xD800; &#99999999; &#12 &#; &amp; &#x110000;");
}

static void
test_never_invalid_utf8 (void)
{
  guint8 bytes[512];
  GRand *rand = g_rand_new_with_seed (42);

  for (guint round = 0; round < 200; round++) {
    gsize len = g_rand_int_range (rand, 0, sizeof (bytes));
    IcyMetadata *m;

    for (gsize i = 0; i < len; i++)
      bytes[i] = g_rand_int_range (rand, 0, 256);
    m = icy_metadata_parse (bytes, len, &default_options);
    g_assert_true (g_utf8_validate (m->raw, -1, NULL));
    for (guint i = 0; i < m->values->len; i++)
      g_assert_true (g_utf8_validate (g_ptr_array_index (m->values, i), -1,
              NULL));
    icy_metadata_free (m);
  }
  g_rand_free (rand);
}

static void
test_block_plausibility (void)
{
  guint8 padded[32] = "StreamTitle='x';";
  guint8 binary[16] = { 0xff, 0xfb, 0x90, 0x64, 0x00 };
  guint8 no_equals[16] = "just some text";
  guint8 junk_in_padding[32] = "StreamTitle='x';";
  guint8 empty[16] = { 0 };

  junk_in_padding[20] = 'j';
  g_assert_true (icy_block_is_plausible (padded, sizeof (padded)));
  g_assert_true (icy_block_is_plausible (empty, sizeof (empty)));
  g_assert_false (icy_block_is_plausible (binary, sizeof (binary)));
  g_assert_false (icy_block_is_plausible (no_equals, sizeof (no_equals)));
  g_assert_false (icy_block_is_plausible (junk_in_padding,
          sizeof (junk_in_padding)));
  g_assert_cmpuint (icy_block_text_length (padded, sizeof (padded)), ==, 16);
}

static void
test_equal (void)
{
  g_autoptr (IcyMetadata) a = parse ("StreamTitle='A';");
  g_autoptr (IcyMetadata) b = parse ("StreamTitle='A';");
  g_autoptr (IcyMetadata) c = parse ("StreamTitle='B';");

  g_assert_true (icy_metadata_equal (a, b));
  g_assert_false (icy_metadata_equal (a, c));
  g_assert_false (icy_metadata_equal (a, NULL));
}

static void
test_response_head (void)
{
  const gchar *text = "ICY 200 OK\r\nicy-notice1: <BR>This stream requires "
      "Winamp<BR>\r\nicy-name: Caf\xe9 Radio\r\nicy-genre: Jazz\r\n"
      "content-type: audio/mpeg\r\nicy-pub: 1\r\nicy-metaint: 8192\r\n"
      "icy-br: 128\r\n\r\n\xff\xfb";
  g_autoptr (IcyResponseHead) head = NULL;
  IcyHeadResult r = icy_response_head_parse ((const guint8 *) text,
      strlen (text), ICY_CHARSET_AUTO, &head);

  g_assert_cmpint (r, ==, ICY_HEAD_COMPLETE);
  g_assert_cmpuint (head->status, ==, 200);
  g_assert_cmpint (head->metaint, ==, 8192);
  g_assert_cmpuint (head->length, ==, strlen (text) - 2);
  g_assert_cmpstr (g_hash_table_lookup (head->headers, "icy-name"), ==,
      "Caf\xc3\xa9 Radio");
  g_assert_cmpstr (g_hash_table_lookup (head->headers, "content-type"), ==,
      "audio/mpeg");
}

static void
test_response_head_partial_and_foreign (void)
{
  const gchar *http = "HTTP/1.0 200 OK\nIcy-MetaInt: 16000\nServer: x\n\n";
  IcyResponseHead *head = NULL;

  for (gsize i = 0; i < strlen (http); i++)
    g_assert_cmpint (icy_response_head_parse ((const guint8 *) http, i,
            ICY_CHARSET_AUTO, &head), ==, ICY_HEAD_NEED_MORE);
  g_assert_cmpint (icy_response_head_parse ((const guint8 *) http,
          strlen (http), ICY_CHARSET_AUTO, &head), ==, ICY_HEAD_COMPLETE);
  g_assert_cmpint (head->metaint, ==, 16000);
  g_assert_cmpuint (head->length, ==, strlen (http));
  icy_response_head_free (head);

  g_assert_cmpint (icy_response_head_parse ((const guint8 *) "\xff\xfb\x90",
          3, NULL, &head), ==, ICY_HEAD_NOT_A_HEAD);
  g_assert_cmpint (icy_response_head_parse ((const guint8 *) "ID3\x04", 4,
          NULL, &head), ==, ICY_HEAD_NOT_A_HEAD);
  g_assert_cmpint (icy_response_head_parse ((const guint8 *) "ICY xyz\r\n\r\n",
          11, NULL, &head), ==, ICY_HEAD_NOT_A_HEAD);
}

static void
test_response_head_bad_metaint (void)
{
  const gchar *cases[] = {
    "ICY 200 OK\r\nicy-metaint: -5\r\n\r\n",
    "ICY 200 OK\r\nicy-metaint: 99999999999\r\n\r\n",
    "ICY 200 OK\r\nicy-metaint: 12abc\r\n\r\n",
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_autoptr (IcyResponseHead) head = NULL;

    g_assert_cmpint (icy_response_head_parse ((const guint8 *) cases[i],
            strlen (cases[i]), NULL, &head), ==, ICY_HEAD_COMPLETE);
    g_assert_cmpint (head->metaint, ==, 0);
  }
}

static void
test_response_head_too_long (void)
{
  g_autofree guint8 *big = g_malloc (ICY_MAX_HEAD_SIZE + 10);
  IcyResponseHead *head = NULL;

  memcpy (big, "ICY 200 OK\r\n", 12);
  memset (big + 12, 'a', ICY_MAX_HEAD_SIZE - 2);
  g_assert_cmpint (icy_response_head_parse (big, ICY_MAX_HEAD_SIZE + 10, NULL,
          &head), ==, ICY_HEAD_NOT_A_HEAD);
  g_assert_null (head);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/icymeta/plain-title", test_plain_title);
  g_test_add_func ("/icymeta/apostrophes-inside-value",
      test_apostrophes_inside_value);
  g_test_add_func ("/icymeta/double-quotes", test_double_quotes);
  g_test_add_func ("/icymeta/junk-after-closing-quote",
      test_junk_after_closing_quote);
  g_test_add_func ("/icymeta/semicolon-inside-value",
      test_semicolon_inside_value);
  g_test_add_func ("/icymeta/empty-title-clears", test_empty_title_clears);
  g_test_add_func ("/icymeta/no-stream-title", test_no_stream_title);
  g_test_add_func ("/icymeta/unknown-keys-kept", test_unknown_keys_kept);
  g_test_add_func ("/icymeta/unquoted-value", test_unquoted_value);
  g_test_add_func ("/icymeta/full-4080-byte-block", test_full_block);
  g_test_add_func ("/icymeta/iheart-attributes", test_iheart_attributes);
  g_test_add_func ("/icymeta/separator-options", test_separator_options);
  g_test_add_func ("/icymeta/charset/utf8-kept", test_charset_utf8_kept);
  g_test_add_func ("/icymeta/charset/cp1252-fallback",
      test_charset_cp1252_fallback);
  g_test_add_func ("/icymeta/charset/c1-repair", test_charset_c1_repair);
  g_test_add_func ("/icymeta/charset/explicit", test_charset_explicit);
  g_test_add_func ("/icymeta/charset/character-references",
      test_character_references);
  g_test_add_func ("/icymeta/charset/never-invalid-utf8",
      test_never_invalid_utf8);
  g_test_add_func ("/icymeta/block-plausibility", test_block_plausibility);
  g_test_add_func ("/icymeta/equal", test_equal);
  g_test_add_func ("/icymeta/head/icy", test_response_head);
  g_test_add_func ("/icymeta/head/partial-and-foreign",
      test_response_head_partial_and_foreign);
  g_test_add_func ("/icymeta/head/bad-metaint",
      test_response_head_bad_metaint);
  g_test_add_func ("/icymeta/head/too-long", test_response_head_too_long);
  return g_test_run ();
}
