import { describe, expect, it } from "@effect/vitest"
import { Configuration, Kernel, Memory, MemoryEvents, Rebuild } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { copyFileSync, existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { memoryKernel, tempDataDir, user } from "./fixtures/memoryKernel.js"
import { eventually } from "./support.js"

const store = (content: string, extra: Record<string, unknown> = {}) =>
  Effect.flatMap(Memory, (m) => Effect.map(m.store({ content, ...extra }, user), (r) => r.id))

const keyword = (query: string, memory_type?: "conversation" | "session" | "fact" | "episode" | "knowledge", limit = 10) =>
  Effect.flatMap(Memory, (m) => m.search({ query, limit, ...(memory_type === undefined ? {} : { memory_type }) }, user))

const semantic = (query: string, memory_type?: "fact" | "episode" | "knowledge" | "conversation", limit = 10) =>
  Effect.flatMap(Memory, (m) => m.semantic({ query, limit, ...(memory_type === undefined ? {} : { memory_type }) }, user))

const eventsOfType = (type: string) =>
  Effect.flatMap(EventStore, (s) => Effect.map(s.read(1, 1_000_000), (events) => events.filter((e) => e.type === type)))

const TOPICS = [
  "The deployment pipeline builds the container image and pushes it to the registry",
  "My favourite recipe for banana bread uses brown sugar and walnuts",
  "Alice rotates the database backup keys every ninety days",
  "The garden needs watering twice a week during the dry summer",
  "Our flight to Lisbon leaves at seven in the morning from terminal two",
  "Flaky integration tests are retried once before the build fails"
]

describe("keyword search (FTS5, BM25)", () => {
  it.live("ranks the better match first, filters by type, and records the recall without the query", () =>
    Effect.gen(function*() {
      const best = yield* store("The event log is append-only: every event in the log is kept, and the log is the truth")
      const weaker = yield* store("We write errors to a log file")
      const episode = yield* store("Planning the conference event calendar", { memory_type: "episode" })
      yield* store("Banana bread with brown sugar", { memory_type: "knowledge" })

      const found = yield* keyword("event log")
      expect(found.count).toBe(3)
      expect(found.entries[0]!.id).toBe(best)
      expect(found.entries.map((e) => e.id).sort()).toEqual([best, weaker, episode].sort())
      expect(found.entries[0]).toMatchObject({ type: "fact", tags: [], importance: 0.5, created_at: expect.stringMatching(/Z$/) })

      // stemming: "events" and "logged" find "event" and "log"
      expect((yield* keyword("events logged")).entries[0]!.id).toBe(best)

      const episodes = yield* keyword("event log", "episode")
      expect(episodes.entries.map((e) => e.id)).toEqual([episode])
      expect((yield* keyword("event log", "conversation")).count).toBe(0)
      expect((yield* keyword("event log", undefined, 1)).entries.map((e) => e.id)).toEqual([best])

      // a recall commits after its search answers; four searches found something, the
      // conversation search found nothing and records nothing
      const recalls = yield* eventually(eventsOfType(MemoryEvents.MEMORY_RECALLED), (r) => r.length >= 4)
      yield* Effect.sleep("50 millis")
      expect(yield* eventsOfType(MemoryEvents.MEMORY_RECALLED)).toHaveLength(4)
      expect(recalls[0]!.data).toMatchObject({ mode: "keyword", memory_type: null, query_length: 9, count: 3 })
      expect(JSON.stringify(recalls.map((r) => r.data))).not.toContain("event log")
      expect(recalls[3]!.data.memory_ids).toEqual([best])
    }).pipe(Effect.provide(memoryKernel(tempDataDir())))
  )

  it.live("never fails on FTS5 syntax in a query", () =>
    Effect.gen(function*() {
      const id = yield* store("NEAR the column AND the star * of the show")
      const cases: ReadonlyArray<readonly [string, number]> = [
        ['"', 0], ["AND(", 1], ["*", 0], ["NEAR(", 1], ['star" OR "', 1], ["-star", 1], ["^star", 1], ["content: star", 1],
        ["{content}: star", 1], ["star*", 1], ["OR OR AND", 1], ["NOT", 0], ["\\", 0], ["'", 0], ["NEAR(star show, 2)", 1]
      ]
      for (const [query, count] of cases) expect([query, (yield* keyword(query)).count]).toEqual([query, count])
      expect((yield* keyword("AND(")).entries.map((e) => e.id)).toEqual([id])
      expect((yield* keyword('"')).count).toBe(0)
    }).pipe(Effect.provide(memoryKernel(tempDataDir())))
  )
})

describe("semantic search (HNSW over the lexical embedder)", () => {
  it.live("finds a paraphrase before unrelated memories, filters by type, and forgets deleted memories in both searches", () =>
    Effect.gen(function*() {
      const ids: Array<string> = []
      for (const [i, text] of TOPICS.entries()) ids.push(yield* store(text, { memory_type: i % 2 === 0 ? "fact" : "episode" }))
      const result = yield* semantic("how do we build and push container images when deploying?")
      expect(result.engine).toBe("hnsw")
      expect(result.count).toBe(6)
      expect(result.entries[0]!.id).toBe(ids[0])
      const first = result.entries[0]!
      expect(first.similarity).toBeCloseTo(1 - first.distance, 6)
      expect(first.similarity).toBeGreaterThan(result.entries[1]!.similarity + 0.1)

      const baking = yield* semantic("baking bread with sugar", "episode", 2)
      expect(baking.entries.map((e) => e.id)[0]).toBe(ids[1])
      expect(baking.entries.every((e) => e.type === "episode")).toBe(true)
      expect(baking.count).toBe(2)

      yield* Effect.flatMap(Memory, (m) => m.remove(ids[0]!, user))
      const after = yield* semantic("how do we build and push container images when deploying?")
      expect(after.entries.map((e) => e.id)).not.toContain(ids[0])
      expect(after.count).toBe(5)
      expect((yield* keyword("container registry")).count).toBe(0)
      expect((yield* Effect.flip(Effect.flatMap(Memory, (m) => m.get(ids[0]!))))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(Effect.flatMap(Memory, (m) => m.remove(ids[0]!, user))))._tag).toBe("EntityNotFound")
      const status = yield* Effect.flatMap(Memory, (m) => m.status)
      expect(status).toEqual({ enabled: true, index_size: 5, total_entries: 5 })
      // a query without words is near nothing
      expect((yield* semantic("?!")).count).toBe(0)
    }).pipe(Effect.provide(memoryKernel(tempDataDir())))
  )

  it.live("answers a retried Idempotency-Key with the first memory", () =>
    Effect.gen(function*() {
      const memory = yield* Memory
      const ctx = { actor: "user:test", meta: { idempotency_key: "same" } }
      const a = yield* memory.store({ content: "first" }, ctx)
      const b = yield* memory.store({ content: "second" }, ctx)
      expect(b.id).toBe(a.id)
      expect((yield* memory.list({ page: 1, limit: 10, offset: 0 })).total).toBe(1)
    }).pipe(Effect.provide(memoryKernel(tempDataDir())))
  )
})

describe("the semantic index file", () => {
  const QUERY = "who keeps the database backups safe?"

  it.live("persists across a restart, catches up from its last seq, and is rebuilt with the same results when deleted", () =>
    Effect.gen(function*() {
      const dir = tempDataDir()
      const index = join(dir, "memory.hnsw")
      const run = <A, E>(program: Effect.Effect<A, E, Memory | EventStore | Configuration>) => {
        const logs: Array<string> = []
        return Effect.map(Effect.provide(program, memoryKernel(dir, logs)), (value) => ({ value, logs }))
      }
      const ids = (r: { entries: ReadonlyArray<{ id: string }> }) => r.entries.map((e) => e.id)

      const first = yield* run(Effect.gen(function*() {
        for (const text of TOPICS) yield* store(text)
        for (let i = 0; i < 40; i++) yield* store(`Note ${i}: ${TOPICS[i % TOPICS.length]!.split(" ").reverse().join(" ")}`)
        return yield* semantic(QUERY)
      }))
      expect(first.logs.some((l) => l.startsWith("memory index rebuilt from the log (no saved index"))).toBe(true)
      expect(existsSync(index)).toBe(true)
      const sidecar = JSON.parse(readFileSync(`${index}.json`, "utf8"))
      expect(sidecar.labels).toHaveLength(46)

      const second = yield* run(semantic(QUERY))
      expect(second.logs.some((l) => /^memory index loaded: 46 vectors up to seq \d+/.test(l))).toBe(true)
      expect(second.logs.some((l) => l.startsWith("memory index rebuilt"))).toBe(false)
      expect(ids(second.value)).toEqual(ids(first.value))
      second.value.entries.forEach((e, i) => expect(e.similarity).toBeCloseTo(first.value.entries[i]!.similarity, 6))

      // a crash before the index was saved: its files are older than the log
      copyFileSync(index, `${index}.old`)
      copyFileSync(`${index}.json`, `${index}.json.old`)
      const added = yield* run(store("Bob keeps the database backups in a fireproof safe"))
      copyFileSync(`${index}.old`, index)
      copyFileSync(`${index}.json.old`, `${index}.json`)
      const third = yield* run(Effect.gen(function*() {
        const result = yield* semantic(QUERY)
        return { result, status: yield* Effect.flatMap(Memory, (m) => m.status) }
      }))
      expect(third.logs.some((l) => l.startsWith("memory index loaded: 46 vectors"))).toBe(true)
      expect(third.value.status.index_size).toBe(47)
      expect(ids(third.value.result)[0]).toBe(added.value)

      rmSync(index)
      const fourth = yield* run(semantic(QUERY))
      expect(fourth.logs.some((l) => l.startsWith("memory index rebuilt from the log (no saved index"))).toBe(true)
      expect(ids(fourth.value)).toEqual(ids(third.value.result))
      fourth.value.entries.forEach((e, i) => expect(e.distance).toBeCloseTo(third.value.result.entries[i]!.distance, 6))
    })
  )

  it.live("is rebuilt when another embedder built it, or when it belongs to another log", () =>
    Effect.gen(function*() {
      const dir = tempDataDir()
      const logs: Array<string> = []
      const before = yield* Effect.gen(function*() {
        for (const text of TOPICS) yield* store(text)
        return yield* semantic(QUERY)
      }).pipe(Effect.provide(memoryKernel(dir)))

      const changed = yield* Effect.gen(function*() {
        const config = yield* Configuration
        yield* config.update({ memory: { embedding: { dimension: 256 } } }, user)
        return yield* semantic(QUERY)
      }).pipe(Effect.provide(memoryKernel(dir, logs)))
      expect(logs.some((l) => l.startsWith("memory index rebuilt from the log (the index parameters changed; lexical/v1/d256"))).toBe(true)
      expect(changed.entries[0]!.id).toBe(before.entries[0]!.id)
      expect(JSON.parse(readFileSync(join(dir, "memory.hnsw.json"), "utf8")).dimension).toBe(256)

      // the same index files beside a different log of at least as many events
      const other = tempDataDir()
      yield* Effect.gen(function*() {
        for (let i = 0; i < 12; i++) yield* store(`unrelated memory number ${i}`)
        yield* Effect.flatMap(Configuration, (c) => c.update({ memory: { embedding: { dimension: 256 } } }, user))
      }).pipe(Effect.provide(memoryKernel(other)))
      copyFileSync(join(dir, "memory.hnsw"), join(other, "memory.hnsw"))
      copyFileSync(join(dir, "memory.hnsw.json"), join(other, "memory.hnsw.json"))
      const otherLogs: Array<string> = []
      const result = yield* semantic("unrelated memory").pipe(Effect.provide(memoryKernel(other, otherLogs)))
      expect(otherLogs.some((l) => l.startsWith("memory index rebuilt from the log (it belongs to another log"))).toBe(true)
      expect(result.count).toBe(10)
      expect(result.entries.every((e) => e.content.startsWith("unrelated memory"))).toBe(true)
    })
  )
})

describe("memory views", () => {
  it.live("rebuild from the log identical to the live ones after a run", () =>
    Effect.gen(function*() {
      const ids: Array<string> = []
      for (const [i, text] of TOPICS.entries()) ids.push(yield* store(text, { tags: [`t${i % 2}`, "x"], importance: i / 10 }))
      yield* keyword("database backup")
      yield* semantic("garden summer")
      yield* Effect.flatMap(Memory, (m) => m.remove(ids[2]!, user))
      yield* keyword("database backup")
      const report = yield* Rebuild.rebuild(Kernel.projections)
      expect(report.equal).toBe(true)
      const tables = Object.fromEntries(report.tables.map((t) => [t.table, t.live.rows]))
      expect(tables.memory_entries).toBe(5)
      expect(tables.memory_fts).toBe(5)
      const page = yield* Effect.flatMap(Memory, (m) => m.list({ page: 1, limit: 2, offset: 0 }))
      expect(page).toMatchObject({ total: 5, page: 1, limit: 2 })
      expect(page.items.map((i) => i.name)).toEqual([ids[5], ids[4]])
      expect(page.items[0]).toMatchObject({ category: "fact", importance: 0.5 })
    }).pipe(Effect.provide(memoryKernel(tempDataDir())))
  )
})
