/**
 * bench:timetravel — milliseconds to answer a view read as of a random seq (`?at_seq`'s path:
 * the past views built, then read) on a log of 1,000,000 events, beside the baseline: the same
 * views built by a full replay of the log up to that seq (no snapshots). The log is a mix of
 * access decisions and memories stored and deleted, written through the store with the kernel's
 * projections. The snapshots are taken once first (what a running server does in the
 * background), and that one-off walk is reported too.
 *
 *   npm run bench:timetravel        BENCH_EVENTS=100000 for a smaller log, BENCH_SEQS=5 reads
 */
import { Kernel } from "@annal/kernel"
import { EventStore, PastViews, PastViewsSqlite, readingAt } from "@annal/store"
import { Effect, Layer } from "effect"
import { join } from "node:path"
import { fmt, machine, tempDir } from "./lib.js"

const EVENTS = Number(process.env.BENCH_EVENTS ?? 1_000_000)
const SEQS = Number(process.env.BENCH_SEQS ?? 5)
const EVERY = 50_000
const PER_APPEND = 500

const tmp = tempDir("timetravel")
const database = join(tmp.dir, "annal.db")
const store = () => Kernel.storeLayer({ filename: database, synchronous: "OFF" })

/** Access decisions, with a memory stored every tenth append and one of them deleted every fiftieth. */
const writeLog = Effect.gen(function*() {
  const store = yield* EventStore
  let last: Effect.Effect<unknown, unknown> = Effect.void
  for (let written = 0, n = 0; written < EVENTS; n++) {
    if (n % 10 === 9) {
      last = yield* store.enqueue({
        stream: `memory-m${n}`,
        expectedVersion: "any",
        actor: "user:bench",
        events: [{ type: "memory_stored", data: { id: `m${n}`, memory_type: "fact", content: `fact number ${n}: the build uses node ${n % 30}`, tags: ["bench"], importance: 0.5 } }]
      })
      written += 1
      continue
    }
    if (n % 50 === 49) {
      last = yield* store.enqueue({ stream: `memory-m${n - 40}`, expectedVersion: "any", actor: "user:bench", events: [{ type: "memory_deleted", data: { id: `m${n - 40}` } }] })
      written += 1
      continue
    }
    const subject = `agent-${n % 64}`
    const count = Math.min(PER_APPEND, EVENTS - written)
    last = yield* store.enqueue({
      stream: `access-${subject}`,
      expectedVersion: "any",
      actor: `agent:${subject}`,
      events: Array.from({ length: count }, (_, i) => ({
        type: "access_decided",
        data: { subject, action: i % 2 === 0 ? "use_tool:exec" : "access_path:/workspace", resource: `/workspace/${subject}/notes-${written + i}.md`, allowed: i % 5 !== 0, reason: i % 5 === 0 ? "not in the agent's allowlist" : null }
      }))
    })
    written += count
    if (n % 20 === 19) yield* last
  }
  yield* last
  return (yield* store.head).seq
}).pipe(Effect.scoped, Effect.provide(store()))

/** The past views at `seq`, built and then read (the memories there, as `GET /api/memory` counts them). */
const readAt = (seq: number) =>
  Effect.gen(function*() {
    const past = yield* (yield* PastViews).at(seq)
    return yield* readingAt(past)(Effect.map(past.sql<{ n: number }>`SELECT count(*) AS n FROM memory_entries`, (rows) => rows[0]!.n))
  })

const timedMs = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.map(Effect.timed(effect), ([d, value]) => ({ ms: Number(d.value._tag === "Nanos" ? d.value.nanos : 0n) / 1e6, value }))

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const pastViews = (directory: string, snapshotEvery: number) =>
  PastViewsSqlite.layer({ directory, snapshotEvery, keep: 1 }).pipe(Layer.provideMerge(store()))

try {
  console.log(`machine: ${machine()}`)
  const t = performance.now()
  const head = await Effect.runPromise(writeLog)
  console.log(`(wrote ${fmt(head)} events through the store in ${((performance.now() - t) / 1000).toFixed(1)} s)`)
  // random seqs in the upper half of the log, the same for both
  const seqs = Array.from({ length: SEQS }, (_, i) => Math.floor(head / 2 + ((i + 0.37) / SEQS) * (head / 2 - 1)))

  const result = await Effect.gen(function*() {
    // the baseline: a full replay of the log to each seq
    const baseline: Array<number> = []
    yield* Effect.gen(function*() {
      for (const seq of seqs.slice(0, Math.min(2, seqs.length))) {
        const r = yield* timedMs(readAt(seq))
        baseline.push(r.ms)
        console.log(`full replay to seq ${fmt(seq)}: ${fmt(r.ms)} ms (${r.value} memories there)`)
      }
    }).pipe(Effect.provide(pastViews(join(tmp.dir, "no-snapshots"), 0)), Effect.scoped)

    // ours: snapshots taken once (a server does it in the background), then each read
    const ours: Array<number> = []
    yield* Effect.gen(function*() {
      const warm = yield* timedMs(readAt(head))
      console.log(`one-off: snapshots every ${fmt(EVERY)} events up to seq ${fmt(head)} in ${fmt(warm.ms)} ms`)
      for (const seq of seqs) {
        const r = yield* timedMs(readAt(seq))
        ours.push(r.ms)
        console.log(`as of seq ${fmt(seq)}: ${fmt(r.ms)} ms (${r.value} memories there)`)
      }
    }).pipe(Effect.provide(pastViews(join(tmp.dir, "past-views"), EVERY)), Effect.scoped)
    return { ours: median(ours), baseline: median(baseline) }
  }).pipe(Effect.runPromise)

  console.log(`a view as of a random seq: ${fmt(result.ours)} ms, full replay ${fmt(result.baseline)} ms (ratio ${(result.baseline / result.ours).toFixed(1)}× faster)`)
  console.log(JSON.stringify({ bench: "timetravel", events: head, ours: Math.round(result.ours), baseline: Math.round(result.baseline), unit: "ms", ratio: Number((result.baseline / result.ours).toFixed(2)) }))
} finally {
  tmp.cleanup()
}
