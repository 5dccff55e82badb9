/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-event-queue.c: events for the owner's context, and the free deferred past the
 * owner's own callbacks.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#define G_LOG_DOMAIN "echo-media"

#include "echo-event-queue.h"

#include "echo-wake-source.h"

struct _EchoEventQueue
{
  GAsyncQueue *events;
  GSource *wake;
  EchoEventQueueDispatch dispatch;
  GDestroyNotify free_event;
  GDestroyNotify finish;
  gpointer owner;
  guint busy;                   /* sections under way (dispatches, the owner's own) */
  gboolean doomed;              /* the owner was freed inside one: finish at the end */
};

static gboolean
dispatch_events (gpointer user_data)
{
  EchoEventQueue *q = user_data;
  gpointer ev;

  echo_event_queue_enter (q);
  while (!q->doomed && (ev = g_async_queue_try_pop (q->events)) != NULL) {
    q->dispatch (ev, q->owner);
    q->free_event (ev);
  }
  /* the source outlives its own destruction until this returns */
  echo_event_queue_leave (q);
  return G_SOURCE_CONTINUE;
}

EchoEventQueue *
echo_event_queue_new (const char *name, GMainContext * context,
    EchoEventQueueDispatch dispatch, GDestroyNotify free_event, GDestroyNotify finish,
    gpointer owner)
{
  EchoEventQueue *q = g_new0 (EchoEventQueue, 1);

  q->dispatch = dispatch;
  q->free_event = free_event;
  q->finish = finish;
  q->owner = owner;
  q->events = g_async_queue_new_full (free_event);
  q->wake = echo_wake_source_new (name, dispatch_events, q, context);
  return q;
}

void
echo_event_queue_free (EchoEventQueue * q)
{
  if (q == NULL)
    return;
  g_source_destroy (q->wake);
  g_source_unref (q->wake);
  g_async_queue_unref (q->events);
  g_free (q);
}

void
echo_event_queue_post (EchoEventQueue * q, gpointer event)
{
  g_async_queue_push (q->events, event);
  echo_wake_source_wake (q->wake);
}

void
echo_event_queue_enter (EchoEventQueue * q)
{
  q->busy++;
}

gboolean
echo_event_queue_leave (EchoEventQueue * q)
{
  g_return_val_if_fail (q->busy > 0, FALSE);

  q->busy--;
  if (q->doomed && q->busy == 0) {
    q->finish (q->owner);
    return TRUE;
  }
  return FALSE;
}

void
echo_event_queue_finish (EchoEventQueue * q, GDestroyNotify stop)
{
  if (q->busy == 0) {
    q->finish (q->owner);
    return;
  }
  /* inside one of the owner's callbacks: stop now, free when it returns */
  q->doomed = TRUE;
  stop (q->owner);
}

gboolean
echo_event_queue_is_doomed (EchoEventQueue * q)
{
  return q->doomed;
}
