/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * icymetademux element tests: what leaves the element (bytes, caps, tags at their byte,
 * messages, timestamps), for every way the input can arrive.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <gst/check/gstcheck.h>

#include "elementcheck.h"
#include <gst/check/gstharness.h>
#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <string.h>

#include "icytest.h"

#define MP3_CAPS "application/x-icy, metadata-interval=(int)%u, " \
    "content-type=(string)audio/mpeg"

static const gchar *const texts[] = {
  "StreamTitle='Guns N' Roses - Sweet Child O' Mine';",
  "StreamTitle='Don't Stop';StreamUrl='http://example.com/';",
  "StreamTitle='';",
  NULL
};

/* title and artist each text above must produce; NULL = absent */
static const gchar *const expect_title[] =
    { "Sweet Child O' Mine", "Don't Stop", NULL };
static const gchar *const expect_artist[] = { "Guns N' Roses", NULL, NULL };

/* What crossed the element's src pad, in order. */
typedef struct
{
  GByteArray *audio;
  GArray *tag_offsets;          /* guint64: audio bytes before each tag event */
  GPtrArray *tag_titles;        /* gchar* or NULL */
  GPtrArray *tag_artists;
  GPtrArray *buffers;           /* GstBuffer* */
  GstCaps *caps;
  guint segments;
  GstBus *bus;                  /* the element's messages */
} Output;

static GstPadProbeReturn
record_output (GstPad * pad, GstPadProbeInfo * info, gpointer user_data)
{
  Output *out = user_data;

  if (GST_PAD_PROBE_INFO_TYPE (info) & GST_PAD_PROBE_TYPE_BUFFER) {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    gsize at = out->audio->len, size = gst_buffer_get_size (buf);

    /* extract, not map: mapping may merge (copy) the memories we check */
    g_byte_array_set_size (out->audio, at + size);
    gst_buffer_extract (buf, 0, out->audio->data + at, size);
    g_ptr_array_add (out->buffers, gst_buffer_ref (buf));
  } else {
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);

    if (GST_EVENT_TYPE (event) == GST_EVENT_TAG) {
      GstTagList *tags;
      gchar *title = NULL, *artist = NULL;
      guint64 at = out->audio->len;

      gst_event_parse_tag (event, &tags);
      if (!gst_tag_list_get_string (tags, GST_TAG_TITLE, &title)
          && !gst_tag_list_get_string (tags, GST_TAG_ARTIST, &artist)
          && out->tag_offsets->len == 0)
        return GST_PAD_PROBE_OK;        /* station tags before any title */
      if (artist == NULL)
        gst_tag_list_get_string (tags, GST_TAG_ARTIST, &artist);
      g_array_append_val (out->tag_offsets, at);
      g_ptr_array_add (out->tag_titles, title);
      g_ptr_array_add (out->tag_artists, artist);
    } else if (GST_EVENT_TYPE (event) == GST_EVENT_CAPS) {
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      gst_caps_replace (&out->caps, caps);
    } else if (GST_EVENT_TYPE (event) == GST_EVENT_SEGMENT) {
      g_assert_nonnull (out->caps);     /* never a segment before caps */
      out->segments++;
    }
  }
  return GST_PAD_PROBE_OK;
}

static void
output_init (Output * out)
{
  memset (out, 0, sizeof (*out));
  out->audio = g_byte_array_new ();
  out->tag_offsets = g_array_new (FALSE, FALSE, sizeof (guint64));
  out->tag_titles = g_ptr_array_new_with_free_func (g_free);
  out->tag_artists = g_ptr_array_new_with_free_func (g_free);
  out->buffers = g_ptr_array_new_with_free_func (
      (GDestroyNotify) gst_buffer_unref);
}

static void
output_clear (Output * out)
{
  g_byte_array_unref (out->audio);
  g_array_unref (out->tag_offsets);
  g_ptr_array_unref (out->tag_titles);
  g_ptr_array_unref (out->tag_artists);
  g_ptr_array_unref (out->buffers);
  gst_caps_replace (&out->caps, NULL);
  gst_clear_object (&out->bus);
}

static GstHarness *
harness_new (const gchar * factory, Output * out)
{
  GstHarness *h = gst_harness_new (factory);
  GstPad *src = gst_element_get_static_pad (h->element, "src");

  gst_pad_add_probe (src, GST_PAD_PROBE_TYPE_BUFFER |
      GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, record_output, out, NULL);
  gst_object_unref (src);
  out->bus = gst_bus_new ();
  gst_element_set_bus (h->element, out->bus);
  return h;
}

static void
harness_finish (GstHarness * h, Output * out)
{
  gst_element_set_bus (h->element, NULL);
  gst_harness_teardown (h);
  output_clear (out);
}

static GstBuffer *
wrap (const guint8 * data, gsize size)
{
  return gst_buffer_new_memdup (data, size);
}

/* Pushes @data cut at the given positions, then EOS. */
static void
push_pieces (GstHarness * h, const guint8 * data, gsize len,
    const gsize * cuts, guint n_cuts)
{
  gsize pos = 0;

  for (guint i = 0; i <= n_cuts; i++) {
    gsize end = i < n_cuts ? MIN (cuts[i], len) : len;

    if (end > pos)
      fail_unless_equals_int (gst_harness_push (h, wrap (data + pos,
                  end - pos)), GST_FLOW_OK);
    pos = MAX (pos, end);
  }
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
}

static void
assert_output_matches (const Output * out, const IcyTestStream * ts)
{
  fail_unless_equals_int (out->audio->len, ts->audio->len);
  fail_unless (memcmp (out->audio->data, ts->audio->data, ts->audio->len) == 0);
  fail_unless_equals_int (out->tag_offsets->len, ts->block_audio_offsets->len);
  for (guint i = 0; i < out->tag_offsets->len; i++) {
    guint which = i % 3;

    fail_unless_equals_uint64 (g_array_index (out->tag_offsets, guint64, i),
        g_array_index (ts->block_audio_offsets, guint64, i));
    fail_unless_equals_string (g_ptr_array_index (out->tag_titles, i),
        expect_title[which]);
    fail_unless_equals_string (g_ptr_array_index (out->tag_artists, i),
        expect_artist[which]);
  }
}

static GstHarness *
mp3_harness (guint metaint, Output * out)
{
  GstHarness *h = harness_new ("icymetademux", out);
  g_autofree gchar *caps = g_strdup_printf (MP3_CAPS, metaint);

  gst_harness_set_src_caps_str (h, caps);
  return h;
}

GST_START_TEST (test_loaded_from_build_tree)
{
  echo_check_element_from_build_tree ("icymetademux", NULL, NULL);
}

GST_END_TEST;

GST_START_TEST (test_strips_metadata_byte_exact)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (1000, 25000, NULL,
      texts, 2);
  Output out;
  GstHarness *h;

  output_init (&out);
  h = mp3_harness (1000, &out);
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  assert_output_matches (&out, ts);
  /* caps from the content type, before any byte */
  fail_unless (out.caps != NULL);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (out.caps, 0),
          "audio/mpeg"));
  harness_finish (h, &out);
}

GST_END_TEST;

/* The same stream cut in two at every possible byte, inside and around every block:
 * identical bytes, identical tags at identical offsets. */
GST_START_TEST (test_every_split_position)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (83, 600, NULL, texts, 1);

  for (gsize cut = 0; cut <= ts->stream->len; cut++) {
    Output out;
    GstHarness *h;

    output_init (&out);
    h = mp3_harness (83, &out);
    push_pieces (h, ts->stream->data, ts->stream->len, &cut, 1);
    assert_output_matches (&out, ts);
    harness_finish (h, &out);
  }
}

GST_END_TEST;

GST_START_TEST (test_one_byte_buffers)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (50, 700, NULL, texts, 1);
  g_autofree gsize *cuts = g_new (gsize, ts->stream->len);
  Output out;
  GstHarness *h;

  for (gsize i = 0; i < ts->stream->len; i++)
    cuts[i] = i + 1;
  output_init (&out);
  h = mp3_harness (50, &out);
  push_pieces (h, ts->stream->data, ts->stream->len, cuts, ts->stream->len);
  assert_output_matches (&out, ts);
  harness_finish (h, &out);
}

GST_END_TEST;

/* Audio leaves as parts of the input: same memory, no copy, one memory per buffer (a
 * buffer of several would be merged, so copied, by whatever maps it downstream). */
GST_START_TEST (test_zero_copy)
{
  /* titles at boundaries 0, 3 and 6 (audio bytes 1000, 4000, 7000), empty blocks at
   * the others */
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (1000, 8000, NULL,
      texts, 3);
  GstBuffer *in = wrap (ts->stream->data, ts->stream->len);
  GstMapInfo in_map;
  Output out;
  GstHarness *h;

  output_init (&out);
  h = mp3_harness (1000, &out);
  gst_buffer_map (in, &in_map, GST_MAP_READ);
  gst_buffer_ref (in);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  fail_unless_equals_int (out.buffers->len, 8);
  for (guint i = 0; i < out.buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (out.buffers, i);

    fail_unless_equals_int (gst_buffer_n_memory (b), 1);
    for (guint m = 0; m < gst_buffer_n_memory (b); m++) {
      GstMemory *mem = gst_buffer_peek_memory (b, m);
      GstMapInfo map;

      gst_memory_map (mem, &map, GST_MAP_READ);
      fail_unless (map.data >= in_map.data
          && map.data + map.size <= in_map.data + in_map.size,
          "output buffer %u memory %u was copied", i, m);
      gst_memory_unmap (mem, &map);
    }
  }
  assert_output_matches (&out, ts);
  gst_buffer_unmap (in, &in_map);
  gst_buffer_unref (in);
  harness_finish (h, &out);
}

GST_END_TEST;

GST_START_TEST (test_timestamps_and_offsets)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 400, NULL, texts, 1);
  GstBuffer *in = wrap (ts->stream->data, ts->stream->len);
  Output out;
  GstHarness *h;
  GstBuffer *head_buf, *next_buf;

  GST_BUFFER_PTS (in) = 5 * GST_SECOND;
  GST_BUFFER_DURATION (in) = GST_SECOND;
  GST_BUFFER_OFFSET (in) = 0;
  GST_BUFFER_FLAG_SET (in, GST_BUFFER_FLAG_DISCONT);
  output_init (&out);
  h = mp3_harness (100, &out);
  fail_unless_equals_int (gst_harness_push (h, in), GST_FLOW_OK);
  fail_unless_equals_int (out.buffers->len, 4);
  head_buf = g_ptr_array_index (out.buffers, 0);
  next_buf = g_ptr_array_index (out.buffers, 1);
  fail_unless_equals_uint64 (GST_BUFFER_PTS (head_buf), 5 * GST_SECOND);
  fail_unless (GST_BUFFER_FLAG_IS_SET (head_buf, GST_BUFFER_FLAG_DISCONT));
  fail_unless (!GST_BUFFER_PTS_IS_VALID (next_buf));
  fail_unless (!GST_BUFFER_FLAG_IS_SET (next_buf, GST_BUFFER_FLAG_DISCONT));
  for (guint i = 0; i < out.buffers->len; i++) {
    GstBuffer *b = g_ptr_array_index (out.buffers, i);

    /* offsets count audio bytes, as the stream downstream sees it */
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET (b), i * 100);
    fail_unless_equals_uint64 (GST_BUFFER_OFFSET_END (b), (i + 1) * 100);
  }
  harness_finish (h, &out);
}

GST_END_TEST;

static GstBuffer *
encode_mp3 (guint seconds)
{
  g_autofree gchar *launch = g_strdup_printf ("audiotestsrc num-buffers=%u "
      "samplesperbuffer=4410 ! audioconvert ! lamemp3enc ! appsink name=sink "
      "sync=false", seconds * 10);
  GstElement *pipe = gst_parse_launch (launch, NULL);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  GstBuffer *all = gst_buffer_new ();
  GstSample *sample;

  gst_element_set_state (pipe, GST_STATE_PLAYING);
  while ((sample = gst_app_sink_pull_sample (GST_APP_SINK (sink)))) {
    all = gst_buffer_append (all, gst_buffer_ref (gst_sample_get_buffer
            (sample)));
    gst_sample_unref (sample);
  }
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipe);
  return all;
}

/* Without a content type, the type comes from the audio bytes alone. */
GST_START_TEST (test_typefind_without_content_type)
{
  GstBuffer *mp3 = encode_mp3 (2);
  GstMapInfo map;
  g_autoptr (IcyTestStream) ts = NULL;
  g_autofree gsize *cuts = NULL;
  Output out;
  GstHarness *h;

  gst_buffer_map (mp3, &map, GST_MAP_READ);
  ts = icy_test_stream_new (4000, map.size, map.data, texts, 1);
  gst_buffer_unmap (mp3, &map);
  gst_buffer_unref (mp3);

  /* in 7-byte pieces: typefinding must not redo its work after each of them */
  cuts = g_new (gsize, ts->stream->len / 7);
  for (gsize i = 0; i < ts->stream->len / 7; i++)
    cuts[i] = (i + 1) * 7;
  output_init (&out);
  h = harness_new ("icymetademux", &out);
  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=4000");
  push_pieces (h, ts->stream->data, ts->stream->len, cuts, ts->stream->len / 7);
  fail_unless (out.caps != NULL);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (out.caps, 0),
          "audio/mpeg"));
  assert_output_matches (&out, ts);
  fail_unless_equals_int (out.segments, 1);
  harness_finish (h, &out);
}

GST_END_TEST;

GST_START_TEST (test_untypable_audio_is_an_error)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (500, 3000, NULL,
      texts, 1);
  GstMessage *msg;
  Output out;
  GstHarness *h;

  output_init (&out);
  h = harness_new ("icymetademux", &out);
  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=500");
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  msg = gst_bus_pop_filtered (out.bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL, "random bytes must not be given a type");
  gst_message_unref (msg);
  harness_finish (h, &out);
}

GST_END_TEST;

/* New caps with another interval apply from the next byte. */
GST_START_TEST (test_interval_change_mid_stream)
{
  g_autoptr (IcyTestStream) a = icy_test_stream_new (200, 1000, NULL,
      texts, 1);
  g_autoptr (IcyTestStream) b = icy_test_stream_new (300, 1500, NULL,
      texts, 1);
  g_autoptr (GByteArray) expected = g_byte_array_new ();
  Output out;
  GstHarness *h;

  output_init (&out);
  h = mp3_harness (200, &out);
  fail_unless_equals_int (gst_harness_push (h, wrap (a->stream->data,
              a->stream->len)), GST_FLOW_OK);
  gst_harness_set_src_caps_str (h, "application/x-icy, "
      "metadata-interval=(int)300, content-type=(string)audio/mpeg");
  fail_unless_equals_int (gst_harness_push (h, wrap (b->stream->data,
              b->stream->len)), GST_FLOW_OK);
  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));

  g_byte_array_append (expected, a->audio->data, a->audio->len);
  g_byte_array_append (expected, b->audio->data, b->audio->len);
  fail_unless_equals_int (out.audio->len, expected->len);
  fail_unless (memcmp (out.audio->data, expected->data, expected->len) == 0);
  harness_finish (h, &out);
}

GST_END_TEST;

/* A hole in the input: one warning, then every later title arrives. */
GST_START_TEST (test_resync_warns_once)
{
  const guint metaint = 400;
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (metaint, 60 * metaint,
      NULL, texts, 1);
  g_autoptr (GByteArray) holed = g_byte_array_new ();
  GstMessage *msg;
  Output out;
  GstHarness *h;
  guint warnings = 0;
  gsize holes[] = { 5 * (metaint + 1) + 17, 30 * (metaint + 1) + 100 };
  gsize pos = 0;

  for (guint i = 0; i < G_N_ELEMENTS (holes); i++) {
    g_byte_array_append (holed, ts->stream->data + pos, holes[i] - pos);
    pos = holes[i] + 23;
  }
  g_byte_array_append (holed, ts->stream->data + pos, ts->stream->len - pos);

  output_init (&out);
  h = mp3_harness (metaint, &out);
  push_pieces (h, holed->data, holed->len, (gsize[]) {
      1000, 5000, 9000}, 3);
  while ((msg = gst_bus_pop_filtered (out.bus, GST_MESSAGE_WARNING))) {
    warnings++;
    gst_message_unref (msg);
  }
  fail_unless_equals_int (warnings, 1);
  /* the last 20 titles all arrived */
  fail_unless (out.tag_titles->len >= 20);
  for (guint i = 1; i <= 20; i++) {
    guint which = (ts->block_texts->len - i) % 3;

    fail_unless_equals_string (g_ptr_array_index (out.tag_titles,
            out.tag_titles->len - i), expect_title[which]);
  }
  harness_finish (h, &out);
}

GST_END_TEST;

GST_START_TEST (test_random_bytes_never_crash)
{
  GRand *rand = g_rand_new_with_seed (11);

  for (guint round = 0; round < 30; round++) {
    gsize len = g_rand_int_range (rand, 1, 30000);
    g_autofree guint8 *data = g_malloc (len);
    gsize cuts[4];
    g_autofree gchar *caps = g_strdup_printf (MP3_CAPS,
        g_rand_int_range (rand, 1, 5000));
    Output out;
    GstHarness *h;

    for (gsize i = 0; i < len; i++)
      data[i] = g_rand_int_range (rand, 0, 256);
    for (guint i = 0; i < G_N_ELEMENTS (cuts); i++)
      cuts[i] = g_rand_int_range (rand, 0, len);
    output_init (&out);
    h = harness_new ("icymetademux", &out);
    gst_harness_set_src_caps_str (h, caps);
    push_pieces (h, data, len, cuts, G_N_ELEMENTS (cuts));
    fail_unless (out.audio->len <= len);
    for (guint i = 0; i < out.tag_titles->len; i++)
      if (g_ptr_array_index (out.tag_titles, i))
        fail_unless (g_utf8_validate (g_ptr_array_index (out.tag_titles, i),
                -1, NULL));
    harness_finish (h, &out);
  }
  g_rand_free (rand);
}

GST_END_TEST;

GST_START_TEST (test_eos_inside_block)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (300, 900, NULL, texts, 1);
  GstMessage *msg;
  Output out;
  GstHarness *h;

  output_init (&out);
  h = mp3_harness (300, &out);
  /* the length byte of the first block points past the end */
  push_pieces (h, ts->stream->data, 300 + 1 + 20, NULL, 0);
  fail_unless_equals_int (out.audio->len, 300);
  fail_unless (memcmp (out.audio->data, ts->audio->data, 300) == 0);
  msg = gst_bus_pop_filtered (out.bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  harness_finish (h, &out);
}

GST_END_TEST;

/* The metadata-interval property, for streams whose caps carry no interval. */
GST_START_TEST (test_property_interval)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (256, 3000, NULL,
      texts, 1);
  Output out;
  GstHarness *h;

  output_init (&out);
  h = harness_new ("icymetademux", &out);
  g_object_set (h->element, "metadata-interval", 256, NULL);
  gst_harness_set_src_caps_str (h, "application/x-icy, "
      "metadata-interval=(int)0, content-type=(string)audio/mpeg");
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  assert_output_matches (&out, ts);
  harness_finish (h, &out);
}

GST_END_TEST;

/* A capture that starts with the server's response head, fed one byte at a time. */
GST_START_TEST (test_inband_response_head)
{
  const gchar *head = "ICY 200 OK\r\nicy-name: Caf\xe9 \x93Jazz\x94\r\n"
      "icy-genre: Jazz\r\nicy-br: 128\r\ncontent-type: audio/mpeg\r\n"
      "icy-metaint: 120\r\n\r\n";
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (120, 1000, NULL,
      texts, 1);
  g_autoptr (GByteArray) capture = g_byte_array_new ();
  g_autofree gsize *cuts = NULL;
  GstTagList *tags = NULL;
  GstEvent *tag_event;
  gchar *organization = NULL;
  guint bitrate = 0;
  Output out;
  GstHarness *h;

  g_byte_array_append (capture, (const guint8 *) head, strlen (head));
  g_byte_array_append (capture, ts->stream->data, ts->stream->len);
  cuts = g_new (gsize, capture->len);
  for (gsize i = 0; i < capture->len; i++)
    cuts[i] = i + 1;

  output_init (&out);
  h = harness_new ("icymetademux", &out);
  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=0");
  push_pieces (h, capture->data, capture->len, cuts, capture->len);
  assert_output_matches (&out, ts);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (out.caps, 0),
          "audio/mpeg"));

  tag_event = gst_pad_get_sticky_event (h->sinkpad, GST_EVENT_TAG, 0);
  fail_unless (tag_event != NULL);
  gst_event_parse_tag (tag_event, &tags);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_ORGANIZATION,
          &organization));
  /* Windows-1252, not Latin-1: curly quotes, not C1 controls */
  fail_unless_equals_string (organization,
      "Caf\xc3\xa9 \xe2\x80\x9cJazz\xe2\x80\x9d");
  fail_unless (gst_tag_list_get_uint (tags, GST_TAG_NOMINAL_BITRATE,
          &bitrate));
  fail_unless_equals_int (bitrate, 128000);
  g_free (organization);
  gst_event_unref (tag_event);
  harness_finish (h, &out);
}

GST_END_TEST;

/* souphttpsrc's http-headers event; upstream tags are merged, not lost. */
GST_START_TEST (test_http_headers_event_and_upstream_tags)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 500, NULL, texts, 1);
  GstStructure *response = gst_structure_new ("response-headers",
      "icy-name", G_TYPE_STRING, "R\xc3\xa1" "dio Lisboa",
      "icy-genre", G_TYPE_STRING, "Fado",
      "icy-description", G_TYPE_STRING, "Live from Alfama",
      "Content-Type", G_TYPE_STRING, "audio/mpeg", NULL);
  GstStructure *headers = gst_structure_new ("http-headers",
      "response-headers", GST_TYPE_STRUCTURE, response, NULL);
  GstTagList *tags;
  GstEvent *tag_event;
  gchar *s = NULL;
  Output out;
  GstHarness *h;

  output_init (&out);
  h = harness_new ("icymetademux", &out);
  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=100");
  fail_unless (gst_harness_push_event (h,
          gst_event_new_custom (GST_EVENT_CUSTOM_DOWNSTREAM_STICKY, headers)));
  fail_unless (gst_harness_push_event (h, gst_event_new_tag
          (gst_tag_list_new (GST_TAG_LOCATION, "http://upstream.example/",
                  NULL))));
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  assert_output_matches (&out, ts);
  fail_unless (gst_structure_has_name (gst_caps_get_structure (out.caps, 0),
          "audio/mpeg"));

  tag_event = gst_pad_get_sticky_event (h->sinkpad, GST_EVENT_TAG, 0);
  gst_event_parse_tag (tag_event, &tags);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_ORGANIZATION, &s));
  fail_unless_equals_string (s, "R\xc3\xa1" "dio Lisboa");
  g_free (s);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_GENRE, &s));
  fail_unless_equals_string (s, "Fado");
  g_free (s);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_DESCRIPTION, &s));
  g_free (s);
  fail_unless (gst_tag_list_get_string (tags, GST_TAG_LOCATION, &s));
  fail_unless_equals_string (s, "http://upstream.example/");
  g_free (s);
  gst_event_unref (tag_event);
  gst_structure_free (response);
  harness_finish (h, &out);
}

GST_END_TEST;

GST_START_TEST (test_message_fields)
{
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 300, NULL, texts, 1);
  GstMessage *msg;
  const GstStructure *s;
  const GValue *keys, *values;
  guint64 offset = 0, raw_offset = 0;
  Output out;
  GstHarness *h;

  output_init (&out);
  h = mp3_harness (100, &out);
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);

  /* first block: Guns N' Roses, at audio byte 100 */
  msg = gst_bus_pop_filtered (out.bus, GST_MESSAGE_ELEMENT);
  fail_unless (msg != NULL);
  s = gst_message_get_structure (msg);
  fail_unless (gst_structure_has_name (s, "icy-metadata"));
  fail_unless_equals_string (gst_structure_get_string (s, "raw"), texts[0]);
  fail_unless_equals_string (gst_structure_get_string (s, "artist"),
      "Guns N' Roses");
  fail_unless_equals_string (gst_structure_get_string (s, "title"),
      "Sweet Child O' Mine");
  fail_unless_equals_string (gst_structure_get_string (s, "stream-title"),
      "Guns N' Roses - Sweet Child O' Mine");
  fail_unless (gst_structure_get_uint64 (s, "offset", &offset));
  fail_unless (gst_structure_get_uint64 (s, "raw-offset", &raw_offset));
  fail_unless_equals_uint64 (offset, 100);
  fail_unless_equals_uint64 (raw_offset, 100);
  keys = gst_structure_get_value (s, "keys");
  values = gst_structure_get_value (s, "values");
  fail_unless_equals_int (gst_value_array_get_size (keys), 1);
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value
          (keys, 0)), "StreamTitle");
  fail_unless_equals_string (g_value_get_string (gst_value_array_get_value
          (values, 0)), "Guns N' Roses - Sweet Child O' Mine");
  fail_unless (gst_structure_has_field (s, "running-time"));
  gst_message_unref (msg);

  /* second: StreamUrl, raw offset past the first block */
  msg = gst_bus_pop_filtered (out.bus, GST_MESSAGE_ELEMENT);
  s = gst_message_get_structure (msg);
  fail_unless_equals_string (gst_structure_get_string (s, "stream-url"),
      "http://example.com/");
  fail_unless (gst_structure_get_uint64 (s, "raw-offset", &raw_offset));
  fail_unless_equals_uint64 (raw_offset, 200 + 1 + 16 * ((strlen (texts[0])
              + 15) / 16));
  gst_message_unref (msg);

  /* third: cleared */
  msg = gst_bus_pop_filtered (out.bus, GST_MESSAGE_ELEMENT);
  s = gst_message_get_structure (msg);
  fail_unless_equals_string (gst_structure_get_string (s, "stream-title"), "");
  fail_unless (!gst_structure_has_field (s, "title"));
  gst_message_unref (msg);

  harness_finish (h, &out);
}

GST_END_TEST;

/* Shoutcast sends the same block every interval: one message, one tag. */
GST_START_TEST (test_repeated_block_reported_once)
{
  const gchar *same[] = { "StreamTitle='Same - Song';", NULL };
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 1000, NULL, same, 1);
  Output out;
  GstHarness *h;

  output_init (&out);
  h = mp3_harness (100, &out);
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  fail_unless_equals_int (ts->block_texts->len, 10);
  fail_unless_equals_int (out.tag_titles->len, 1);
  fail_unless_equals_uint64 (g_array_index (out.tag_offsets, guint64, 0), 100);
  harness_finish (h, &out);
}

GST_END_TEST;

static void
count_notify (GObject * obj, GParamSpec * pspec, guint * count)
{
  (*count)++;
}

GST_START_TEST (test_current_title_and_options)
{
  const gchar *t[] = { "StreamTitle='Caf\xe9 - Ol\xe9';", NULL };
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 300, NULL, t, 1);
  gchar *current = NULL;
  guint notified = 0;
  Output out;
  GstHarness *h;

  output_init (&out);
  h = harness_new ("icymetademux", &out);
  g_object_set (h->element, "split-artist", FALSE, NULL);
  g_signal_connect (h->element, "notify::current-title",
      G_CALLBACK (count_notify), &notified);
  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=100, "
      "content-type=audio/mpeg");
  g_object_get (h->element, "current-title", &current, NULL);
  fail_unless (current == NULL);
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  g_object_get (h->element, "current-title", &current, NULL);
  fail_unless_equals_string (current, "Caf\xc3\xa9 - Ol\xc3\xa9");
  g_free (current);
  fail_unless_equals_int (notified, 1);
  /* no split: the title tag is the whole StreamTitle */
  fail_unless_equals_string (g_ptr_array_index (out.tag_titles, 0),
      "Caf\xc3\xa9 - Ol\xc3\xa9");
  fail_unless (g_ptr_array_index (out.tag_artists, 0) == NULL);
  harness_finish (h, &out);
}

GST_END_TEST;

GST_START_TEST (test_explicit_charset)
{
  /* "Кино - Группа крови" in windows-1251 */
  const gchar *t[] = { "StreamTitle='\xca\xe8\xed\xee - \xc3\xf0\xf3\xef\xef\xe0"
        " \xea\xf0\xee\xe2\xe8';", NULL
  };
  g_autoptr (IcyTestStream) ts = icy_test_stream_new (100, 300, NULL, t, 1);
  Output out;
  GstHarness *h;

  output_init (&out);
  h = harness_new ("icymetademux", &out);
  g_object_set (h->element, "charset", "windows-1251", NULL);
  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=100, "
      "content-type=audio/mpeg");
  push_pieces (h, ts->stream->data, ts->stream->len, NULL, 0);
  fail_unless_equals_string (g_ptr_array_index (out.tag_artists, 0),
      "\xd0\x9a\xd0\xb8\xd0\xbd\xd0\xbe");
  fail_unless_equals_string (g_ptr_array_index (out.tag_titles, 0),
      "\xd0\x93\xd1\x80\xd1\x83\xd0\xbf\xd0\xbf\xd0\xb0 "
      "\xd0\xba\xd1\x80\xd0\xbe\xd0\xb2\xd0\xb8");
  harness_finish (h, &out);
}

GST_END_TEST;

GST_START_TEST (test_seeking_refused)
{
  GstHarness *h = gst_harness_new ("icymetademux");
  GstQuery *q;
  gboolean seekable = TRUE;

  gst_harness_set_src_caps_str (h, "application/x-icy, metadata-interval=100, "
      "content-type=audio/mpeg");
  q = gst_query_new_seeking (GST_FORMAT_BYTES);
  fail_unless (gst_pad_peer_query (h->sinkpad, q));
  gst_query_parse_seeking (q, NULL, &seekable, NULL, NULL);
  fail_unless (!seekable);
  gst_query_unref (q);
  fail_unless (!gst_harness_push_upstream_event (h,
          gst_event_new_seek (1.0, GST_FORMAT_BYTES, GST_SEEK_FLAG_FLUSH,
              GST_SEEK_TYPE_SET, 1000, GST_SEEK_TYPE_NONE, -1)));
  gst_harness_teardown (h);
}

GST_END_TEST;

/* Through decodebin, as a player uses it: decoded audio and the title tag at the sink. */
GST_START_TEST (test_decodes_real_mp3)
{
  GstBuffer *mp3 = encode_mp3 (3);
  GstMapInfo map;
  g_autoptr (IcyTestStream) ts = NULL;
  GstElement *pipe, *src, *sink;
  GstBus *bus;
  GstMessage *msg;
  gchar *title = NULL;
  guint decoded = 0;

  gst_buffer_map (mp3, &map, GST_MAP_READ);
  ts = icy_test_stream_new (8192, map.size, map.data, texts, 2);
  gst_buffer_unmap (mp3, &map);
  gst_buffer_unref (mp3);

  pipe = gst_parse_launch ("appsrc name=src caps=\"application/x-icy, "
      "metadata-interval=(int)8192\" format=bytes ! icymetademux ! decodebin ! "
      "audio/x-raw ! fakesink name=sink sync=false signal-handoffs=false", NULL);
  fail_unless (pipe != NULL);
  src = gst_bin_get_by_name (GST_BIN (pipe), "src");
  sink = gst_bin_get_by_name (GST_BIN (pipe), "sink");
  gst_element_set_state (pipe, GST_STATE_PLAYING);
  gst_app_src_push_buffer (GST_APP_SRC (src), wrap (ts->stream->data,
          ts->stream->len));
  gst_app_src_end_of_stream (GST_APP_SRC (src));

  bus = gst_element_get_bus (pipe);
  while ((msg = gst_bus_timed_pop_filtered (bus, 30 * GST_SECOND,
              GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_TAG))) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_TAG) {
      GstTagList *tags;

      gst_message_parse_tag (msg, &tags);
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (sink) && title == NULL)
        gst_tag_list_get_string (tags, GST_TAG_TITLE, &title);
      gst_tag_list_unref (tags);
      gst_message_unref (msg);
      continue;
    }
    fail_unless (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS,
        "pipeline error");
    gst_message_unref (msg);
    break;
  }
  {
    gint64 pos = 0;

    fail_unless (gst_element_query_position (sink, GST_FORMAT_TIME, &pos));
    decoded = pos / GST_MSECOND;
  }
  fail_unless (decoded > 2500, "only %u ms decoded", decoded);
  fail_unless_equals_string (title, "Sweet Child O' Mine");
  g_free (title);
  gst_element_set_state (pipe, GST_STATE_NULL);
  gst_object_unref (bus);
  gst_object_unref (src);
  gst_object_unref (sink);
  gst_object_unref (pipe);
}

GST_END_TEST;

static Suite *
icymetademux_suite (void)
{
  Suite *s = suite_create ("icymetademux");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_loaded_from_build_tree);
  tcase_add_test (tc, test_strips_metadata_byte_exact);
  tcase_add_test (tc, test_every_split_position);
  tcase_add_test (tc, test_one_byte_buffers);
  tcase_add_test (tc, test_zero_copy);
  tcase_add_test (tc, test_timestamps_and_offsets);
  tcase_add_test (tc, test_typefind_without_content_type);
  tcase_add_test (tc, test_untypable_audio_is_an_error);
  tcase_add_test (tc, test_interval_change_mid_stream);
  tcase_add_test (tc, test_resync_warns_once);
  tcase_add_test (tc, test_random_bytes_never_crash);
  tcase_add_test (tc, test_eos_inside_block);
  tcase_add_test (tc, test_property_interval);
  tcase_add_test (tc, test_inband_response_head);
  tcase_add_test (tc, test_http_headers_event_and_upstream_tags);
  tcase_add_test (tc, test_message_fields);
  tcase_add_test (tc, test_repeated_block_reported_once);
  tcase_add_test (tc, test_current_title_and_options);
  tcase_add_test (tc, test_explicit_charset);
  tcase_add_test (tc, test_seeking_refused);
  tcase_add_test (tc, test_decodes_real_mp3);
  return s;
}

GST_CHECK_MAIN (icymetademux);
