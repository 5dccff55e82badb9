/* Echo
 * Copyright (C) 2026 Echo contributors
 *
 * syncanalysis.c: per-window two-tone fit of rendered audio against the ideal timeline,
 * convergence, glitches and inter-receiver offsets (see syncanalysis.h and
 * docs/tools/sync-analyze.md).
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "syncanalysis.h"
#include "syncsignal.h"

#define N_BASIS 5

void
echo_sync_params_init (EchoSyncParams * p)
{
  memset (p, 0, sizeof (*p));
  p->window_ms = 10.0;
  p->glitch_threshold = 0.1;
  p->jump_us = 20.0;
  p->silence_rms = 1e-3;
  p->stall_margin_ns = 100 * G_GINT64_CONSTANT (1000000);
}

/* Whether window @w overlaps a host stall (or the margin after it). */
static gboolean
in_host_stall (const EchoSyncWindow * w, const EchoSyncParams * p)
{
  guint i;

  for (i = 0; i < p->n_stalls; i++) {
    if (w->end_ns >= p->stalls[i].start_ns &&
        w->start_ns <= p->stalls[i].end_ns + p->stall_margin_ns)
      return TRUE;
  }
  return FALSE;
}

/* Python-style modulo: the result has the sign of @m (> 0). */
static gint64
mod_i64 (gint64 a, gint64 m)
{
  gint64 r = a % m;

  return r < 0 ? r + m : r;
}

static gdouble
mod_f64 (gdouble a, gdouble m)
{
  gdouble r = fmod (a, m);

  return r < 0 ? r + m : r;
}

/* Reduces @x into (-period / 2, period / 2]. */
static gdouble
wrap_half (gdouble x, gdouble period)
{
  x = mod_f64 (x, period);
  return x > period / 2 ? x - period : x;
}

/* Solves the symmetric 5x5 system m x = r in place by Gaussian elimination with partial
 * pivoting. FALSE when it is (numerically) singular. */
static gboolean
solve5 (gdouble m[N_BASIS][N_BASIS], gdouble r[N_BASIS], gdouble x[N_BASIS])
{
  gdouble scale = 0;
  gint i, j, k;

  for (i = 0; i < N_BASIS; i++)
    scale = MAX (scale, fabs (m[i][i]));
  if (scale == 0)
    return FALSE;

  for (k = 0; k < N_BASIS; k++) {
    gint pivot = k;

    for (i = k + 1; i < N_BASIS; i++)
      if (fabs (m[i][k]) > fabs (m[pivot][k]))
        pivot = i;
    if (fabs (m[pivot][k]) < 1e-12 * scale)
      return FALSE;
    if (pivot != k) {
      for (j = 0; j < N_BASIS; j++) {
        gdouble t = m[k][j];

        m[k][j] = m[pivot][j];
        m[pivot][j] = t;
      }
      {
        gdouble t = r[k];

        r[k] = r[pivot];
        r[pivot] = t;
      }
    }
    for (i = k + 1; i < N_BASIS; i++) {
      gdouble f = m[i][k] / m[k][k];

      for (j = k; j < N_BASIS; j++)
        m[i][j] -= f * m[k][j];
      r[i] -= f * r[k];
    }
  }
  for (i = N_BASIS - 1; i >= 0; i--) {
    gdouble s = r[i];

    for (j = i + 1; j < N_BASIS; j++)
      s -= m[i][j] * x[j];
    x[i] = s / m[i][i];
  }
  return TRUE;
}

/* Walks the frames of a recording with their ideal source times. */
typedef struct
{
  const EchoSyncRec *rec;
  const EchoSyncParams *params;
  guint block;                  /* index of the block holding the current frame */
  gdouble base_ns;              /* the block's first frame's ideal time, reduced */
  gdouble stretch;              /* session ns per host ns: 1 + session skew */
} FrameWalker;

static void
walker_enter_block (FrameWalker * w)
{
  const EchoSyncRecBlock *b = &g_array_index (w->rec->blocks,
      EchoSyncRecBlock, w->block);
  const EchoSyncParams *p = w->params;
  gint64 period = ECHO_SYNC_SIGNAL_PERIOD_NS;
  /* (S(h) - L - C0) + k0 / R, for h = the block's start, reduced modulo the signal's
   * period piece by piece so that no large number meets a fraction */
  gint64 base = mod_i64 (b->host_ns - p->anchor_capture_ns, period) +
      mod_i64 (p->session_offset_ns - p->latency_ns, period);
  gdouble skew_part = mod_f64 ((gdouble) b->host_ns * p->session_skew_ppm * 1e-6,
      (gdouble) period);
  gdouble anchor_part = (gdouble) mod_i64 (p->anchor_index,
      ECHO_SYNC_SIGNAL_PERIOD_SAMPLES) * 1e9 / ECHO_SYNC_SIGNAL_RATE;

  w->base_ns = (gdouble) mod_i64 (base, period) + skew_part + anchor_part;
}

static void
walker_init (FrameWalker * w, const EchoSyncRec * rec,
    const EchoSyncParams * params)
{
  w->rec = rec;
  w->params = params;
  w->block = 0;
  w->stretch = 1.0 + params->session_skew_ppm * 1e-6;
  if (rec->blocks->len > 0)
    walker_enter_block (w);
}

/* Host time (block start + fraction) and ideal source time in ns (modulo the signal
 * period, plus at most a block's length) of frame @f; frames are visited in order. */
static void
walker_frame (FrameWalker * w, guint64 f, gint64 * host_ns, gdouble * host_frac,
    gdouble * tau_ns)
{
  const EchoSyncRecBlock *b = &g_array_index (w->rec->blocks,
      EchoSyncRecBlock, w->block);
  gdouble frac;

  while (f >= b->first + b->frames) {
    w->block++;
    b = &g_array_index (w->rec->blocks, EchoSyncRecBlock, w->block);
    walker_enter_block (w);
  }
  frac = echo_sync_rec_frame_offset_ns (w->rec, f - b->first);
  *host_ns = b->host_ns;
  *host_frac = frac;
  *tau_ns = w->base_ns + frac * w->stretch;
}

static gboolean
walker_block_starts_at (FrameWalker * w, guint64 f)
{
  const EchoSyncRecBlock *b = &g_array_index (w->rec->blocks,
      EchoSyncRecBlock, w->block);

  return b->first == f;
}

static guint32
walker_block_flags (FrameWalker * w)
{
  return g_array_index (w->rec->blocks, EchoSyncRecBlock, w->block).flags;
}

static gint64
host_time (gint64 host_ns, gdouble frac)
{
  return host_ns + (gint64) llround (frac);
}

/* Fits one window; @basis and @v are scratch space for window_frames frames. */
static void
fit_window (FrameWalker * walker, const EchoSyncParams * p, guint64 first,
    guint n, gdouble * basis, gdouble * v, EchoSyncWindow * win)
{
  const gdouble w1 = 2 * G_PI * ECHO_SYNC_SIGNAL_F1;
  const gdouble w2 = 2 * G_PI * ECHO_SYNC_SIGNAL_F2;
  const gdouble p1_us = 1e6 / ECHO_SYNC_SIGNAL_F1;
  const gdouble p2_us = 1e6 / ECHO_SYNC_SIGNAL_F2;
  const EchoSyncRec *rec = walker->rec;
  gdouble m[N_BASIS][N_BASIS] = { {0} }, r[N_BASIS] = { 0 }, x[N_BASIS];
  gdouble sum_v2 = 0, sum_e2 = 0, sum_f2 = 0;
  gint64 first_host = 0, last_host = 0;
  gdouble first_frac = 0, last_frac = 0, a1, b1, a2, b2, d1, d2;
  guint j;
  gint i, k;

  memset (win, 0, sizeof (*win));
  win->first_frame = first;
  for (j = 0; j < n; j++) {
    gint64 host;
    gdouble frac, tau_ns, t, *phi = basis + N_BASIS * j;

    walker_frame (walker, first + j, &host, &frac, &tau_ns);
    if (walker_block_starts_at (walker, first + j) &&
        (walker_block_flags (walker) & ECHO_SYNC_REC_FLAG_GAP))
      win->gap = TRUE;
    if (j == 0) {
      first_host = host;
      first_frac = frac;
    }
    last_host = host;
    last_frac = frac;

    t = tau_ns * 1e-9;
    phi[0] = sin (w1 * t);
    phi[1] = cos (w1 * t);
    phi[2] = sin (w2 * t);
    phi[3] = cos (w2 * t);
    phi[4] = 1.0;
    v[j] = rec->samples[(first + j) * rec->channels];
    sum_v2 += v[j] * v[j];
  }
  win->start_ns = host_time (first_host, first_frac);
  win->end_ns = host_time (last_host, last_frac);
  /* halfway, without adding two large host times */
  win->centre_ns = first_host + (gint64) llround (first_frac +
      ((gdouble) (last_host - first_host) + last_frac - first_frac) / 2);
  win->rms = sqrt (sum_v2 / n);
  win->d_us = win->d1_us = win->d2_us = win->residual = NAN;
  if (win->rms < p->silence_rms) {
    win->silent = TRUE;
    return;
  }

  for (j = 0; j < n; j++) {
    const gdouble *phi = basis + N_BASIS * j;

    for (i = 0; i < N_BASIS; i++) {
      for (k = i; k < N_BASIS; k++)
        m[i][k] += phi[i] * phi[k];
      r[i] += phi[i] * v[j];
    }
  }
  for (i = 0; i < N_BASIS; i++)
    for (k = 0; k < i; k++)
      m[i][k] = m[k][i];
  if (!solve5 (m, r, x))
    return;

  /* s (tau - d): a = A cos (w d), b = -A sin (w d) */
  a1 = x[0];
  b1 = x[1];
  a2 = x[2];
  b2 = x[3];
  d1 = wrap_half (atan2 (-b1, a1) / w1 * 1e6, p1_us);
  d2 = wrap_half (atan2 (-b2, a2) / w2 * 1e6, p2_us);
  win->d1_us = d1;
  win->d2_us = d2;
  win->amplitude1 = hypot (a1, b1);
  win->amplitude2 = hypot (a2, b2);
  /* the coarse tone says which period of the fine one */
  win->d_us = d1 + p1_us * round ((d2 - d1) / p1_us);

  for (j = 0; j < n; j++) {
    const gdouble *phi = basis + N_BASIS * j;
    gdouble fit = 0;

    for (i = 0; i < N_BASIS; i++)
      fit += x[i] * phi[i];
    sum_e2 += (v[j] - fit) * (v[j] - fit);
    sum_f2 += fit * fit;
  }
  win->residual = sum_f2 > 0 ? sqrt (sum_e2 / sum_f2) : INFINITY;
}

/* A window whose delay can be compared with its neighbours'. */
static gboolean
window_valid (const EchoSyncWindow * w, const EchoSyncParams * p)
{
  return !w->silent && isfinite (w->d_us) && w->residual <= p->glitch_threshold
      && !w->gap;
}

static void
mark_jumps (EchoSyncReceiver * r, const EchoSyncParams * p)
{
  EchoSyncWindow *w = (EchoSyncWindow *) r->windows->data;
  guint n = r->n_analysed, i;
  gint prev = -1;

  for (i = 0; i < n; i++) {
    if (!window_valid (&w[i], p))
      continue;
    /* a step against the last comparable window */
    if (prev >= 0 && fabs (w[i].d_us - w[prev].d_us) > p->jump_us)
      w[i].jump = TRUE;
    prev = i;
    /* a step inside this window shows as a step between its neighbours that the drift
     * on neither side explains (a steady drift, or a change of drift, is explained by
     * the drift on one side) */
    if (i >= 2 && i + 2 < n && window_valid (&w[i - 2], p) &&
        window_valid (&w[i - 1], p) && window_valid (&w[i + 1], p) &&
        window_valid (&w[i + 2], p)) {
      gdouble across = w[i + 1].d_us - w[i - 1].d_us;
      gdouble before = w[i - 1].d_us - w[i - 2].d_us;
      gdouble after = w[i + 2].d_us - w[i + 1].d_us;

      if (fabs (across - 2 * before) > p->jump_us &&
          fabs (across - 2 * after) > p->jump_us)
        w[i].jump = TRUE;
    }
  }
}

/* How long a receiver must stay within a limit to count as converged to it. */
#define CONVERGE_HOLD_NS (5 * G_GINT64_CONSTANT (1000000000))

/* First good window from which every good window of the next CONVERGE_HOLD_NS (or up
 * to the end of the analysis) is within @limit_us; -1 if there is none. Later
 * excursions do not move it: they are glitches and count in the offset figures. */
static gint
find_convergence (const EchoSyncReceiver * r, gdouble limit_us)
{
  const EchoSyncWindow *w = (const EchoSyncWindow *) r->windows->data;
  guint i, j;

  for (i = 0; i < r->n_analysed; i++) {
    gboolean held = TRUE;

    if (w[i].bad || !(fabs (w[i].d_us) < limit_us))
      continue;
    for (j = i + 1; j < r->n_analysed &&
        w[j].centre_ns - w[i].centre_ns <= CONVERGE_HOLD_NS; j++) {
      if (!w[j].bad && !(fabs (w[j].d_us) < limit_us)) {
        held = FALSE;
        break;
      }
    }
    if (held)
      return (gint) i;
    i = j;                      /* nothing before the offending window can hold either */
  }
  return -1;
}

static gdouble
since_join_ms (const EchoSyncReceiver * r, gint i)
{
  if (i < 0)
    return INFINITY;
  return (g_array_index (r->windows, EchoSyncWindow, i).centre_ns -
      r->join_ns) / 1e6;
}

gboolean
echo_sync_receiver_window_usable (const EchoSyncReceiver * r, guint i)
{
  const EchoSyncWindow *w = &g_array_index (r->windows, EchoSyncWindow, i);

  return r->settled >= 0 && i >= (guint) r->settled && i < r->n_analysed && !w->bad &&
      !w->stalled;
}

static void
collect_statistics (EchoSyncReceiver * r, const EchoSyncParams * p)
{
  const EchoSyncWindow *w = (const EchoSyncWindow *) r->windows->data;
  g_autofree gdouble *d = g_new (gdouble, MAX (r->n_analysed, 1));
  g_autofree gdouble *abs_d = g_new (gdouble, MAX (r->n_analysed, 1));
  gdouble sum = 0;
  guint i, n = 0;
  gint start;
  gboolean in_glitch = FALSE;

  /* glitches from convergence on (or from the first audio if it never converged) */
  start = r->converge_1ms >= 0 ? r->converge_1ms : r->first_audio;
  for (i = start >= 0 ? (guint) start : r->n_analysed; i < r->n_analysed; i++) {
    if (w[i].bad) {
      r->glitch_windows++;
      if (!in_glitch) {
        r->glitches++;
        if (w[i].stalled)
          r->stall_glitches++;
      }
    }
    in_glitch = w[i].bad;
  }

  for (i = 0; i < r->n_analysed; i++) {
    if (!echo_sync_receiver_window_usable (r, i))
      continue;
    d[n] = w[i].d_us;
    abs_d[n] = fabs (w[i].d_us);
    sum += abs_d[n];
    n++;
  }
  r->good_windows = n;
  r->median_d_us = echo_sync_percentile (d, n, 0.5);
  r->e2e_ms = p->latency_ns / 1e6 + r->median_d_us / 1e3;
  r->abs_mean_us = n ? sum / n : NAN;
  r->abs_p50_us = echo_sync_percentile (abs_d, n, 0.5);
  r->abs_p99_us = echo_sync_percentile (abs_d, n, 0.99);
  r->abs_max_us = echo_sync_percentile (abs_d, n, 1.0);
}

EchoSyncReceiver *
echo_sync_analyse (const EchoSyncRec * rec, const gchar * name,
    const EchoSyncParams * params)
{
  EchoSyncReceiver *r = g_new0 (EchoSyncReceiver, 1);
  FrameWalker walker;
  guint64 first;
  gdouble *basis, *v;
  EchoSyncWindow *w;
  guint i;

  r->name = g_strdup (name);
  r->join_ns = rec->header.open_host_ns;
  r->window_frames = MAX (1, (guint) llround (params->window_ms *
          rec->header.rate / 1000.0));
  r->windows = g_array_new (FALSE, FALSE, sizeof (EchoSyncWindow));
  r->first_audio = -1;

  basis = g_new (gdouble, (gsize) N_BASIS * r->window_frames);
  v = g_new (gdouble, r->window_frames);
  walker_init (&walker, rec, params);
  for (first = 0; first + r->window_frames <= rec->n_frames;
      first += r->window_frames) {
    EchoSyncWindow win;

    fit_window (&walker, params, first, r->window_frames, basis, v, &win);
    g_array_append_val (r->windows, win);
  }
  g_free (basis);
  g_free (v);

  /* windows up to the last one with sound */
  w = (EchoSyncWindow *) r->windows->data;
  for (i = 0; i < r->windows->len; i++) {
    if (!w[i].silent) {
      if (r->first_audio < 0)
        r->first_audio = i;
      r->n_analysed = i + 1;
    }
  }
  mark_jumps (r, params);
  for (i = 0; i < r->windows->len; i++) {
    w[i].bad = w[i].silent || !isfinite (w[i].d_us) ||
        !(w[i].residual <= params->glitch_threshold) || w[i].gap || w[i].jump;
    w[i].stalled = in_host_stall (&w[i], params);
  }
  /* the analysis ends with the last good window: what follows is the end of the
   * stream (its last, partly silent window, then silence), not a dropout */
  while (r->n_analysed > 0 && w[r->n_analysed - 1].bad)
    r->n_analysed--;

  r->converge_1ms = find_convergence (r, 1000.0);
  r->settled = r->converge_1ms;
  if (r->settled < 0 && r->first_audio >= 0) {
    for (i = r->first_audio; i < r->n_analysed; i++)
      if (w[i].centre_ns >= w[r->first_audio].centre_ns + 5e9) {
        r->settled = i;
        break;
      }
  }
  r->converge_100us = find_convergence (r, 100.0);
  r->converge_1ms_ms = since_join_ms (r, r->converge_1ms);
  r->converge_100us_ms = since_join_ms (r, r->converge_100us);
  collect_statistics (r, params);
  return r;
}

void
echo_sync_receiver_free (EchoSyncReceiver * r)
{
  if (r == NULL)
    return;
  g_free (r->name);
  g_array_unref (r->windows);
  g_free (r);
}

gboolean
echo_sync_receiver_d_at (const EchoSyncReceiver * r, gint64 host_ns,
    gdouble * d_us)
{
  const EchoSyncWindow *w = (const EchoSyncWindow *) r->windows->data;
  guint lo = 0, hi = r->n_analysed, k;
  gdouble t;

  if (r->n_analysed == 0)
    return FALSE;
  /* the last window whose centre is at or before host_ns */
  while (hi - lo > 1) {
    guint mid = lo + (hi - lo) / 2;

    if (w[mid].centre_ns <= host_ns)
      lo = mid;
    else
      hi = mid;
  }
  k = lo;
  if (w[k].centre_ns > host_ns)
    return FALSE;
  if (!echo_sync_receiver_window_usable (r, k))
    return FALSE;
  if (w[k].centre_ns == host_ns) {
    *d_us = w[k].d_us;
    return TRUE;
  }
  if (k + 1 >= r->n_analysed || !echo_sync_receiver_window_usable (r, k + 1))
    return FALSE;
  t = (gdouble) (host_ns - w[k].centre_ns) /
      (gdouble) (w[k + 1].centre_ns - w[k].centre_ns);
  *d_us = w[k].d_us + t * (w[k + 1].d_us - w[k].d_us);
  return TRUE;
}

static int
compare_doubles (const void *a, const void *b)
{
  gdouble x = *(const gdouble *) a, y = *(const gdouble *) b;

  return x < y ? -1 : x > y ? 1 : 0;
}

gdouble
echo_sync_percentile (gdouble * values, guint n, gdouble p)
{
  gdouble pos, frac;
  guint i;

  if (n == 0)
    return NAN;
  qsort (values, n, sizeof (gdouble), compare_doubles);
  pos = CLAMP (p, 0.0, 1.0) * (n - 1);
  i = (guint) floor (pos);
  frac = pos - i;
  if (i + 1 >= n)
    return values[n - 1];
  return values[i] + frac * (values[i + 1] - values[i]);
}

void
echo_sync_summarise (EchoSyncReceiver * const *rx, guint n,
    EchoSyncSummary * s)
{
  GArray *pool = g_array_new (FALSE, FALSE, sizeof (gdouble));
  guint a, b, i;

  memset (s, 0, sizeof (*s));
  s->single = n == 1;
  for (a = 0; a < n; a++) {
    s->glitches += rx[a]->glitches;
    s->stall_glitches += rx[a]->stall_glitches;
    s->converge_1ms_ms = MAX (s->converge_1ms_ms, rx[a]->converge_1ms_ms);
    s->converge_100us_ms = MAX (s->converge_100us_ms, rx[a]->converge_100us_ms);
  }
  if (n == 0) {
    s->converge_1ms_ms = s->converge_100us_ms = INFINITY;
  } else if (n == 1) {
    for (i = 0; i < rx[0]->n_analysed; i++) {
      if (echo_sync_receiver_window_usable (rx[0], i)) {
        gdouble d = fabs (g_array_index (rx[0]->windows, EchoSyncWindow,
                i).d_us);

        g_array_append_val (pool, d);
      }
    }
  } else {
    for (a = 0; a < n; a++) {
      for (b = a + 1; b < n; b++) {
        for (i = 0; i < rx[a]->n_analysed; i++) {
          const EchoSyncWindow *w = &g_array_index (rx[a]->windows,
              EchoSyncWindow, i);
          gdouble other, diff;

          if (!echo_sync_receiver_window_usable (rx[a], i) ||
              !echo_sync_receiver_d_at (rx[b], w->centre_ns, &other))
            continue;
          diff = fabs (w->d_us - other);
          g_array_append_val (pool, diff);
        }
      }
    }
  }
  s->n = pool->len;
  s->p50_us = echo_sync_percentile ((gdouble *) pool->data, pool->len, 0.5);
  s->p99_us = echo_sync_percentile ((gdouble *) pool->data, pool->len, 0.99);
  s->max_us = echo_sync_percentile ((gdouble *) pool->data, pool->len, 1.0);
  g_array_unref (pool);
}
