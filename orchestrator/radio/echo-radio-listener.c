/* echo-radio-listener.c: see echo-radio-listener.h.
 *
 * What to write next follows from a small cursor (head, prefix, audio offset, bytes to the
 * next metadata point, the metadata block being written). A write first plans on a copy of
 * the cursor (gathering the slices), then moves the real cursor by what the socket took:
 * the same walk serves both, so a partial write, even one that stops inside a metadata
 * block, resumes exactly where it stopped.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include "echo-radio-listener.h"

#include "echo-radio-icy.h"

/* per writev: enough slices for a burst in a few calls, bounded stack use */
#define MAX_VECTORS 64
#define MAX_WRITE (256 * 1024)

typedef struct {
  gsize head_sent;
  gsize prefix_sent;
  guint64 position;           /* ring offset of the next audio byte */
  guint to_meta;              /* audio bytes before the next metadata block */
  GBytes *meta;               /* the block being written (owned by the real cursor) */
  gsize meta_sent;
  guint title_serial;         /* the title a block was last sent for */
} Cursor;

struct _EchoRadioListener {
  GIOStream *stream;
  GPollableOutputStream *out;
  EchoRadioRing *ring;
  GBytes *head;
  GBytes *prefix;
  guint metaint;
  Cursor cursor;
  GSource *wait;              /* while the socket is full */
  guint64 *bytes_out;
  EchoRadioListenerDone done;
  gpointer data;
};

/* Walks the cursor over up to budget bytes. With vectors, records the slices (planning, on a
 * copy: nothing is referenced); without, it is the real cursor taking ownership of the
 * metadata blocks it enters. Returns the bytes walked. */
static gsize
walk (EchoRadioListener *listener, Cursor *c, gsize budget, GOutputVector *vectors,
    guint *n_vectors)
{
  gsize walked = 0;

  while (budget > 0 && (vectors == NULL || *n_vectors < MAX_VECTORS)) {
    const guint8 *data = NULL;
    gsize size, take;
    gsize *sent = NULL;

    if (c->head_sent < g_bytes_get_size (listener->head)) {
      data = g_bytes_get_data (listener->head, &size);
      sent = &c->head_sent;
    } else if (listener->prefix != NULL && c->prefix_sent < g_bytes_get_size (listener->prefix)) {
      data = g_bytes_get_data (listener->prefix, &size);
      sent = &c->prefix_sent;
    } else if (c->meta != NULL) {
      data = g_bytes_get_data (c->meta, &size);
      sent = &c->meta_sent;
    } else if (listener->metaint > 0 && c->to_meta == 0) {
      guint serial = 0;
      GBytes *title;

      /* the block goes out with the audio after it, not before that is in: a title set
       * right at this point (the listener caught up with the source) is still in it */
      if (c->position >= echo_radio_ring_head (listener->ring))
        break;
      title = echo_radio_ring_title_at (listener->ring, c->position, &serial);

      if (title != NULL && serial != c->title_serial) {
        c->meta = title;
        c->title_serial = serial;
      } else {
        c->meta = echo_radio_icy_unchanged_block ();
        g_bytes_unref (c->meta);  /* a static block: stays valid */
      }
      if (vectors == NULL)
        g_bytes_ref (c->meta);
      c->meta_sent = 0;
      continue;
    }

    if (sent != NULL) {
      take = MIN (budget, size - *sent);
      if (vectors != NULL) {
        vectors[*n_vectors].buffer = data + *sent;
        vectors[*n_vectors].size = take;
        (*n_vectors)++;
      }
      *sent += take;
      if (c->meta != NULL && sent == &c->meta_sent && c->meta_sent == size) {
        if (vectors == NULL)
          g_bytes_unref (c->meta);
        c->meta = NULL;
        c->to_meta = listener->metaint;
      }
    } else {
      GBytes *chunk;
      gsize skip;

      if (!echo_radio_ring_locate (listener->ring, c->position, &chunk, &skip, NULL))
        break;              /* caught up (or fallen off the ring: wake () tells) */
      data = g_bytes_get_data (chunk, &size);
      take = MIN (budget, size - skip);
      if (listener->metaint > 0)
        take = MIN (take, c->to_meta);
      if (vectors != NULL) {
        vectors[*n_vectors].buffer = data + skip;
        vectors[*n_vectors].size = take;
        (*n_vectors)++;
      }
      c->position += take;
      if (listener->metaint > 0)
        c->to_meta -= (guint) take;
    }
    budget -= take;
    walked += take;
  }
  return walked;
}

static void
stop_waiting (EchoRadioListener *listener)
{
  if (listener->wait != NULL) {
    g_source_destroy (listener->wait);
    g_clear_pointer (&listener->wait, g_source_unref);
  }
}

static gboolean writable (GObject *stream, gpointer data);

static void
start_waiting (EchoRadioListener *listener)
{
  if (listener->wait != NULL)
    return;
  listener->wait = g_pollable_output_stream_create_source (listener->out, NULL);
  g_source_set_callback (listener->wait, G_SOURCE_FUNC (writable), listener, NULL);
  g_source_attach (listener->wait, NULL);
}

/* Writes until the socket is full or everything is out. FALSE when done was called. */
static gboolean
flush (EchoRadioListener *listener)
{
  for (;;) {
    GOutputVector vectors[MAX_VECTORS];
    guint n_vectors = 0;
    Cursor plan = listener->cursor;
    gsize planned, written = 0;
    GPollableReturn result;

    planned = walk (listener, &plan, MAX_WRITE, vectors, &n_vectors);
    if (planned == 0)
      return TRUE;
    result = g_pollable_output_stream_writev_nonblocking (listener->out, vectors, n_vectors,
        &written, NULL, NULL);
    if (result == G_POLLABLE_RETURN_WOULD_BLOCK) {
      start_waiting (listener);
      return TRUE;
    }
    if (result != G_POLLABLE_RETURN_OK) {
      listener->done (listener, ECHO_RADIO_LISTENER_CLOSED, listener->data);
      return FALSE;
    }
    walk (listener, &listener->cursor, written, NULL, NULL);
    *listener->bytes_out += written;
    if (written < planned) {
      start_waiting (listener);
      return TRUE;
    }
  }
}

static gboolean
writable (GObject *stream, gpointer data)
{
  EchoRadioListener *listener = data;

  g_clear_pointer (&listener->wait, g_source_unref);
  /* the lag is checked by the mount's wake-ups; here the socket drained: write on */
  flush (listener);
  return G_SOURCE_REMOVE;
}

EchoRadioListener *
echo_radio_listener_new (GIOStream *stream, EchoRadioRing *ring, GBytes *head, GBytes *prefix,
    guint64 start, guint metaint, guint64 *bytes_out, EchoRadioListenerDone done,
    gpointer data)
{
  EchoRadioListener *listener;

  g_return_val_if_fail (G_IS_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream)),
      NULL);

  listener = g_new0 (EchoRadioListener, 1);
  listener->stream = g_object_ref (stream);
  listener->out = G_POLLABLE_OUTPUT_STREAM (g_io_stream_get_output_stream (stream));
  listener->ring = ring;
  listener->head = g_bytes_ref (head);
  listener->prefix = prefix != NULL ? g_bytes_ref (prefix) : NULL;
  listener->metaint = metaint;
  listener->cursor.position = start;
  listener->cursor.to_meta = metaint;
  listener->bytes_out = bytes_out;
  listener->done = done;
  listener->data = data;
  return listener;
}

void
echo_radio_listener_free (EchoRadioListener *listener)
{
  if (listener == NULL)
    return;
  stop_waiting (listener);
  g_clear_pointer (&listener->cursor.meta, g_bytes_unref);
  g_bytes_unref (listener->head);
  g_clear_pointer (&listener->prefix, g_bytes_unref);
  /* the socket closes now; a peer still sending is reset, which is what a dropped listener
   * gets anyway */
  g_io_stream_close (listener->stream, NULL, NULL);
  g_object_unref (listener->stream);
  g_free (listener);
}

gboolean
echo_radio_listener_wake (EchoRadioListener *listener, gint64 now_us, gint64 max_lag_us)
{
  Cursor *c = &listener->cursor;
  GBytes *chunk;
  gsize skip;
  gint64 arrived_us;

  /* the audio it is at has left the ring, or is older than the limit allows */
  if (c->position < echo_radio_ring_tail (listener->ring) ||
      (echo_radio_ring_locate (listener->ring, c->position, &chunk, &skip, &arrived_us) &&
          now_us - arrived_us > max_lag_us)) {
    listener->done (listener, ECHO_RADIO_LISTENER_TOO_SLOW, listener->data);
    return FALSE;
  }
  if (listener->wait != NULL)
    return TRUE;
  return flush (listener);
}

guint64
echo_radio_listener_get_position (EchoRadioListener *listener)
{
  return listener->cursor.position;
}
