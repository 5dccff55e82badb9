/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * music-sync-bench.c: issue 5's measurement of control-level sync for tracks the clients
 * play in their own players ("goal: within 20 ms on a LAN for clients that follow the
 * protocol", docs/music.md, "The timeline").
 *
 * Load mode (the default) drives a running echod:
 *   setup     resolves a YouTube URL (echod's oEmbed base points at a local stand-in), starts
 *             a session as u0000 (its creator, a DJ), adds members u0001.. (PUT
 *             .../members/{userId}, the host application's call) and connects one
 *             WebSocket per member (libsoup's client, the host token plus X-Echo-User) that
 *             sends music:join_session; then queues the track a few times: the first add
 *             starts it, start-lead-ms ahead;
 *   clients   each has its own local clock: CLOCK_REALTIME + an offset (uniform
 *             +-offset-s) + a drift (uniform +-drift-ppm, from the start of the run), and
 *             speaks only in it (t0 and t3 are local readings), as a real client would. It
 *             does a music:time exchange 8 times 100 ms apart, then every second, and keeps
 *             the timeline (state, startedAt, offsetMs) of the last music:session_state,
 *             music:now_playing or music:control_ack. Heartbeats every 5 s, with
 *             positionMs and clientTime, as docs/music.md asks;
 *   network   a userspace stand-in for a LAN (no tc netem here): every message in each
 *             direction is held inside this process for delay-ms + uniform(0, jitter-ms)
 *             before it is sent (client to server) or handled (server to client, t3 read at
 *             the end of the hold), in order per client and direction (a hold never ends
 *             before the previous one's). Holds are timed with a timerfd; the holds as
 *             achieved are printed;
 *   controls  every --control-interval s, as the creator over REST: pause, play, seek,
 *             skip, in turn, so the clients must follow state changes;
 *   samples   at random instants (Poisson, --samples-per-s per client) every playing
 *             client's estimate of the session position is compared with the true one, from
 *             the real CLOCK_REALTIME (echod's clock: the same machine) and the same
 *             startedAt/offsetMs the client holds: error = estimate - truth. The spread is
 *             max - min of all playing clients' estimates at that instant. Samples within
 *             --exclude-ms after a control was sent are reported apart (the clients are
 *             then changing state), not in the main figures.
 * Three strategies are computed side by side in every client, from the same messages:
 *   min-rtt    the protocol: the exchange with the smallest round trip of the last
 *              --window (8);
 *   last       the same exchanges, but the last one only;
 *   naive      no exchange: "now" is the serverTime of the last event received, plus the
 *              local time elapsed since it arrived (no round-trip compensation).
 *
 * Server mode (--serve-oembed): a minimal oEmbed stand-in (GET /oembed) for echod's
 * resolver; prints "music-sync-bench: listening on http://127.0.0.1:PORT" first.
 *
 * bench/run-music-sync-bench starts echod and both modes. Exit status: 0 when the run
 * completed (the figures are the result, never a pass or fail), 1 when setup failed, 2 for
 * bad options.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <glib.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <libsoup/soup.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define INITIAL_EXCHANGES 8
#define INITIAL_EXCHANGE_MS 100
#define EXCHANGE_MS 1000
#define HEARTBEAT_MS 5000
#define MAX_WINDOW 64

static int opt_port = 0;
static char *opt_token = NULL;
static int opt_clients = 50;
static double opt_duration = 20;
static double opt_delay_ms = 0.5;
static double opt_jitter_ms = 2.0;
static double opt_offset_s = 10;
static double opt_drift_ppm = 100;
static double opt_samples_per_s = 20;
static int opt_window = 8;
static double opt_control_interval = 3;
static double opt_exclude_ms = 1000;
static int opt_seed = 1;
static gboolean opt_serve_oembed = FALSE;

static GOptionEntry entries[] = {
  {"port", 'p', 0, G_OPTION_ARG_INT, &opt_port,
      "echod's port on 127.0.0.1 (--serve-oembed: the port to listen on, 0 any)", "PORT"},
  {"token", 0, 0, G_OPTION_ARG_STRING, &opt_token,
      "The host application's bearer token", "TOKEN"},
  {"clients", 'n', 0, G_OPTION_ARG_INT, &opt_clients, "WebSocket clients (default 50)", "N"},
  {"duration", 'd', 0, G_OPTION_ARG_DOUBLE, &opt_duration,
      "Seconds measured (default 20)", "S"},
  {"delay-ms", 0, 0, G_OPTION_ARG_DOUBLE, &opt_delay_ms,
      "Fixed one-way delay added to every message, each direction (default 0.5)", "MS"},
  {"jitter-ms", 0, 0, G_OPTION_ARG_DOUBLE, &opt_jitter_ms,
      "Plus uniform(0, J) per message (default 2)", "MS"},
  {"offset-s", 0, 0, G_OPTION_ARG_DOUBLE, &opt_offset_s,
      "Client clock offsets uniform in +-S (default 10)", "S"},
  {"drift-ppm", 0, 0, G_OPTION_ARG_DOUBLE, &opt_drift_ppm,
      "Client clock drifts uniform in +-PPM (default 100)", "PPM"},
  {"samples-per-s", 0, 0, G_OPTION_ARG_DOUBLE, &opt_samples_per_s,
      "Sample instants per second (every client sampled at each; default 20)", "R"},
  {"window", 0, 0, G_OPTION_ARG_INT, &opt_window,
      "min-rtt: the smallest round trip among the last N exchanges (default 8)", "N"},
  {"control-interval", 0, 0, G_OPTION_ARG_DOUBLE, &opt_control_interval,
      "Seconds between controls (pause, play, seek, skip; default 3; 0: none)", "S"},
  {"exclude-ms", 0, 0, G_OPTION_ARG_DOUBLE, &opt_exclude_ms,
      "Samples this long after a control are reported apart (default 1000)", "MS"},
  {"seed", 0, 0, G_OPTION_ARG_INT, &opt_seed, "Random seed (default 1)", "N"},
  {"serve-oembed", 0, 0, G_OPTION_ARG_NONE, &opt_serve_oembed,
      "Serve the oEmbed stand-in for echod's YouTube resolver instead", NULL},
  {NULL}
};

/* ---- strategies and figures ------------------------------------------------------------ */

typedef enum
{
  STRATEGY_MIN_RTT,
  STRATEGY_LAST,
  STRATEGY_NAIVE,
  N_STRATEGIES
} Strategy;

static const char *const strategy_names[N_STRATEGIES] = { "min-rtt", "last", "naive" };
static const char *const strategy_notes[N_STRATEGIES] = {
  "protocol: min round trip of the last N exchanges",
  "exchanges, but the last one only",
  "serverTime of the last event as now, no exchange",
};

typedef struct
{
  GArray *error;                /* |estimate - truth| per client sample, ms */
  GArray *spread;               /* max - min estimate over clients per instant, ms */
} Figures;

/* [0]: steady (outside the windows after controls), [1]: after controls */
static Figures figures[2][N_STRATEGIES];

static int
compare_double (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of a sorted array; NAN when empty. */
static double
quantile (GArray *sorted, double q)
{
  guint i;

  if (sorted->len == 0)
    return NAN;
  i = (guint) ceil (q * sorted->len);
  i = CLAMP (i, 1, sorted->len) - 1;
  return g_array_index (sorted, double, i);
}

/* ---- clocks ---------------------------------------------------------------------------- */

/* The true time, ms: echod reads the same clock (g_get_real_time) on this machine. */
static double
real_ms (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_REALTIME, &ts);
  return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static double run_epoch_real;   /* drifts count from here */

/* ---- clients --------------------------------------------------------------------------- */

typedef struct
{
  double offset;                /* server - local, ms */
  double rtt;
} Exchange;

typedef struct
{
  guint index;
  char *user;
  SoupWebsocketConnection *ws;
  double clock_offset;          /* local - true at the start of the run, ms */
  double drift;                 /* local rate - 1 */
  gboolean joined;
  gboolean closed;
  /* the timeline as last received */
  gboolean has_timeline;
  gboolean playing;
  double started_at, offset_ms;
  /* the exchanges, newest at (n_exchanges - 1) % MAX_WINDOW */
  Exchange ring[MAX_WINDOW];
  guint n_exchanges;
  guint exchanges_sent;
  guint exchange_source;
  guint heartbeat_source;
  /* naive: the last serverTime and the local time it arrived */
  gboolean has_server_time;
  double event_server_time, event_local;
  /* the network stand-in: when the last hold of each direction ends, monotonic us */
  gint64 in_last_due, out_last_due;
} Client;

static Client **clients;
static guint n_joined, n_closed;
static GRand *rng;
static SoupSession *http_session;
static char *base_url;
static char *session_id;
static char *track_id;
static guint sync_commands, server_errors, exchanges_done;
static GArray *rtts;            /* every exchange's round trip, ms */
static GArray *holds[2];        /* achieved holds: [0] to the server, [1] to the clients, ms */

static double
local_ms_at (const Client *c, double real)
{
  return real + c->clock_offset + c->drift * (real - run_epoch_real);
}

/* ---- the network stand-in: holds -------------------------------------------------------- */

typedef struct
{
  gint64 due;                   /* monotonic us */
  gint64 queued;                /* monotonic us, when it entered the hold */
  guint64 seq;
  Client *client;
  gboolean to_server;
  char *text;
} Held;

static GSequence *held;         /* by (due, seq) */
static guint64 held_seq;
static int hold_timer_fd = -1;
static gint64 hold_armed = -1;

static void
held_free (gpointer data)
{
  Held *h = data;

  g_free (h->text);
  g_free (h);
}

static int
held_compare (gconstpointer a, gconstpointer b, gpointer data)
{
  const Held *x = a, *y = b;

  if (x->due != y->due)
    return x->due < y->due ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
hold_arm (void)
{
  GSequenceIter *first = g_sequence_get_begin_iter (held);
  struct itimerspec spec = { {0, 0}, {0, 0} };
  gint64 due;

  if (g_sequence_iter_is_end (first)) {
    hold_armed = -1;
    return;
  }
  due = ((Held *) g_sequence_get (first))->due;
  if (due == hold_armed)
    return;
  hold_armed = due;
  /* g_get_monotonic_time () is CLOCK_MONOTONIC on Linux; 0 would disarm */
  spec.it_value.tv_sec = due / G_USEC_PER_SEC;
  spec.it_value.tv_nsec = (due % G_USEC_PER_SEC) * 1000 + 1;
  if (timerfd_settime (hold_timer_fd, TFD_TIMER_ABSTIME, &spec, NULL) != 0)
    g_error ("music-sync-bench: timerfd_settime: %s", g_strerror (errno));
}

/* Holds @text for the stand-in's delay, in order behind the client's earlier messages in
 * the same direction. */
static void
hold (Client *c, gboolean to_server, char *text)
{
  gint64 now = g_get_monotonic_time ();
  gint64 *last = to_server ? &c->out_last_due : &c->in_last_due;
  double delay_ms = opt_delay_ms + g_rand_double_range (rng, 0, MAX (opt_jitter_ms, 1e-9));
  Held *h = g_new0 (Held, 1);

  h->due = MAX (*last, now + (gint64) (delay_ms * 1000));
  *last = h->due;
  h->queued = now;
  h->seq = held_seq++;
  h->client = c;
  h->to_server = to_server;
  h->text = text;
  g_sequence_insert_sorted (held, h, held_compare, NULL);
  hold_arm ();
}

static void client_handle (Client *c, const char *text);

static gboolean
on_hold_timer (gint fd, GIOCondition cond, gpointer data)
{
  guint64 expirations;

  if (read (fd, &expirations, sizeof expirations) < 0 && errno != EAGAIN)
    g_error ("music-sync-bench: timerfd read: %s", g_strerror (errno));
  hold_armed = -1;
  for (;;) {
    GSequenceIter *first = g_sequence_get_begin_iter (held);
    gint64 now = g_get_monotonic_time ();
    Held *h;
    double achieved;

    if (g_sequence_iter_is_end (first))
      break;
    h = g_sequence_get (first);
    if (h->due > now)
      break;
    g_sequence_remove (first);  /* not freed: the sequence has no free function */
    achieved = (now - h->queued) / 1000.0;
    g_array_append_val (holds[h->to_server ? 0 : 1], achieved);
    if (h->to_server) {
      if (h->client->ws != NULL && !h->client->closed &&
          soup_websocket_connection_get_state (h->client->ws) == SOUP_WEBSOCKET_STATE_OPEN)
        soup_websocket_connection_send_text (h->client->ws, h->text);
    } else {
      client_handle (h->client, h->text);
    }
    held_free (h);
  }
  hold_arm ();
  return G_SOURCE_CONTINUE;
}

/* ---- the client's protocol --------------------------------------------------------------- */

static gboolean
number (JsonObject *obj, const char *name, double *out)
{
  JsonNode *node = json_object_get_member (obj, name);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      (json_node_get_value_type (node) != G_TYPE_INT64 &&
          json_node_get_value_type (node) != G_TYPE_DOUBLE))
    return FALSE;
  *out = json_node_get_double (node);
  return TRUE;
}

static void
client_send (Client *c, char *text)
{
  hold (c, TRUE, text);
}

static void
send_exchange (Client *c)
{
  char t0[G_ASCII_DTOSTR_BUF_SIZE];

  g_ascii_formatd (t0, sizeof t0, "%.4f", local_ms_at (c, real_ms ()));
  client_send (c, g_strdup_printf ("{\"type\":\"music:time\",\"t0\":%s}", t0));
  c->exchanges_sent++;
}

static gboolean
on_exchange_timer (gpointer data)
{
  Client *c = data;

  send_exchange (c);
  if (c->exchanges_sent == INITIAL_EXCHANGES) {
    c->exchange_source = g_timeout_add (EXCHANGE_MS, on_exchange_timer, c);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

static gboolean
on_exchange_start (gpointer data)
{
  Client *c = data;

  send_exchange (c);
  c->exchange_source = g_timeout_add (INITIAL_EXCHANGE_MS, on_exchange_timer, c);
  return G_SOURCE_REMOVE;
}

/* The client's estimate of the server's clock now (local reading @local), or FALSE when
 * the strategy has nothing to go on yet. */
static gboolean
estimate_server_now (const Client *c, Strategy s, double local, double *out)
{
  guint i, n;
  const Exchange *best = NULL;

  switch (s) {
    case STRATEGY_NAIVE:
      if (!c->has_server_time)
        return FALSE;
      *out = c->event_server_time + (local - c->event_local);
      return TRUE;
    case STRATEGY_LAST:
      if (c->n_exchanges == 0)
        return FALSE;
      *out = local + c->ring[(c->n_exchanges - 1) % MAX_WINDOW].offset;
      return TRUE;
    case STRATEGY_MIN_RTT:
    default:
      if (c->n_exchanges == 0)
        return FALSE;
      n = MIN (c->n_exchanges, (guint) opt_window);
      for (i = 0; i < n; i++) {
        const Exchange *e = &c->ring[(c->n_exchanges - 1 - i) % MAX_WINDOW];

        if (best == NULL || e->rtt < best->rtt)
          best = e;
      }
      *out = local + best->offset;
      return TRUE;
  }
}

static gboolean
on_heartbeat (gpointer data)
{
  Client *c = data;
  double server_now, position;
  char pos[G_ASCII_DTOSTR_BUF_SIZE], at[G_ASCII_DTOSTR_BUF_SIZE];

  if (!c->has_timeline || !c->playing ||
      !estimate_server_now (c, STRATEGY_MIN_RTT, local_ms_at (c, real_ms ()), &server_now))
    return G_SOURCE_CONTINUE;
  position = c->offset_ms + (server_now - c->started_at);
  if (position < 0)
    return G_SOURCE_CONTINUE;   /* still in the start lead */
  g_ascii_formatd (pos, sizeof pos, "%.3f", position);
  g_ascii_formatd (at, sizeof at, "%.3f", server_now);
  client_send (c, g_strdup_printf ("{\"type\":\"music:heartbeat\",\"sessionId\":\"%s\","
          "\"clientOffset\":%s,\"drift\":0,\"positionMs\":%s,\"clientTime\":%s}", session_id,
          pos, pos, at));
  return G_SOURCE_CONTINUE;
}

/* control_ack propagation: session version -> when the last client handled it */
typedef struct
{
  guint clients;
  gint64 last;                  /* monotonic us */
} Propagation;

static GHashTable *propagation;

/* ---- controls ---------------------------------------------------------------------------- */

typedef struct
{
  const char *action;
  gint64 value;
  gint64 sent;                  /* monotonic us */
  gint64 replied;
  guint status;
  gint64 version;               /* the session version the reply names, -1 none */
} Control;

static GPtrArray *controls;
static guint seek_count;

/* A sync_command tells that echod judged one of this client's heartbeats out of step: say
 * how close to a control it came (a heartbeat measured on the timeline before a control and
 * judged after it looks like drift). */
static void
report_sync_command (const Client *c, const char *text)
{
  gint64 now = g_get_monotonic_time ();
  const Control *last = controls->len > 0 ?
      g_ptr_array_index (controls, controls->len - 1) : NULL;

  if (last != NULL)
    g_printerr ("music-sync-bench: u%04u got a sync_command %.1f ms after the %s control "
        "was sent: %s\n", c->index, (now - last->sent) / 1000.0, last->action, text);
  else
    g_printerr ("music-sync-bench: u%04u got a sync_command: %s\n", c->index, text);
}

static void
client_handle (Client *c, const char *text)
{
  double local = local_ms_at (c, real_ms ());
  g_autoptr (JsonParser) parser = json_parser_new_immutable ();
  JsonObject *obj;
  const char *type;
  double t0, t1, t2, value;

  if (!json_parser_load_from_data (parser, text, -1, NULL) ||
      !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser)))
    return;
  obj = json_node_get_object (json_parser_get_root (parser));
  type = json_object_get_string_member_with_default (obj, "type", "");
  if (strcmp (type, "music:time") == 0) {
    Exchange *e;

    if (!number (obj, "t0", &t0) || !number (obj, "t1", &t1) || !number (obj, "t2", &t2))
      return;
    /* t3 = local: read when the hold (the network) delivered it */
    e = &c->ring[c->n_exchanges % MAX_WINDOW];
    e->offset = ((t1 - t0) + (t2 - local)) / 2;
    e->rtt = (local - t0) - (t2 - t1);
    c->n_exchanges++;
    exchanges_done++;
    g_array_append_val (rtts, e->rtt);
    return;
  }
  if (number (obj, "serverTime", &value)) {
    c->has_server_time = TRUE;
    c->event_server_time = value;
    c->event_local = local;
  }
  if (strcmp (type, "music:session_state") == 0 || strcmp (type, "music:now_playing") == 0 ||
      strcmp (type, "music:control_ack") == 0) {
    const char *state = json_object_get_string_member_with_default (obj, "state", "");

    c->has_timeline = TRUE;
    c->playing = strcmp (state, "PLAYING") == 0 && number (obj, "startedAt", &c->started_at);
    if (!number (obj, "offsetMs", &c->offset_ms))
      c->offset_ms = 0;
  }
  if (strcmp (type, "music:session_state") == 0 && !c->joined) {
    c->joined = TRUE;
    n_joined++;
    /* real clients are not in step: a random phase within the first interval */
    g_timeout_add ((guint) g_rand_int_range (rng, 1, INITIAL_EXCHANGE_MS + 1),
        on_exchange_start, c);
    c->heartbeat_source = g_timeout_add (HEARTBEAT_MS +
        (guint) g_rand_int_range (rng, 0, 1000), on_heartbeat, c);
  } else if (strcmp (type, "music:control_ack") == 0 && number (obj, "version", &value)) {
    Propagation *p = g_hash_table_lookup (propagation, GINT_TO_POINTER ((gint) value));

    if (p == NULL) {
      p = g_new0 (Propagation, 1);
      g_hash_table_insert (propagation, GINT_TO_POINTER ((gint) value), p);
    }
    p->clients++;
    p->last = g_get_monotonic_time ();
  } else if (strcmp (type, "music:sync_command") == 0) {
    if (sync_commands++ < 5)
      report_sync_command (c, text);
  } else if (strcmp (type, "music:error") == 0) {
    if (server_errors++ == 0)
      g_printerr ("music-sync-bench: u%04u got %s\n", c->index, text);
  }
}

static void
on_ws_message (SoupWebsocketConnection *ws, gint kind, GBytes *message, gpointer data)
{
  gsize len;
  const char *bytes = g_bytes_get_data (message, &len);

  if (kind != SOUP_WEBSOCKET_DATA_TEXT)
    return;
  hold (data, FALSE, g_strndup (bytes, len));
}

static void
on_ws_closed (SoupWebsocketConnection *ws, gpointer data)
{
  Client *c = data;

  if (!c->closed) {
    c->closed = TRUE;
    n_closed++;
  }
}

/* ---- HTTP -------------------------------------------------------------------------------- */

static SoupMessage *
new_request (const char *method, const char *path, const char *user, const char *body)
{
  g_autofree char *url = g_strconcat (base_url, path, NULL);
  g_autofree char *auth = g_strdup_printf ("Bearer %s", opt_token);
  SoupMessage *msg = soup_message_new (method, url);
  SoupMessageHeaders *headers = soup_message_get_request_headers (msg);

  soup_message_headers_replace (headers, "Authorization", auth);
  if (user != NULL)
    soup_message_headers_replace (headers, "X-Echo-User", user);
  if (body != NULL) {
    g_autoptr (GBytes) bytes = g_bytes_new (body, strlen (body));

    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  }
  return msg;
}

typedef struct
{
  gboolean done;
  GBytes *body;
  GError *error;
} Call;

static void
on_call_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Call *call = data;

  call->body = soup_session_send_and_read_finish (SOUP_SESSION (source), result,
      &call->error);
  call->done = TRUE;
}

/* A setup call: the loop keeps running (the clients are served) until its reply. Exits
 * when the status is not 2xx. */
static JsonNode *
setup_call (const char *method, const char *path, const char *user, const char *body)
{
  g_autoptr (SoupMessage) msg = new_request (method, path, user, body);
  Call call = { FALSE, NULL, NULL };
  g_autoptr (JsonParser) parser = json_parser_new ();
  guint status;
  gsize len = 0;
  const char *text;

  soup_session_send_and_read_async (http_session, msg, G_PRIORITY_DEFAULT, NULL,
      on_call_done, &call);
  while (!call.done)
    g_main_context_iteration (NULL, TRUE);
  status = soup_message_get_status (msg);
  text = call.body != NULL ? g_bytes_get_data (call.body, &len) : "";
  if (call.error != NULL || status / 100 != 2 ||
      !json_parser_load_from_data (parser, text, (gssize) len, NULL)) {
    g_printerr ("music-sync-bench: %s %s: %s %u %.*s\n", method, path,
        call.error != NULL ? call.error->message : "HTTP", status, (int) MIN (len, 500),
        text);
    exit (1);
  }
  g_bytes_unref (call.body);
  return json_node_ref (json_parser_get_root (parser));
}

/* ---- controls: sending ------------------------------------------------------------------- */

static void
on_control_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Control *ctl = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source),
      result, &error);
  SoupMessage *msg = soup_session_get_async_result_message (SOUP_SESSION (source), result);
  g_autoptr (JsonParser) parser = json_parser_new ();
  gsize len = 0;
  const char *text = body != NULL ? g_bytes_get_data (body, &len) : "";

  ctl->replied = g_get_monotonic_time ();
  ctl->status = msg != NULL ? soup_message_get_status (msg) : 0;
  if (ctl->status == 200 && json_parser_load_from_data (parser, text, (gssize) len, NULL) &&
      JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
    JsonObject *session = json_object_get_object_member (json_node_get_object
        (json_parser_get_root (parser)), "session");

    if (session != NULL)
      ctl->version = json_object_get_int_member_with_default (session, "version", -1);
  } else {
    g_printerr ("music-sync-bench: control %s: %s %u %.*s\n", ctl->action,
        error != NULL ? error->message : "HTTP", ctl->status, (int) MIN (len, 300), text);
  }
}

static gboolean
send_control (void)
{
  static const char *const cycle[] = { "pause", "play", "seek", "skip" };
  Control *ctl = g_new0 (Control, 1);
  g_autofree char *path = g_strdup_printf ("/api/music/session/%s/control", session_id);
  g_autofree char *body = NULL;
  g_autoptr (SoupMessage) msg = NULL;

  ctl->action = cycle[controls->len % G_N_ELEMENTS (cycle)];
  ctl->version = -1;
  if (strcmp (ctl->action, "seek") == 0) {
    ctl->value = 60000 + 15000 * (gint64) seek_count++;
    body = g_strdup_printf ("{\"action\":\"seek\",\"value\":%" G_GINT64_FORMAT "}",
        ctl->value);
  } else {
    body = g_strdup_printf ("{\"action\":\"%s\"}", ctl->action);
  }
  msg = new_request ("POST", path, "u0000", body);
  ctl->sent = g_get_monotonic_time ();
  g_ptr_array_add (controls, ctl);
  soup_session_send_and_read_async (http_session, msg, G_PRIORITY_DEFAULT, NULL,
      on_control_done, ctl);
  return G_SOURCE_CONTINUE;
}

static gint64 measure_start, measure_end;       /* monotonic us */

static gboolean
on_control_timer (gpointer data)
{
  if (g_get_monotonic_time () >= measure_end)
    return G_SOURCE_REMOVE;
  return send_control ();
}

static gboolean
on_first_control (gpointer data)
{
  send_control ();
  g_timeout_add ((guint) (opt_control_interval * 1000), on_control_timer, NULL);
  return G_SOURCE_REMOVE;
}

/* ---- sampling ---------------------------------------------------------------------------- */

static guint sample_instants[2];
static guint not_following;     /* samples of a client without a timeline or estimate */

static gboolean
after_control (gint64 now)
{
  guint i;

  for (i = 0; i < controls->len; i++) {
    const Control *ctl = g_ptr_array_index (controls, i);

    if (now >= ctl->sent && now < ctl->sent + (gint64) (opt_exclude_ms * 1000))
      return TRUE;
  }
  return FALSE;
}

static void
sample (void)
{
  double real = real_ms ();
  gint64 now = g_get_monotonic_time ();
  int part = after_control (now) ? 1 : 0;
  Strategy s;
  guint i;

  sample_instants[part]++;
  for (s = 0; s < N_STRATEGIES; s++) {
    double lo = INFINITY, hi = -INFINITY;
    guint playing = 0;

    for (i = 0; i < (guint) opt_clients; i++) {
      const Client *c = clients[i];
      double server_now, estimate, truth, err;

      if (!c->joined || c->closed || !c->has_timeline || !c->playing)
        continue;
      if (!estimate_server_now (c, s, local_ms_at (c, real), &server_now)) {
        if (s == STRATEGY_MIN_RTT)
          not_following++;
        continue;
      }
      estimate = c->offset_ms + (server_now - c->started_at);
      truth = c->offset_ms + (real - c->started_at);
      err = fabs (estimate - truth);
      g_array_append_val (figures[part][s].error, err);
      lo = MIN (lo, estimate);
      hi = MAX (hi, estimate);
      playing++;
    }
    if (playing >= 2) {
      double spread = hi - lo;

      g_array_append_val (figures[part][s].spread, spread);
    }
  }
}

static guint sample_source;

static gboolean
on_sample_timer (gpointer data)
{
  gint64 now = g_get_monotonic_time ();
  double wait_ms;

  sample_source = 0;
  if (now >= measure_start && now < measure_end)
    sample ();
  /* Poisson instants: exponential gaps */
  wait_ms = -log (1.0 - g_rand_double (rng)) * 1000.0 / opt_samples_per_s;
  sample_source = g_timeout_add ((guint) CLAMP (wait_ms, 1, 10000), on_sample_timer, NULL);
  return G_SOURCE_REMOVE;
}

/* ---- setup -------------------------------------------------------------------------------- */

static void
on_ws_connected (GObject *source, GAsyncResult *result, gpointer data)
{
  Client *c = data;
  g_autoptr (GError) error = NULL;
  g_autofree char *join = NULL;

  c->ws = soup_session_websocket_connect_finish (SOUP_SESSION (source), result, &error);
  if (c->ws == NULL) {
    g_printerr ("music-sync-bench: u%04u: WebSocket: %s\n", c->index, error->message);
    c->closed = TRUE;
    n_closed++;
    return;
  }
  soup_websocket_connection_set_max_incoming_payload_size (c->ws, 16 * 1024 * 1024);
  g_signal_connect (c->ws, "message", G_CALLBACK (on_ws_message), c);
  g_signal_connect (c->ws, "closed", G_CALLBACK (on_ws_closed), c);
  join = g_strdup_printf ("{\"type\":\"music:join_session\",\"sessionId\":\"%s\"}",
      session_id);
  client_send (c, g_steal_pointer (&join));
}

static void
setup (void)
{
  g_autoptr (JsonNode) resolved = NULL, started = NULL;
  JsonObject *obj;
  gint64 deadline;
  guint i;

  resolved = setup_call ("POST", "/api/music/resolve", NULL,
      "{\"url\":\"https://www.youtube.com/watch?v=syncbench01\"}");
  obj = json_object_get_object_member (json_node_get_object (resolved), "track");
  if (obj == NULL || !json_object_has_member (obj, "id")) {
    g_printerr ("music-sync-bench: resolve gave no track\n");
    exit (1);
  }
  track_id = g_strdup (json_object_get_string_member (obj, "id"));
  started = setup_call ("POST", "/api/music/session/start", "u0000",
      "{\"serverId\":\"syncbench\",\"voiceChannelId\":\"syncbench-voice\"}");
  session_id = g_strdup (json_object_get_string_member (json_object_get_object_member
          (json_node_get_object (started), "session"), "id"));
  for (i = 1; i < (guint) opt_clients; i++) {
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s/members/u%04u",
        session_id, i);
    json_node_unref (setup_call ("PUT", path, NULL, "{}"));
  }
  for (i = 0; i < (guint) opt_clients; i++) {
    g_autofree char *url = g_strdup_printf ("%s/api/music/ws", base_url);
    g_autofree char *auth = g_strdup_printf ("Bearer %s", opt_token);
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", url);

    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
        auth);
    soup_message_headers_replace (soup_message_get_request_headers (msg), "X-Echo-User",
        clients[i]->user);
    soup_session_websocket_connect_async (http_session, msg, NULL, NULL, G_PRIORITY_DEFAULT,
        NULL, on_ws_connected, clients[i]);
  }
  deadline = g_get_monotonic_time () + 60 * G_USEC_PER_SEC;
  while (n_joined + n_closed < (guint) opt_clients && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (n_joined < (guint) opt_clients)
    g_printerr ("music-sync-bench: only %u of %d clients joined\n", n_joined, opt_clients);
  if (n_joined == 0)
    exit (1);
}

/* ---- report ------------------------------------------------------------------------------- */

static void
print_figures (const char *label, int part, Strategy s)
{
  Figures *f = &figures[part][s];

  g_array_sort (f->error, compare_double);
  g_array_sort (f->spread, compare_double);
  g_print ("music-sync-bench: part=%s strategy=%s error_p50_ms=%.3f error_p99_ms=%.3f "
      "error_max_ms=%.3f spread_p50_ms=%.3f spread_p99_ms=%.3f spread_max_ms=%.3f "
      "samples=%u instants=%u   # %s\n", label, strategy_names[s], quantile (f->error, 0.5),
      quantile (f->error, 0.99), quantile (f->error, 1), quantile (f->spread, 0.5),
      quantile (f->spread, 0.99), quantile (f->spread, 1), f->error->len, f->spread->len,
      strategy_notes[s]);
}

static void
report (void)
{
  GArray *prop = g_array_new (FALSE, FALSE, sizeof (double));
  GString *actions = g_string_new (NULL);
  guint i, control_errors = 0, partial = 0;
  Strategy s;
  int d;

  for (d = 0; d < 2; d++)
    g_array_sort (holds[d], compare_double);
  g_array_sort (rtts, compare_double);
  g_print ("music-sync-bench: network hold_to_server_p50_ms=%.3f hold_to_server_p99_ms=%.3f "
      "hold_to_clients_p50_ms=%.3f hold_to_clients_p99_ms=%.3f rtt_p50_ms=%.3f "
      "rtt_p99_ms=%.3f rtt_min_ms=%.3f exchanges=%u\n", quantile (holds[0], 0.5),
      quantile (holds[0], 0.99), quantile (holds[1], 0.5), quantile (holds[1], 0.99),
      quantile (rtts, 0.5), quantile (rtts, 0.99), quantile (rtts, 0), exchanges_done);
  for (i = 0; i < controls->len; i++) {
    const Control *ctl = g_ptr_array_index (controls, i);
    const Propagation *p = ctl->version >= 0 ?
        g_hash_table_lookup (propagation, GINT_TO_POINTER ((gint) ctl->version)) : NULL;

    g_string_append_printf (actions, "%s%s", i > 0 ? "," : "", ctl->action);
    if (ctl->status != 200) {
      control_errors++;
      continue;
    }
    if (p == NULL || p->clients < n_joined - n_closed) {
      partial++;
      continue;
    }
    {
      double ms = (p->last - ctl->sent) / 1000.0;

      g_array_append_val (prop, ms);
    }
  }
  g_array_sort (prop, compare_double);
  g_print ("music-sync-bench: controls=%u actions=%s errors=%u ack_at_all_clients_p50_ms=%.1f "
      "ack_at_all_clients_max_ms=%.1f not_at_all=%u\n", controls->len,
      controls->len > 0 ? actions->str : "-", control_errors, quantile (prop, 0.5),
      quantile (prop, 1), partial);
  for (s = 0; s < N_STRATEGIES; s++)
    print_figures ("steady", 0, s);
  for (s = 0; s < N_STRATEGIES; s++)
    print_figures ("after-control", 1, s);
  g_print ("music-sync-bench: clients=%d joined=%u closed=%u sync_commands=%u "
      "server_errors=%u unsynced_samples=%u\n", opt_clients, n_joined, n_closed,
      sync_commands, server_errors, not_following);
  g_print ("music-sync-bench: clients=%u duration_s=%g delay_ms=%g jitter_ms=%g "
      "p50_ms=%.3f p99_ms=%.3f max_ms=%.3f spread_p99_ms=%.3f last_p99_ms=%.3f "
      "last_spread_p99_ms=%.3f naive_p99_ms=%.3f naive_spread_p99_ms=%.3f\n",
      n_joined - n_closed, opt_duration, opt_delay_ms, opt_jitter_ms,
      quantile (figures[0][STRATEGY_MIN_RTT].error, 0.5),
      quantile (figures[0][STRATEGY_MIN_RTT].error, 0.99),
      quantile (figures[0][STRATEGY_MIN_RTT].error, 1),
      quantile (figures[0][STRATEGY_MIN_RTT].spread, 0.99),
      quantile (figures[0][STRATEGY_LAST].error, 0.99),
      quantile (figures[0][STRATEGY_LAST].spread, 0.99),
      quantile (figures[0][STRATEGY_NAIVE].error, 0.99),
      quantile (figures[0][STRATEGY_NAIVE].spread, 0.99));
  g_string_free (actions, TRUE);
  g_array_unref (prop);
}

/* ---- the oEmbed stand-in ------------------------------------------------------------------ */

static void
oembed_handler (SoupServer *server, SoupServerMessage *msg, const char *path,
    GHashTable *query, gpointer data)
{
  static const char reply[] = "{\"title\":\"Sync bench track\",\"author_name\":\"Bench\","
      "\"author_url\":\"https://www.youtube.com/@bench\",\"type\":\"video\","
      "\"version\":\"1.0\"}";

  if (strcmp (path, "/oembed") != 0) {
    soup_server_message_set_status (msg, 404, NULL);
    return;
  }
  soup_server_message_set_status (msg, 200, NULL);
  soup_server_message_set_response (msg, "application/json", SOUP_MEMORY_STATIC, reply,
      strlen (reply));
}

static int
serve_oembed (void)
{
  g_autoptr (SoupServer) server = soup_server_new (NULL, NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  GSList *uris;

  soup_server_add_handler (server, NULL, oembed_handler, NULL, NULL);
  if (!soup_server_listen_local (server, (guint) opt_port, SOUP_SERVER_LISTEN_IPV4_ONLY,
          &error)) {
    g_printerr ("music-sync-bench: listen: %s\n", error->message);
    return 1;
  }
  uris = soup_server_get_uris (server);
  g_print ("music-sync-bench: listening on http://127.0.0.1:%d\n",
      g_uri_get_port (uris->data));
  g_slist_free_full (uris, (GDestroyNotify) g_uri_unref);
  g_main_loop_run (loop);
  return 0;
}

/* ---- main --------------------------------------------------------------------------------- */

static gboolean
on_end (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context = g_option_context_new ("- music sessions: "
      "control-level sync of client-played tracks");
  g_autoptr (GError) error = NULL;
  gboolean ended = FALSE;
  gint64 first_control;
  guint i, n_items;
  int d;
  Strategy s;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error)) {
    g_printerr ("music-sync-bench: %s\n", error->message);
    return 2;
  }
  if (opt_serve_oembed)
    return serve_oembed ();
  if (opt_port <= 0 || opt_token == NULL || opt_clients < 2 || opt_duration <= 0 ||
      opt_window < 1 || opt_window > MAX_WINDOW || opt_delay_ms < 0 || opt_jitter_ms < 0 ||
      opt_samples_per_s <= 0 || opt_control_interval < 0) {
    g_printerr ("music-sync-bench: needs --port and --token; --clients >= 2, --window "
        "1..%d, positive --duration and --samples-per-s\n", MAX_WINDOW);
    return 2;
  }

  rng = g_rand_new_with_seed ((guint32) opt_seed);
  base_url = g_strdup_printf ("http://127.0.0.1:%d", opt_port);
  http_session = soup_session_new_with_options ("max-conns", opt_clients + 16,
      "max-conns-per-host", opt_clients + 16, "timeout", 30, NULL);
  held = g_sequence_new (NULL);
  hold_timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (hold_timer_fd < 0)
    g_error ("music-sync-bench: timerfd_create: %s", g_strerror (errno));
  g_unix_fd_add (hold_timer_fd, G_IO_IN, on_hold_timer, NULL);
  propagation = g_hash_table_new_full (NULL, NULL, NULL, g_free);
  controls = g_ptr_array_new_with_free_func (g_free);
  rtts = g_array_new (FALSE, FALSE, sizeof (double));
  for (d = 0; d < 2; d++) {
    holds[d] = g_array_new (FALSE, FALSE, sizeof (double));
    for (s = 0; s < N_STRATEGIES; s++) {
      figures[d][s].error = g_array_new (FALSE, FALSE, sizeof (double));
      figures[d][s].spread = g_array_new (FALSE, FALSE, sizeof (double));
    }
  }

  run_epoch_real = real_ms ();
  clients = g_new0 (Client *, opt_clients);
  for (i = 0; i < (guint) opt_clients; i++) {
    Client *c = g_new0 (Client, 1);

    c->index = i;
    c->user = g_strdup_printf ("u%04u", i);
    c->clock_offset = g_rand_double_range (rng, -opt_offset_s, opt_offset_s) * 1000.0;
    c->drift = g_rand_double_range (rng, -opt_drift_ppm, opt_drift_ppm) * 1e-6;
    clients[i] = c;
  }

  setup ();

  /* the queue: one item starts the session (start-lead-ms ahead), the others are for the
   * skips; the track has no known duration, so nothing ends by itself */
  n_items = 2 + (opt_control_interval > 0 ? (guint) (opt_duration / opt_control_interval) / 4 :
      0);
  for (i = 0; i < n_items; i++) {
    g_autofree char *path = g_strdup_printf ("/api/music/session/%s/queue/add", session_id);
    g_autofree char *body = g_strdup_printf ("{\"trackId\":\"%s\"}", track_id);
    json_node_unref (setup_call ("POST", path, "u0000", body));
  }

  /* the initial exchanges and the start lead are over before the window opens */
  measure_start = g_get_monotonic_time () + 1500 * 1000;
  measure_end = measure_start + (gint64) (opt_duration * G_USEC_PER_SEC);
  sample_source = g_timeout_add (1, on_sample_timer, NULL);
  if (opt_control_interval > 0) {
    first_control = measure_start + (gint64) (opt_control_interval * G_USEC_PER_SEC);
    if (first_control < measure_end)
      g_timeout_add ((guint) ((first_control - g_get_monotonic_time ()) / 1000),
          on_first_control, NULL);
  }
  g_timeout_add ((guint) ((measure_end - g_get_monotonic_time ()) / 1000) + 200, on_end,
      &ended);
  while (!ended)
    g_main_context_iteration (NULL, TRUE);

  g_print ("# music-sync-bench: %u clients (of %d), %g s measured, network stand-in: "
      "%g ms + uniform(0,%g) ms each way; clocks: offset uniform +-%g s, drift uniform "
      "+-%g ppm; %g sample instants/s; min-rtt window %d; samples within %g ms after a "
      "control reported apart\n", n_joined - n_closed, opt_clients, opt_duration,
      opt_delay_ms, opt_jitter_ms, opt_offset_s, opt_drift_ppm, opt_samples_per_s,
      opt_window, opt_exclude_ms);
  report ();
  return 0;
}
