/* What echo-store.c expects of a storage backend (private to orchestrator/store/).
 *
 * echo-store.c validates every argument (collection, id, JSON) before it calls a backend,
 * so backends see well-formed input only, and calls one backend function at a time (under
 * the store's lock), so backends need no locking of their own. A backend's own struct starts with an EchoStore
 * and the backend's open function returns a pointer to that member.
 *
 * Copyright (C) 2026 Echo contributors
 * SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include "echo-store.h"

G_BEGIN_DECLS

typedef struct {
  const char *name;
  void (*free) (EchoStore *store);
  gboolean (*put) (EchoStore *store, const char *collection, const char *id,
      const char *json, GError **error);
  /* NULL without an error: absent */
  char *(*get) (EchoStore *store, const char *collection, const char *id, GError **error);
  gboolean (*delete) (EchoStore *store, const char *collection, const char *id,
      GError **error);
  /* of EchoStoreDocument*, in any order: echo-store.c sorts */
  GPtrArray *(*list) (EchoStore *store, const char *collection, GError **error);
} EchoStoreBackend;

struct _EchoStore {
  const EchoStoreBackend *backend;
  int schema_version;
  GMutex lock;                  /* held by echo-store.c around every backend call */
};

EchoStore *echo_store_file_open (const char *data_dir, GError **error);
EchoStore *echo_store_pg_open (const char *database_url, GError **error);

/* Builds one list entry, taking ownership of both strings. */
EchoStoreDocument *echo_store_document_new_take (char *id, char *json);

G_END_DECLS
