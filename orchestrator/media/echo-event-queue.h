/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * echo-event-queue.h: events handed from any thread to an owner's main context, and the
 * deferred free that lets the owner's callbacks free the owner.
 *
 * A player's feeder and streaming threads post events; the queue dispatches them one by
 * one on the owner's context (the context given at creation) to the owner's `dispatch`
 * function, then frees each with `free_event`. While the queue dispatches, and inside a
 * section the owner marks with enter/leave (a bus watch calling the owner's callbacks),
 * the owner may be asked to free itself: echo_event_queue_finish() then has the owner
 * stop what it runs at once, and calls `finish` (which frees the owner, and this queue
 * with it) when the outermost section ends. Events still queued
 * then are freed undispatched.
 *
 * The queue owns: the GAsyncQueue of events, the wake source on the owner's context,
 * and the busy count and doomed flag. Everything but echo_event_queue_post() is called
 * on the owner's thread.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct _EchoEventQueue EchoEventQueue;

/* Called on the owner's context for each event, which the queue frees afterwards. */
typedef void (*EchoEventQueueDispatch) (gpointer event, gpointer owner);

/* A queue named @name (the wake source's name) dispatching on @context to @dispatch;
 * @finish (@owner) frees the owner after a deferred free. */
EchoEventQueue *echo_event_queue_new (const char *name, GMainContext * context,
    EchoEventQueueDispatch dispatch, GDestroyNotify free_event, GDestroyNotify finish,
    gpointer owner);

/* Stops dispatching and frees the events still queued. On the owner's thread; from
 * `finish` too. */
void echo_event_queue_free (EchoEventQueue * queue);

/* Takes @event and wakes the owner's context; thread-safe. */
void echo_event_queue_post (EchoEventQueue * queue, gpointer event);

/* A section in which the owner's callbacks may run (and free the owner). After
 * echo_event_queue_leave() the queue may be gone: leave returns TRUE then, and the
 * caller must not touch the owner any more. */
void echo_event_queue_enter (EchoEventQueue * queue);
gboolean echo_event_queue_leave (EchoEventQueue * queue);

/* For the owner's free(): outside any section, calls `finish` (@owner) now. Inside one
 * (from a callback), calls @stop (@owner) to stop what the owner runs at once, and
 * defers `finish` to the end of the outermost section. */
void echo_event_queue_finish (EchoEventQueue * queue, GDestroyNotify stop);

/* Whether a deferred free is pending: callbacks must no longer be called. */
gboolean echo_event_queue_is_doomed (EchoEventQueue * queue);

G_END_DECLS
