/**
 * Prometheus metrics (`GET /api/metrics`): requests by route and status, a latency histogram,
 * events appended, live subscribers, and the process's own figures.
 */
import { EventBus } from "@annal/kernel"
import { Context, Effect, Layer, Runtime } from "effect"
import { Broadcaster } from "../sse/Broadcaster.js"
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client"

export class Metrics extends Context.Tag("@annal/gateway/Metrics")<
  Metrics,
  {
    readonly observeRequest: (method: string, route: string, status: number, seconds: number) => void
    readonly render: Effect.Effect<{ readonly contentType: string; readonly body: string }>
  }
>() {
  static readonly layer = Layer.effect(
    Metrics,
    Effect.gen(function*() {
      const bus = yield* EventBus
      const broadcaster = yield* Broadcaster
      const runtime = yield* Effect.runtime<never>()
      const run = <A>(effect: Effect.Effect<A>) => Runtime.runSync(runtime)(effect)
      const registry = new Registry()
      collectDefaultMetrics({ register: registry, prefix: "annal_" })
      // prom-client names these gauges `_total`, which Prometheus reserves for counters
      for (const name of ["annal_nodejs_active_handles_total", "annal_nodejs_active_requests_total", "annal_nodejs_active_resources_total"]) {
        registry.removeSingleMetric(name)
      }
      const requests = new Counter({
        name: "annal_http_requests_total",
        help: "HTTP requests answered, by method, route and status",
        labelNames: ["method", "route", "status"] as const,
        registers: [registry]
      })
      const latency = new Histogram({
        name: "annal_http_request_duration_seconds",
        help: "Time to answer an HTTP request (to the response head for streams), by method and route",
        labelNames: ["method", "route"] as const,
        buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
        registers: [registry]
      })
      const startSeq = run(bus.head)
      new Counter({
        name: "annal_events_appended_total",
        help: "Events appended to the log by this process",
        registers: [registry],
        collect() {
          this.reset()
          this.inc(run(bus.head) - startSeq)
        }
      })
      new Gauge({
        name: "annal_event_log_head_seq",
        help: "Seq of the newest event in the log",
        registers: [registry],
        collect() {
          this.set(run(bus.head))
        }
      })
      new Gauge({
        name: "annal_event_subscribers",
        help: "Live event subscribers (SSE and WebSocket clients, internal consumers)",
        registers: [registry],
        collect() {
          // the broadcaster's SSE connections, and the bus's other subscribers (WebSocket clients)
          this.set(run(bus.subscribers) + run(broadcaster.connections))
        }
      })
      return Metrics.of({
        observeRequest: (method, route, status, seconds) => {
          requests.inc({ method, route, status: String(status) })
          latency.observe({ method, route }, seconds)
        },
        render: Effect.promise(async () => ({ contentType: registry.contentType, body: await registry.metrics() }))
      })
    })
  )
}
