/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echodiscovery.c: announcing and finding Echo sessions with Avahi's client library.
 *
 * Threading: every EchoDiscoveryPublisher and every echo_discovery_resolve() call owns an
 * AvahiThreadedPoll. Avahi calls our callbacks from that poll's thread with the poll's lock
 * held; the public functions take the same lock (avahi_threaded_poll_lock) before touching
 * Avahi objects, and stop the thread before freeing them. A resolve hands its outcome to
 * the waiting caller through its own GMutex/GCond, which is never held while the Avahi
 * lock is taken, so the two locks cannot deadlock.
 *
 * Daemon restarts: the first client is created without AVAHI_CLIENT_NO_FAIL so that an
 * absent daemon is reported to the caller. When the daemon (or the system bus) later goes
 * away, Avahi puts the client into AVAHI_CLIENT_FAILURE; the publisher then replaces it,
 * from a timer on its poll (never inside the client's own callback), with a client created
 * with AVAHI_CLIENT_NO_FAIL, which waits for the daemon to reappear and registers the
 * service again once it is running. If even the bus is unreachable, it retries every
 * RECONNECT_INTERVAL_MS.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#ifndef G_LOG_DOMAIN
#define G_LOG_DOMAIN "echo-discovery"
#endif

#include "echodiscovery.h"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>
#include <avahi-common/timeval.h>
#include <net/if.h>
#include <string.h>

#define RECONNECT_INTERVAL_MS 1000
/* a TXT string (key=value) is one length-prefixed DNS character-string */
#define TXT_ITEM_MAX 255
/* service instance names are one DNS label */
#define SERVICE_NAME_MAX 63
/* renames tried when the daemon refuses a name at once because it is taken locally */
#define MAX_LOCAL_RENAMES 100

G_DEFINE_QUARK (echo-discovery-error-quark, echo_discovery_error)

/* ---------------------------------------------------------------------------------- */
/* TXT records                                                                          */

/* Builds the TXT list: "session=@session" first, then the caller's pairs in order, minus
 * any "session" pair. With @session NULL (a service other than an Echo session) the
 * caller's pairs are taken as they are. */
static AvahiStringList *
build_txt (const char *session, const char *const *txt, GError ** error)
{
  AvahiStringList *l = NULL;
  gsize i;

  if (session != NULL)
    l = avahi_string_list_add_pair (NULL, ECHO_DISCOVERY_TXT_SESSION, session);

  for (i = 0; txt != NULL && txt[i] != NULL; i += 2) {
    const char *key = txt[i];
    const char *value = txt[i + 1];
    const char *c;

    if (value == NULL) {
      g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
          "TXT key '%s' has no value (the array must hold key, value pairs)", key);
      goto fail;
    }
    if (*key == '\0') {
      g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
          "empty TXT key");
      goto fail;
    }
    for (c = key; *c != '\0'; c++) {
      if (*c < 0x20 || *c > 0x7e || *c == '=') {
        g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
            "TXT key '%s' is not printable ASCII without '='", key);
        goto fail;
      }
    }
    if (strlen (key) + 1 + strlen (value) > TXT_ITEM_MAX) {
      g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
          "TXT pair '%s=...' is longer than %d bytes", key, TXT_ITEM_MAX);
      goto fail;
    }
    if (session != NULL && g_ascii_strcasecmp (key, ECHO_DISCOVERY_TXT_SESSION) == 0) {
      if (strcmp (value, session) != 0)
        g_warning ("TXT session=%s ignored: the session is announced as '%s'",
            value, session);
      continue;
    }
    l = avahi_string_list_add_pair (l, key, value);
  }

  /* avahi_string_list_add_pair() prepends; serialization reverses the list again, so
   * the wire order is the order above either way: keep the list as built. */
  return l;

fail:
  avahi_string_list_free (l);
  return NULL;
}

/* Later strings on the wire come first in an AvahiStringList (it is built by prepending),
 * and RFC 6763 says the first occurrence of a key counts: replace as we go. */
static GHashTable *
txt_to_table (AvahiStringList * txt)
{
  GHashTable *table = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  AvahiStringList *l;

  for (l = txt; l != NULL; l = avahi_string_list_get_next (l)) {
    char *key = NULL, *value = NULL;
    size_t size = 0;

    if (avahi_string_list_get_pair (l, &key, &value, &size) < 0)
      continue;
    if (key != NULL && *key != '\0') {
      g_hash_table_replace (table, g_ascii_strdown (key, -1),
          value != NULL ? g_strndup (value, size) : g_strdup (""));
    }
    avahi_free (key);
    avahi_free (value);
  }
  return table;
}

/* ---------------------------------------------------------------------------------- */
/* Publishing                                                                           */

struct _EchoDiscoveryPublisher
{
  AvahiThreadedPoll *poll;
  /* everything below is touched only with the poll's lock held */
  AvahiClient *client;          /* NULL until a reconnect succeeds */
  AvahiEntryGroup *group;       /* belongs to client */
  AvahiTimeout *reconnect;      /* armed while a reconnect is due */
  char *type;                   /* DNS-SD service type, e.g. ECHO_DISCOVERY_SERVICE_TYPE */
  gboolean is_session;          /* type is ECHO_DISCOVERY_SERVICE_TYPE: TXT gets "session" */
  char *session;                /* the instance name asked for */
  char *service_name;           /* session, or Avahi's alternative after a collision */
  guint16 port;
  AvahiStringList *txt;
};

static void publisher_register (EchoDiscoveryPublisher * p, AvahiClient * c);

static void
publisher_rename (EchoDiscoveryPublisher * p)
{
  char *alt = avahi_alternative_service_name (p->service_name);

  g_info ("service name '%s' is taken, announcing session '%s' as '%s'",
      p->service_name, p->session, alt);
  g_free (p->service_name);
  p->service_name = g_strdup (alt);
  avahi_free (alt);
}

static void
group_cb (AvahiEntryGroup * g, AvahiEntryGroupState state, void *userdata)
{
  EchoDiscoveryPublisher *p = userdata;

  switch (state) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
      g_debug ("session '%s' announced as '%s' on port %u", p->session,
          p->service_name, p->port);
      break;
    case AVAHI_ENTRY_GROUP_COLLISION:
      /* someone on the network announces the same instance name */
      publisher_rename (p);
      avahi_entry_group_reset (g);
      publisher_register (p, avahi_entry_group_get_client (g));
      break;
    case AVAHI_ENTRY_GROUP_FAILURE:
      g_warning ("announcing session '%s' failed: %s", p->session,
          avahi_strerror (avahi_client_errno (avahi_entry_group_get_client (g))));
      break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
      break;
  }
}

/* Adds the service to the (new or reset) entry group and commits it. @c is passed in
 * because it runs from inside avahi_client_new() before p->client is assigned. */
static void
publisher_register (EchoDiscoveryPublisher * p, AvahiClient * c)
{
  int ret = AVAHI_OK;
  int renames;

  if (p->group == NULL) {
    p->group = avahi_entry_group_new (c, group_cb, p);
    if (p->group == NULL) {
      g_warning ("cannot create an Avahi entry group for session '%s': %s",
          p->session, avahi_strerror (avahi_client_errno (c)));
      return;
    }
  }
  if (!avahi_entry_group_is_empty (p->group))
    return;

  for (renames = 0; renames <= MAX_LOCAL_RENAMES; renames++) {
    ret = avahi_entry_group_add_service_strlst (p->group, AVAHI_IF_UNSPEC,
        AVAHI_PROTO_UNSPEC, 0, p->service_name, p->type, NULL,
        NULL, p->port, p->txt);
    /* taken by another local client: the daemon says so at once */
    if (ret != AVAHI_ERR_COLLISION)
      break;
    publisher_rename (p);
  }
  if (ret >= 0)
    ret = avahi_entry_group_commit (p->group);
  if (ret < 0) {
    g_warning ("cannot announce session '%s': %s", p->session,
        avahi_strerror (ret));
  }
}

static void publisher_schedule_reconnect (EchoDiscoveryPublisher * p,
    unsigned delay_ms);

static void
client_cb (AvahiClient * c, AvahiClientState state, void *userdata)
{
  EchoDiscoveryPublisher *p = userdata;

  switch (state) {
    case AVAHI_CLIENT_S_RUNNING:
      publisher_register (p, c);
      break;
    case AVAHI_CLIENT_S_COLLISION:
    case AVAHI_CLIENT_S_REGISTERING:
      /* the host name changes: withdraw, and register again once running */
      if (p->group != NULL)
        avahi_entry_group_reset (p->group);
      break;
    case AVAHI_CLIENT_FAILURE:
      g_debug ("lost avahi-daemon (%s), announcing '%s' again once it is back",
          avahi_strerror (avahi_client_errno (c)), p->session);
      publisher_schedule_reconnect (p, 0);
      break;
    case AVAHI_CLIENT_CONNECTING:
      break;
  }
}

static void
reconnect_cb (AvahiTimeout * t, void *userdata)
{
  EchoDiscoveryPublisher *p = userdata;
  const AvahiPoll *api = avahi_threaded_poll_get (p->poll);
  int err = 0;

  /* the old client and its entry group are dead: drop them */
  if (p->client != NULL)
    avahi_client_free (p->client);
  p->client = NULL;
  p->group = NULL;

  p->client = avahi_client_new (api, AVAHI_CLIENT_NO_FAIL, client_cb, p, &err);
  if (p->client == NULL) {
    /* no system bus at all; client_cb may have created a group on the failed client */
    p->group = NULL;
    g_debug ("cannot reach the system bus (%s), retrying", avahi_strerror (err));
    publisher_schedule_reconnect (p, RECONNECT_INTERVAL_MS);
  }
}

static void
publisher_schedule_reconnect (EchoDiscoveryPublisher * p, unsigned delay_ms)
{
  const AvahiPoll *api = avahi_threaded_poll_get (p->poll);
  struct timeval tv;

  avahi_elapse_time (&tv, delay_ms, 0);
  if (p->reconnect == NULL)
    p->reconnect = api->timeout_new (api, &tv, reconnect_cb, p);
  else
    api->timeout_update (p->reconnect, &tv);
}

EchoDiscoveryPublisher *
echo_discovery_publish (const char *name, guint16 port, const char *const *txt,
    GError ** error)
{
  return echo_discovery_publish_service (ECHO_DISCOVERY_SERVICE_TYPE, name, port, txt,
      error);
}

EchoDiscoveryPublisher *
echo_discovery_publish_service (const char *type, const char *name, guint16 port,
    const char *const *txt, GError ** error)
{
  EchoDiscoveryPublisher *p;
  GError *txt_error = NULL;
  int err = 0;

  g_return_val_if_fail (type != NULL, NULL);
  g_return_val_if_fail (name != NULL, NULL);
  g_return_val_if_fail (port != 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!avahi_is_valid_service_type_strict (type)) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "'%s' is not a DNS-SD service type such as _name._tcp", type);
    return NULL;
  }
  if (*name == '\0' || strlen (name) > SERVICE_NAME_MAX
      || !g_utf8_validate (name, -1, NULL) || !avahi_is_valid_service_name (name)) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "'%s' cannot be announced: a session name is 1 to %d bytes of UTF-8",
        name, SERVICE_NAME_MAX);
    return NULL;
  }

  p = g_new0 (EchoDiscoveryPublisher, 1);
  p->type = g_strdup (type);
  p->is_session = strcmp (type, ECHO_DISCOVERY_SERVICE_TYPE) == 0;
  p->session = g_strdup (name);
  p->service_name = g_strdup (name);
  p->port = port;
  /* a service of another type may have no TXT pairs at all (an empty list is NULL) */
  p->txt = build_txt (p->is_session ? name : NULL, txt, &txt_error);
  if (txt_error != NULL) {
    g_propagate_error (error, txt_error);
    goto fail;
  }

  p->poll = avahi_threaded_poll_new ();
  if (p->poll == NULL) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "cannot create an Avahi event loop");
    goto fail;
  }

  /* The thread does not run yet: no locking needed. Registration starts from client_cb
   * inside this call when the daemon is already running. */
  p->client = avahi_client_new (avahi_threaded_poll_get (p->poll), 0, client_cb, p,
      &err);
  if (p->client == NULL) {
    p->group = NULL;
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE,
        "cannot announce Echo session '%s': avahi-daemon is not reachable (%s)",
        name, avahi_strerror (err));
    goto fail;
  }

  if (avahi_threaded_poll_start (p->poll) < 0) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "cannot start the Avahi event loop thread");
    goto fail;
  }
  return p;

fail:
  echo_discovery_publisher_free (p);
  return NULL;
}

void
echo_discovery_publisher_update_txt (EchoDiscoveryPublisher * p,
    const char *const *txt)
{
  GError *error = NULL;
  AvahiStringList *l;

  g_return_if_fail (p != NULL);

  l = build_txt (p->is_session ? p->session : NULL, txt, &error);
  if (error != NULL) {
    g_warning ("TXT record of session '%s' not updated: %s", p->session,
        error->message);
    g_error_free (error);
    return;
  }

  avahi_threaded_poll_lock (p->poll);
  avahi_string_list_free (p->txt);
  p->txt = l;
  if (p->group != NULL && !avahi_entry_group_is_empty (p->group)) {
    int ret = avahi_entry_group_update_service_txt_strlst (p->group,
        AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, 0, p->service_name,
        p->type, NULL, p->txt);

    if (ret < 0) {
      /* e.g. mid-rename: announce afresh with the new record */
      g_debug ("TXT update of '%s' refused (%s), registering again",
          p->service_name, avahi_strerror (ret));
      avahi_entry_group_reset (p->group);
      publisher_register (p, avahi_entry_group_get_client (p->group));
    }
  }
  /* otherwise the next registration uses p->txt */
  avahi_threaded_poll_unlock (p->poll);
}

void
echo_discovery_publisher_free (EchoDiscoveryPublisher * p)
{
  if (p == NULL)
    return;

  if (p->poll != NULL)
    avahi_threaded_poll_stop (p->poll);
  /* The thread is stopped (or never ran). Freeing the group first tells the daemon to
   * withdraw the service (goodbye packets) while the connection is still open. */
  if (p->group != NULL)
    avahi_entry_group_free (p->group);
  if (p->client != NULL)
    avahi_client_free (p->client);
  /* also frees the reconnect timeout */
  if (p->poll != NULL)
    avahi_threaded_poll_free (p->poll);
  if (p->txt != NULL)
    avahi_string_list_free (p->txt);
  g_free (p->service_name);
  g_free (p->session);
  g_free (p->type);
  g_free (p);
}

/* ---------------------------------------------------------------------------------- */
/* Resolving                                                                            */

void
echo_discovery_result_free (EchoDiscoveryResult * r)
{
  if (r == NULL)
    return;
  g_free (r->host);
  if (r->txt != NULL)
    g_hash_table_unref (r->txt);
  g_free (r->service_name);
  g_free (r);
}

typedef struct
{
  /* set once; read by every thread */
  char *session;
  AvahiThreadedPoll *poll;

  /* poll thread only (Avahi lock) */
  guint pending_v4;             /* IPv4 resolvers not yet answered */
  gboolean all_for_now;         /* the browser has reported its first complete list */

  /* shared with the caller: under lock */
  GMutex lock;
  GCond cond;
  gboolean done;
  gboolean cancelled;
  EchoDiscoveryResult *result;  /* an IPv4 match, final */
  EchoDiscoveryResult *candidate;       /* an IPv6 match, used if no IPv4 one comes */
  GError *error;
} Lookup;

/* Called with l->lock held. */
static void
lookup_maybe_settle_on_candidate (Lookup * l)
{
  if (l->candidate != NULL && l->all_for_now && l->pending_v4 == 0)
    l->done = TRUE;
}

static void
lookup_fail (Lookup * l, EchoDiscoveryError code, const char *message)
{
  g_mutex_lock (&l->lock);
  if (!l->done && l->error == NULL) {
    l->error = g_error_new_literal (ECHO_DISCOVERY_ERROR, code, message);
    l->done = TRUE;
    g_cond_broadcast (&l->cond);
  }
  g_mutex_unlock (&l->lock);
}

static gboolean
result_matches (const EchoDiscoveryResult * r, const char *session)
{
  const char *s = g_hash_table_lookup (r->txt, ECHO_DISCOVERY_TXT_SESSION);

  if (s != NULL)
    return strcmp (s, session) == 0;
  return strcmp (r->service_name, session) == 0;
}

static char *
format_host (const AvahiAddress * a, AvahiIfIndex iface)
{
  char buf[AVAHI_ADDRESS_STR_MAX];
  char ifname[IF_NAMESIZE];

  avahi_address_snprint (buf, sizeof (buf), a);
  /* an IPv6 link-local address is useless without its zone */
  if (a->proto == AVAHI_PROTO_INET6 && a->data.ipv6.address[0] == 0xfe
      && (a->data.ipv6.address[1] & 0xc0) == 0x80 && iface > 0
      && if_indextoname ((unsigned) iface, ifname) != NULL)
    return g_strdup_printf ("%s%%%s", buf, ifname);
  return g_strdup (buf);
}

static void
resolver_cb (AvahiServiceResolver * r, AvahiIfIndex iface, AvahiProtocol protocol,
    AvahiResolverEvent event, const char *name, const char *type,
    const char *domain, const char *host_name, const AvahiAddress * a,
    uint16_t port, AvahiStringList * txt, AvahiLookupResultFlags flags,
    void *userdata)
{
  Lookup *l = userdata;
  EchoDiscoveryResult *res = NULL;
  gboolean is_v4 = FALSE;

  if (protocol == AVAHI_PROTO_INET && l->pending_v4 > 0)
    l->pending_v4--;

  if (event == AVAHI_RESOLVER_FOUND && a != NULL) {
    is_v4 = a->proto == AVAHI_PROTO_INET;
    res = g_new0 (EchoDiscoveryResult, 1);
    res->host = format_host (a, iface);
    res->port = port;
    res->txt = txt_to_table (txt);
    res->service_name = g_strdup (name);
    g_debug ("resolved '%s' to %s port %u", name, res->host, port);
    if (!result_matches (res, l->session)) {
      echo_discovery_result_free (res);
      res = NULL;
    }
  } else {
    g_debug ("cannot resolve '%s': %s", name,
        avahi_strerror (avahi_client_errno (avahi_service_resolver_get_client
                (r))));
  }
  avahi_service_resolver_free (r);

  g_mutex_lock (&l->lock);
  if (!l->done && res != NULL) {
    if (is_v4) {
      l->result = res;
      l->done = TRUE;
    } else if (l->candidate == NULL) {
      l->candidate = res;
    } else {
      echo_discovery_result_free (res);
    }
  } else {
    echo_discovery_result_free (res);
  }
  if (!l->done)
    lookup_maybe_settle_on_candidate (l);
  if (l->done)
    g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
}

static void
browser_cb (AvahiServiceBrowser * b, AvahiIfIndex iface, AvahiProtocol protocol,
    AvahiBrowserEvent event, const char *name, const char *type,
    const char *domain, AvahiLookupResultFlags flags, void *userdata)
{
  Lookup *l = userdata;
  AvahiClient *c = avahi_service_browser_get_client (b);

  switch (event) {
    case AVAHI_BROWSER_NEW:
      /* Every instance is resolved: after a rename the instance name differs from the
       * session name, which only the TXT record tells. The address family follows the
       * browse protocol, so IPv4 and IPv6 come from separate items. */
      if (avahi_service_resolver_new (c, iface, protocol, name, type, domain,
              protocol, 0, resolver_cb, l) == NULL) {
        g_debug ("cannot resolve '%s': %s", name,
            avahi_strerror (avahi_client_errno (c)));
      } else if (protocol == AVAHI_PROTO_INET) {
        l->pending_v4++;
      }
      break;
    case AVAHI_BROWSER_ALL_FOR_NOW:
      l->all_for_now = TRUE;
      g_mutex_lock (&l->lock);
      if (!l->done) {
        lookup_maybe_settle_on_candidate (l);
        if (l->done)
          g_cond_broadcast (&l->cond);
      }
      g_mutex_unlock (&l->lock);
      break;
    case AVAHI_BROWSER_FAILURE:{
      char *msg = g_strdup_printf ("browsing for Echo sessions failed: %s",
          avahi_strerror (avahi_client_errno (c)));

      lookup_fail (l, ECHO_DISCOVERY_ERROR_FAILED, msg);
      g_free (msg);
      break;
    }
    case AVAHI_BROWSER_REMOVE:
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
      break;
  }
}

static void
lookup_client_cb (AvahiClient * c, AvahiClientState state, void *userdata)
{
  Lookup *l = userdata;

  if (state == AVAHI_CLIENT_FAILURE) {
    char *msg = g_strdup_printf ("lost avahi-daemon while looking for Echo "
        "session '%s': %s", l->session, avahi_strerror (avahi_client_errno (c)));

    lookup_fail (l, ECHO_DISCOVERY_ERROR_UNAVAILABLE, msg);
    g_free (msg);
  }
}

static void
lookup_cancelled_cb (GCancellable * cancellable, gpointer userdata)
{
  Lookup *l = userdata;

  g_mutex_lock (&l->lock);
  l->cancelled = TRUE;
  g_cond_broadcast (&l->cond);
  g_mutex_unlock (&l->lock);
}

EchoDiscoveryResult *
echo_discovery_resolve (const char *session, guint timeout_ms,
    GCancellable * cancellable, GError ** error)
{
  Lookup l = { 0, };
  AvahiClient *client = NULL;
  EchoDiscoveryResult *res = NULL;
  gulong cancel_id = 0;
  gint64 deadline;
  int err = 0;

  g_return_val_if_fail (session != NULL, NULL);
  g_return_val_if_fail (cancellable == NULL || G_IS_CANCELLABLE (cancellable), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  deadline = g_get_monotonic_time () + (gint64) timeout_ms * G_TIME_SPAN_MILLISECOND;

  if (g_cancellable_is_cancelled (cancellable)) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_CANCELLED,
        "looking for Echo session '%s' was cancelled", session);
    return NULL;
  }

  g_mutex_init (&l.lock);
  g_cond_init (&l.cond);
  l.session = g_strdup (session);
  l.poll = avahi_threaded_poll_new ();
  if (l.poll == NULL) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "cannot create an Avahi event loop");
    goto out;
  }

  /* the thread does not run yet: no locking needed */
  client = avahi_client_new (avahi_threaded_poll_get (l.poll), 0, lookup_client_cb,
      &l, &err);
  if (client == NULL) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_UNAVAILABLE,
        "cannot look for Echo session '%s': avahi-daemon is not reachable (%s)",
        session, avahi_strerror (err));
    goto out;
  }
  if (avahi_service_browser_new (client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC,
          ECHO_DISCOVERY_SERVICE_TYPE, NULL, 0, browser_cb, &l) == NULL) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "cannot browse for Echo sessions: %s",
        avahi_strerror (avahi_client_errno (client)));
    goto out;
  }
  if (avahi_threaded_poll_start (l.poll) < 0) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_FAILED,
        "cannot start the Avahi event loop thread");
    goto out;
  }

  /* runs lookup_cancelled_cb at once if already cancelled: l.lock is not held here */
  if (cancellable != NULL)
    cancel_id = g_cancellable_connect (cancellable,
        G_CALLBACK (lookup_cancelled_cb), &l, NULL);

  g_mutex_lock (&l.lock);
  while (!l.done && !l.cancelled) {
    if (!g_cond_wait_until (&l.cond, &l.lock, deadline))
      break;
  }
  if (l.result != NULL) {
    res = g_steal_pointer (&l.result);
  } else if (l.error != NULL) {
    g_propagate_error (error, g_steal_pointer (&l.error));
  } else if (l.cancelled) {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_CANCELLED,
        "looking for Echo session '%s' was cancelled", session);
  } else if (l.candidate != NULL) {
    /* only an IPv6 address turned up */
    res = g_steal_pointer (&l.candidate);
  } else {
    g_set_error (error, ECHO_DISCOVERY_ERROR, ECHO_DISCOVERY_ERROR_TIMEOUT,
        "no Echo session '%s' found on the network within %u ms", session,
        timeout_ms);
  }
  g_mutex_unlock (&l.lock);

out:
  /* waits for a running lookup_cancelled_cb; l.lock is not held */
  if (cancel_id != 0)
    g_cancellable_disconnect (cancellable, cancel_id);
  if (l.poll != NULL)
    avahi_threaded_poll_stop (l.poll);
  /* frees the browser and every resolver still running */
  if (client != NULL)
    avahi_client_free (client);
  if (l.poll != NULL)
    avahi_threaded_poll_free (l.poll);
  echo_discovery_result_free (l.result);
  echo_discovery_result_free (l.candidate);
  g_clear_error (&l.error);
  g_free (l.session);
  g_cond_clear (&l.cond);
  g_mutex_clear (&l.lock);
  return res;
}
