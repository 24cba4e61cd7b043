import { Clock, Context, Deferred, Duration, Effect, Layer, Option, Ref, Schedule } from "effect"
import * as os from "node:os"
import { OverloadStatus, OverloadThresholds, ResourceHistory, ResourceSnapshot } from "@annal/spec"

export { OverloadStatus, OverloadThresholds, ResourceHistory, ResourceSnapshot }

/** Cumulative CPU time over all cores since boot, in milliseconds. */
export interface CpuTimes {
  readonly idle: number
  readonly total: number
}

/** Sums the per-core counters of `os.cpus()` into one reading. */
export const cpuTimesOf = (cpus: ReadonlyArray<os.CpuInfo>): CpuTimes => {
  let idle = 0
  let total = 0
  for (const cpu of cpus) {
    const t = cpu.times
    idle += t.idle
    total += t.user + t.nice + t.sys + t.idle + t.irq
  }
  return { idle, total }
}

const round = (value: number, decimals: number): number => {
  const f = 10 ** decimals
  return Math.round(value * f) / f
}

/** Busy share of CPU time between two readings, 0–100 with one decimal; 0 when no time passed. */
export const cpuPercent = (previous: CpuTimes, next: CpuTimes): number => {
  const total = next.total - previous.total
  const idle = next.idle - previous.idle
  // counters can stand still (tiny window) or jump back (a core went offline): report idle, never NaN
  if (!(total > 0)) return 0
  const busy = Math.min(Math.max((total - idle) / total, 0), 1)
  return round(busy * 100, 1)
}

/** The memory figures of a snapshot from total and free bytes. */
export const memoryOf = (totalBytes: number, freeBytes: number) => {
  const mb = 1024 * 1024
  const used = Math.max(totalBytes - freeBytes, 0)
  return {
    memory_percent: totalBytes > 0 ? round((used / totalBytes) * 100, 1) : 0,
    memory_used_mb: Math.round(used / mb),
    memory_total_mb: Math.round(totalBytes / mb)
  }
}

/** True when CPU, memory or the 1-minute load strictly exceeds its threshold. */
export const isOverloaded = (snapshot: ResourceSnapshot, thresholds: OverloadThresholds): boolean =>
  snapshot.cpu_percent > thresholds.cpu_percent ||
  snapshot.memory_percent > thresholds.memory_percent ||
  snapshot.load_avg_1m > thresholds.load_avg

/** Appends to an oldest-first buffer, dropping the oldest entries beyond `capacity`. */
export const appendBounded = <A>(buffer: ReadonlyArray<A>, item: A, capacity: number): ReadonlyArray<A> => {
  const next = [...buffer, item]
  return next.length > capacity ? next.slice(next.length - capacity) : next
}

/** The newest `lastN` entries of an oldest-first buffer, newest first. */
export const newestFirst = <A>(buffer: ReadonlyArray<A>, lastN: number): ReadonlyArray<A> => {
  const n = Number.isFinite(lastN) ? Math.max(0, Math.floor(lastN)) : buffer.length
  return buffer.slice(Math.max(buffer.length - n, 0)).reverse()
}

/** The history body from snapshots given newest first. */
export const toHistory = (snapshots: ReadonlyArray<ResourceSnapshot>): ResourceHistory => ({
  snapshots: snapshots.map(({ cpu_percent, memory_percent, timestamp }) => ({ cpu_percent, memory_percent, timestamp })),
  count: snapshots.length
})

export interface ResourceSamplerOptions {
  /** Time between samples; 5 seconds by default. */
  readonly interval?: Duration.DurationInput | undefined
  /** Snapshots kept; 720 by default (an hour at 5 s). */
  readonly historySize?: number | undefined
  /** The window of the very first CPU measurement; 200 ms by default. */
  readonly firstWindow?: Duration.DurationInput | undefined
}

/** Samples CPU, memory and load of this machine on an interval and keeps a bounded history. */
export class ResourceSampler extends Context.Tag("@annal/kernel/ResourceSampler")<
  ResourceSampler,
  {
    /** The latest sample; waits for the first one if none has been taken yet. */
    readonly current: Effect.Effect<ResourceSnapshot>
    /** Up to `lastN` most recent samples, newest first. */
    readonly history: (lastN: number) => Effect.Effect<ReadonlyArray<ResourceSnapshot>>
    /** Whether the latest sample exceeds any of the caller's thresholds, with the thresholds echoed. */
    readonly overload: (thresholds: OverloadThresholds) => Effect.Effect<OverloadStatus>
  }
>() {
  /** A sampler whose sampling fiber lives as long as the layer's scope. */
  static readonly layer = (options: ResourceSamplerOptions = {}): Layer.Layer<ResourceSampler> =>
    Layer.scoped(ResourceSampler, make(options))
}

const readCpu = Effect.sync(() => cpuTimesOf(os.cpus()))

/** Builds the sampler and forks its sampling loop into the current scope. */
export const make = (options: ResourceSamplerOptions = {}) =>
  Effect.gen(function*() {
    const interval = Duration.decode(options.interval ?? "5 seconds")
    const firstWindow = Duration.decode(options.firstWindow ?? "200 millis")
    const capacity = Math.max(1, Math.floor(options.historySize ?? 720))

    const buffer = yield* Ref.make<ReadonlyArray<ResourceSnapshot>>([])
    const previousCpu = yield* Ref.make<CpuTimes>({ idle: 0, total: 0 })
    const first = yield* Deferred.make<void>()

    const tick = Effect.gen(function*() {
      const cpu = yield* readCpu
      const previous = yield* Ref.getAndSet(previousCpu, cpu)
      const now = yield* Clock.currentTimeMillis
      const [load1, load5, load15] = os.loadavg()
      const snapshot: ResourceSnapshot = {
        cpu_percent: cpuPercent(previous, cpu),
        ...memoryOf(os.totalmem(), os.freemem()),
        load_avg_1m: round(load1 ?? 0, 2),
        load_avg_5m: round(load5 ?? 0, 2),
        load_avg_15m: round(load15 ?? 0, 2),
        timestamp: new Date(now).toISOString()
      }
      yield* Ref.update(buffer, (b) => appendBounded(b, snapshot, capacity))
      yield* Deferred.succeed(first, undefined)
    })

    // The first tick follows a short window so its CPU figure is a real measurement, then one per interval.
    yield* Effect.gen(function*() {
      yield* Ref.set(previousCpu, yield* readCpu)
      yield* Effect.sleep(firstWindow)
      yield* Effect.repeat(tick, Schedule.spaced(interval))
    }).pipe(Effect.forkScoped)

    const latest = Effect.map(Ref.get(buffer), (b) => Option.fromNullable(b[b.length - 1]))
    const current: Effect.Effect<ResourceSnapshot> = Effect.flatMap(latest, (o) =>
      Option.isSome(o)
        ? Effect.succeed(o.value)
        : Effect.zipRight(Deferred.await(first), Effect.suspend(() => current)))

    return ResourceSampler.of({
      current,
      history: (lastN) => Effect.map(Ref.get(buffer), (b) => newestFirst(b, lastN)),
      overload: (thresholds) =>
        Effect.map(current, (snapshot) => ({ overloaded: isOverloaded(snapshot, thresholds), threshold: thresholds }))
    })
  })
