/* EchoStore: echod's document store. Documents are JSON objects filed under a collection
 * and an id; a put that returned TRUE survives a crash of the daemon. Two backends sit
 * behind the same calls:
 *
 *  - "file": an append-only log in the data directory (echo-store-file.c), fsync'd on
 *    every write, compacted when it holds more garbage than live data. One process per
 *    data directory (a lock file enforces it).
 *  - "postgresql": a `documents` table reached through libpq (echo-store-pg.c); every
 *    write is committed before the call returns. Several daemons may share a database.
 *
 * Both run versioned schema migrations when they open. Calls block (disk, or a round trip
 * to the server). Any thread may call them: one call runs at a time, the others wait
 * (so a thread that writes in the background may hold up the main thread's call).
 *
 * Copyright (C) 2026 Echo contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoStore EchoStore;

#define ECHO_STORE_ERROR (echo_store_error_quark ())

/**
 * EchoStoreError:
 * @ECHO_STORE_ERROR_FAILED: an operation failed for a reason not listed below (an I/O
 *   error, an SQL error).
 * @ECHO_STORE_ERROR_UNAVAILABLE: the storage cannot be reached or used right now: the
 *   database server is down or the connection was lost and could not be re-established,
 *   or another process holds the data directory.
 * @ECHO_STORE_ERROR_CORRUPT: the stored data is damaged; the message names the file and
 *   the byte offset.
 * @ECHO_STORE_ERROR_VERSION: the storage was written by a newer echod (its format or
 *   schema version is higher than this binary knows).
 * @ECHO_STORE_ERROR_INVALID: the caller's input is not acceptable (collection, id or JSON
 *   text malformed, an unsupported database URL).
 */
typedef enum {
  ECHO_STORE_ERROR_FAILED,
  ECHO_STORE_ERROR_UNAVAILABLE,
  ECHO_STORE_ERROR_CORRUPT,
  ECHO_STORE_ERROR_VERSION,
  ECHO_STORE_ERROR_INVALID,
} EchoStoreError;

/**
 * EchoStoreDocument:
 * @id: the document's id
 * @json: the document, a JSON object text
 *
 * One entry of echo_store_list(). Free with echo_store_document_free().
 */
typedef struct {
  char *id;
  char *json;
} EchoStoreDocument;

/** The longest collection name echo_store_put() accepts. */
#define ECHO_STORE_MAX_COLLECTION_LEN 32
/** The longest document id echo_store_put() accepts. */
#define ECHO_STORE_MAX_ID_LEN 128
/** The largest JSON text (in bytes) echo_store_put() accepts. */
#define ECHO_STORE_MAX_JSON_LEN (64 * 1024 * 1024)

/**
 * echo_store_error_quark:
 *
 * Returns: the error domain of every GError this module sets.
 */
GQuark echo_store_error_quark (void);

/**
 * echo_store_open:
 * @data_dir: the directory of the embedded file store; created (mode 0700) when missing.
 *   Only used when @database_url is NULL or empty.
 * @database_url: NULL or "" for the embedded file store, or a libpq URL starting with
 *   "postgresql://" or "postgres://"
 * @error: return location for an error
 *
 * Opens the store and applies every pending schema migration. The file store takes an
 * exclusive lock on @data_dir (ECHO_STORE_ERROR_UNAVAILABLE while another process holds
 * it), reads its log into memory, drops a record that a crash left half-written (with a
 * warning) and compacts the log when it holds garbage. The PostgreSQL store connects
 * (ECHO_STORE_ERROR_UNAVAILABLE naming host and port, never the password, when it cannot)
 * and migrates under a transaction-scoped advisory lock, so daemons that start together
 * do not race.
 *
 * Returns: (transfer full): the store, or NULL with @error set: ECHO_STORE_ERROR_CORRUPT
 *   for a damaged log, ECHO_STORE_ERROR_VERSION when the data was written by a newer
 *   echod, ECHO_STORE_ERROR_INVALID for an unsupported URL scheme or an empty @data_dir.
 */
EchoStore *echo_store_open (const char *data_dir, const char *database_url, GError **error);

/**
 * echo_store_free:
 * @store: (nullable): a store
 *
 * Closes the store: releases the data directory's lock or the database connection.
 * Everything a successful put wrote is already durable; nothing is flushed here.
 */
void echo_store_free (EchoStore *store);

/**
 * echo_store_backend_name:
 * @store: a store
 *
 * Returns: "file" or "postgresql"
 */
const char *echo_store_backend_name (EchoStore *store);

/**
 * echo_store_schema_version:
 * @store: a store
 *
 * Returns: the schema version the store is at after echo_store_open()'s migrations (the
 *   file format version for "file", the highest applied migration for "postgresql").
 */
int echo_store_schema_version (EchoStore *store);

/**
 * echo_store_put:
 * @store: a store
 * @collection: 1 to 32 characters of [a-z_]
 * @id: 1 to 128 printable ASCII characters (0x20 to 0x7e)
 * @json: a JSON object text in UTF-8 (at most ECHO_STORE_MAX_JSON_LEN bytes)
 * @error: return location for an error
 *
 * Creates or replaces the document @collection/@id. The text is parsed with json-glib and
 * stored as json-glib writes it back (compact); the PostgreSQL backend stores it as jsonb.
 * Either way echo_store_get() returns an equivalent JSON object, not necessarily the same
 * bytes. When this returns TRUE the document is on stable storage (fsync'd, or committed).
 *
 * Returns: TRUE on success; FALSE with @error set (ECHO_STORE_ERROR_INVALID for bad input,
 *   in which case nothing was written).
 */
gboolean echo_store_put (EchoStore *store, const char *collection, const char *id,
    const char *json, GError **error);

/**
 * echo_store_get:
 * @store: a store
 * @collection: a collection name (see echo_store_put())
 * @id: a document id (see echo_store_put())
 * @error: return location for an error
 *
 * Returns: (transfer full) (nullable): the document's JSON text; NULL without an error
 *   when there is no such document; NULL with @error set on failure.
 */
char *echo_store_get (EchoStore *store, const char *collection, const char *id,
    GError **error);

/**
 * echo_store_delete:
 * @store: a store
 * @collection: a collection name (see echo_store_put())
 * @id: a document id (see echo_store_put())
 * @error: return location for an error
 *
 * Removes the document @collection/@id; as durable as echo_store_put().
 *
 * Returns: TRUE when the document is gone, including when it did not exist; FALSE with
 *   @error set on failure.
 */
gboolean echo_store_delete (EchoStore *store, const char *collection, const char *id,
    GError **error);

/**
 * echo_store_list:
 * @store: a store
 * @collection: a collection name (see echo_store_put())
 * @error: return location for an error
 *
 * Returns: (transfer full) (element-type EchoStoreDocument): every document of
 *   @collection ordered by id (byte order), possibly none; the array frees its elements.
 *   NULL with @error set on failure.
 */
GPtrArray *echo_store_list (EchoStore *store, const char *collection, GError **error);

/**
 * echo_store_document_free:
 * @document: (nullable): a document from echo_store_list()
 *
 * Frees @document and its strings.
 */
void echo_store_document_free (EchoStoreDocument *document);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoStore, echo_store_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (EchoStoreDocument, echo_store_document_free)

G_END_DECLS
