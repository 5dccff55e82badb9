/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-media-probe.c: typefinding, then GstDiscoverer, then the verdict.
 *
 * Typefinding first costs one read of the file's head and turns away most of what is
 * not audio without building a decoder for it; the discoverer then decodes a little of
 * the audio (so a file that only looks right, or is cut short before its first frame,
 * fails there) and reports the streams and the duration.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-media-probe.h"
#include "echo-music-error.h"

#include <gst/gst.h>
#include <gst/base/base.h>
#include <gst/pbutils/pbutils.h>
#include <string.h>

/* enough for every typefinder we accept, and ID3 tags that push the audio back */
#define HEAD_BYTES (64 * 1024)
#define DISCOVER_TIMEOUT (10 * GST_SECOND)

void
echo_media_probe_free (EchoMediaProbe * probe)
{
  if (probe == NULL)
    return;
  g_free (probe->container);
  g_free (probe->codec);
  g_free (probe->title);
  g_free (probe->artist);
  g_free (probe->album);
  g_free (probe);
}

static gboolean
unsupported (GError ** error, const char *path, const char *format, ...) G_GNUC_PRINTF (3, 4);

static gboolean
unsupported (GError ** error, const char *path, const char *format, ...)
{
  g_autofree char *base = g_path_get_basename (path);
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, ECHO_MUSIC_ERROR, ECHO_MUSIC_ERROR_UNSUPPORTED, "%s: %s", base,
      message);
  return FALSE;
}

/* The media type typefinding sees in the head of @path, or NULL (with @error). */
static char *
typefind_head (const char *path, GError ** error)
{
  g_autoptr (GFile) file = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) in = NULL;
  g_autoptr (GError) io_error = NULL;
  g_autoptr (GstCaps) caps = NULL;
  g_autofree guint8 *head = g_malloc (HEAD_BYTES);
  g_autofree char *extension = NULL;
  const char *dot;
  gsize got = 0;

  in = g_file_read (file, NULL, &io_error);
  if (in == NULL || !g_input_stream_read_all (G_INPUT_STREAM (in), head, HEAD_BYTES,
          &got, NULL, &io_error)) {
    /* GIO's message names the server's path: keep it in the log, out of the reply */
    g_info ("probing %s: %s", path, io_error->message);
    unsupported (error, path, "unreadable");
    return NULL;
  }
  if (got == 0) {
    unsupported (error, path, "the file is empty");
    return NULL;
  }
  dot = strrchr (path, '.');
  if (dot != NULL && strchr (dot, '/') == NULL)
    extension = g_ascii_strdown (dot + 1, -1);
  caps = gst_type_find_helper_for_data_with_extension (NULL, head, got, extension, NULL);
  if (caps == NULL || gst_caps_is_empty (caps) || gst_caps_is_any (caps)) {
    const char *end = NULL;

    /* short text is below the typefinders' threshold: name it anyway (a text head
     * cut inside a character still counts) */
    g_utf8_validate ((const char *) head, got, &end);
    if (got > 0 && end != NULL && (gsize) (end - (const char *) head) + 4 > got
        && memchr (head, 0, got) == NULL) {
      unsupported (error, path, "text/plain is not an audio file");
      return NULL;
    }
    unsupported (error, path, "unknown data, not an audio file");
    return NULL;
  }
  return g_strdup (gst_structure_get_name (gst_caps_get_structure (caps, 0)));
}

static gboolean
accepted_by_typefind (const char *type)
{
  static const char *const types[] = {
    "audio/mpeg",               /* MP3, ADTS AAC */
    "application/x-id3",        /* MP3 (or other) behind an ID3v2 tag */
    "application/x-apetag",
    "video/quicktime",          /* MP4/M4A (qtdemux's typefind says video/quicktime) */
    "audio/x-m4a",
    "application/ogg",
    "audio/ogg",
    "audio/x-flac",
    "audio/x-wav",
  };
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (types); i++) {
    if (strcmp (type, types[i]) == 0)
      return TRUE;
  }
  return FALSE;
}

/* The codec name for an accepted audio stream in @container, or NULL. */
static const char *
accepted_codec (const char *container, const GstStructure * s)
{
  const char *name = gst_structure_get_name (s);
  gboolean ogg = strcmp (container, "application/ogg") == 0
      || strcmp (container, "audio/ogg") == 0;
  gint version = 0, layer = 0;

  if (strcmp (name, "audio/mpeg") == 0) {
    gst_structure_get_int (s, "mpegversion", &version);
    if (version == 1) {
      gst_structure_get_int (s, "layer", &layer);
      if (layer == 3 && !ogg && strcmp (container, "video/quicktime") != 0)
        return "mp3";
      return NULL;
    }
    if (version == 2 || version == 4) {
      const char *format = gst_structure_get_string (s, "stream-format");

      if (strcmp (container, "video/quicktime") == 0
          || strcmp (container, "audio/x-m4a") == 0)
        return "aac";
      if (format != NULL && strcmp (format, "adts") == 0 && !ogg)
        return "aac";
    }
    return NULL;
  }
  if (ogg && strcmp (name, "audio/x-opus") == 0)
    return "opus";
  if (ogg && strcmp (name, "audio/x-vorbis") == 0)
    return "vorbis";
  if (strcmp (name, "audio/x-flac") == 0
      && (ogg || strcmp (container, "audio/x-flac") == 0))
    return "flac";
  /* the discoverer names WAV's PCM stream by the container's caps */
  if ((strcmp (name, "audio/x-raw") == 0 || strcmp (name, "audio/x-wav") == 0)
      && strcmp (container, "audio/x-wav") == 0)
    return "pcm";
  return NULL;
}

static char *
tag_string (const GstTagList * tags, const char *tag)
{
  char *value = NULL;

  if (tags == NULL || !gst_tag_list_get_string (tags, tag, &value))
    return NULL;
  g_strstrip (value);
  if (*value == '\0' || !g_utf8_validate (value, -1, NULL)) {
    g_free (value);
    return NULL;
  }
  return value;
}

static void
take_tags (EchoMediaProbe * probe, const GstTagList * tags)
{
  if (probe->title == NULL)
    probe->title = tag_string (tags, GST_TAG_TITLE);
  if (probe->artist == NULL)
    probe->artist = tag_string (tags, GST_TAG_ARTIST);
  if (probe->album == NULL)
    probe->album = tag_string (tags, GST_TAG_ALBUM);
}

static char *
caps_name (GstDiscovererStreamInfo * info)
{
  g_autoptr (GstCaps) caps = gst_discoverer_stream_info_get_caps (info);

  if (caps == NULL || gst_caps_is_empty (caps))
    return g_strdup ("unknown");
  return g_strdup (gst_structure_get_name (gst_caps_get_structure (caps, 0)));
}

EchoMediaProbe *
echo_media_probe_file (const char *path, GCancellable * cancellable, GError ** error)
{
  g_autoptr (EchoMediaProbe) probe = NULL;
  g_autoptr (GstDiscoverer) discoverer = NULL;
  g_autoptr (GstDiscovererInfo) info = NULL;
  g_autoptr (GError) local = NULL;
  g_autofree char *type = NULL;
  g_autofree char *uri = NULL;
  GList *audio = NULL, *video = NULL;
  GstDiscovererStreamInfo *top;
  GstDiscovererAudioInfo *a;
  g_autoptr (GstCaps) audio_caps = NULL;
  const char *codec;
  GstClockTime duration;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  type = typefind_head (path, error);
  if (type == NULL)
    return NULL;
  if (!accepted_by_typefind (type)) {
    unsupported (error, path, "%s is not a supported audio format (MP3, AAC/M4A, Ogg "
        "Opus/Vorbis, FLAC, WAV)", type);
    return NULL;
  }
  if (g_cancellable_set_error_if_cancelled (cancellable, error))
    return NULL;

  discoverer = gst_discoverer_new (DISCOVER_TIMEOUT, &local);
  if (discoverer == NULL) {
    unsupported (error, path, "cannot inspect it: %s", local->message);
    return NULL;
  }
  uri = gst_filename_to_uri (path, &local);
  if (uri == NULL) {
    unsupported (error, path, "%s", local->message);
    return NULL;
  }
  info = gst_discoverer_discover_uri (discoverer, uri, &local);
  if (info == NULL || gst_discoverer_info_get_result (info) == GST_DISCOVERER_ERROR
      || gst_discoverer_info_get_result (info) == GST_DISCOVERER_TIMEOUT
      || gst_discoverer_info_get_result (info) == GST_DISCOVERER_URI_INVALID) {
    unsupported (error, path, "%s could not be read (truncated or corrupt?): %s", type,
        local != NULL ? local->message : "timed out");
    return NULL;
  }

  if (gst_discoverer_info_get_result (info) == GST_DISCOVERER_MISSING_PLUGINS) {
    const char **details = gst_discoverer_info_get_missing_elements_installer_details (info);
    g_autoptr (GString) missing = g_string_new (NULL);
    guint i;

    /* "gstreamer|1.0|app|DESCRIPTION|decoder-CAPS": the description says it best */
    for (i = 0; details != NULL && details[i] != NULL; i++) {
      g_auto (GStrv) fields = g_strsplit (details[i], "|", 5);

      g_string_append_printf (missing, "%s%s", missing->len > 0 ? ", " : "",
          g_strv_length (fields) >= 4 ? fields[3] : details[i]);
    }
    /* accepting what echod cannot decode would only fail later, in every session */
    unsupported (error, path, "%s cannot be decoded on this server (missing: %s)", type,
        missing->len > 0 ? missing->str : "a decoder");
    return NULL;
  }

  video = gst_discoverer_info_get_video_streams (info);
  audio = gst_discoverer_info_get_audio_streams (info);
  if (video != NULL) {
    GstDiscovererVideoInfo *v = video->data;

    /* cover art travels in tags; an image "stream" (a still picture) is cover art too */
    if (!gst_discoverer_video_info_is_image (v)) {
      g_autofree char *what = caps_name (GST_DISCOVERER_STREAM_INFO (v));

      gst_discoverer_stream_info_list_free (video);
      gst_discoverer_stream_info_list_free (audio);
      unsupported (error, path, "%s has a video stream (%s): audio only, please", type,
          what);
      return NULL;
    }
  }
  gst_discoverer_stream_info_list_free (video);
  if (audio == NULL) {
    unsupported (error, path, "%s with no audio stream", type);
    return NULL;
  }
  if (audio->next != NULL) {
    gst_discoverer_stream_info_list_free (audio);
    unsupported (error, path, "%s has more than one audio stream", type);
    return NULL;
  }
  a = GST_DISCOVERER_AUDIO_INFO (g_object_ref (audio->data));
  gst_discoverer_stream_info_list_free (audio);

  /* the container as the file presents it: the audio's own type for a bare stream,
   * and for one behind ID3/APE tags */
  top = gst_discoverer_info_get_stream_info (info);
  audio_caps = gst_discoverer_stream_info_get_caps (GST_DISCOVERER_STREAM_INFO (a));
  if (audio_caps == NULL || gst_caps_is_empty (audio_caps)) {
    g_object_unref (a);
    gst_clear_object (&top);
    unsupported (error, path, "%s with an audio stream of unknown format", type);
    return NULL;
  }
  if (strcmp (type, "application/x-id3") == 0 || strcmp (type, "application/x-apetag") == 0) {
    g_free (type);
    type = g_strdup (gst_structure_get_name (gst_caps_get_structure (audio_caps, 0)));
  }
  codec = accepted_codec (type, gst_caps_get_structure (audio_caps, 0));
  if (codec == NULL) {
    g_autofree char *found = gst_caps_to_string (audio_caps);

    g_object_unref (a);
    gst_clear_object (&top);
    unsupported (error, path, "%s containing %s is not a supported audio format", type,
        found);
    return NULL;
  }
  duration = gst_discoverer_info_get_duration (info);
  if (!GST_CLOCK_TIME_IS_VALID (duration) || duration < GST_MSECOND) {
    g_object_unref (a);
    gst_clear_object (&top);
    unsupported (error, path, "%s (%s) of unknown duration (truncated?)", type, codec);
    return NULL;
  }

  probe = g_new0 (EchoMediaProbe, 1);
  probe->container = g_steal_pointer (&type);
  probe->codec = g_strdup (codec);
  probe->duration_ms = (gint64) (duration / GST_MSECOND);
  probe->rate = gst_discoverer_audio_info_get_sample_rate (a);
  probe->channels = gst_discoverer_audio_info_get_channels (a);
  take_tags (probe, gst_discoverer_stream_info_get_tags (GST_DISCOVERER_STREAM_INFO (a)));
  if (top != NULL && GST_IS_DISCOVERER_CONTAINER_INFO (top))
    take_tags (probe, gst_discoverer_container_info_get_tags
        (GST_DISCOVERER_CONTAINER_INFO (top)));
  G_GNUC_BEGIN_IGNORE_DEPRECATIONS;
  take_tags (probe, gst_discoverer_info_get_tags (info));
  G_GNUC_END_IGNORE_DEPRECATIONS;
  g_object_unref (a);
  gst_clear_object (&top);

  if (probe->rate == 0 || probe->channels == 0) {
    unsupported (error, path, "%s (%s) without a sample rate or channels (corrupt?)",
        probe->container, codec);
    return NULL;
  }
  return g_steal_pointer (&probe);
}

static void
probe_in_thread (GTask * task, gpointer source, gpointer task_data,
    GCancellable * cancellable)
{
  GError *error = NULL;
  EchoMediaProbe *probe = echo_media_probe_file (task_data, cancellable, &error);

  if (probe == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, probe, (GDestroyNotify) echo_media_probe_free);
}

void
echo_media_probe_file_async (const char *path, GCancellable * cancellable,
    GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr (GTask) task = NULL;

  g_return_if_fail (path != NULL);

  task = g_task_new (NULL, cancellable, callback, user_data);
  g_task_set_source_tag (task, echo_media_probe_file_async);
  g_task_set_task_data (task, g_strdup (path), g_free);
  g_task_run_in_thread (task, probe_in_thread);
}

gboolean
echo_media_probe_file_finish (GAsyncResult * result, EchoMediaProbe ** out,
    GError ** error)
{
  EchoMediaProbe *probe;

  g_return_val_if_fail (g_task_is_valid (result, NULL), FALSE);
  g_return_val_if_fail (out != NULL, FALSE);

  probe = g_task_propagate_pointer (G_TASK (result), error);
  if (probe == NULL)
    return FALSE;
  *out = probe;
  return TRUE;
}
