/* echo-front-metrics.h: the metrics echod's front updates, registered once in the
 * process-wide registry (echo_metrics_default ()) that GET /metrics renders.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "echo-metrics.h"

G_BEGIN_DECLS

typedef struct {
  EchoMetric *http_requests;          /* echo_http_requests_total{method,route,status} */
  EchoMetric *http_duration;          /* echo_http_request_duration_seconds{route} */
  EchoMetric *errors;                 /* echo_errors_total{code} */
  EchoMetric *auth_failures;          /* echo_auth_failures_total */
  EchoMetric *websocket_clients;      /* echo_websocket_clients */
  EchoMetric *websocket_dropped;      /* echo_websocket_dropped_messages_total */
  EchoMetric *pipeline_errors;        /* echo_pipeline_errors_total */
  EchoMetric *opus_sessions;          /* echo_share_opus_sessions */
  EchoMetric *opus_packets;           /* echo_share_opus_packets_total */
} EchoFrontMetrics;

/* Registers on first use; the same struct afterwards. */
const EchoFrontMetrics *echo_front_metrics (void);

G_END_DECLS
