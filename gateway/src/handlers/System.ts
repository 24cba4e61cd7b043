/** Status, configuration, resources, host tools and metrics (seed sections 3, 18, 22, 23). */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Agents, Audit, Configuration, EventBus, HostTools, LanguageModel, Memory, ResourceSampler } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { AnnalApi, BadRequest, Conflict, VERSION } from "@annal/spec"
import { Effect } from "effect"
import { Metrics } from "../http/Metrics.js"
import { Broadcaster } from "../sse/Broadcaster.js"
import { API_ACTOR, apiError, asOf, internal, requestMeta } from "./common.js"

/** `2h 15m 30s` */
export const formatUptime = (secs: number): string => {
  const s = Math.floor(secs)
  const d = Math.floor(s / 86400)
  const h = Math.floor((s % 86400) / 3600)
  const m = Math.floor((s % 3600) / 60)
  return `${d > 0 ? `${d}d ` : ""}${h}h ${m}m ${s % 60}s`
}

export const SystemLive = HttpApiBuilder.group(AnnalApi, "system", (handlers) =>
  Effect.gen(function*() {
    const config = yield* Configuration
    const bus = yield* EventBus
    const broadcaster = yield* Broadcaster
    const audit = yield* Audit
    const sampler = yield* ResourceSampler
    const model = yield* LanguageModel
    const hostTools = yield* HostTools
    const memory = yield* Memory
    const agents = yield* Agents
    const metrics = yield* Metrics
    const { repairedAtOpen: repaired } = yield* EventStore
    const startedAt = Date.now()
    return handlers
      .handle("status", () =>
        Effect.gen(function*() {
          const head = yield* bus.head
          const recorded = yield* audit.lastVerification
          const verification = recorded?.result
          const subscribers = (yield* bus.subscribers) + (yield* broadcaster.connections)
          const memoryStatus = yield* Effect.mapError(memory.status, internal("could not read the memory status"))
          const agentCounts = yield* Effect.mapError(agents.counts, internal("could not read the agent counters"))
          const uptime = (Date.now() - startedAt) / 1000
          const chainDetail = verification === undefined
            ? "chain verification pending"
            : verification.valid
            ? null
            : verification.broken_at_seq === undefined
            ? (verification.reason ?? "the log did not verify")
            : `hash chain broken at seq ${verification.broken_at_seq}: ${verification.reason ?? "mismatch"}`
          return {
            service: "annal",
            status: "running",
            version: VERSION,
            channels: ["web"],
            uptime: formatUptime(uptime),
            uptime_secs: Math.floor(uptime),
            components: {
              state_store: {
                healthy: verification?.valid !== false,
                detail: [chainDetail, ...repaired.map((r) => `at start ${r}`)].filter((d) => d !== null).join("; ") || null,
                repaired_at_start: repaired,
                events: head,
                head_seq: head,
                chain_valid: verification === undefined ? null : verification.valid,
                chain_verified_from: recorded?.fromSeq ?? null
              },
              event_bus: { healthy: true, detail: null, subscribers },
              config: {
                healthy: config.repairedAtStart.length === 0,
                detail: config.repairedAtStart.length === 0 ? null : config.repairedAtStart.join("; ")
              },
              memory: memoryStatus,
              llm: {
                configured: model.info !== undefined,
                provider: model.info?.provider ?? null,
                model: model.info?.model ?? null,
                detail: model.problem ?? null
              },
              agents: agentCounts
            }
          }
        }))
      .handle("getConfig", ({ urlParams }) => asOf(urlParams)(Effect.mapError(config.document, apiError("could not read the configuration"))))
      .handle("putConfig", ({ payload }) =>
        Effect.gen(function*() {
          const meta = yield* requestMeta
          return yield* config.update(payload, { actor: API_ACTOR, meta }).pipe(
            Effect.catchTags({
              ConfigInvalid: (e) => new BadRequest({ error: e.message }),
              ConfigConflict: (e) => new Conflict({ error: e.message }),
              EventStoreError: (e) => internal("could not change the configuration")(e)
            })
          )
        }))
      .handle("resources", () => sampler.current)
      .handle("resourceHistory", ({ urlParams }) =>
        Effect.map(sampler.history(urlParams.last_n ?? 30), (snapshots) => ({
          snapshots: snapshots.map((s) => ({ cpu_percent: s.cpu_percent, memory_percent: s.memory_percent, timestamp: s.timestamp })),
          count: snapshots.length
        })))
      .handle("overload", () => Effect.flatMap(config.current, (c) => sampler.overload(c.resources.overload)))
      .handle("hostTools", () => hostTools.status)
      .handleRaw("metrics", () =>
        Effect.map(metrics.render, ({ body, contentType }) => HttpServerResponse.text(body, { contentType })))
  }))
