/* The embedded file store: one append-only log per data directory, read into memory at
 * open (a hash table of documents per collection) and compacted when it holds more
 * garbage than live data.
 *
 * Files in the data directory:
 *   echo-store.lock     flock()ed for as long as a store is open; holds the owner's pid
 *   echo-store.log      the log (below)
 *   echo-store.log.tmp  a compaction in progress; a left-over one is deleted at open
 *
 * The log (all integers little-endian):
 *   file header, 16 bytes:   "ECHOSTOR"  u32 format version  u32 zero
 *   records, each:           u32 body length  u32 its bitwise complement
 *                            8 bytes: the start of SHA-256(body)
 *                            body: u8 op ('P' put, 'D' delete)  u8 collection length
 *                                  u8 id length  collection  id  JSON text (put only)
 *
 * Durability: a record is written at the end of the log and fsync'd before put/delete
 * return. A compaction writes a complete new log to the .tmp file, fsyncs it, renames it
 * over the log and fsyncs the directory, so a crash leaves either the old or the new log.
 *
 * A crash in the middle of an append leaves a torn last record: its header or body cut
 * short, zeros where the file grew before the data arrived, or a checksum that does not
 * match. Such a last record is dropped with a warning (its put never returned TRUE). Any
 * damage before the last record is ECHO_STORE_ERROR_CORRUPT with the byte offset: the
 * length's complement makes a damaged length read as damage, not as a torn tail.
 *
 * Format versions: the header and the record framing above are the same in every
 * version; a version may change what records mean. file_migrations[] lists one step per
 * version; opening an older log loads it, applies each newer step's upgrade to the
 * in-memory documents and compacts, which writes the log at the current version.
 *
 * Copyright (C) 2026 Echo contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#include "echo-store-backend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOG_NAME "echo-store.log"
#define LOCK_NAME "echo-store.lock"
#define TEMP_SUFFIX ".tmp"

#define FILE_MAGIC "ECHOSTOR"
#define FILE_MAGIC_LEN 8
#define FILE_HEADER_SIZE 16
#define RECORD_HEADER_SIZE 16
#define RECORD_CHECKSUM_LEN 8
#define RECORD_PREFIX_LEN 3
#define RECORD_MAX_BODY (RECORD_PREFIX_LEN + ECHO_STORE_MAX_COLLECTION_LEN \
    + ECHO_STORE_MAX_ID_LEN + ECHO_STORE_MAX_JSON_LEN)

#define OP_PUT 'P'
#define OP_DELETE 'D'

/* Below this much garbage a compaction is not worth a rewrite. */
#define COMPACT_MIN_GARBAGE (64 * 1024)
/* Compaction writes in blocks of about this size. */
#define COMPACT_WRITE_BLOCK (1024 * 1024)

/* One step of the format's history. @upgrade rewrites documents loaded from a log of
 * version - 1 into what version means; NULL when nothing changes. */
typedef struct {
  int version;
  const char *description;
  gboolean (*upgrade) (GHashTable *collections, GError **error);
} FileMigration;

static const FileMigration file_migrations[] = {
  { 1, "append-only log of checksummed put and delete records", NULL },
};

#define FILE_FORMAT_VERSION ((int) G_N_ELEMENTS (file_migrations))

typedef struct {
  EchoStore parent;
  char *dir;
  char *log_path;
  char *lock_path;
  int lock_fd;
  int log_fd;
  /* Where the next record goes: the log's size. */
  guint64 end_offset;
  /* The bytes of the records that hold the current documents; the rest of the log
   * after the header is garbage. */
  guint64 live_bytes;
  /* collection -> (id -> JSON text) */
  GHashTable *collections;
  /* Set when a failed write may have left the log in a state we cannot describe. */
  gboolean broken;
} EchoStoreFile;

static void
write_le32 (guint8 *p, guint32 v)
{
  p[0] = v & 0xff;
  p[1] = (v >> 8) & 0xff;
  p[2] = (v >> 16) & 0xff;
  p[3] = (v >> 24) & 0xff;
}

static guint32
read_le32 (const guint8 *p)
{
  return (guint32) p[0] | ((guint32) p[1] << 8) | ((guint32) p[2] << 16)
      | ((guint32) p[3] << 24);
}

static gsize
record_size (const char *collection, const char *id, const char *json)
{
  return RECORD_HEADER_SIZE + RECORD_PREFIX_LEN + strlen (collection) + strlen (id)
      + (json ? strlen (json) : 0);
}

static void
record_checksum (const guint8 *body, gsize body_len, guint8 out[RECORD_CHECKSUM_LEN])
{
  g_autoptr (GChecksum) sum = g_checksum_new (G_CHECKSUM_SHA256);
  guint8 digest[32];
  gsize digest_len = sizeof (digest);

  g_checksum_update (sum, body, body_len);
  g_checksum_get_digest (sum, digest, &digest_len);
  memcpy (out, digest, RECORD_CHECKSUM_LEN);
}

/* Appends one encoded record to @out. @json is NULL for a delete. */
static void
encode_record (GByteArray *out, char op, const char *collection, const char *id,
    const char *json)
{
  gsize collection_len = strlen (collection), id_len = strlen (id);
  gsize json_len = json ? strlen (json) : 0;
  guint32 body_len = RECORD_PREFIX_LEN + collection_len + id_len + json_len;
  guint header_at = out->len, body_at;
  guint8 header[RECORD_HEADER_SIZE] = { 0 };
  guint8 prefix[RECORD_PREFIX_LEN] = { (guint8) op, (guint8) collection_len, (guint8) id_len };

  g_byte_array_append (out, header, sizeof (header));
  body_at = out->len;
  g_byte_array_append (out, prefix, sizeof (prefix));
  g_byte_array_append (out, (const guint8 *) collection, collection_len);
  g_byte_array_append (out, (const guint8 *) id, id_len);
  if (json_len > 0)
    g_byte_array_append (out, (const guint8 *) json, json_len);

  write_le32 (out->data + header_at, body_len);
  write_le32 (out->data + header_at + 4, ~body_len);
  record_checksum (out->data + body_at, body_len, out->data + header_at + 8);
}

static void
encode_file_header (GByteArray *out, int version)
{
  guint8 header[FILE_HEADER_SIZE] = { 0 };

  memcpy (header, FILE_MAGIC, FILE_MAGIC_LEN);
  write_le32 (header + 8, (guint32) version);
  g_byte_array_append (out, header, sizeof (header));
}

/* --- the in-memory index ------------------------------------------------------- */

static void
index_put (EchoStoreFile *self, const char *collection, const char *id, char *json)
{
  GHashTable *documents = g_hash_table_lookup (self->collections, collection);
  const char *old;

  if (documents == NULL) {
    documents = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
    g_hash_table_insert (self->collections, g_strdup (collection), documents);
  }
  old = g_hash_table_lookup (documents, id);
  if (old != NULL)
    self->live_bytes -= record_size (collection, id, old);
  self->live_bytes += record_size (collection, id, json);
  g_hash_table_replace (documents, g_strdup (id), json);
}

static void
index_remove (EchoStoreFile *self, const char *collection, const char *id)
{
  GHashTable *documents = g_hash_table_lookup (self->collections, collection);
  const char *old = documents ? g_hash_table_lookup (documents, id) : NULL;

  if (old == NULL)
    return;
  self->live_bytes -= record_size (collection, id, old);
  g_hash_table_remove (documents, id);
  if (g_hash_table_size (documents) == 0)
    g_hash_table_remove (self->collections, collection);
}

static const char *
index_lookup (EchoStoreFile *self, const char *collection, const char *id)
{
  GHashTable *documents = g_hash_table_lookup (self->collections, collection);

  return documents ? g_hash_table_lookup (documents, id) : NULL;
}

/* --- file helpers -------------------------------------------------------------- */

static gboolean
write_all (int fd, const guint8 *data, gsize len, gint64 offset)
{
  while (len > 0) {
    ssize_t n = offset >= 0 ? pwrite (fd, data, len, offset) : write (fd, data, len);

    if (n < 0) {
      if (errno == EINTR)
        continue;
      return FALSE;
    }
    data += n;
    len -= n;
    if (offset >= 0)
      offset += n;
  }
  return TRUE;
}

static gboolean
fsync_directory (const char *dir)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int saved_errno;
  gboolean ok;

  if (fd < 0)
    return FALSE;
  ok = fsync (fd) == 0;
  saved_errno = errno;
  close (fd);
  errno = saved_errno;
  return ok;
}

static gboolean
set_corrupt (EchoStoreFile *self, gsize offset, const char *what, GError **error)
{
  g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_CORRUPT,
      "%s is damaged at byte %" G_GSIZE_FORMAT ": %s", self->log_path, offset, what);
  return FALSE;
}

static gboolean
all_zero (const guint8 *data, gsize len)
{
  gsize i;

  for (i = 0; i < len; i++) {
    if (data[i] != 0)
      return FALSE;
  }
  return TRUE;
}

/* --- compaction ---------------------------------------------------------------- */

/* Replaces the log with one record per live document, at the current format version. */
static gboolean
write_snapshot (EchoStoreFile *self, GError **error)
{
  g_autofree char *temp_path = g_strconcat (self->log_path, TEMP_SUFFIX, NULL);
  g_autoptr (GByteArray) block = g_byte_array_new ();
  GHashTableIter collections, documents;
  gpointer collection, documents_table, id, json;
  guint64 size = 0;
  int fd, new_fd, saved_errno;
  const char *failed_step = "write";

  fd = open (temp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    failed_step = "create";
    goto fail;
  }

  encode_file_header (block, FILE_FORMAT_VERSION);
  g_hash_table_iter_init (&collections, self->collections);
  while (g_hash_table_iter_next (&collections, &collection, &documents_table)) {
    g_hash_table_iter_init (&documents, documents_table);
    while (g_hash_table_iter_next (&documents, &id, &json)) {
      encode_record (block, OP_PUT, collection, id, json);
      if (block->len >= COMPACT_WRITE_BLOCK) {
        if (!write_all (fd, block->data, block->len, -1)) {
          failed_step = "write";
          goto fail;
        }
        size += block->len;
        g_byte_array_set_size (block, 0);
      }
    }
  }
  if (!write_all (fd, block->data, block->len, -1)) {
    failed_step = "write";
    goto fail;
  }
  size += block->len;
  if (fsync (fd) != 0) {
    failed_step = "fsync";
    goto fail;
  }
  if (close (fd) != 0) {
    fd = -1;
    failed_step = "close";
    goto fail;
  }
  fd = -1;
  if (rename (temp_path, self->log_path) != 0) {
    failed_step = "rename";
    goto fail;
  }

  /* From here on the new log is in place; if its directory entry cannot be made durable
   * or it cannot be reopened, appending to anything would risk losing writes. */
  if (!fsync_directory (self->dir)) {
    saved_errno = errno;
    self->broken = TRUE;
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
        "cannot sync directory %s after compacting the log: %s", self->dir,
        g_strerror (saved_errno));
    return FALSE;
  }
  new_fd = open (self->log_path, O_RDWR | O_CLOEXEC);
  if (new_fd < 0) {
    saved_errno = errno;
    self->broken = TRUE;
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
        "cannot reopen %s after compacting it: %s", self->log_path, g_strerror (saved_errno));
    return FALSE;
  }
  if (self->log_fd >= 0)
    close (self->log_fd);
  self->log_fd = new_fd;
  self->end_offset = size;
  self->live_bytes = size - FILE_HEADER_SIZE;
  return TRUE;

fail:
  saved_errno = errno;
  if (fd >= 0)
    close (fd);
  unlink (temp_path);
  g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
      "cannot compact %s (%s of %s failed): %s", self->log_path, failed_step, temp_path,
      g_strerror (saved_errno));
  return FALSE;
}

static guint64
garbage_bytes (EchoStoreFile *self)
{
  return self->end_offset - FILE_HEADER_SIZE - self->live_bytes;
}

/* --- loading ------------------------------------------------------------------- */

/* Applies one record whose checksum matched; FALSE when its body makes no sense. */
static gboolean
apply_record (EchoStoreFile *self, const guint8 *body, gsize body_len)
{
  guint8 op, collection_len, id_len;
  gsize json_len;
  g_autofree char *collection = NULL, *id = NULL;

  if (body_len < RECORD_PREFIX_LEN)
    return FALSE;
  op = body[0];
  collection_len = body[1];
  id_len = body[2];
  if (collection_len == 0 || collection_len > ECHO_STORE_MAX_COLLECTION_LEN
      || id_len == 0 || id_len > ECHO_STORE_MAX_ID_LEN
      || (gsize) RECORD_PREFIX_LEN + collection_len + id_len > body_len)
    return FALSE;
  json_len = body_len - RECORD_PREFIX_LEN - collection_len - id_len;
  collection = g_strndup ((const char *) body + RECORD_PREFIX_LEN, collection_len);
  id = g_strndup ((const char *) body + RECORD_PREFIX_LEN + collection_len, id_len);
  if (strlen (collection) != collection_len || strlen (id) != id_len)
    return FALSE;

  if (op == OP_PUT && json_len > 0) {
    const char *json = (const char *) body + RECORD_PREFIX_LEN + collection_len + id_len;

    if (memchr (json, '\0', json_len) != NULL)
      return FALSE;
    index_put (self, collection, id, g_strndup (json, json_len));
    return TRUE;
  }
  if (op == OP_DELETE && json_len == 0) {
    index_remove (self, collection, id);
    return TRUE;
  }
  return FALSE;
}

/* Reads every record after the header into the index. *@valid_end is where the valid
 * records end: @len, or the start of a torn last record. */
static gboolean
load_records (EchoStoreFile *self, const guint8 *data, gsize len, gsize *valid_end,
    GError **error)
{
  gsize offset = FILE_HEADER_SIZE;

  while (offset < len) {
    gsize remaining = len - offset;
    const guint8 *header = data + offset;
    guint8 checksum[RECORD_CHECKSUM_LEN];
    guint32 body_len;

    if (remaining < RECORD_HEADER_SIZE)
      break;
    body_len = read_le32 (header);
    if (read_le32 (header + 4) != (guint32) ~body_len) {
      if (all_zero (header, remaining))
        break;
      return set_corrupt (self, offset, "damaged record header", error);
    }
    if (body_len > RECORD_MAX_BODY)
      return set_corrupt (self, offset, "record length out of range", error);
    if (body_len > remaining - RECORD_HEADER_SIZE)
      break;
    record_checksum (header + RECORD_HEADER_SIZE, body_len, checksum);
    if (memcmp (checksum, header + 8, RECORD_CHECKSUM_LEN) != 0) {
      if (offset + RECORD_HEADER_SIZE + body_len == len)
        break;
      return set_corrupt (self, offset, "record checksum mismatch", error);
    }
    if (!apply_record (self, header + RECORD_HEADER_SIZE, body_len))
      return set_corrupt (self, offset, "malformed record", error);
    offset += RECORD_HEADER_SIZE + body_len;
  }
  *valid_end = offset;
  return TRUE;
}

static gboolean
migrate (EchoStoreFile *self, int from_version, GError **error)
{
  gsize i;

  for (i = 0; i < G_N_ELEMENTS (file_migrations); i++) {
    const FileMigration *m = &file_migrations[i];
    g_autoptr (GError) local_error = NULL;

    if (m->version <= from_version || m->upgrade == NULL)
      continue;
    if (!m->upgrade (self->collections, &local_error)) {
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
          "cannot upgrade %s to format version %d (%s): %s", self->log_path, m->version,
          m->description, local_error->message);
      return FALSE;
    }
  }
  return TRUE;
}

/* Loads the log (creating an empty one when there is none), migrates it and compacts it
 * when it holds garbage, a torn tail or an older version. */
static gboolean
load_log (EchoStoreFile *self, GError **error)
{
  g_autofree char *temp_path = g_strconcat (self->log_path, TEMP_SUFFIX, NULL);
  g_autofree char *contents = NULL;
  g_autoptr (GError) read_error = NULL;
  const guint8 *data;
  gsize len, valid_end;
  guint32 version;

  /* A compaction that crashed before its rename; the log itself is complete. */
  if (unlink (temp_path) != 0 && errno != ENOENT) {
    int saved_errno = errno;
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
        "cannot remove stale %s: %s", temp_path, g_strerror (saved_errno));
    return FALSE;
  }

  if (!g_file_get_contents (self->log_path, &contents, &len, &read_error)) {
    if (!g_error_matches (read_error, G_FILE_ERROR, G_FILE_ERROR_NOENT)) {
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
          "cannot read the store log: %s", read_error->message);
      return FALSE;
    }
    self->parent.schema_version = FILE_FORMAT_VERSION;
    return write_snapshot (self, error);
  }

  data = (const guint8 *) contents;
  if (len < FILE_HEADER_SIZE || memcmp (data, FILE_MAGIC, FILE_MAGIC_LEN) != 0)
    return set_corrupt (self, 0, "not an echo store log (bad file header)", error);
  version = read_le32 (data + 8);
  if (version == 0)
    return set_corrupt (self, 8, "format version 0 does not exist", error);
  if (version > (guint32) FILE_FORMAT_VERSION) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_VERSION,
        "%s has format version %u, but this echod knows versions up to %d; "
        "it was written by a newer echod", self->log_path, version, FILE_FORMAT_VERSION);
    return FALSE;
  }

  if (!load_records (self, data, len, &valid_end, error))
    return FALSE;
  if (valid_end < len)
    g_warning ("%s: ignoring an incomplete last record at byte %" G_GSIZE_FORMAT
        " (%" G_GSIZE_FORMAT " bytes), left by a crash while it was written",
        self->log_path, valid_end, len - valid_end);
  if (!migrate (self, (int) version, error))
    return FALSE;
  self->parent.schema_version = FILE_FORMAT_VERSION;
  self->end_offset = valid_end;

  if (valid_end < len || garbage_bytes (self) > 0 || version != (guint32) FILE_FORMAT_VERSION)
    return write_snapshot (self, error);

  self->log_fd = open (self->log_path, O_RDWR | O_CLOEXEC);
  if (self->log_fd < 0) {
    int saved_errno = errno;
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
        "cannot open %s: %s", self->log_path, g_strerror (saved_errno));
    return FALSE;
  }
  return TRUE;
}

/* Takes the data directory's lock: one process per directory, since each would append
 * to the log from its own in-memory view. */
static gboolean
acquire_lock (EchoStoreFile *self, GError **error)
{
  g_autofree char *pid = NULL;
  int saved_errno;

  self->lock_fd = open (self->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (self->lock_fd < 0) {
    saved_errno = errno;
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
        "cannot open lock file %s: %s", self->lock_path, g_strerror (saved_errno));
    return FALSE;
  }
  if (flock (self->lock_fd, LOCK_EX | LOCK_NB) != 0) {
    saved_errno = errno;
    if (saved_errno == EWOULDBLOCK) {
      g_autofree char *holder = NULL;

      if (g_file_get_contents (self->lock_path, &holder, NULL, NULL))
        g_strstrip (holder);
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
          "data directory in use by another process: %s (locked by pid %s)", self->dir,
          holder && holder[0] ? holder : "unknown");
    } else {
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
          "cannot lock %s: %s", self->lock_path, g_strerror (saved_errno));
    }
    return FALSE;
  }
  /* Informational only (the error above names it): failures do not matter. */
  pid = g_strdup_printf ("%ld\n", (long) getpid ());
  if (ftruncate (self->lock_fd, 0) == 0)
    (void) write_all (self->lock_fd, (const guint8 *) pid, strlen (pid), 0);
  return TRUE;
}

/* --- the backend --------------------------------------------------------------- */

/* Writes @record at the end of the log and makes it durable. */
static gboolean
append_record (EchoStoreFile *self, const GByteArray *record, GError **error)
{
  gboolean written, synced = FALSE;
  int saved_errno;

  if (self->broken) {
    g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
        "%s is in an unknown state after an earlier write error; restart echod",
        self->log_path);
    return FALSE;
  }
  written = write_all (self->log_fd, record->data, record->len, self->end_offset);
  if (written)
    synced = fsync (self->log_fd) == 0;
  if (written && synced) {
    self->end_offset += record->len;
    return TRUE;
  }

  saved_errno = errno;
  /* Cut off whatever part of the record reached the file: the next record must not land
   * after it, where it would read as damage in the middle of the log. After a failed
   * fsync the kernel may have dropped the dirty pages, so the file's state is unknown. */
  if (written || ftruncate (self->log_fd, self->end_offset) != 0
      || fsync (self->log_fd) != 0)
    self->broken = TRUE;
  g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
      "cannot %s %s: %s", written ? "sync" : "write to", self->log_path,
      g_strerror (saved_errno));
  return FALSE;
}

static void
maybe_compact (EchoStoreFile *self)
{
  g_autoptr (GError) error = NULL;
  guint64 garbage = garbage_bytes (self);

  if (garbage < COMPACT_MIN_GARBAGE || garbage <= self->live_bytes)
    return;
  /* The write that got us here is durable either way; a failed compaction leaves the
   * old log in place (or marks the store broken). */
  if (!write_snapshot (self, &error))
    g_warning ("%s", error->message);
}

static gboolean
file_put (EchoStore *store, const char *collection, const char *id, const char *json,
    GError **error)
{
  EchoStoreFile *self = (EchoStoreFile *) store;
  g_autoptr (GByteArray) record = g_byte_array_new ();

  encode_record (record, OP_PUT, collection, id, json);
  if (!append_record (self, record, error))
    return FALSE;
  index_put (self, collection, id, g_strdup (json));
  maybe_compact (self);
  return TRUE;
}

static char *
file_get (EchoStore *store, const char *collection, const char *id, GError **error)
{
  return g_strdup (index_lookup ((EchoStoreFile *) store, collection, id));
}

static gboolean
file_delete (EchoStore *store, const char *collection, const char *id, GError **error)
{
  EchoStoreFile *self = (EchoStoreFile *) store;
  g_autoptr (GByteArray) record = NULL;

  if (index_lookup (self, collection, id) == NULL)
    return TRUE;
  record = g_byte_array_new ();
  encode_record (record, OP_DELETE, collection, id, NULL);
  if (!append_record (self, record, error))
    return FALSE;
  index_remove (self, collection, id);
  maybe_compact (self);
  return TRUE;
}

static GPtrArray *
file_list (EchoStore *store, const char *collection, GError **error)
{
  EchoStoreFile *self = (EchoStoreFile *) store;
  GHashTable *documents = g_hash_table_lookup (self->collections, collection);
  GPtrArray *list = g_ptr_array_new_with_free_func ((GDestroyNotify) echo_store_document_free);
  GHashTableIter iter;
  gpointer id, json;

  if (documents == NULL)
    return list;
  g_hash_table_iter_init (&iter, documents);
  while (g_hash_table_iter_next (&iter, &id, &json))
    g_ptr_array_add (list, echo_store_document_new_take (g_strdup (id), g_strdup (json)));
  return list;
}

static void
file_free (EchoStore *store)
{
  EchoStoreFile *self = (EchoStoreFile *) store;

  if (self->log_fd >= 0)
    close (self->log_fd);
  /* Closing the descriptor releases the lock. */
  if (self->lock_fd >= 0)
    close (self->lock_fd);
  g_hash_table_unref (self->collections);
  g_free (self->dir);
  g_free (self->log_path);
  g_free (self->lock_path);
  g_free (self);
}

static const EchoStoreBackend file_backend = {
  .name = "file",
  .free = file_free,
  .put = file_put,
  .get = file_get,
  .delete = file_delete,
  .list = file_list,
};

EchoStore *
echo_store_file_open (const char *data_dir, GError **error)
{
  EchoStoreFile *self = g_new0 (EchoStoreFile, 1);

  self->parent.backend = &file_backend;
  self->dir = g_strdup (data_dir);
  self->log_path = g_build_filename (data_dir, LOG_NAME, NULL);
  self->lock_path = g_build_filename (data_dir, LOCK_NAME, NULL);
  self->lock_fd = -1;
  self->log_fd = -1;
  self->collections = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
      (GDestroyNotify) g_hash_table_unref);

  if (!g_file_test (data_dir, G_FILE_TEST_IS_DIR)) {
    g_autofree char *parent = g_path_get_dirname (data_dir);

    if (g_mkdir_with_parents (data_dir, 0700) != 0) {
      int saved_errno = errno;
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_UNAVAILABLE,
          "cannot create data directory %s: %s", data_dir, g_strerror (saved_errno));
      goto fail;
    }
    /* so that the new directory's entry, and the log in it, survive a crash */
    if (!fsync_directory (parent)) {
      int saved_errno = errno;
      g_set_error (error, ECHO_STORE_ERROR, ECHO_STORE_ERROR_FAILED,
          "cannot sync directory %s: %s", parent, g_strerror (saved_errno));
      goto fail;
    }
  }
  if (!acquire_lock (self, error) || !load_log (self, error))
    goto fail;
  g_debug ("file store %s open: format version %d, %" G_GUINT64_FORMAT " bytes",
      self->log_path, self->parent.schema_version, self->end_offset);
  return &self->parent;

fail:
  file_free (&self->parent);
  return NULL;
}
