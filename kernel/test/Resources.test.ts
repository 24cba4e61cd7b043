import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Schema, TestClock } from "effect"
import { Configuration, Kernel } from "@annal/kernel"
import { mkdtempSync } from "node:fs"
import * as os from "node:os"
import { join } from "node:path"
import {
  appendBounded,
  cpuPercent,
  cpuTimesOf,
  isOverloaded,
  memoryOf,
  newestFirst,
  OverloadStatus,
  ResourceHistory,
  ResourceSampler,
  type ResourceSnapshot,
  ResourceSnapshot as ResourceSnapshotSchema,
  toHistory
} from "../src/resources/ResourceSampler.js"

const snapshot = (over: Partial<ResourceSnapshot> = {}): ResourceSnapshot => ({
  cpu_percent: 10,
  memory_percent: 20,
  memory_used_mb: 2048,
  memory_total_mb: 10240,
  load_avg_1m: 1,
  load_avg_5m: 1,
  load_avg_15m: 1,
  timestamp: "2026-05-17T10:30:00.000Z",
  ...over
})

const thresholds = { cpu_percent: 90, memory_percent: 80, load_avg: 4 }

const withSampler = <A, E>(
  options: Parameters<typeof ResourceSampler.layer>[0],
  f: (sampler: ResourceSampler["Type"]) => Effect.Effect<A, E>
) => Effect.flatMap(ResourceSampler, f).pipe(Effect.provide(ResourceSampler.layer(options)))

describe("resource arithmetic", () => {
  it("computes the busy share of CPU time between two readings", () => {
    expect(cpuPercent({ idle: 1000, total: 2000 }, { idle: 1750, total: 3000 })).toBe(25)
    expect(cpuPercent({ idle: 0, total: 0 }, { idle: 0, total: 300 })).toBe(100)
    expect(cpuPercent({ idle: 0, total: 0 }, { idle: 2, total: 3 })).toBe(33.3)
  })

  it("reports 0 rather than NaN when no CPU time passed or the counters went back", () => {
    expect(cpuPercent({ idle: 5, total: 10 }, { idle: 5, total: 10 })).toBe(0)
    expect(cpuPercent({ idle: 50, total: 100 }, { idle: 10, total: 20 })).toBe(0)
  })

  it("sums os.cpus() counters over all cores", () => {
    const times = { user: 10, nice: 1, sys: 5, idle: 80, irq: 4 }
    const cpus = [{ model: "x", speed: 1, times }, { model: "x", speed: 1, times }]
    expect(cpuTimesOf(cpus)).toEqual({ idle: 160, total: 200 })
  })

  it("gives memory in whole megabytes and percent with one decimal", () => {
    const mb = 1024 * 1024
    expect(memoryOf(10240 * mb, 3820.4 * mb)).toEqual({ memory_percent: 62.7, memory_used_mb: 6420, memory_total_mb: 10240 })
    expect(memoryOf(0, 0)).toEqual({ memory_percent: 0, memory_used_mb: 0, memory_total_mb: 0 })
  })

  it("is not overloaded at or below every threshold", () => {
    expect(isOverloaded(snapshot(), thresholds)).toBe(false)
    expect(isOverloaded(snapshot({ cpu_percent: 90, memory_percent: 80, load_avg_1m: 4 }), thresholds)).toBe(false)
  })

  it("is overloaded when any one figure exceeds its threshold", () => {
    expect(isOverloaded(snapshot({ cpu_percent: 90.1 }), thresholds)).toBe(true)
    expect(isOverloaded(snapshot({ memory_percent: 80.1 }), thresholds)).toBe(true)
    expect(isOverloaded(snapshot({ load_avg_1m: 4.01 }), thresholds)).toBe(true)
  })

  it("compares load with the 1-minute average only", () => {
    expect(isOverloaded(snapshot({ load_avg_5m: 50, load_avg_15m: 50 }), thresholds)).toBe(false)
  })

  it("keeps a bounded buffer and reads it newest first", () => {
    let buffer: ReadonlyArray<number> = []
    for (let i = 1; i <= 5; i++) buffer = appendBounded(buffer, i, 3)
    expect(buffer).toEqual([3, 4, 5])
    expect(newestFirst(buffer, 2)).toEqual([5, 4])
    expect(newestFirst(buffer, 30)).toEqual([5, 4, 3])
    expect(newestFirst(buffer, 0)).toEqual([])
    expect(newestFirst(buffer, -1)).toEqual([])
  })

  it("encodes history and overload in the seed's shapes", () => {
    const history = toHistory([snapshot({ timestamp: "b" }), snapshot({ timestamp: "a", cpu_percent: 5 })])
    expect(Schema.encodeSync(ResourceHistory)(history)).toEqual({
      snapshots: [
        { cpu_percent: 10, memory_percent: 20, timestamp: "b" },
        { cpu_percent: 5, memory_percent: 20, timestamp: "a" }
      ],
      count: 2
    })
    expect(Schema.decodeUnknownSync(OverloadStatus)({
      overloaded: false,
      threshold: { cpu_percent: 90.0, memory_percent: 90.0, load_avg: 10.0 }
    })).toEqual({ overloaded: false, threshold: { cpu_percent: 90, memory_percent: 90, load_avg: 10 } })
  })
})

describe("ResourceSampler", () => {
  it.live("samples the real machine on its interval", () =>
    withSampler({ interval: "100 millis", firstWindow: "50 millis" }, (sampler) =>
      Effect.gen(function*() {
        const first = yield* sampler.current
        expect(Schema.is(ResourceSnapshotSchema)(first)).toBe(true)
        expect(first.cpu_percent).toBeGreaterThanOrEqual(0)
        expect(first.cpu_percent).toBeLessThanOrEqual(100)
        expect(first.memory_total_mb).toBe(Math.round(os.totalmem() / (1024 * 1024)))
        expect(first.memory_used_mb).toBeGreaterThan(0)
        expect(first.memory_used_mb).toBeLessThanOrEqual(first.memory_total_mb)
        expect(first.memory_percent).toBeGreaterThan(0)
        expect(first.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        expect(Math.abs(Date.parse(first.timestamp) - Date.now())).toBeLessThan(5_000)

        yield* Effect.sleep("350 millis")
        const history = yield* sampler.history(30)
        expect(history.length).toBeGreaterThanOrEqual(2)
        const [newest, previous] = [history[0]!, history[1]!]
        const gap = Date.parse(newest.timestamp) - Date.parse(previous.timestamp)
        expect(gap).toBeGreaterThanOrEqual(90)
        expect(gap).toBeLessThan(1_000)
        expect(yield* sampler.current).toEqual(newest)
      })
    ))

  it.live("burns CPU and sees it", () =>
    withSampler({ interval: "300 millis", firstWindow: "50 millis" }, (sampler) =>
      Effect.gen(function*() {
        yield* sampler.current
        const until = Date.now() + 300
        // spin on purpose so this process keeps at least one core busy for the window
        while (Date.now() < until) Math.sqrt(Math.random())
        yield* Effect.sleep("100 millis")
        const [newest] = yield* sampler.history(1)
        // one of os.cpus().length cores was fully busy; allow for scheduling noise
        expect(newest!.cpu_percent).toBeGreaterThan(100 / os.cpus().length / 2)
      })
    ))

  it.effect("keeps at most historySize snapshots, newest first", () =>
    withSampler({ interval: "5 seconds", historySize: 3 }, (sampler) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("200 millis")
        expect((yield* sampler.history(10)).length).toBe(1)
        for (let i = 0; i < 5; i++) yield* TestClock.adjust("5 seconds")
        const history = yield* sampler.history(10)
        expect(history.map((s) => s.timestamp)).toEqual([
          new Date(25_200).toISOString(),
          new Date(20_200).toISOString(),
          new Date(15_200).toISOString()
        ])
        expect((yield* sampler.history(2)).map((s) => s.timestamp)).toEqual([
          new Date(25_200).toISOString(),
          new Date(20_200).toISOString()
        ])
        expect(yield* sampler.current).toEqual(history[0])
      })
    ))

  it.effect("current waits for the first sample instead of inventing one", () =>
    withSampler({}, (sampler) =>
      Effect.gen(function*() {
        expect(yield* sampler.history(30)).toEqual([])
        const fiber = yield* Effect.fork(sampler.current)
        yield* TestClock.adjust("200 millis")
        const first = yield* fiber.await
        expect(first._tag).toBe("Success")
        expect((yield* sampler.history(30)).length).toBe(1)
      })
    ))

  it.effect("answers overload with the caller's thresholds echoed", () =>
    withSampler({}, (sampler) =>
      Effect.gen(function*() {
        yield* TestClock.adjust("200 millis")
        const low = { cpu_percent: -1, memory_percent: 100, load_avg: 1e9 }
        expect(yield* sampler.overload(low)).toEqual({ overloaded: true, threshold: low })
        const high = { cpu_percent: 100, memory_percent: 100, load_avg: 1e9 }
        expect(yield* sampler.overload(high)).toEqual({ overloaded: false, threshold: high })
      })
    ))

  it.effect("stops sampling when its scope closes", () =>
    Effect.gen(function*() {
      const sampler = yield* ResourceSampler.pipe(Effect.provide(ResourceSampler.layer({ interval: "1 second" })))
      yield* TestClock.adjust(Duration.seconds(10))
      expect(yield* sampler.history(100)).toEqual([])
    }))

  it.effect("the kernel samples every resources.sample_interval_secs and keeps resources.history_size, as configured when it starts", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(os.tmpdir(), "annal-resources-"))
      const kernel = () => Kernel.layer({ store: { filename: join(dir, "annal.db"), synchronous: "NORMAL" }, dataDir: dir })
      yield* Effect.flatMap(Configuration, (c) => c.update({ resources: { sample_interval_secs: 2, history_size: 3 } }, { actor: "user:api" })).pipe(
        Effect.provide(kernel())
      )
      yield* Effect.gen(function*() {
        const sampler = yield* ResourceSampler
        yield* TestClock.adjust("200 millis")
        expect((yield* sampler.history(10)).length).toBe(1)
        yield* TestClock.adjust("1900 millis")
        expect((yield* sampler.history(10)).length).toBe(1)
        yield* TestClock.adjust("100 millis")
        expect((yield* sampler.history(10)).length).toBe(2)
        for (let i = 0; i < 3; i++) yield* TestClock.adjust("2 seconds")
        const now = yield* TestClock.currentTimeMillis
        expect((yield* sampler.history(10)).map((h) => h.timestamp)).toEqual([now, now - 2000, now - 4000].map((t) => new Date(t).toISOString()))
      }).pipe(Effect.provide(kernel()))
    }))
})
