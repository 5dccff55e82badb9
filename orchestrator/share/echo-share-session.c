/* echo-share-session.c: one Music Share session (see the header).
 *
 * The stored document (collection "share_sessions", id = session id) is a JSON object:
 *   version 1, sessionId, state "active"|"ended", startTime (Unix ms), lastActivity (Unix ms),
 *   sampleRate / channels (null until the first chunk), latestSequence (-1 before it), bytesIn,
 *   metadata (the metadata object text as a JSON string, or null), metadataPostedAt (Unix ms),
 *   endedAt (Unix ms) and reason for ended sessions.
 * Monotonic times do not survive a restart, so the document carries wall times and a restored
 * session turns them back into monotonic ones by their age. */
#include "echo-share-session.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#include "echo-clock.h"
#include "echo-rate-limit.h"
#include "echo-share-error.h"
#include "echo-share-private.h"
#include "echo-share-ring.h"

#define DOCUMENT_VERSION 1
#define OPUS_SAMPLE_RATE 48000
#define MAX_POLLERS 4096
/* Ages read back from a document are clamped so corrupt times cannot overflow arithmetic. */
#define MAX_RESTORED_AGE_MS ((gint64) 10 * 365 * 24 * 3600 * 1000)

typedef struct {
  guint id;
  EchoShareListenerCallbacks callbacks;
  gpointer user_data;
  GDestroyNotify destroy;
  gboolean removed;
} Listener;

struct _EchoShareSession {
  GObject parent_instance;

  EchoSharePool *pool;        /* unowned; NULL once the pool is gone */
  char *id;
  gboolean active;

  gint64 start_ms;
  gint64 start_us;
  gint64 last_activity_us;
  gint64 ended_at_ms;
  gint64 ended_us;
  char *end_reason;

  guint sample_rate;          /* 0 until the first chunk */
  guint channels;
  gint64 latest_sequence;     /* -1 before the first chunk */
  guint64 bytes_in;
  guint64 bytes_out;
  guint64 overflows;
  guint64 gaps;
  EchoShareRing *audio_ring;
  EchoShareRing *opus_ring;
  gint64 next_opus_sequence;

  GBytes *metadata;           /* the posted object text (NUL after its end), or NULL */
  char *metadata_title;
  char *metadata_artist;
  gint64 metadata_posted_ms;
  gint64 metadata_posted_us;

  EchoRateLimit audio_limit;
  EchoRateLimit metadata_limit;
  GHashTable *pollers;        /* client key -> gint64* monotonic us last seen */
  GPtrArray *listeners;       /* of Listener* (g_rc_box) */
  guint next_listener_id;

  gboolean dirty;             /* counters changed since the last save */
  gint64 last_save_us;
};

G_DEFINE_FINAL_TYPE (EchoShareSession, echo_share_session, G_TYPE_OBJECT)

/* ---- helpers ---- */

static gint64
now_us (EchoShareSession *self)
{
  return self->pool != NULL ? echo_share_pool_monotonic_us (self->pool) : echo_clock_monotonic_us ();
}

static gint64
now_ms (EchoShareSession *self)
{
  return self->pool != NULL ? echo_share_pool_now_ms (self->pool) : echo_clock_now_ms ();
}

static void
listener_clear (gpointer data)
{
  Listener *listener = data;

  if (listener->destroy != NULL)
    listener->destroy (listener->user_data);
}

static Listener *
listener_ref (Listener *listener)
{
  return g_rc_box_acquire (listener);
}

static void
listener_unref (gpointer listener)
{
  g_rc_box_release_full (listener, listener_clear);
}

/* The listeners as they are now, each with a reference: callbacks may add or remove some, and
 * a removed listener's destroy notify waits until no callback of it runs. */
static GPtrArray *
listeners_snapshot (EchoShareSession *self)
{
  GPtrArray *snapshot = g_ptr_array_new_full (self->listeners->len, listener_unref);

  for (guint i = 0; i < self->listeners->len; i++)
    g_ptr_array_add (snapshot, listener_ref (g_ptr_array_index (self->listeners, i)));
  return snapshot;
}

static gboolean
ensure_active (EchoShareSession *self, GError **error)
{
  if (self->active && self->pool != NULL)
    return TRUE;
  if (!self->active)
    echo_share_error_set_ended (error, self->id, self->ended_at_ms, self->end_reason);
  else
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SESSION_NOT_FOUND,
        "Session not found");
  return FALSE;
}

static gboolean
metadata_is_live (EchoShareSession *self, gint64 now)
{
  const EchoShareLimits *limits;

  if (self->metadata == NULL || self->pool == NULL)
    return FALSE;
  limits = echo_share_pool_get_limits (self->pool);
  return now - self->metadata_posted_us < (gint64) limits->metadata_ttl_seconds * G_USEC_PER_SEC;
}

static void
clear_metadata (EchoShareSession *self)
{
  g_clear_pointer (&self->metadata, g_bytes_unref);
  g_clear_pointer (&self->metadata_title, g_free);
  g_clear_pointer (&self->metadata_artist, g_free);
}

static guint
count_live_pollers (EchoShareSession *self, gint64 now)
{
  GHashTableIter iter;
  gpointer value;
  guint count = 0;

  g_hash_table_iter_init (&iter, self->pollers);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (now - *(gint64 *) value < ECHO_SHARE_POLLER_WINDOW_US)
      count++;
  }
  return count;
}

static void
prune_pollers (EchoShareSession *self, gint64 now)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->pollers);
  while (g_hash_table_iter_next (&iter, NULL, &value)) {
    if (now - *(gint64 *) value >= ECHO_SHARE_POLLER_WINDOW_US)
      g_hash_table_iter_remove (&iter);
  }
}

/* Unix ms of a monotonic instant, by its age. */
static gint64
wall_of (EchoShareSession *self, gint64 mono_us)
{
  return now_ms (self) - (now_us (self) - mono_us) / 1000;
}

/* Monotonic us of a stored Unix ms instant, by its age (clamped, never in the future). */
static gint64
monotonic_of (gint64 wall_ms, gint64 now_wall_ms, gint64 now_mono_us)
{
  gint64 age_ms;

  if (wall_ms >= now_wall_ms)
    age_ms = 0;
  else if (wall_ms < now_wall_ms - MAX_RESTORED_AGE_MS)
    age_ms = MAX_RESTORED_AGE_MS;
  else
    age_ms = now_wall_ms - wall_ms;
  return now_mono_us - age_ms * 1000;
}

/* ---- GObject ---- */

static void
echo_share_session_finalize (GObject *object)
{
  EchoShareSession *self = ECHO_SHARE_SESSION (object);

  g_ptr_array_unref (self->listeners);
  g_hash_table_unref (self->pollers);
  echo_share_ring_free (self->audio_ring);
  echo_share_ring_free (self->opus_ring);
  clear_metadata (self);
  g_free (self->end_reason);
  g_free (self->id);
  G_OBJECT_CLASS (echo_share_session_parent_class)->finalize (object);
}

static void
echo_share_session_class_init (EchoShareSessionClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = echo_share_session_finalize;
}

static void
echo_share_session_init (EchoShareSession *self)
{
  self->latest_sequence = -1;
  self->listeners = g_ptr_array_new_with_free_func (listener_unref);
  self->pollers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->next_listener_id = 1;
}

/* Common set-up of a session that is (or was) served by @pool. */
static EchoShareSession *
session_alloc (EchoSharePool *pool, const char *session_id)
{
  EchoShareSession *self = g_object_new (ECHO_TYPE_SHARE_SESSION, NULL);
  const EchoShareLimits *limits = echo_share_pool_get_limits (pool);
  gint64 now = echo_share_pool_monotonic_us (pool);

  self->pool = pool;
  self->id = g_strdup (session_id);
  self->audio_ring = echo_share_ring_new (0);
  self->opus_ring = echo_share_ring_new ((guint64) limits->audio_buffer_seconds * OPUS_SAMPLE_RATE);
  echo_rate_limit_init (&self->audio_limit, limits->audio_rate, limits->audio_burst, now);
  echo_rate_limit_init (&self->metadata_limit, limits->metadata_rate, limits->metadata_burst, now);
  self->last_save_us = now;
  return self;
}

static void
fix_format (EchoShareSession *self, guint sample_rate, guint channels)
{
  const EchoShareLimits *limits = echo_share_pool_get_limits (self->pool);

  self->sample_rate = sample_rate;
  self->channels = channels;
  echo_share_ring_set_max_frames (self->audio_ring,
      (guint64) limits->audio_buffer_seconds * sample_rate);
}

EchoShareSession *
echo_share_session_new (EchoSharePool *pool, const char *session_id)
{
  EchoShareSession *self = session_alloc (pool, session_id);

  self->active = TRUE;
  self->start_ms = echo_share_pool_now_ms (pool);
  self->start_us = echo_share_pool_monotonic_us (pool);
  self->last_activity_us = self->start_us;
  return self;
}

/* ---- the document ---- */

/* The document of this session with the given state, end and metadata (which may differ from
 * the session's own: a change is saved before it is applied). */
/* "sampleRate" and "channels", null until the first chunk fixes them: the status reply
 * and the stored document say the same. */
static void
add_format_members (EchoShareSession *self, JsonBuilder *builder)
{
  json_builder_set_member_name (builder, "sampleRate");
  if (self->sample_rate != 0)
    json_builder_add_int_value (builder, self->sample_rate);
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "channels");
  if (self->channels != 0)
    json_builder_add_int_value (builder, self->channels);
  else
    json_builder_add_null_value (builder);
}

static char *
build_document (EchoShareSession *self, gboolean active, gint64 ended_at_ms, const char *reason,
    GBytes *metadata, gint64 metadata_posted_ms)
{
  g_autoptr (JsonBuilder) builder = json_builder_new_immutable ();
  g_autoptr (JsonGenerator) generator = json_generator_new ();
  g_autoptr (JsonNode) root = NULL;

  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "version");
  json_builder_add_int_value (builder, DOCUMENT_VERSION);
  json_builder_set_member_name (builder, "sessionId");
  json_builder_add_string_value (builder, self->id);
  json_builder_set_member_name (builder, "state");
  json_builder_add_string_value (builder, active ? "active" : "ended");
  json_builder_set_member_name (builder, "startTime");
  json_builder_add_int_value (builder, self->start_ms);
  json_builder_set_member_name (builder, "lastActivity");
  json_builder_add_int_value (builder, wall_of (self, self->last_activity_us));
  add_format_members (self, builder);
  json_builder_set_member_name (builder, "latestSequence");
  json_builder_add_int_value (builder, self->latest_sequence);
  json_builder_set_member_name (builder, "bytesIn");
  json_builder_add_int_value (builder, (gint64) MIN (self->bytes_in, (guint64) G_MAXINT64));
  json_builder_set_member_name (builder, "metadata");
  if (metadata != NULL)
    json_builder_add_string_value (builder, g_bytes_get_data (metadata, NULL));
  else
    json_builder_add_null_value (builder);
  json_builder_set_member_name (builder, "metadataPostedAt");
  if (metadata != NULL)
    json_builder_add_int_value (builder, metadata_posted_ms);
  else
    json_builder_add_null_value (builder);
  if (!active) {
    json_builder_set_member_name (builder, "endedAt");
    json_builder_add_int_value (builder, ended_at_ms);
    json_builder_set_member_name (builder, "reason");
    json_builder_add_string_value (builder, reason);
  }
  json_builder_end_object (builder);

  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

char *
echo_share_session_to_document (EchoShareSession *self)
{
  return build_document (self, self->active, self->ended_at_ms, self->end_reason,
      self->metadata, self->metadata_posted_ms);
}

static gboolean
save_document (EchoShareSession *self, const char *document, GError **error)
{
  if (!echo_share_pool_save (self->pool, self->id, document, error))
    return FALSE;
  self->dirty = FALSE;
  self->last_save_us = now_us (self);
  return TRUE;
}

/* Saves the current state; a failure is logged and left for the next flush. */
static void
save_or_retry_later (EchoShareSession *self)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *document = echo_share_session_to_document (self);

  if (!save_document (self, document, &error)) {
    self->dirty = TRUE;
    echo_share_log (G_LOG_LEVEL_WARNING, self->id, "%s (will retry)", error->message);
  }
}

static gboolean
doc_int (JsonObject *object, const char *name, gboolean required, gint64 fallback, gint64 *out,
    GError **error)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || JSON_NODE_HOLDS_NULL (node)) {
    if (required) {
      g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
          "stored session lacks %s", name);
      return FALSE;
    }
    *out = fallback;
    return TRUE;
  }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session has a non-integer %s", name);
    return FALSE;
  }
  *out = json_node_get_int (node);
  return TRUE;
}

static const char *
doc_string (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

EchoShareSession *
echo_share_session_new_from_document (EchoSharePool *pool, const char *session_id,
    const char *document, GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  g_autoptr (EchoShareSession) self = NULL;
  g_autoptr (GError) local_error = NULL;
  JsonNode *root;
  JsonObject *object;
  const char *state, *stored_id, *metadata_text;
  gint64 version, start_ms, last_activity_ms, sample_rate, channels, latest, bytes_in;
  gint64 posted_ms, ended_at_ms;
  gint64 wall = echo_share_pool_now_ms (pool);
  gint64 mono = echo_share_pool_monotonic_us (pool);

  if (!json_parser_load_from_data (parser, document, -1, &local_error)) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session is not JSON: %s", local_error->message);
    return NULL;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session is not a JSON object");
    return NULL;
  }
  object = json_node_get_object (root);
  if (!doc_int (object, "version", TRUE, 0, &version, error))
    return NULL;
  if (version != DOCUMENT_VERSION) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session has unknown version %" G_GINT64_FORMAT, version);
    return NULL;
  }
  stored_id = doc_string (object, "sessionId");
  state = doc_string (object, "state");
  if (g_strcmp0 (stored_id, session_id) != 0 || !echo_share_session_id_is_valid (stored_id)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session's sessionId does not match its document id");
    return NULL;
  }
  if (g_strcmp0 (state, "active") != 0 && g_strcmp0 (state, "ended") != 0) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session has no valid state");
    return NULL;
  }
  if (!doc_int (object, "startTime", TRUE, 0, &start_ms, error) ||
      !doc_int (object, "lastActivity", FALSE, start_ms, &last_activity_ms, error) ||
      !doc_int (object, "sampleRate", FALSE, 0, &sample_rate, error) ||
      !doc_int (object, "channels", FALSE, 0, &channels, error) ||
      !doc_int (object, "latestSequence", FALSE, -1, &latest, error) ||
      !doc_int (object, "bytesIn", FALSE, 0, &bytes_in, error) ||
      !doc_int (object, "metadataPostedAt", FALSE, 0, &posted_ms, error) ||
      !doc_int (object, "endedAt", FALSE, wall, &ended_at_ms, error))
    return NULL;
  if ((sample_rate != 0 || channels != 0) &&
      (sample_rate < ECHO_SHARE_MIN_SAMPLE_RATE || sample_rate > ECHO_SHARE_MAX_SAMPLE_RATE ||
          channels < 1 || channels > ECHO_SHARE_MAX_CHANNELS)) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_STORE_FAILED,
        "stored session has an invalid audio format");
    return NULL;
  }

  self = session_alloc (pool, session_id);
  self->active = strcmp (state, "active") == 0;
  self->start_ms = start_ms;
  self->start_us = monotonic_of (start_ms, wall, mono);
  self->last_activity_us = monotonic_of (last_activity_ms, wall, mono);
  if (sample_rate != 0)
    fix_format (self, (guint) sample_rate, (guint) channels);
  self->latest_sequence = MAX (latest, -1);
  self->bytes_in = (guint64) MAX (bytes_in, 0);

  metadata_text = doc_string (object, "metadata");
  if (self->active && metadata_text != NULL) {
    g_autoptr (EchoShareMetadataRequest) metadata = NULL;

    /* Re-validated like a POST: the store is not trusted to hold what we wrote. */
    metadata = echo_share_request_parse_metadata (metadata_text, strlen (metadata_text),
        G_MAXSIZE, &local_error);
    if (metadata == NULL) {
      echo_share_log (G_LOG_LEVEL_WARNING, session_id,
          "Dropping the stored metadata of session %s: %s", session_id, local_error->message);
      g_clear_error (&local_error);
    } else {
      self->metadata = g_bytes_new_take (g_steal_pointer (&metadata->json), metadata->json_len);
      self->metadata_title = g_steal_pointer (&metadata->title);
      self->metadata_artist = g_steal_pointer (&metadata->artist);
      self->metadata_posted_ms = posted_ms;
      self->metadata_posted_us = monotonic_of (posted_ms, wall, mono);
    }
  }
  if (!self->active) {
    const char *reason = doc_string (object, "reason");

    self->ended_at_ms = ended_at_ms;
    self->ended_us = monotonic_of (ended_at_ms, wall, mono);
    self->end_reason = g_strdup (g_strcmp0 (reason, "timeout") == 0 ? "timeout" : "stopped");
  }
  return g_steal_pointer (&self);
}

/* ---- accessors ---- */

const char *
echo_share_session_get_id (EchoShareSession *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), NULL);
  return self->id;
}

gboolean
echo_share_session_is_active (EchoShareSession *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), FALSE);
  return self->active && self->pool != NULL;
}

gint64
echo_share_session_get_start_time_ms (EchoShareSession *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), 0);
  return self->start_ms;
}

gboolean
echo_share_session_get_format (EchoShareSession *self, guint *sample_rate, guint *channels)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), FALSE);
  if (sample_rate != NULL)
    *sample_rate = self->sample_rate;
  if (channels != NULL)
    *channels = self->channels;
  return self->sample_rate != 0;
}

gint64
echo_share_session_get_latest_sequence (EchoShareSession *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), -1);
  return self->latest_sequence;
}

static guint
count_receivers (EchoShareSession *self)
{
  guint count = 0;

  for (guint i = 0; i < self->listeners->len; i++) {
    Listener *listener = g_ptr_array_index (self->listeners, i);

    if (listener->callbacks.is_receiver && !listener->removed)
      count++;
  }
  return count;
}

guint
echo_share_session_get_listener_count (EchoShareSession *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), 0);
  if (!echo_share_session_is_active (self))
    return 0;
  return count_receivers (self) + count_live_pollers (self, now_us (self));
}

guint64
echo_share_session_get_bytes_in (EchoShareSession *self)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), 0);
  return self->bytes_in;
}

gint64
echo_share_session_get_last_activity_us (EchoShareSession *self)
{
  return self->last_activity_us;
}

gint64
echo_share_session_get_ended_us (EchoShareSession *self)
{
  return self->ended_us;
}

/* ---- the sharer ---- */

gboolean
echo_share_session_post_metadata (EchoShareSession *self, const char *body, gsize len,
    guint *listeners_notified, GError **error)
{
  g_autoptr (EchoShareMetadataRequest) request = NULL;
  g_autoptr (GBytes) metadata = NULL;
  g_autoptr (GPtrArray) snapshot = NULL;
  g_autofree char *document = NULL;
  const EchoShareLimits *limits;
  gint64 now, wall;
  guint retry_after = 0;

  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), FALSE);

  if (!ensure_active (self, error))
    return FALSE;
  limits = echo_share_pool_get_limits (self->pool);
  now = now_us (self);
  wall = now_ms (self);
  self->last_activity_us = now;
  self->dirty = TRUE;
  if (!echo_rate_limit_take (&self->metadata_limit, now, &retry_after)) {
    echo_share_error_set_rate_limited (error, retry_after, "metadata");
    return FALSE;
  }
  request = echo_share_request_parse_metadata (body, len, limits->max_metadata_bytes, error);
  if (request == NULL)
    return FALSE;

  metadata = g_bytes_new_take (g_steal_pointer (&request->json), request->json_len);
  document = build_document (self, TRUE, 0, NULL, metadata, wall);
  if (!save_document (self, document, error))
    return FALSE;

  clear_metadata (self);
  self->metadata = g_bytes_ref (metadata);
  self->metadata_title = g_steal_pointer (&request->title);
  self->metadata_artist = g_steal_pointer (&request->artist);
  self->metadata_posted_ms = wall;
  self->metadata_posted_us = now;

  g_object_ref (self);
  snapshot = listeners_snapshot (self);
  for (guint i = 0; i < snapshot->len; i++) {
    Listener *listener = g_ptr_array_index (snapshot, i);

    if (!listener->removed && listener->callbacks.metadata != NULL)
      listener->callbacks.metadata (self, g_bytes_get_data (metadata, NULL), listener->user_data);
  }
  if (listeners_notified != NULL)
    *listeners_notified = echo_share_session_get_listener_count (self);
  g_object_unref (self);
  return TRUE;
}

static char *
float_chunk_json (const EchoShareAudioRequest *request)
{
  GString *text = g_string_sized_new (strlen (request->data_base64) + 128);

  g_string_append (text, "{\"data\":\"");
  g_string_append (text, request->data_base64);
  g_string_append_printf (text, "\",\"sampleRate\":%u,\"channels\":%u,\"timestamp\":%"
      G_GINT64_FORMAT ",\"sequenceNumber\":%" G_GINT64_FORMAT "}", request->sample_rate,
      request->channels, request->timestamp, request->sequence_number);
  return g_string_free (text, FALSE);
}

static void
record_overflows (EchoShareSession *self, guint overflows)
{
  if (overflows == 0)
    return;
  if (self->overflows == 0)
    echo_share_log (G_LOG_LEVEL_INFO, self->id,
        "Session %s: audio buffer overflow (chunks evicted before any receiver read them)",
        self->id);
  else
    echo_share_log (G_LOG_LEVEL_DEBUG, self->id, "Session %s: %u more chunk(s) overflowed",
        self->id, overflows);
  self->overflows += overflows;
  echo_share_pool_counters (self->pool)->buffer_overflows += overflows;
}

gboolean
echo_share_session_post_audio (EchoShareSession *self, const char *body, gsize len,
    gboolean *buffered, GError **error)
{
  g_autoptr (EchoShareAudioRequest) request = NULL;
  g_autoptr (EchoShareChunk) chunk = NULL;
  g_autoptr (GPtrArray) snapshot = NULL;
  const EchoShareLimits *limits;
  gint64 now;
  guint retry_after = 0;
  gboolean format_fixed = FALSE;
  gsize n_bytes;

  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), FALSE);

  if (!ensure_active (self, error))
    return FALSE;
  limits = echo_share_pool_get_limits (self->pool);
  now = now_us (self);
  self->last_activity_us = now;
  self->dirty = TRUE;
  if (!echo_rate_limit_take (&self->audio_limit, now, &retry_after)) {
    echo_share_error_set_rate_limited (error, retry_after, "audio");
    return FALSE;
  }
  request = echo_share_request_parse_audio (body, len, limits->max_chunk_bytes, error);
  if (request == NULL)
    return FALSE;

  if (self->sample_rate != 0 && request->sample_rate != self->sample_rate) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_FORMAT_CHANGED,
        "sampleRate changed from %u to %u mid-session", self->sample_rate,
        request->sample_rate);
    return FALSE;
  }
  if (self->channels != 0 && request->channels != self->channels) {
    g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_FORMAT_CHANGED,
        "channels changed from %u to %u mid-session", self->channels, request->channels);
    return FALSE;
  }
  if (self->latest_sequence >= 0) {
    if (request->sequence_number == self->latest_sequence ||
        echo_share_ring_find (self->audio_ring, request->sequence_number) != NULL) {
      if (buffered != NULL)
        *buffered = FALSE;
      return TRUE;
    }
    if (request->sequence_number < self->latest_sequence) {
      g_set_error (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_SEQUENCE_BACKWARDS,
          "sequenceNumber %" G_GINT64_FORMAT " is below the newest (%" G_GINT64_FORMAT
          ") and no longer buffered", request->sequence_number, self->latest_sequence);
      return FALSE;
    }
    if (request->sequence_number > self->latest_sequence + 1) {
      self->gaps++;
      echo_share_pool_counters (self->pool)->sequence_gaps++;
      echo_share_log (G_LOG_LEVEL_DEBUG, self->id, "Session %s: sequence gap %" G_GINT64_FORMAT
          " -> %" G_GINT64_FORMAT, self->id, self->latest_sequence, request->sequence_number);
    }
  }
  if (self->sample_rate == 0) {
    fix_format (self, request->sample_rate, request->channels);
    format_fixed = TRUE;
  }

  n_bytes = g_bytes_get_size (request->samples);
  chunk = echo_share_chunk_new (request->sequence_number, request->timestamp, request->n_frames,
      request->samples, float_chunk_json (request));
  record_overflows (self, echo_share_ring_push (self->audio_ring, chunk));
  self->latest_sequence = request->sequence_number;
  self->bytes_in += n_bytes;
  echo_share_pool_counters (self->pool)->audio_bytes_in += n_bytes;
  if (format_fixed)
    save_or_retry_later (self);
  if (buffered != NULL)
    *buffered = TRUE;

  g_object_ref (self);
  snapshot = listeners_snapshot (self);
  for (guint i = 0; i < snapshot->len; i++) {
    Listener *listener = g_ptr_array_index (snapshot, i);

    if (listener->removed || listener->callbacks.audio_chunk == NULL)
      continue;
    if (listener->callbacks.is_receiver)
      chunk->delivered = TRUE;
    listener->callbacks.audio_chunk (self, g_bytes_get_data (chunk->payload, NULL),
        chunk->n_frames, chunk->timestamp, chunk->json, listener->user_data);
  }
  g_object_unref (self);
  return TRUE;
}

/* Marks the session ended now (no persistence, no notification). */
static void
mark_ended (EchoShareSession *self, const char *reason, gint64 ended_at_ms, gint64 ended_us)
{
  self->active = FALSE;
  self->ended_at_ms = ended_at_ms;
  self->ended_us = ended_us;
  g_free (self->end_reason);
  self->end_reason = g_strdup (reason);
  echo_share_ring_clear (self->audio_ring);
  echo_share_ring_clear (self->opus_ring);
  clear_metadata (self);
  g_hash_table_remove_all (self->pollers);
}

/* Tells every listener the session ended and drops them, then the pool's handlers. */
static void
notify_ended (EchoShareSession *self)
{
  g_autoptr (GPtrArray) snapshot = NULL;

  g_object_ref (self);
  snapshot = listeners_snapshot (self);
  for (guint i = 0; i < snapshot->len; i++) {
    Listener *listener = g_ptr_array_index (snapshot, i);

    if (!listener->removed && listener->callbacks.ended != NULL)
      listener->callbacks.ended (self, self->end_reason, self->ended_at_ms, listener->user_data);
    listener->removed = TRUE;
  }
  g_ptr_array_set_size (self->listeners, 0);
  g_clear_pointer (&snapshot, g_ptr_array_unref);
  if (self->pool != NULL)
    echo_share_pool_emit_ended (self->pool, self, self->end_reason);
  g_object_unref (self);
}

gboolean
echo_share_session_stop (EchoShareSession *self, double *duration_s,
    guint64 *bytes_transferred, GError **error)
{
  g_autofree char *document = NULL;
  gint64 wall, now;

  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), FALSE);

  if (!ensure_active (self, error))
    return FALSE;
  wall = now_ms (self);
  now = now_us (self);
  document = build_document (self, FALSE, wall, "stopped", NULL, 0);
  if (!save_document (self, document, error))
    return FALSE;

  mark_ended (self, "stopped", wall, now);
  if (duration_s != NULL)
    *duration_s = round ((double) (now - self->start_us) / G_USEC_PER_SEC * 10.0) / 10.0;
  if (bytes_transferred != NULL)
    *bytes_transferred = self->bytes_in;
  echo_share_log (G_LOG_LEVEL_INFO, self->id, "Session %s stopped after %.1f s, %"
      G_GUINT64_FORMAT " bytes of audio", self->id,
      (double) (now - self->start_us) / G_USEC_PER_SEC, self->bytes_in);
  notify_ended (self);
  return TRUE;
}

void
echo_share_session_end (EchoShareSession *self, const char *reason)
{
  g_return_if_fail (ECHO_IS_SHARE_SESSION (self));

  if (!self->active || self->pool == NULL)
    return;
  mark_ended (self, reason, now_ms (self), now_us (self));
  save_or_retry_later (self);
  echo_share_log (G_LOG_LEVEL_INFO, self->id, "Session %s ended (%s)", self->id, reason);
  notify_ended (self);
}

/* ---- receivers ---- */

GBytes *
echo_share_session_get_metadata_json (EchoShareSession *self, GError **error)
{
  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), NULL);

  if (!ensure_active (self, error))
    return NULL;
  if (!metadata_is_live (self, now_us (self))) {
    g_set_error_literal (error, ECHO_SHARE_ERROR, ECHO_SHARE_ERROR_METADATA_NOT_FOUND,
        "Session not found or no metadata available");
    return NULL;
  }
  return g_bytes_ref (self->metadata);
}

gboolean
echo_share_session_get_audio_json (EchoShareSession *self, gint64 since, guint limit,
    EchoShareAudioFormat format, char **out_json, GError **error)
{
  EchoShareRing *ring;
  gsize len = 0;

  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), FALSE);
  g_return_val_if_fail (out_json != NULL, FALSE);

  *out_json = NULL;
  if (!ensure_active (self, error))
    return FALSE;
  ring = format == ECHO_SHARE_AUDIO_FORMAT_OPUS ? self->opus_ring : self->audio_ring;
  *out_json = echo_share_ring_collect_json (ring, MAX (since, -1),
      CLAMP (limit, 1, ECHO_SHARE_MAX_CHUNKS_PER_REPLY), &len);
  if (*out_json != NULL)
    echo_share_session_add_bytes_out (self, len);
  return TRUE;
}

char *
echo_share_session_status_json (EchoShareSession *self, GError **error)
{
  g_autoptr (JsonBuilder) builder = NULL;
  g_autoptr (JsonGenerator) generator = NULL;
  g_autoptr (JsonNode) root = NULL;

  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), NULL);

  if (!ensure_active (self, error))
    return NULL;
  builder = json_builder_new_immutable ();
  json_builder_begin_object (builder);
  json_builder_set_member_name (builder, "isActive");
  json_builder_add_boolean_value (builder, TRUE);
  json_builder_set_member_name (builder, "startTime");
  json_builder_add_int_value (builder, self->start_ms);
  json_builder_set_member_name (builder, "listenerCount");
  json_builder_add_int_value (builder, echo_share_session_get_listener_count (self));
  json_builder_set_member_name (builder, "currentMetadata");
  if (metadata_is_live (self, now_us (self))) {
    json_builder_begin_object (builder);
    json_builder_set_member_name (builder, "title");
    if (self->metadata_title != NULL)
      json_builder_add_string_value (builder, self->metadata_title);
    else
      json_builder_add_null_value (builder);
    json_builder_set_member_name (builder, "artist");
    if (self->metadata_artist != NULL)
      json_builder_add_string_value (builder, self->metadata_artist);
    else
      json_builder_add_null_value (builder);
    json_builder_end_object (builder);
  } else {
    json_builder_add_null_value (builder);
  }
  add_format_members (self, builder);
  json_builder_set_member_name (builder, "latestSequence");
  if (self->latest_sequence >= 0)
    json_builder_add_int_value (builder, self->latest_sequence);
  else
    json_builder_add_null_value (builder);
  json_builder_end_object (builder);

  generator = json_generator_new ();
  root = json_builder_get_root (builder);
  json_generator_set_root (generator, root);
  return json_generator_to_data (generator, NULL);
}

void
echo_share_session_note_poller (EchoShareSession *self, const char *client_key)
{
  gint64 now;
  gint64 *seen;

  g_return_if_fail (ECHO_IS_SHARE_SESSION (self));

  if (client_key == NULL || !echo_share_session_is_active (self))
    return;
  now = now_us (self);
  seen = g_hash_table_lookup (self->pollers, client_key);
  if (seen == NULL) {
    if (g_hash_table_size (self->pollers) >= MAX_POLLERS)
      prune_pollers (self, now);
    if (g_hash_table_size (self->pollers) >= MAX_POLLERS)
      return;
    seen = g_new (gint64, 1);
    g_hash_table_insert (self->pollers, g_strdup (client_key), seen);
  }
  *seen = now;
}

void
echo_share_session_add_bytes_out (EchoShareSession *self, guint64 n_bytes)
{
  g_return_if_fail (ECHO_IS_SHARE_SESSION (self));

  self->bytes_out += n_bytes;
  if (self->pool != NULL)
    echo_share_pool_counters (self->pool)->audio_bytes_out += n_bytes;
}

/* ---- listeners ---- */

guint
echo_share_session_add_listener (EchoShareSession *self,
    const EchoShareListenerCallbacks *callbacks, gpointer user_data, GDestroyNotify destroy)
{
  Listener *listener;

  g_return_val_if_fail (ECHO_IS_SHARE_SESSION (self), 0);
  g_return_val_if_fail (callbacks != NULL, 0);

  if (!echo_share_session_is_active (self))
    return 0;
  listener = g_rc_box_new0 (Listener);
  listener->id = self->next_listener_id++;
  listener->callbacks = *callbacks;
  listener->user_data = user_data;
  listener->destroy = destroy;
  g_ptr_array_add (self->listeners, listener);
  return listener->id;
}

void
echo_share_session_remove_listener (EchoShareSession *self, guint listener_id)
{
  g_return_if_fail (ECHO_IS_SHARE_SESSION (self));

  for (guint i = 0; i < self->listeners->len; i++) {
    Listener *listener = g_ptr_array_index (self->listeners, i);

    if (listener->id == listener_id) {
      listener->removed = TRUE;
      g_ptr_array_remove_index (self->listeners, i);
      return;
    }
  }
}

/* ---- the media pipeline ---- */

void
echo_share_session_push_opus (EchoShareSession *self, const guint8 *packet, gsize len,
    guint n_frames, gint64 timestamp)
{
  g_autoptr (EchoShareChunk) chunk = NULL;
  g_autoptr (GPtrArray) snapshot = NULL;
  g_autoptr (GBytes) payload = NULL;
  g_autofree char *base64 = NULL;
  gint64 sequence;
  char *json;

  g_return_if_fail (ECHO_IS_SHARE_SESSION (self));

  if (!echo_share_session_is_active (self) || packet == NULL || len == 0 || n_frames == 0)
    return;
  sequence = self->next_opus_sequence++;
  base64 = g_base64_encode (packet, len);
  json = g_strdup_printf ("{\"data\":\"%s\",\"encoding\":\"opus\",\"sampleRate\":%d,"
      "\"channels\":%u,\"frames\":%u,\"timestamp\":%" G_GINT64_FORMAT ",\"sequenceNumber\":%"
      G_GINT64_FORMAT "}", base64, OPUS_SAMPLE_RATE, self->channels, n_frames, timestamp,
      sequence);
  payload = g_bytes_new (packet, len);
  chunk = echo_share_chunk_new (sequence, timestamp, n_frames, payload, json);
  /* Opus packets are derived data: evicting unread ones is not an overflow of the sharer's
   * audio, so the count is not recorded. */
  (void) echo_share_ring_push (self->opus_ring, chunk);

  g_object_ref (self);
  snapshot = listeners_snapshot (self);
  for (guint i = 0; i < snapshot->len; i++) {
    Listener *listener = g_ptr_array_index (snapshot, i);

    if (listener->removed || listener->callbacks.opus_packet == NULL)
      continue;
    if (listener->callbacks.is_receiver)
      chunk->delivered = TRUE;
    listener->callbacks.opus_packet (self, packet, len, n_frames, chunk->json,
        listener->user_data);
  }
  g_object_unref (self);
}

/* ---- housekeeping ---- */

void
echo_share_session_expire (EchoShareSession *self, gint64 now)
{
  if (self->metadata != NULL && !metadata_is_live (self, now))
    clear_metadata (self);
  prune_pollers (self, now);
}

void
echo_share_session_flush (EchoShareSession *self, gint64 now, gint64 min_interval_us)
{
  if (self->pool == NULL || !self->dirty || now - self->last_save_us < min_interval_us)
    return;
  save_or_retry_later (self);
}

gboolean
echo_share_session_check_active (EchoShareSession *self, GError **error)
{
  return ensure_active (self, error);
}

void
echo_share_session_detach (EchoShareSession *self, gboolean flush)
{
  if (self->pool == NULL)
    return;
  if (flush)
    echo_share_session_flush (self, now_us (self), 0);
  g_ptr_array_set_size (self->listeners, 0);
  self->pool = NULL;
}
