/* echo-radio-mounts.c: see echo-radio-mounts.h.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-radio"

#include "echo-radio-mounts.h"

#include <string.h>

#include "echo-auth.h"
#include "echo-clock.h"
#include "echo-log.h"
#include "echo-radio-icy.h"
#include "echo-radio-listener.h"
#include "echo-radio-ogg.h"
#include "echo-radio-request.h"
#include "echo-radio-ring.h"

/* how often idle mounts look at their listeners (a stalled source still has slow ones) */
#define TICK_MS 1000

typedef struct {
  guint id;
  EchoRadioMountObserver callbacks;
  gpointer data;
  GDestroyNotify destroy;
} Observer;

typedef struct {
  EchoRadioMounts *owner;
  char *name;
  char *content_type;         /* as the source said, until its bytes say otherwise */
  EchoRadioFormat format;
  gboolean started;           /* the first bytes are in: observers were told */
  GstTagList *station;
  GstTagList *title;
  guint metaint;              /* icy-metaint from its frames; 0 until they are in */
  guint rate_frames;          /* the whole frames measured so far, their bytes, duration */
  guint64 rate_bytes;
  double rate_seconds;
  EchoRadioRing *ring;
  EchoRadioOgg *ogg;          /* Ogg mounts only */
  GByteArray *pending;        /* bytes not published yet */
  gint64 pending_since_us;
  GPtrArray *listeners;       /* of EchoRadioListener*, owned */
} Mount;

struct _EchoRadioMounts {
  char *source_password;
  GHashTable *mount_passwords;   /* mount -> password */
  char *admin_user;
  char *admin_password;
  guint max_listeners;
  guint burst_bytes;
  guint metaint;              /* [radio] icy-metaint: 0 = derived per mount */
  gint64 max_lag_us;

  GHashTable *mounts;         /* name -> Mount*, owned */
  GPtrArray *observers;       /* of Observer*, owned */
  guint next_observer_id;
  guint tick;                 /* publishes held bytes, checks lag */
  EchoRadioStats stats;
};

static void
observer_free (gpointer data)
{
  Observer *observer = data;

  if (observer->destroy != NULL)
    observer->destroy (observer->data);
  g_free (observer);
}

static void
mount_free (gpointer data)
{
  Mount *mount = data;

  /* listeners first: they point into the ring */
  g_ptr_array_unref (mount->listeners);
  echo_radio_ring_free (mount->ring);
  echo_radio_ogg_free (mount->ogg);
  g_byte_array_unref (mount->pending);
  if (mount->station != NULL)
    gst_tag_list_unref (mount->station);
  if (mount->title != NULL)
    gst_tag_list_unref (mount->title);
  g_free (mount->content_type);
  g_free (mount->name);
  g_free (mount);
}

static gboolean tick (gpointer data);

EchoRadioMounts *
echo_radio_mounts_new (const EchoConfig *config)
{
  EchoRadioMounts *mounts = g_new0 (EchoRadioMounts, 1);
  g_auto (GStrv) items = g_strsplit (config->radio_mount_passwords, ";", -1);
  guint i;

  mounts->source_password = g_strdup (config->radio_source_password);
  mounts->admin_user = g_strdup (config->radio_admin_user);
  mounts->admin_password = g_strdup (config->radio_admin_password);
  mounts->max_listeners = config->radio_max_listeners;
  mounts->burst_bytes = config->radio_burst_bytes;
  mounts->metaint = config->radio_icy_metaint;
  mounts->max_lag_us = (gint64) config->radio_listener_max_lag_seconds * G_USEC_PER_SEC;
  mounts->mount_passwords = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  /* echo-config checked the shape: "/mount:password" items */
  for (i = 0; items[i] != NULL; i++) {
    const char *colon = strchr (items[i], ':');

    if (colon != NULL)
      g_hash_table_replace (mounts->mount_passwords, g_strndup (items[i], colon - items[i]),
          g_strdup (colon + 1));
  }
  mounts->mounts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, mount_free);
  mounts->observers = g_ptr_array_new_with_free_func (observer_free);
  mounts->next_observer_id = 1;
  mounts->tick = g_timeout_add (TICK_MS, tick, mounts);
  return mounts;
}

void
echo_radio_mounts_free (EchoRadioMounts *mounts)
{
  GHashTableIter iter;
  gpointer key;

  if (mounts == NULL)
    return;
  /* one at a time: ending a source removes it from the table */
  for (;;) {
    g_autofree char *name = NULL;

    g_hash_table_iter_init (&iter, mounts->mounts);
    if (!g_hash_table_iter_next (&iter, &key, NULL))
      break;
    name = g_strdup (key);
    echo_radio_mounts_source_end (mounts, name);
  }
  g_source_remove (mounts->tick);
  g_hash_table_unref (mounts->mounts);
  g_ptr_array_unref (mounts->observers);
  g_hash_table_unref (mounts->mount_passwords);
  g_free (mounts->source_password);
  g_free (mounts->admin_user);
  g_free (mounts->admin_password);
  g_free (mounts);
}

/* --- credentials --- */

static gboolean
secret_equal (const char *configured, const char *presented)
{
  if (configured == NULL || configured[0] == '\0' || presented == NULL)
    return FALSE;
  return echo_auth_constant_time_equal (configured, strlen (configured), presented,
      strlen (presented));
}

gboolean
echo_radio_mounts_check_source (EchoRadioMounts *mounts, const char *mount, const char *user,
    const char *password)
{
  const char *configured;

  g_return_val_if_fail (mounts != NULL, FALSE);

  if (mount == NULL || g_strcmp0 (user, "source") != 0)
    return FALSE;
  configured = g_hash_table_lookup (mounts->mount_passwords, mount);
  return secret_equal (configured != NULL ? configured : mounts->source_password, password);
}

gboolean
echo_radio_mounts_check_admin (EchoRadioMounts *mounts, const char *mount, const char *user,
    const char *password)
{
  g_return_val_if_fail (mounts != NULL, FALSE);

  if (user != NULL && strcmp (user, mounts->admin_user) == 0 &&
      secret_equal (mounts->admin_password, password))
    return TRUE;
  return echo_radio_mounts_check_source (mounts, mount, user, password);
}

/* --- observers --- */

guint
echo_radio_mounts_add_observer (EchoRadioMounts *mounts, const EchoRadioMountObserver *callbacks,
    gpointer data, GDestroyNotify destroy)
{
  Observer *observer = g_new0 (Observer, 1);

  observer->id = mounts->next_observer_id++;
  observer->callbacks = *callbacks;
  observer->data = data;
  observer->destroy = destroy;
  g_ptr_array_add (mounts->observers, observer);
  return observer->id;
}

void
echo_radio_mounts_remove_observer (EchoRadioMounts *mounts, guint id)
{
  guint i;

  for (i = 0; i < mounts->observers->len; i++) {
    Observer *observer = g_ptr_array_index (mounts->observers, i);

    if (observer->id == id) {
      g_ptr_array_remove_index (mounts->observers, i);
      return;
    }
  }
}

/* Iterates over a snapshot, so an observer may remove itself (or others) while told. */
#define FOR_EACH_OBSERVER(mounts, member, ...) \
  G_STMT_START { \
    g_autoptr (GPtrArray) snapshot = g_ptr_array_copy ((mounts)->observers, NULL, NULL); \
    guint n_; \
    g_ptr_array_set_free_func (snapshot, NULL);  /* the copy took the free function too */ \
    for (n_ = 0; n_ < snapshot->len; n_++) { \
      Observer *o_ = g_ptr_array_index (snapshot, n_); \
      if (g_ptr_array_find ((mounts)->observers, o_, NULL) && o_->callbacks.member != NULL) \
        o_->callbacks.member (__VA_ARGS__, o_->data); \
    } \
  } G_STMT_END

/* --- listeners --- */

static void
listener_done (EchoRadioListener *listener, EchoRadioListenerEnd end, gpointer data)
{
  Mount *mount = data;

  if (end == ECHO_RADIO_LISTENER_TOO_SLOW) {
    mount->owner->stats.listeners_dropped++;
    echo_log_event (G_LOG_LEVEL_INFO, NULL, "/radio/{mount}", 0,
        "%s: a listener fell more than %" G_GINT64_FORMAT " s behind and was dropped",
        mount->name, mount->owner->max_lag_us / G_USEC_PER_SEC);
  }
  g_ptr_array_remove_fast (mount->listeners, listener);
}

/* Every listener writes what is new (or is checked for lag while its socket is full). */
static void
wake_listeners (Mount *mount)
{
  gint64 now = echo_clock_monotonic_us ();
  guint i = mount->listeners->len;

  /* backwards: a listener that ends is replaced by the last one, already visited */
  while (i > 0) {
    i--;
    if (i < mount->listeners->len)
      echo_radio_listener_wake (g_ptr_array_index (mount->listeners, i), now,
          mount->owner->max_lag_us);
  }
}

/* --- sources --- */

static Mount *
lookup (EchoRadioMounts *mounts, const char *name)
{
  return name != NULL ? g_hash_table_lookup (mounts->mounts, name) : NULL;
}

gboolean
echo_radio_mounts_source_start (EchoRadioMounts *mounts, const char *name,
    const char *content_type, const GstTagList *station, GError **error)
{
  const char *canonical;
  EchoRadioFormat format = ECHO_RADIO_FORMAT_UNKNOWN;
  Mount *mount;

  g_return_val_if_fail (mounts != NULL, FALSE);

  if (!echo_radio_mount_is_valid (name)) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_INVALID, "Invalid mount name");
    return FALSE;
  }
  if (lookup (mounts, name) != NULL) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_MOUNT_IN_USE, "Mountpoint in use");
    return FALSE;
  }
  canonical = echo_radio_source_content_type (content_type, &format, error);
  if (canonical == NULL)
    return FALSE;

  mount = g_new0 (Mount, 1);
  mount->owner = mounts;
  mount->name = g_strdup (name);
  mount->content_type = g_strdup (canonical);
  mount->format = format;
  mount->station = station != NULL ? gst_tag_list_copy (station) : gst_tag_list_new_empty ();
  mount->ring = echo_radio_ring_new ();
  mount->pending = g_byte_array_new ();
  mount->listeners = g_ptr_array_new_with_free_func ((GDestroyNotify) echo_radio_listener_free);
  g_hash_table_insert (mounts->mounts, mount->name, mount);
  mounts->stats.sources++;
  return TRUE;
}

/* Frames enough to tell a stream's byte rate (a few could be a header frame) */
#define RATE_FRAMES 16

/* Adds the whole frames (MP3, ADTS) in data to the mount's measure: their lengths and
 * durations. */
static void
measure_frames (Mount *mount, const guint8 *data, gsize len)
{
  EchoRadioFormat format = mount->format;
  gssize first = echo_radio_format_find_unit (format, data, len);
  gsize at;

  if (first < 0)
    return;
  for (at = (gsize) first; at + 7 <= len;) {
    gsize frame = echo_radio_format_unit_length (format, data + at, len - at);
    guint samples = 0, rate = 0;

    if (frame == 0 || !echo_radio_format_unit_duration (format, data + at, len - at,
            &samples, &rate))
      break;
    mount->rate_bytes += frame;
    mount->rate_seconds += (double) samples / rate;
    mount->rate_frames++;
    at += frame;
  }
}

/* A published chunk: until the mount's byte rate is known, measure it on the whole frames
 * of its chunks (a frame cut by a chunk's edge counts in neither its bytes nor its time). */
static void
measure_metaint (Mount *mount, GBytes *chunk)
{
  gsize len;
  const guint8 *data = g_bytes_get_data (chunk, &len);

  if (mount->metaint > 0 || !echo_radio_format_has_icy (mount->format))
    return;
  measure_frames (mount, data, len);
  if (mount->rate_frames >= RATE_FRAMES)
    mount->metaint = echo_radio_icy_metaint_for_rate ((guint) (mount->rate_bytes /
            mount->rate_seconds + 0.5));
}

/* The first bytes are in: what they are decides how listeners start (frames, Ogg headers). */
static void
mount_start (Mount *mount, const guint8 *data, gsize len)
{
  EchoRadioFormat sniffed = echo_radio_format_sniff (data, len);

  if (sniffed != ECHO_RADIO_FORMAT_UNKNOWN && sniffed != mount->format) {
    echo_log_event (G_LOG_LEVEL_INFO, NULL, "/{mount}", 0,
        "%s: the source said %s but sends %s; relaying it as %s", mount->name,
        mount->content_type, echo_radio_format_content_type (sniffed),
        echo_radio_format_content_type (sniffed));
    mount->format = sniffed;
    g_free (mount->content_type);
    mount->content_type = g_strdup (echo_radio_format_content_type (sniffed));
    gst_tag_list_add (mount->station, GST_TAG_MERGE_REPLACE, GST_TAG_AUDIO_CODEC,
        echo_radio_format_codec_name (sniffed), NULL);
  }
  if (mount->format == ECHO_RADIO_FORMAT_OGG)
    mount->ogg = echo_radio_ogg_new ();
  mount->started = TRUE;
  FOR_EACH_OBSERVER (mount->owner, source_started, mount->name, mount->content_type,
      mount->station);
}

static void
publish (Mount *mount)
{
  EchoRadioMounts *mounts = mount->owner;
  g_autoptr (GBytes) chunk = NULL;
  gint64 now = echo_clock_monotonic_us ();

  if (mount->pending->len == 0)
    return;
  chunk = g_byte_array_free_to_bytes (g_steal_pointer (&mount->pending));
  mount->pending = g_byte_array_new ();
  if (!mount->started)
    mount_start (mount, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk));
  measure_metaint (mount, chunk);
  if (mount->ogg != NULL)
    echo_radio_ogg_feed (mount->ogg, g_bytes_get_data (chunk, NULL), g_bytes_get_size (chunk),
        echo_radio_ring_head (mount->ring));
  echo_radio_ring_append (mount->ring, chunk, now);
  /* the burst, and the lag window (plus a second: a listener is dropped by the lag test,
   * not by finding its bytes gone) */
  echo_radio_ring_trim (mount->ring, mounts->burst_bytes,
      now - mounts->max_lag_us - G_USEC_PER_SEC);
  wake_listeners (mount);
  FOR_EACH_OBSERVER (mounts, source_data, mount->name, chunk);
}

void
echo_radio_mounts_feed (EchoRadioMounts *mounts, const char *name, GBytes *bytes)
{
  Mount *mount = lookup (mounts, name);
  gsize len;
  const guint8 *data;

  if (mount == NULL || bytes == NULL || g_bytes_get_size (bytes) == 0)
    return;
  data = g_bytes_get_data (bytes, &len);
  mounts->stats.bytes_in += len;
  if (mount->pending->len == 0)
    mount->pending_since_us = echo_clock_monotonic_us ();
  g_byte_array_append (mount->pending, data, (guint) len);
  if (mount->pending->len >= ECHO_RADIO_PUBLISH_BYTES ||
      echo_clock_monotonic_us () - mount->pending_since_us >= ECHO_RADIO_PUBLISH_MS * 1000)
    publish (mount);
}

gboolean
echo_radio_mounts_feed_metadata (EchoRadioMounts *mounts, const char *name,
    const GstTagList *tags, GError **error)
{
  Mount *mount = lookup (mounts, name);
  g_autoptr (GBytes) block = NULL;

  if (mount == NULL) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_NO_SOURCE, "Source does not exist");
    return FALSE;
  }
  /* the title belongs to the audio after the bytes already in */
  publish (mount);
  if (mount->title != NULL)
    gst_tag_list_unref (mount->title);
  mount->title = gst_tag_list_copy (tags);
  block = echo_radio_icy_block (tags);
  echo_radio_ring_set_title (mount->ring, block);
  mounts->stats.metadata_updates++;
  FOR_EACH_OBSERVER (mounts, metadata, mount->name, mount->title);
  return TRUE;
}

void
echo_radio_mounts_source_end (EchoRadioMounts *mounts, const char *name)
{
  Mount *mount = lookup (mounts, name);
  g_autofree char *ended = NULL;

  if (mount == NULL)
    return;
  publish (mount);
  ended = g_strdup (mount->name);
  mounts->stats.sources--;
  g_hash_table_remove (mounts->mounts, ended);
  FOR_EACH_OBSERVER (mounts, source_ended, ended);
}

gboolean
echo_radio_mounts_has_source (EchoRadioMounts *mounts, const char *name)
{
  return lookup (mounts, name) != NULL;
}

GstTagList *
echo_radio_mounts_get_title (EchoRadioMounts *mounts, const char *name)
{
  Mount *mount = lookup (mounts, name);

  return mount != NULL && mount->title != NULL ? gst_tag_list_ref (mount->title) : NULL;
}

/* --- listeners --- */

gboolean
echo_radio_mounts_check_listener (EchoRadioMounts *mounts, const char *name,
    const char **content_type, const GstTagList **station, gboolean *icy_capable,
    GError **error)
{
  Mount *mount = lookup (mounts, name);

  if (mount == NULL) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_NO_SOURCE,
        "No source on this mount");
    return FALSE;
  }
  if (mount->listeners->len >= mounts->max_listeners) {
    g_set_error (error, ECHO_RADIO_ERROR, ECHO_RADIO_ERROR_TOO_MANY_LISTENERS,
        "Too many listeners on this mount");
    return FALSE;
  }
  /* a listener arriving before the first bytes: publish what there is, so the format is
   * known from the bytes, not only from what the source said */
  publish (mount);
  *content_type = mount->content_type;
  *station = mount->station;
  *icy_capable = echo_radio_format_has_icy (mount->format);
  return TRUE;
}

guint
echo_radio_mounts_get_metaint (EchoRadioMounts *mounts, const char *name)
{
  Mount *mount = lookup (mounts, name);
  guint bitrate = 0;

  if (mount == NULL)
    return 0;
  if (mounts->metaint > 0)
    return mounts->metaint;
  if (mount->metaint > 0)
    return mount->metaint;
  /* before its frames are in: from the bitrate its source announced (ice-audio-info,
   * ice-bitrate), else 128 kbit/s */
  if (gst_tag_list_get_uint (mount->station, GST_TAG_NOMINAL_BITRATE, &bitrate) && bitrate >= 8)
    return echo_radio_icy_metaint_for_rate (bitrate / 8);
  return echo_radio_icy_metaint_for_rate (128000 / 8);
}

/* From offset on, the first frame (or page) start within the ring; offset when none. */
static guint64
align_to_unit (Mount *mount, guint64 offset)
{
  guint64 at = offset;
  guint chunks;

  for (chunks = 0; chunks < 8; chunks++) {
    GBytes *chunk;
    gsize skip, len;
    const guint8 *data;
    gssize found;

    if (!echo_radio_ring_locate (mount->ring, at, &chunk, &skip, NULL))
      break;
    data = g_bytes_get_data (chunk, &len);
    found = echo_radio_format_find_unit (mount->format, data + skip, len - skip);
    if (found >= 0)
      return at + (guint64) found;
    at += len - skip;
  }
  return offset;
}

/* From offset on, the first chunk recent enough for a new listener: a burst of a slow
 * stream reaches far back, and a listener starting where it would already lag would be
 * dropped at once. Half the lag limit is the oldest a start may be. */
static guint64
skip_stale (Mount *mount, guint64 offset)
{
  gint64 oldest = echo_clock_monotonic_us () - mount->owner->max_lag_us / 2;
  GBytes *chunk;
  gsize skip;
  gint64 arrived;

  while (echo_radio_ring_locate (mount->ring, offset, &chunk, &skip, &arrived) &&
      arrived < oldest)
    offset += g_bytes_get_size (chunk) - skip;
  return offset;
}

void
echo_radio_mounts_add_listener (EchoRadioMounts *mounts, const char *name, GIOStream *stream,
    GBytes *head, gboolean icy_metadata)
{
  Mount *mount = lookup (mounts, name);
  g_autoptr (GBytes) prefix = NULL;
  EchoRadioListener *listener;
  guint64 head_offset, tail, start;
  guint metaint;

  g_return_if_fail (mount != NULL);

  head_offset = echo_radio_ring_head (mount->ring);
  tail = echo_radio_ring_tail (mount->ring);
  start = head_offset > mounts->burst_bytes ? head_offset - mounts->burst_bytes : 0;
  start = MAX (start, tail);
  start = skip_stale (mount, start);
  if (mount->ogg != NULL) {
    guint64 headers_end = 0;

    prefix = echo_radio_ogg_get_headers (mount->ogg, NULL, &headers_end);
    /* without complete headers the stream has just begun: its start is in the ring */
    start = prefix != NULL ? align_to_unit (mount, MAX (start, headers_end)) : tail;
  } else {
    start = align_to_unit (mount, start);
  }

  metaint = icy_metadata && echo_radio_format_has_icy (mount->format) ?
      echo_radio_mounts_get_metaint (mounts, name) : 0;
  listener = echo_radio_listener_new (stream, mount->ring, head, prefix, start, metaint,
      &mounts->stats.bytes_out, listener_done, mount);
  g_ptr_array_add (mount->listeners, listener);
  mounts->stats.listeners_served++;
  echo_radio_listener_wake (listener, echo_clock_monotonic_us (), mounts->max_lag_us);
}

/* --- time --- */

static gboolean
tick (gpointer data)
{
  EchoRadioMounts *mounts = data;
  GHashTableIter iter;
  gpointer value;
  gint64 now = echo_clock_monotonic_us ();

  g_hash_table_iter_init (&iter, mounts->mounts);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    Mount *mount = value;

    if (mount->pending->len > 0 && now - mount->pending_since_us >= ECHO_RADIO_PUBLISH_MS * 1000)
      publish (mount);
    else
      wake_listeners (mount);
  }
  return G_SOURCE_CONTINUE;
}

/* --- figures --- */

void
echo_radio_mounts_get_stats (EchoRadioMounts *mounts, EchoRadioStats *stats)
{
  GHashTableIter iter;
  gpointer value;

  *stats = mounts->stats;
  stats->listeners = 0;
  g_hash_table_iter_init (&iter, mounts->mounts);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    stats->listeners += ((Mount *) value)->listeners->len;
}

typedef enum {
  FIGURE_SOURCES,
  FIGURE_LISTENERS,
  FIGURE_BYTES_IN,
  FIGURE_BYTES_OUT,
  FIGURE_SERVED,
  FIGURE_DROPPED,
  FIGURE_METADATA,
} Figure;

typedef struct {
  EchoRadioMounts *mounts;
  Figure figure;
} FigureMetric;

static double
figure_value (gpointer data)
{
  FigureMetric *metric = data;
  EchoRadioStats stats;

  echo_radio_mounts_get_stats (metric->mounts, &stats);
  switch (metric->figure) {
    case FIGURE_SOURCES:
      return stats.sources;
    case FIGURE_LISTENERS:
      return stats.listeners;
    case FIGURE_BYTES_IN:
      return (double) stats.bytes_in;
    case FIGURE_BYTES_OUT:
      return (double) stats.bytes_out;
    case FIGURE_SERVED:
      return (double) stats.listeners_served;
    case FIGURE_DROPPED:
      return (double) stats.listeners_dropped;
    case FIGURE_METADATA:
      return (double) stats.metadata_updates;
  }
  return 0;
}

void
echo_radio_mounts_register_metrics (EchoRadioMounts *mounts, EchoMetrics *registry)
{
  static const struct {
    const char *name;
    const char *help;
    Figure figure;
    gboolean counter;
  } figures[] = {
    { "echo_radio_sources", "Radio mounts with a source", FIGURE_SOURCES, FALSE },
    { "echo_radio_listeners", "Radio listeners connected", FIGURE_LISTENERS, FALSE },
    { "echo_radio_source_bytes_total", "Bytes received from radio sources", FIGURE_BYTES_IN,
      TRUE },
    { "echo_radio_listener_bytes_total", "Bytes written to radio listeners", FIGURE_BYTES_OUT,
      TRUE },
    { "echo_radio_listeners_served_total", "Radio listeners accepted", FIGURE_SERVED, TRUE },
    { "echo_radio_listeners_dropped_total", "Radio listeners dropped for falling behind",
      FIGURE_DROPPED, TRUE },
    { "echo_radio_metadata_updates_total", "Radio titles accepted", FIGURE_METADATA, TRUE },
  };
  guint i;

  for (i = 0; i < G_N_ELEMENTS (figures); i++) {
    FigureMetric *metric = g_new0 (FigureMetric, 1);

    metric->mounts = mounts;
    metric->figure = figures[i].figure;
    if (figures[i].counter)
      echo_metrics_counter_func (registry, figures[i].name, figures[i].help, figure_value,
          metric, g_free);
    else
      echo_metrics_gauge_func (registry, figures[i].name, figures[i].help, figure_value,
          metric, g_free);
  }
}
