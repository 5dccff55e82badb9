/* echo-radio-mounts.h: echod's radio mounts, the way Icecast keeps them.
 *
 * A mount ("/live") exists while a source broadcasts on it: a source client pushing over
 * HTTP (echo-radio-http.h in the server) or echod itself (echo_radio_mounts_source_start ()
 * then _feed ()). The registry owns, per mount: the source's content type and station tags,
 * the recent bytes (echo-radio-ring.h: a burst for new listeners, the lag window for slow
 * ones), the current title, and the listeners (echo-radio-listener.h). It also checks the
 * radio credentials ([radio] in echod.conf) and counts what /metrics shows.
 *
 * The source's bytes are published to listeners and observers in chunks of at least
 * ECHO_RADIO_PUBLISH_BYTES, or whatever came within ECHO_RADIO_PUBLISH_MS: every listener
 * then gets one write per chunk, whatever size the source's own writes are.
 *
 * Not thread-safe: everything happens on the main context.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <gio/gio.h>
#include <gst/gst.h>

#include "echo-config.h"
#include "echo-metrics.h"
#include "echo-radio-error.h"
#include "echo-radio-format.h"

G_BEGIN_DECLS

#define ECHO_RADIO_PUBLISH_BYTES 4096
#define ECHO_RADIO_PUBLISH_MS 100

typedef struct _EchoRadioMounts EchoRadioMounts;

/* What the rest of echod hears about mounts (the radio player, WebSocket events). Every
 * member may be NULL. Called on the main context, in this order per source:
 *   source_started once, when its first bytes are in (content_type is then what the bytes
 *     are: ffmpeg announces Ogg as audio/mpeg unless told otherwise); station: the ice-*
 *     tags (echo_radio_station_tags ());
 *   source_data for every published chunk, in order (the encoded bytes as the source sent
 *     them; take a reference to keep them);
 *   metadata after each accepted /admin/metadata (or _feed_metadata ()): the title tags
 *     (GST_TAG_TITLE, GST_TAG_ARTIST, GST_TAG_HOMEPAGE);
 *   source_ended once, when the source is gone (also when it never sent a byte: then
 *     without source_started). */
typedef struct {
  void (*source_started) (const char *mount, const char *content_type,
      const GstTagList *station, gpointer data);
  void (*source_data) (const char *mount, GBytes *bytes, gpointer data);
  void (*metadata) (const char *mount, const GstTagList *tags, gpointer data);
  void (*source_ended) (const char *mount, gpointer data);
} EchoRadioMountObserver;

typedef struct {
  guint sources;              /* mounts with a source now */
  guint listeners;            /* listeners connected now */
  guint64 bytes_in;           /* source bytes received */
  guint64 bytes_out;          /* bytes written to listeners (heads and metadata included) */
  guint64 listeners_served;   /* listeners accepted since start */
  guint64 listeners_dropped;  /* listeners dropped for falling behind */
  guint64 metadata_updates;   /* titles accepted */
} EchoRadioStats;

/* The settings are the [radio] group of config (copied). */
EchoRadioMounts *echo_radio_mounts_new (const EchoConfig *config);
/* Closes every listener; observers are told source_ended for mounts still live. */
void echo_radio_mounts_free (EchoRadioMounts *mounts);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoRadioMounts, echo_radio_mounts_free)

/* --- credentials (constant-time comparisons) --- */

/* A source may broadcast on mount as user "source" with the mount's password when
 * mount-passwords names one, else with source-password. An empty password never matches. */
gboolean echo_radio_mounts_check_source (EchoRadioMounts *mounts, const char *mount,
    const char *user, const char *password);
/* /admin/metadata for mount: the admin user and password, or the mount's source
 * credentials (as Icecast allows). */
gboolean echo_radio_mounts_check_admin (EchoRadioMounts *mounts, const char *mount,
    const char *user, const char *password);

/* --- sources --- */

/* Claims mount for a source. content_type as sent (see echo_radio_source_content_type ());
 * station: its tags, or NULL. ECHO_RADIO_ERROR_INVALID (bad mount name), _MOUNT_IN_USE,
 * _UNSUPPORTED_TYPE. */
gboolean echo_radio_mounts_source_start (EchoRadioMounts *mounts, const char *mount,
    const char *content_type, const GstTagList *station, GError **error);
/* The source's next bytes (any size; not copied when they are published whole). Ignored
 * when mount has no source. */
void echo_radio_mounts_feed (EchoRadioMounts *mounts, const char *mount, GBytes *bytes);
/* A new title (the tags of an updinfo). ECHO_RADIO_ERROR_NO_SOURCE when mount has none. */
gboolean echo_radio_mounts_feed_metadata (EchoRadioMounts *mounts, const char *mount,
    const GstTagList *tags, GError **error);
/* The source is gone: its listeners are closed (as Icecast does without a fallback mount)
 * and the mount is free again. */
void echo_radio_mounts_source_end (EchoRadioMounts *mounts, const char *mount);
gboolean echo_radio_mounts_has_source (EchoRadioMounts *mounts, const char *mount);
/* The mount's current title tags (a new reference), or NULL. */
GstTagList *echo_radio_mounts_get_title (EchoRadioMounts *mounts, const char *mount);

/* --- listeners --- */

/* Whether mount may take one more listener, and what to tell it in the response head:
 * content_type, station tags (borrowed, valid until the mount ends), and whether it can
 * carry ICY metadata. ECHO_RADIO_ERROR_NO_SOURCE, _TOO_MANY_LISTENERS. */
gboolean echo_radio_mounts_check_listener (EchoRadioMounts *mounts, const char *mount,
    const char **content_type, const GstTagList **station, gboolean *icy_capable,
    GError **error);
/* The icy-metaint a listener of mount gets now (0 when it has no source; a listener keeps
 * the one it got): [radio] icy-metaint when set, else derived from the mount's byte rate so
 * that a block comes every ECHO_RADIO_ICY_METAINT_TARGET_MS of audio (echo-radio-icy.h).
 * The rate is measured on the first published chunk with enough whole frames and kept while
 * the source stays; before that, it is the bitrate the source announced, else 128 kbit/s. */
guint echo_radio_mounts_get_metaint (EchoRadioMounts *mounts, const char *mount);
/* Adds a listener (after check_listener succeeded, on the same main-context turn): the
 * connection (a reference is kept), its response head, and whether it gets ICY metadata
 * (ignored when the format cannot carry it). It starts with the burst: the last
 * burst-bytes, from a frame or page start, Ogg header pages first. */
void echo_radio_mounts_add_listener (EchoRadioMounts *mounts, const char *mount,
    GIOStream *stream, GBytes *head, gboolean icy_metadata);

/* --- observers and figures --- */

guint echo_radio_mounts_add_observer (EchoRadioMounts *mounts,
    const EchoRadioMountObserver *observer, gpointer data, GDestroyNotify destroy);
void echo_radio_mounts_remove_observer (EchoRadioMounts *mounts, guint id);

void echo_radio_mounts_get_stats (EchoRadioMounts *mounts, EchoRadioStats *stats);
/* Registers echo_radio_sources, echo_radio_listeners (gauges),
 * echo_radio_source_bytes_total, echo_radio_listener_bytes_total,
 * echo_radio_listeners_served_total, echo_radio_listeners_dropped_total and
 * echo_radio_metadata_updates_total (counters); mounts must outlive registry's use. */
void echo_radio_mounts_register_metrics (EchoRadioMounts *mounts, EchoMetrics *registry);

G_END_DECLS
