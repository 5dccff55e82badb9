/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
/**
 * SECTION:element-icymetademux
 * @title: icymetademux
 * @see_also: icydemux, souphttpsrc
 *
 * Removes the in-band metadata of an ICY (Shoutcast/Icecast) radio stream and turns it into
 * tags and messages, with the title change placed at the exact byte where its audio starts.
 *
 * The input is either `application/x-icy, metadata-interval=N` as souphttpsrc produces with
 * `iradio-mode=true`, or any byte stream (a capture, fdsrc, tcpclientsrc) together with the
 * #GstIcyMetaDemux:metadata-interval property. A stream that starts with the server's
 * response head (`ICY 200 OK` or `HTTP/1.x 200`, as `curl -i` captures) is recognised: the
 * interval, content type and station headers are read from it, with their original bytes.
 *
 * The output is the audio bytes with every metadata block removed, byte for byte, in
 * sub-buffers of the input (no copy of the payload). Output caps come from the upstream
 * content type when it names an audio format (no typefinding delay), otherwise from
 * typefinding the first audio bytes.
 *
 * Metadata text is parsed the way real stations send it: apostrophes and quotes inside
 * values, junk after the closing quote, empty titles, iHeart-style `title="..."` attributes
 * inside StreamTitle, StreamUrl and unknown keys. Text that is valid UTF-8 is kept (C1
 * control characters left by a Latin-1 conversion are mapped to the Windows-1252 characters
 * the station meant); anything else is decoded with #GstIcyMetaDemux:charset, by default
 * Windows-1252. No invalid UTF-8 ever leaves the element.
 *
 * ## Tags
 *
 * When the metadata changes, a stream tag event is sent downstream just before the first
 * audio byte the new metadata belongs to. It carries the whole current tag list:
 * #GST_TAG_TITLE and #GST_TAG_ARTIST (split from "Artist - Title", see
 * #GstIcyMetaDemux:split-artist), #GST_TAG_HOMEPAGE (StreamUrl), and from the station's
 * headers #GST_TAG_ORGANIZATION (icy-name), #GST_TAG_GENRE (icy-genre), #GST_TAG_LOCATION
 * (icy-url), #GST_TAG_DESCRIPTION (icy-description) and #GST_TAG_NOMINAL_BITRATE (icy-br),
 * merged with upstream's tags. An empty StreamTitle clears the title and artist. Sinks post
 * the tag as a #GST_MESSAGE_TAG when the audio before it has been rendered, which is the
 * moment to show it.
 *
 * ## Element messages
 *
 * For every metadata block that differs from the previous one, an element message named
 * `icy-metadata` is posted on the bus when the block is parsed. Its fields:
 *
 * * `raw` (string): the whole metadata text, decoded.
 * * `keys` (GstValueArray of strings): every key, in the order the server sent them.
 * * `values` (GstValueArray of strings): the value of each key, same order.
 * * `stream-title` (string, optional): StreamTitle as shown to a listener; "" when cleared.
 * * `title` (string, optional): the song title.
 * * `artist` (string, optional): the artist.
 * * `stream-url` (string, optional): StreamUrl, when not empty.
 * * `offset` (guint64): byte offset in the output (audio-only) stream at which the
 *   metadata applies.
 * * `raw-offset` (guint64): byte offset of the block's length byte in the input stream.
 * * `running-time` (GstClockTime): the running time of the input buffer that carried the
 *   block when upstream timestamps its buffers, otherwise the element's running time when
 *   the block arrived; #GST_CLOCK_TIME_NONE without either.
 *
 * ## Bad input
 *
 * A metadata block that is not plausible text means the stream's alignment is lost
 * (corrupted or truncated data, a wrong interval). The element posts one warning, searches
 * for three consecutive boundaries that fit the interval, passes the bytes before them on
 * as audio, and continues. Interval changes through new caps, truncated blocks, a length
 * byte that points past the end of the stream and buffers of any size are handled.
 *
 * ## Example launch lines
 * |[
 * gst-launch-1.0 -m souphttpsrc location=http://radio.example/live.mp3 iradio-mode=true ! icymetademux ! decodebin ! autoaudiosink
 * ]| Plays a station and prints every `icy-metadata` message and tag.
 * |[
 * curl -si -H 'Icy-MetaData: 1' http://radio.example/live.mp3 | gst-launch-1.0 -t fdsrc ! icymetademux ! decodebin ! fakesink
 * ]| Reads a raw capture, response head included, from standard input.
 * |[
 * gst-launch-1.0 -t filesrc location=capture.icy ! icymetademux metadata-interval=16000 charset=windows-1251 ! fakesink
 * ]| A capture without its response head, from a Cyrillic station.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/base/gsttypefindhelper.h>
#include <string.h>

#include "gsticyelements.h"
#include "gsticymetademux.h"

GST_DEBUG_CATEGORY_STATIC (icy_meta_demux_debug);
#define GST_CAT_DEFAULT icy_meta_demux_debug

/* Typefinding stops waiting for more certainty after this many audio bytes. */
#define TYPEFIND_MAX_SIZE (40 * 1024)
/* ...and does not try before this many (a few MP3 frames). */
#define TYPEFIND_MIN_SIZE (2 * 1024)

#define DEFAULT_METADATA_INTERVAL 0
#define DEFAULT_CHARSET ICY_CHARSET_AUTO
#define DEFAULT_SPLIT_ARTIST TRUE
#define DEFAULT_TITLE_SEPARATOR " - "

enum
{
  PROP_0,
  PROP_METADATA_INTERVAL,
  PROP_CHARSET,
  PROP_SPLIT_ARTIST,
  PROP_TITLE_SEPARATOR,
  PROP_CURRENT_TITLE,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

typedef enum
{
  HEAD_UNDECIDED,               /* the first bytes may be a response head */
  HEAD_DONE,
} HeadState;

struct _GstIcyMetaDemux
{
  GstElement parent;

  GstPad *sinkpad;
  GstPad *srcpad;

  /* properties, under the object lock */
  gint metadata_interval;
  gchar *charset;
  gboolean split_artist;
  gchar *title_separator;
  gchar *current_title;

  /* streaming state */
  IcyStream stream;
  gint caps_metaint;            /* from caps (0 if none) */
  gint head_metaint;            /* from an in-band response head (0 if none) */
  HeadState head_state;
  GByteArray *head_bytes;

  GstCaps *src_caps;            /* NULL until known */
  GQueue pending;               /* buffers and events waiting for src_caps */
  gsize pending_audio;
  gsize typefind_at;            /* next typefind attempt, in pending audio bytes */
  GstSegment segment;           /* upstream's */

  GstTagList *upstream_tags;
  GstTagList *header_tags;
  IcyMetadata *metadata;        /* current */
  gboolean tags_changed;
  gboolean warned_sync;
};

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS ("application/x-icy, metadata-interval = (int) [ 0, MAX ]"));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC,
    GST_PAD_ALWAYS,
    GST_STATIC_CAPS_ANY);

#define gst_icy_meta_demux_parent_class parent_class
G_DEFINE_TYPE (GstIcyMetaDemux, gst_icy_meta_demux, GST_TYPE_ELEMENT);
GST_ELEMENT_REGISTER_DEFINE (icymetademux, "icymetademux", GST_RANK_PRIMARY + 1,
    GST_TYPE_ICY_META_DEMUX);

static gint
effective_metaint (GstIcyMetaDemux * self)
{
  gint prop;

  if (self->head_metaint > 0)
    return self->head_metaint;
  if (self->caps_metaint > 0)
    return self->caps_metaint;
  GST_OBJECT_LOCK (self);
  prop = self->metadata_interval;
  GST_OBJECT_UNLOCK (self);
  return prop;
}

/* Caps for a Content-Type that names an audio format; NULL when typefinding must decide. */
static GstCaps *
caps_for_content_type (const gchar * content_type)
{
  static const struct
  {
    const gchar *mime;
    const gchar *caps;
  } map[] = {
    {"audio/mpeg", "audio/mpeg, mpegversion=(int)1"},
    {"audio/mp3", "audio/mpeg, mpegversion=(int)1"},
    {"audio/x-mpeg", "audio/mpeg, mpegversion=(int)1"},
    {"audio/mpg", "audio/mpeg, mpegversion=(int)1"},
    {"audio/aac", "audio/mpeg, mpegversion=(int)4"},
    {"audio/aacp", "audio/mpeg, mpegversion=(int)4"},
    {"audio/x-aac", "audio/mpeg, mpegversion=(int)4"},
    {"audio/ogg", "application/ogg"},
    {"application/ogg", "application/ogg"},
    {"audio/flac", "audio/x-flac"},
    {"audio/x-flac", "audio/x-flac"},
    {"audio/wav", "audio/x-wav"},
    {"audio/x-wav", "audio/x-wav"},
    {"audio/wave", "audio/x-wav"},
  };
  g_autofree gchar *mime = NULL;
  const gchar *semi;

  if (content_type == NULL)
    return NULL;
  semi = strchr (content_type, ';');
  mime = g_strstrip (g_ascii_strdown (content_type,
          semi ? semi - content_type : -1));
  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    if (strcmp (mime, map[i].mime) == 0)
      return gst_caps_from_string (map[i].caps);
  return NULL;
}

/* ---- pushing downstream ------------------------------------------------------------ */

static GstTagList *
current_tags (GstIcyMetaDemux * self)
{
  GstTagList *tags = self->upstream_tags
      ? gst_tag_list_copy (self->upstream_tags) : gst_tag_list_new_empty ();
  IcyMetadata *m = self->metadata;

  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  if (self->header_tags)
    gst_tag_list_insert (tags, self->header_tags, GST_TAG_MERGE_REPLACE);
  gst_tag_list_remove_tag (tags, GST_TAG_TITLE);
  gst_tag_list_remove_tag (tags, GST_TAG_ARTIST);
  if (m != NULL) {
    if (m->title != NULL && *m->title != '\0')
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_TITLE, m->title,
          NULL);
    if (m->artist != NULL && *m->artist != '\0')
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_ARTIST,
          m->artist, NULL);
    if (m->stream_url != NULL)
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_HOMEPAGE,
          m->stream_url, NULL);
  }
  return tags;
}

/* Everything serialized goes through here, so buffers and events keep their order while
 * the output caps are not known yet. Takes ownership of @obj. */
static GstFlowReturn
forward (GstIcyMetaDemux * self, GstMiniObject * obj)
{
  if (self->src_caps == NULL) {
    if (GST_IS_BUFFER (obj))
      self->pending_audio += gst_buffer_get_size (GST_BUFFER_CAST (obj));
    g_queue_push_tail (&self->pending, obj);
    return GST_FLOW_OK;
  }
  if (GST_IS_EVENT (obj)) {
    gst_pad_push_event (self->srcpad, GST_EVENT_CAST (obj));
    return GST_FLOW_OK;
  }
  return gst_pad_push (self->srcpad, GST_BUFFER_CAST (obj));
}

static GstFlowReturn
forward_audio (GstIcyMetaDemux * self, GstBuffer * buf)
{
  if (self->tags_changed) {
    self->tags_changed = FALSE;
    forward (self, GST_MINI_OBJECT_CAST (gst_event_new_tag (current_tags
                (self))));
  }
  return forward (self, GST_MINI_OBJECT_CAST (buf));
}

static void
clear_pending (GstIcyMetaDemux * self)
{
  GstMiniObject *obj;

  while ((obj = g_queue_pop_head (&self->pending)))
    gst_mini_object_unref (obj);
  self->pending_audio = 0;
  self->typefind_at = TYPEFIND_MIN_SIZE;
}

static GstFlowReturn
set_src_caps (GstIcyMetaDemux * self, GstCaps * caps)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstMiniObject *obj;

  GST_INFO_OBJECT (self, "output caps %" GST_PTR_FORMAT, caps);
  gst_caps_replace (&self->src_caps, caps);
  gst_pad_push_event (self->srcpad, gst_event_new_caps (caps));

  self->pending_audio = 0;
  while ((obj = g_queue_pop_head (&self->pending))) {
    if (ret != GST_FLOW_OK) {
      gst_mini_object_unref (obj);
      continue;
    }
    ret = forward (self, obj);
  }
  return ret;
}

static GstBuffer *
merge_pending_audio (GstIcyMetaDemux * self)
{
  GstBuffer *all = gst_buffer_new ();

  for (GList * l = self->pending.head; l; l = l->next)
    if (GST_IS_BUFFER (l->data))
      all = gst_buffer_append (all, gst_buffer_ref (GST_BUFFER_CAST (l->data)));
  return all;
}

/* Finds the output caps from the audio bytes held so far. */
static GstFlowReturn
typefind (GstIcyMetaDemux * self, gboolean at_eos)
{
  g_autoptr (GstBuffer) all = NULL;
  g_autoptr (GstCaps) caps = NULL;
  GstTypeFindProbability prob = GST_TYPE_FIND_NONE;

  if (self->src_caps != NULL || self->pending_audio == 0)
    return GST_FLOW_OK;
  /* at 2 KiB, then at every doubling: with small buffers, trying after each one would
   * cost time quadratic in the bytes held */
  if (!at_eos && self->pending_audio < self->typefind_at)
    return GST_FLOW_OK;
  self->typefind_at = MIN (self->pending_audio * 2, TYPEFIND_MAX_SIZE);

  all = merge_pending_audio (self);
  caps = gst_type_find_helper_for_buffer (GST_OBJECT (self), all, &prob);
  GST_DEBUG_OBJECT (self, "typefind over %" G_GSIZE_FORMAT " bytes: %"
      GST_PTR_FORMAT " (probability %d)", self->pending_audio, caps, prob);

  if (caps != NULL && (prob >= GST_TYPE_FIND_LIKELY || at_eos
          || self->pending_audio >= TYPEFIND_MAX_SIZE))
    return set_src_caps (self, caps);
  if (at_eos || self->pending_audio >= TYPEFIND_MAX_SIZE) {
    GST_ELEMENT_ERROR (self, STREAM, TYPE_NOT_FOUND, (NULL),
        ("Could not determine the type of the audio after removing metadata "
            "(%" G_GSIZE_FORMAT " bytes)", self->pending_audio));
    clear_pending (self);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  return GST_FLOW_OK;
}

/* ---- metadata ---------------------------------------------------------------------- */

static GValue *
string_array (GPtrArray * strings, GValue * array)
{
  g_value_init (array, GST_TYPE_ARRAY);
  for (guint i = 0; i < strings->len; i++) {
    GValue v = G_VALUE_INIT;

    g_value_init (&v, G_TYPE_STRING);
    g_value_set_string (&v, g_ptr_array_index (strings, i));
    gst_value_array_append_and_take_value (array, &v);
  }
  return array;
}

static GstClockTime
block_running_time (GstIcyMetaDemux * self, GstBuffer * carrier)
{
  if (GST_BUFFER_PTS_IS_VALID (carrier)
      && self->segment.format == GST_FORMAT_TIME)
    return gst_segment_to_running_time (&self->segment, GST_FORMAT_TIME,
        GST_BUFFER_PTS (carrier));
  return gst_element_get_current_running_time (GST_ELEMENT_CAST (self));
}

static void
post_metadata_message (GstIcyMetaDemux * self, const IcyMetadata * m,
    const IcyChunk * chunk, GstClockTime running_time)
{
  GstStructure *s;
  GValue keys = G_VALUE_INIT, values = G_VALUE_INIT;

  s = gst_structure_new ("icy-metadata",
      "raw", G_TYPE_STRING, m->raw,
      "offset", G_TYPE_UINT64, chunk->audio_offset,
      "raw-offset", G_TYPE_UINT64, chunk->raw_offset,
      "running-time", G_TYPE_UINT64, running_time, NULL);
  gst_structure_take_value (s, "keys", string_array (m->keys, &keys));
  gst_structure_take_value (s, "values", string_array (m->values, &values));
  if (m->stream_title)
    gst_structure_set (s, "stream-title", G_TYPE_STRING, m->stream_title, NULL);
  if (m->title)
    gst_structure_set (s, "title", G_TYPE_STRING, m->title, NULL);
  if (m->artist)
    gst_structure_set (s, "artist", G_TYPE_STRING, m->artist, NULL);
  if (m->stream_url)
    gst_structure_set (s, "stream-url", G_TYPE_STRING, m->stream_url, NULL);
  gst_element_post_message (GST_ELEMENT_CAST (self),
      gst_message_new_element (GST_OBJECT_CAST (self), s));
}

static void
handle_metadata (GstIcyMetaDemux * self, const IcyChunk * chunk,
    GstBuffer * carrier)
{
  IcyMetadata *m;
  IcyParseOptions opts;
  g_autofree gchar *charset = NULL;
  g_autofree gchar *separator = NULL;

  GST_OBJECT_LOCK (self);
  charset = g_strdup (self->charset);
  separator = self->split_artist ? g_strdup (self->title_separator) : NULL;
  GST_OBJECT_UNLOCK (self);

  opts.charset = charset;
  opts.separator = separator;
  m = icy_metadata_parse (chunk->data, chunk->size, &opts);
  if (icy_metadata_equal (m, self->metadata)) {
    /* Shoutcast repeats the block every interval */
    icy_metadata_free (m);
    return;
  }
  GST_DEBUG_OBJECT (self, "metadata at audio byte %" G_GUINT64_FORMAT ": %s",
      chunk->audio_offset, m->raw);
  icy_metadata_free (self->metadata);
  self->metadata = m;
  self->tags_changed = TRUE;

  post_metadata_message (self, m, chunk, block_running_time (self, carrier));

  if (m->stream_title != NULL) {
    GST_OBJECT_LOCK (self);
    g_free (self->current_title);
    self->current_title = g_strdup (m->stream_title);
    GST_OBJECT_UNLOCK (self);
    g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CURRENT_TITLE]);
  }
}

/* Station headers (icy-name...) become tags. */
static void
take_station_headers (GstIcyMetaDemux * self, GHashTable * headers)
{
  static const struct
  {
    const gchar *header;
    const gchar *tag;
  } map[] = {
    {"icy-name", GST_TAG_ORGANIZATION},
    {"icy-genre", GST_TAG_GENRE},
    {"icy-url", GST_TAG_LOCATION},
    {"icy-description", GST_TAG_DESCRIPTION},
  };
  GstTagList *tags = gst_tag_list_new_empty ();
  const gchar *br;
  guint64 kbps;

  for (guint i = 0; i < G_N_ELEMENTS (map); i++) {
    const gchar *v = g_hash_table_lookup (headers, map[i].header);

    if (v != NULL && *v != '\0')
      gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, map[i].tag, v, NULL);
  }
  br = g_hash_table_lookup (headers, "icy-br");
  /* "128" or "128,128" */
  if (br != NULL && (kbps = g_ascii_strtoull (br, NULL, 10)) > 0
      && kbps < 100000)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_NOMINAL_BITRATE,
        (guint) (kbps * 1000), NULL);

  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  if (self->header_tags)
    gst_tag_list_unref (self->header_tags);
  self->header_tags = tags;
  self->tags_changed = TRUE;
}

/* souphttpsrc's sticky "http-headers" event: response headers as a structure. */
static gboolean
headers_from_http_event (GstIcyMetaDemux * self, GstEvent * event)
{
  const GstStructure *s = gst_event_get_structure (event);
  const GstStructure *response = NULL;
  g_autoptr (GHashTable) headers = NULL;
  g_autofree gchar *charset = NULL;

  if (s == NULL || !gst_structure_has_name (s, "http-headers")
      || !gst_structure_get (s, "response-headers", GST_TYPE_STRUCTURE,
          &response, NULL))
    return FALSE;

  GST_OBJECT_LOCK (self);
  charset = g_strdup (self->charset);
  GST_OBJECT_UNLOCK (self);

  headers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (gint i = 0; i < gst_structure_n_fields (response); i++) {
    const gchar *name = gst_structure_nth_field_name (response, i);
    const GValue *v = gst_structure_get_value (response, name);
    const gchar *str = NULL;

    if (G_VALUE_HOLDS_STRING (v))
      str = g_value_get_string (v);
    else if (GST_VALUE_HOLDS_ARRAY (v) && gst_value_array_get_size (v) > 0
        && G_VALUE_HOLDS_STRING (gst_value_array_get_value (v, 0)))
      str = g_value_get_string (gst_value_array_get_value (v, 0));
    if (str != NULL)
      g_hash_table_insert (headers, g_ascii_strdown (name, -1),
          icy_text_to_utf8 ((const guint8 *) str, strlen (str), charset));
  }
  gst_structure_free ((GstStructure *) response);

  take_station_headers (self, headers);
  if (self->src_caps == NULL) {
    g_autoptr (GstCaps) caps =
        caps_for_content_type (g_hash_table_lookup (headers, "content-type"));

    if (caps != NULL)
      set_src_caps (self, caps);
  }
  return TRUE;
}

/* ---- the byte stream ----------------------------------------------------------------- */

static void
apply_metaint (GstIcyMetaDemux * self);

static void
report_lost_sync (GstIcyMetaDemux * self, const IcyChunk * chunk)
{
  if (!self->warned_sync) {
    self->warned_sync = TRUE;
    GST_ELEMENT_WARNING (self, STREAM, DEMUX,
        ("Lost the metadata boundaries of the stream"),
        ("metadata block of %" G_GSIZE_FORMAT " bytes at input byte %"
            G_GUINT64_FORMAT " is not text (corrupted or truncated data, "
            "or metadata-interval %u is wrong); resynchronising",
            chunk->size, chunk->raw_offset, self->stream.metaint));
  } else {
    GST_WARNING_OBJECT (self, "lost sync again at input byte %"
        G_GUINT64_FORMAT, chunk->raw_offset);
  }
}

static GstFlowReturn
push_audio (GstIcyMetaDemux * self, GstBuffer * out, guint64 audio_offset)
{
  GstFlowReturn ret;

  GST_BUFFER_OFFSET (out) = audio_offset;
  GST_BUFFER_OFFSET_END (out) = audio_offset + gst_buffer_get_size (out);
  ret = forward_audio (self, out);
  if (ret == GST_FLOW_OK)
    ret = typefind (self, FALSE);
  return ret;
}

/* Takes @buf. Audio leaves as parts of @buf (sub-buffers, and @buf itself for the last
 * part), never as copies, except for bytes the splitter held back while resyncing. One
 * output buffer per part: a buffer of several memories would be merged, so copied, by
 * the first element downstream that maps it. */
static GstFlowReturn
split (GstIcyMetaDemux * self, GstBuffer * buf)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstMapInfo map;
  IcyChunk chunk, last = { 0, };
  gboolean first = TRUE;

  /* Most buffers hold no boundary (an interval is ~16 KiB, souphttpsrc reads 4 KiB):
   * they go on as they are, unmapped. */
  if (icy_stream_take_audio (&self->stream, gst_buffer_get_size (buf), &chunk))
    return push_audio (self, gst_buffer_make_writable (buf), chunk.audio_offset);

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    gst_buffer_unref (buf);
    GST_ELEMENT_ERROR (self, RESOURCE, READ, (NULL), ("Could not map buffer"));
    return GST_FLOW_ERROR;
  }

  icy_stream_feed (&self->stream, map.data, map.size);
  /* keep going after a push fails, so that the splitter consumes the whole piece */
  while (icy_stream_next (&self->stream, &chunk)) {
    GstBuffer *out;

    switch (chunk.kind) {
      case ICY_CHUNK_AUDIO:
        if (ret != GST_FLOW_OK)
          break;
        if (chunk.in_input && chunk.input_offset + chunk.size == map.size) {
          /* the last part: sent as the input buffer itself, after the unmap */
          last = chunk;
          break;
        }
        if (chunk.in_input) {
          /* keeps the input's timestamps when it starts where the input does */
          out = gst_buffer_copy_region (buf, GST_BUFFER_COPY_FLAGS |
              GST_BUFFER_COPY_TIMESTAMPS | GST_BUFFER_COPY_META |
              GST_BUFFER_COPY_MEMORY, chunk.input_offset, chunk.size);
          if (!first)
            GST_BUFFER_FLAG_UNSET (out, GST_BUFFER_FLAG_DISCONT);
          first = FALSE;
        } else {
          out = gst_buffer_new_memdup (chunk.data, chunk.size);
        }
        ret = push_audio (self, out, chunk.audio_offset);
        break;
      case ICY_CHUNK_METADATA:
        handle_metadata (self, &chunk, buf);
        break;
      case ICY_CHUNK_LOST_SYNC:
        report_lost_sync (self, &chunk);
        break;
      case ICY_CHUNK_FOUND_SYNC:
        GST_INFO_OBJECT (self, "boundaries found again at input byte %"
            G_GUINT64_FORMAT, chunk.raw_offset);
        break;
    }
  }
  gst_buffer_unmap (buf, &map);

  if (last.size == 0 || ret != GST_FLOW_OK) {
    gst_buffer_unref (buf);
    return ret;
  }
  buf = gst_buffer_make_writable (buf);
  if (last.input_offset > 0) {
    gst_buffer_resize (buf, last.input_offset, last.size);
    GST_BUFFER_PTS (buf) = GST_BUFFER_DTS (buf) = GST_CLOCK_TIME_NONE;
    GST_BUFFER_DURATION (buf) = GST_CLOCK_TIME_NONE;
    if (!first)
      GST_BUFFER_FLAG_UNSET (buf, GST_BUFFER_FLAG_DISCONT);
  }
  return push_audio (self, buf, last.audio_offset);
}

/* Hands out what the splitter still holds (end of stream, or before a new interval). */
static GstFlowReturn
drain (GstIcyMetaDemux * self)
{
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean truncated = FALSE;
  IcyChunk chunk;

  while (icy_stream_finish (&self->stream, &chunk, &truncated))
    if (ret == GST_FLOW_OK)
      ret = push_audio (self, gst_buffer_new_memdup (chunk.data, chunk.size),
          chunk.audio_offset);
  /* metadata in the stream's last block belongs to no audio, but is still news */
  if (ret == GST_FLOW_OK && self->tags_changed) {
    self->tags_changed = FALSE;
    forward (self, GST_MINI_OBJECT_CAST (gst_event_new_tag (current_tags
                (self))));
  }
  if (truncated)
    GST_ELEMENT_WARNING (self, STREAM, DEMUX,
        ("The stream ended inside a metadata block"),
        ("the partial block was dropped"));
  return ret;
}

/* Ends the wait for a response head: the held bytes from @from on, as a buffer to split
 * (NULL when there are none). */
static GstBuffer *
take_head_bytes (GstIcyMetaDemux * self, gsize from)
{
  GstBuffer *rest = NULL;

  if (self->head_bytes->len > from)
    rest = gst_buffer_new_memdup (self->head_bytes->data + from,
        self->head_bytes->len - from);
  g_byte_array_set_size (self->head_bytes, 0);
  self->head_state = HEAD_DONE;
  return rest;
}

static GstFlowReturn
process_head_bytes (GstIcyMetaDemux * self, GstBuffer * buf)
{
  IcyResponseHead *head = NULL;
  g_autofree gchar *charset = NULL;
  IcyHeadResult r;
  GstBuffer *rest;
  GstFlowReturn ret = GST_FLOW_OK;
  gboolean accumulated = self->head_bytes->len > 0;
  GstMapInfo map;

  if (gst_buffer_map (buf, &map, GST_MAP_READ)) {
    g_byte_array_append (self->head_bytes, map.data, map.size);
    gst_buffer_unmap (buf, &map);
  }
  GST_OBJECT_LOCK (self);
  charset = g_strdup (self->charset);
  GST_OBJECT_UNLOCK (self);
  r = icy_response_head_parse (self->head_bytes->data, self->head_bytes->len,
      charset, &head);
  if (r == ICY_HEAD_NEED_MORE) {
    gst_buffer_unref (buf);
    return GST_FLOW_OK;
  }

  if (r == ICY_HEAD_NOT_A_HEAD) {
    /* the usual case: a first buffer that is plain stream goes on untouched */
    if (!accumulated) {
      take_head_bytes (self, G_MAXSIZE);
      return split (self, buf);
    }
    rest = take_head_bytes (self, 0);
    gst_buffer_copy_into (rest, buf, GST_BUFFER_COPY_FLAGS, 0, -1);
    gst_buffer_unref (buf);
    return split (self, rest);
  }

  GST_INFO_OBJECT (self, "in-band response head: status %u, icy-metaint %d",
      head->status, head->metaint);
  self->head_metaint = head->metaint;
  apply_metaint (self);
  take_station_headers (self, head->headers);
  if (self->src_caps == NULL) {
    g_autoptr (GstCaps) caps = caps_for_content_type (g_hash_table_lookup
        (head->headers, "content-type"));

    if (caps != NULL)
      set_src_caps (self, caps);
  }

  rest = take_head_bytes (self, head->length);
  if (rest != NULL)
    ret = split (self, rest);
  icy_response_head_free (head);
  gst_buffer_unref (buf);
  return ret;
}

static GstFlowReturn
gst_icy_meta_demux_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (parent);

  if (self->head_state == HEAD_UNDECIDED)
    return process_head_bytes (self, buf);

  return split (self, buf);
}

/* ---- events and queries -------------------------------------------------------------- */

/* A new interval applies from the next byte: what the splitter holds goes out first. */
static void
apply_metaint (GstIcyMetaDemux * self)
{
  gint metaint = effective_metaint (self);

  if ((guint) metaint == self->stream.metaint)
    return;
  GST_INFO_OBJECT (self, "metadata interval %u -> %d", self->stream.metaint,
      metaint);
  drain (self);
  icy_stream_reset (&self->stream, metaint);
}

static void
reset_stream_state (GstIcyMetaDemux * self)
{
  self->caps_metaint = self->head_metaint = 0;
  icy_stream_reset (&self->stream, effective_metaint (self));
  self->head_state = HEAD_UNDECIDED;
  g_byte_array_set_size (self->head_bytes, 0);
  gst_caps_replace (&self->src_caps, NULL);
  clear_pending (self);
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
  g_clear_pointer (&self->upstream_tags, gst_tag_list_unref);
  g_clear_pointer (&self->header_tags, gst_tag_list_unref);
  g_clear_pointer (&self->metadata, icy_metadata_free);
  self->tags_changed = FALSE;
  self->warned_sync = FALSE;
  GST_OBJECT_LOCK (self);
  g_clear_pointer (&self->current_title, g_free);
  GST_OBJECT_UNLOCK (self);
}

static gboolean
handle_caps (GstIcyMetaDemux * self, GstCaps * caps)
{
  const GstStructure *s = gst_caps_get_structure (caps, 0);
  gint metaint = 0;

  gst_structure_get_int (s, "metadata-interval", &metaint);
  self->caps_metaint = MAX (metaint, 0);
  apply_metaint (self);

  if (self->src_caps == NULL) {
    g_autoptr (GstCaps) out =
        caps_for_content_type (gst_structure_get_string (s, "content-type"));

    if (out != NULL)
      set_src_caps (self, out);
  }
  return TRUE;
}

/* Upstream's byte segment is in input bytes; downstream's is in audio bytes. */
static GstEvent *
output_segment (GstIcyMetaDemux * self, GstEvent * event)
{
  GstSegment seg;
  GstEvent *out;

  gst_event_copy_segment (event, &self->segment);
  if (self->segment.format != GST_FORMAT_BYTES || self->stream.metaint == 0)
    return event;

  gst_segment_init (&seg, GST_FORMAT_BYTES);
  seg.start = seg.position = seg.time = self->stream.audio_offset;
  out = gst_event_new_segment (&seg);
  gst_event_set_seqnum (out, gst_event_get_seqnum (event));
  gst_event_unref (event);
  return out;
}

static gboolean
gst_icy_meta_demux_sink_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (parent);

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);

  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      reset_stream_state (self);
      return gst_pad_push_event (self->srcpad, event);

    case GST_EVENT_CAPS:{
      GstCaps *caps;

      gst_event_parse_caps (event, &caps);
      handle_caps (self, caps);
      gst_event_unref (event);
      return TRUE;
    }

    case GST_EVENT_SEGMENT:
      forward (self, GST_MINI_OBJECT_CAST (output_segment (self, event)));
      return TRUE;

    case GST_EVENT_TAG:{
      GstTagList *tags;

      gst_event_parse_tag (event, &tags);
      if (gst_tag_list_get_scope (tags) != GST_TAG_SCOPE_STREAM) {
        forward (self, GST_MINI_OBJECT_CAST (event));
        return TRUE;
      }
      if (self->upstream_tags)
        gst_tag_list_unref (self->upstream_tags);
      self->upstream_tags = gst_tag_list_copy (tags);
      gst_event_unref (event);
      /* sent merged with ours, in place of upstream's */
      forward (self, GST_MINI_OBJECT_CAST (gst_event_new_tag (current_tags
                  (self))));
      self->tags_changed = FALSE;
      return TRUE;
    }

    case GST_EVENT_CUSTOM_DOWNSTREAM_STICKY:
      if (headers_from_http_event (self, event)) {
        forward (self, GST_MINI_OBJECT_CAST (event));
        return TRUE;
      }
      break;

    case GST_EVENT_FLUSH_STOP:
      /* after a flush the server starts a new interval */
      icy_stream_reset (&self->stream, self->stream.metaint);
      clear_pending (self);
      return gst_pad_push_event (self->srcpad, event);

    case GST_EVENT_EOS:
      if (self->head_state == HEAD_UNDECIDED) {
        GstBuffer *rest = take_head_bytes (self, 0);

        if (rest != NULL)
          split (self, rest);
      }
      drain (self);
      typefind (self, TRUE);
      /* without caps, downstream still gets the end of the stream */
      if (self->src_caps == NULL)
        clear_pending (self);
      return gst_pad_push_event (self->srcpad, event);

    default:
      break;
  }

  if (GST_EVENT_IS_SERIALIZED (event) && self->src_caps == NULL) {
    forward (self, GST_MINI_OBJECT_CAST (event));
    return TRUE;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_icy_meta_demux_src_event (GstPad * pad, GstObject * parent,
    GstEvent * event)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (parent);

  /* An input byte position cannot be computed from an audio byte position without
   * knowing every block in between. */
  if (GST_EVENT_TYPE (event) == GST_EVENT_SEEK && self->stream.metaint > 0) {
    GST_DEBUG_OBJECT (self, "refusing seek in a stream with metadata");
    gst_event_unref (event);
    return FALSE;
  }
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_icy_meta_demux_src_query (GstPad * pad, GstObject * parent,
    GstQuery * query)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (parent);

  if (self->stream.metaint > 0) {
    GstFormat format;

    switch (GST_QUERY_TYPE (query)) {
      case GST_QUERY_SEEKING:
        gst_query_parse_seeking (query, &format, NULL, NULL, NULL);
        gst_query_set_seeking (query, format, FALSE, 0, -1);
        return TRUE;
      case GST_QUERY_DURATION:
        /* upstream's byte count includes the metadata */
        gst_query_parse_duration (query, &format, NULL);
        if (format == GST_FORMAT_BYTES)
          return FALSE;
        break;
      default:
        break;
    }
  }
  return gst_pad_query_default (pad, parent, query);
}

static GstStateChangeReturn
gst_icy_meta_demux_change_state (GstElement * element,
    GstStateChange transition)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
    reset_stream_state (self);

  ret = GST_ELEMENT_CLASS (parent_class)->change_state (element, transition);

  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY)
    reset_stream_state (self);
  return ret;
}

/* ---- GObject ---------------------------------------------------------------------- */

static void
gst_icy_meta_demux_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_METADATA_INTERVAL:
      self->metadata_interval = g_value_get_int (value);
      break;
    case PROP_CHARSET:
      g_free (self->charset);
      self->charset = g_value_dup_string (value);
      if (self->charset == NULL || *self->charset == '\0') {
        g_free (self->charset);
        self->charset = g_strdup (DEFAULT_CHARSET);
      }
      break;
    case PROP_SPLIT_ARTIST:
      self->split_artist = g_value_get_boolean (value);
      break;
    case PROP_TITLE_SEPARATOR:
      g_free (self->title_separator);
      self->title_separator = g_value_dup_string (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_icy_meta_demux_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_METADATA_INTERVAL:
      g_value_set_int (value, self->metadata_interval);
      break;
    case PROP_CHARSET:
      g_value_set_string (value, self->charset);
      break;
    case PROP_SPLIT_ARTIST:
      g_value_set_boolean (value, self->split_artist);
      break;
    case PROP_TITLE_SEPARATOR:
      g_value_set_string (value, self->title_separator);
      break;
    case PROP_CURRENT_TITLE:
      g_value_set_string (value, self->current_title);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_icy_meta_demux_finalize (GObject * object)
{
  GstIcyMetaDemux *self = GST_ICY_META_DEMUX (object);

  reset_stream_state (self);
  icy_stream_clear (&self->stream);
  g_byte_array_unref (self->head_bytes);
  g_free (self->charset);
  g_free (self->title_separator);
  G_OBJECT_CLASS (parent_class)->finalize (object);
}

static void
gst_icy_meta_demux_class_init (GstIcyMetaDemuxClass * klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);

  GST_DEBUG_CATEGORY_INIT (icy_meta_demux_debug, "icymetademux", 0,
      "ICY metadata demuxer");

  gobject_class->set_property = gst_icy_meta_demux_set_property;
  gobject_class->get_property = gst_icy_meta_demux_get_property;
  gobject_class->finalize = gst_icy_meta_demux_finalize;

  /**
   * GstIcyMetaDemux:metadata-interval:
   *
   * Bytes of audio between two metadata blocks (the server's icy-metaint header), for
   * input whose caps do not say it. Caps from souphttpsrc and an in-band response head
   * take precedence. 0 means the stream carries no metadata.
   */
  properties[PROP_METADATA_INTERVAL] =
      g_param_spec_int ("metadata-interval", "Metadata interval",
      "Bytes of audio between metadata blocks (icy-metaint) when the caps or an "
      "in-band response head do not give it; 0 = no metadata", 0, G_MAXINT,
      DEFAULT_METADATA_INTERVAL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_READY);

  /**
   * GstIcyMetaDemux:charset:
   *
   * How metadata and header text is decoded. "auto" keeps valid UTF-8 and decodes
   * anything else as Windows-1252. Any other name (as iconv knows it) is used for every
   * block; text that does not convert falls back to Windows-1252.
   */
  properties[PROP_CHARSET] =
      g_param_spec_string ("charset", "Charset",
      "Encoding of metadata text: \"auto\" (UTF-8 when valid, else "
      "Windows-1252) or an iconv charset name such as ISO-8859-2",
      DEFAULT_CHARSET, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstIcyMetaDemux:split-artist:
   *
   * Whether "Artist - Title" in StreamTitle is split into the artist and title tags.
   * When off, the title tag is the whole StreamTitle.
   */
  properties[PROP_SPLIT_ARTIST] =
      g_param_spec_boolean ("split-artist", "Split artist",
      "Split StreamTitle into artist and title at title-separator",
      DEFAULT_SPLIT_ARTIST, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstIcyMetaDemux:title-separator:
   *
   * What separates the artist from the title in StreamTitle; the split is made at its
   * first occurrence.
   */
  properties[PROP_TITLE_SEPARATOR] =
      g_param_spec_string ("title-separator", "Title separator",
      "Separator between artist and title in StreamTitle (first occurrence)",
      DEFAULT_TITLE_SEPARATOR, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS |
      GST_PARAM_MUTABLE_PLAYING);

  /**
   * GstIcyMetaDemux:current-title:
   *
   * The StreamTitle of the latest metadata, "" after the station cleared it, %NULL
   * before any. Notified from the streaming thread when it changes, which is when the
   * block is parsed (ahead of the audio it belongs to by the downstream latency).
   */
  properties[PROP_CURRENT_TITLE] =
      g_param_spec_string ("current-title", "Current title",
      "StreamTitle of the latest metadata block (read-only)", NULL,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);

  g_object_class_install_properties (gobject_class, N_PROPERTIES, properties);

  element_class->change_state =
      GST_DEBUG_FUNCPTR (gst_icy_meta_demux_change_state);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class,
      "ICY metadata demuxer", "Codec/Demuxer/Metadata",
      "Removes ICY (Shoutcast/Icecast) in-band metadata from a radio stream and "
      "emits it as tags placed at the exact byte, and as icy-metadata messages",
      "Echo contributors");
  gst_element_class_add_static_metadata (element_class,
      GST_ELEMENT_METADATA_DOC_URI, ECHO_ELEMENT_DOCS_URI "/icymetademux.md");
}

static void
gst_icy_meta_demux_init (GstIcyMetaDemux * self)
{
  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_icy_meta_demux_chain));
  gst_pad_set_event_function (self->sinkpad,
      GST_DEBUG_FUNCPTR (gst_icy_meta_demux_sink_event));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  self->srcpad = gst_pad_new_from_static_template (&src_template, "src");
  gst_pad_set_event_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_icy_meta_demux_src_event));
  gst_pad_set_query_function (self->srcpad,
      GST_DEBUG_FUNCPTR (gst_icy_meta_demux_src_query));
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->metadata_interval = DEFAULT_METADATA_INTERVAL;
  self->charset = g_strdup (DEFAULT_CHARSET);
  self->split_artist = DEFAULT_SPLIT_ARTIST;
  self->title_separator = g_strdup (DEFAULT_TITLE_SEPARATOR);

  icy_stream_init (&self->stream, 0);
  self->head_bytes = g_byte_array_new ();
  g_queue_init (&self->pending);
  self->typefind_at = TYPEFIND_MIN_SIZE;
  gst_segment_init (&self->segment, GST_FORMAT_UNDEFINED);
}
