import { describe, expect, it } from "@effect/vitest"
import Database from "better-sqlite3"
import { Chunk, Effect, Exit, Fiber, Layer, Stream, TestClock } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Chain, EventStore, EventStoreSqlite, IdGenerator, Projector, type StoredEvent } from "../src/index.js"

const tempDb = () => join(mkdtempSync(join(tmpdir(), "annal-store-")), "annal.db")

const storeLayer = (filename: string, options: Partial<EventStoreSqlite.EventStoreSqliteConfig> = {}) =>
  EventStoreSqlite.layer({ filename, synchronous: "NORMAL", ...options }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.layer)))

const withStore = <A, E>(filename: string, f: (store: EventStore["Type"]) => Effect.Effect<A, E>) =>
  Effect.flatMap(EventStore, f).pipe(Effect.provide(storeLayer(filename)), Effect.scoped)

const draft = (n: number) => ({ type: "thing_happened", data: { n } })

describe("EventStore (SQLite)", () => {
  it.effect("appends events with seq, version and a chain that verifies", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const first = yield* store.append({ stream: "a", expectedVersion: 0, events: [draft(1), draft(2)], actor: "system" })
        expect(first.map((e) => [e.seq, e.version])).toEqual([[1, 1], [2, 2]])
        expect(first[0]!.prev_hash).toBe(Chain.GENESIS_HASH)
        expect(first[1]!.prev_hash).toBe(first[0]!.hash)
        const second = yield* store.append({ stream: "b", expectedVersion: 0, events: [draft(3)], actor: "user:alice" })
        expect(second[0]!.seq).toBe(3)
        expect(second[0]!.version).toBe(1)
        expect(second[0]!.at).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
        expect(yield* store.head).toEqual({ seq: 3, hash: second[0]!.hash })
        const verified = yield* store.verify
        expect(verified).toMatchObject({ valid: true, entry_count: 3 })
        // an outside verifier's formula gives the same hash
        const e = second[0]!
        expect(Chain.hashOfValues(e, e.data, e.meta, e.prev_hash)).toBe(e.hash)
      })
    ))

  it.effect("refuses an append at the wrong stream version with a typed conflict", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        yield* store.append({ stream: "a", expectedVersion: 0, events: [draft(1)], actor: "system" })
        const conflict = yield* Effect.flip(store.append({ stream: "a", expectedVersion: 0, events: [draft(2)], actor: "system" }))
        expect(conflict._tag).toBe("StreamVersionConflict")
        expect(conflict).toMatchObject({ stream: "a", expected: 0, actual: 1 })
        expect((yield* store.head).seq).toBe(1)
      })
    ))

  it.effect("returns the first result for an idempotency key already applied", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const meta = { idempotency_key: "k-1" }
        const first = yield* store.append({ stream: "a", expectedVersion: "any", events: [draft(1)], actor: "system", meta })
        const again = yield* store.append({ stream: "a", expectedVersion: "any", events: [draft(2)], actor: "system", meta })
        expect(again).toEqual(first)
        expect((yield* store.head).seq).toBe(1)
      })
    ))

  it.effect("rejects data that is not a JSON object and appends nothing of that command", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const bad = yield* Effect.flip(
          store.append({ stream: "a", expectedVersion: 0, events: [draft(1), { type: "x", data: [1] as never }], actor: "system" })
        )
        expect(bad._tag).toBe("EventStoreError")
        const badType = yield* Effect.flip(store.append({ stream: "a", expectedVersion: 0, events: [{ type: "Not Snake", data: {} }], actor: "system" }))
        expect(badType.message).toContain("snake_case")
        expect((yield* store.head).seq).toBe(0)
        const ok = yield* store.append({ stream: "a", expectedVersion: 0, events: [draft(1)], actor: "system" })
        expect(ok[0]!.seq).toBe(1)
      })
    ))

  it.effect("many fibers appending at once produce no gap, fork or duplicate", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const fibers = 64
        const perFiber = 25
        yield* Effect.forEach(
          Array.from({ length: fibers }, (_, f) => f),
          (f) =>
            Effect.forEach(
              Array.from({ length: perFiber }, (_, i) => i),
              (i) =>
                // half append to their own stream with exact versions, half to a shared stream
                f % 2 === 0
                  ? store.append({ stream: `own-${f}`, expectedVersion: i, events: [draft(i)], actor: "system" })
                  : store.append({ stream: "shared", expectedVersion: "any", events: [draft(i), draft(i)], actor: "system" }),
              { discard: true }
            ),
          { concurrency: "unbounded", discard: true }
        )
        const all = yield* store.read(1, 1_000_000)
        const expected = (fibers / 2) * perFiber + (fibers / 2) * perFiber * 2
        expect(all.length).toBe(expected)
        expect(all.map((e) => e.seq)).toEqual(Array.from({ length: expected }, (_, i) => i + 1))
        const shared = all.filter((e) => e.stream === "shared").map((e) => e.version)
        expect(shared).toEqual(Array.from({ length: shared.length }, (_, i) => i + 1))
        expect(yield* store.verify).toMatchObject({ valid: true, entry_count: expected })
      })
    ))

  it.effect("an event's time comes from the Clock and its id from the IdGenerator: a seeded log is the same log twice", () =>
    Effect.gen(function*() {
      const run = (filename: string) =>
        Effect.gen(function*() {
          const store = yield* EventStore
          yield* TestClock.setTime(Date.parse("2026-01-02T03:04:05.678Z"))
          const first = yield* store.append({ stream: "a", expectedVersion: 0, events: [draft(1), draft(2)], actor: "system" })
          yield* TestClock.adjust("1 hour")
          const second = yield* store.append({ stream: "a", expectedVersion: 2, events: [draft(3)], actor: "system" })
          return [...first, ...second]
        }).pipe(
          Effect.provide(
            EventStoreSqlite.layer({ filename, synchronous: "NORMAL" }).pipe(Layer.provide(Layer.merge(Projector.none, IdGenerator.seeded(7))))
          ),
          Effect.scoped
        )
      const events = yield* run(tempDb())
      expect(events.map((e) => e.at)).toEqual(["2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05.678Z", "2026-01-02T04:04:05.678Z"])
      // the id's first 48 bits are the same time
      expect(events.map((e) => parseInt(e.id.replace(/-/g, "").slice(0, 12), 16))).toEqual(events.map((e) => Date.parse(e.at)))
      // same seed, same times: the same ids, hence the same chain
      const again = yield* run(tempDb())
      expect(again.map((e) => [e.id, e.hash])).toEqual(events.map((e) => [e.id, e.hash]))
    }))

  it.effect("a failing append in a group-committed batch fails alone; the others commit", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const results = yield* Effect.forEach(
          Array.from({ length: 40 }, (_, i) => i),
          (i) =>
            Effect.either(
              i % 4 === 0
                ? store.append({ stream: "s", expectedVersion: 999, events: [draft(i)], actor: "system" })
                : store.append({ stream: `ok-${i}`, expectedVersion: 0, events: [draft(i)], actor: "system" })
            ),
          { concurrency: "unbounded" }
        )
        expect(results.filter((r) => r._tag === "Left").length).toBe(10)
        expect(results.filter((r) => r._tag === "Right").length).toBe(30)
        const all = yield* store.read(1, 1000)
        expect(all.map((e) => e.seq)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
        expect(all.every((e) => e.stream.startsWith("ok-"))).toBe(true)
        expect(yield* store.verify).toMatchObject({ valid: true, entry_count: 30 })
      })
    ))

  it.effect("queued appends commit in the order they were queued, together, each failing alone", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const commits: Array<number> = []
        const first = yield* store.enqueue({ stream: "q", expectedVersion: 0, events: [draft(1)], actor: "system" })
        const wrong = yield* store.enqueue({ stream: "q", expectedVersion: 0, events: [draft(2)], actor: "system" })
        const other = yield* store.enqueue({ stream: "r", expectedVersion: "any", events: [draft(3)], actor: "system" })
        const last = yield* store.enqueue({ stream: "q", expectedVersion: 1, events: [draft(4)], actor: "system" })
        // nothing is committed before anyone waits: the writer has not run yet
        commits.push((yield* store.head).seq)
        const [end] = yield* last
        // the last one's commit implies every earlier one was decided
        expect((yield* Effect.flip(wrong))._tag).toBe("StreamVersionConflict")
        expect((yield* first).map((e) => e.seq)).toEqual([1])
        expect((yield* other).map((e) => [e.stream, e.seq])).toEqual([["r", 2]])
        expect(end).toMatchObject({ stream: "q", version: 2, seq: 3 })
        expect(commits).toEqual([0])
        expect(yield* store.verify).toMatchObject({ valid: true, entry_count: 3 })
      })
    ))

  it.effect("version is a stream's last event's version, 0 for a stream with none, and moves with each append", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        expect(yield* store.version("a")).toBe(0)
        yield* store.append({ stream: "a", expectedVersion: 0, events: [draft(1), draft(2)], actor: "system" })
        yield* store.append({ stream: "b", expectedVersion: 0, events: [draft(3)], actor: "system" })
        expect(yield* store.version("a")).toBe(2)
        expect(yield* store.version("b")).toBe(1)
        expect(yield* store.version("none")).toBe(0)
        const conflict = yield* Effect.flip(store.append({ stream: "a", expectedVersion: 1, events: [draft(4)], actor: "system" }))
        expect(conflict._tag).toBe("StreamVersionConflict")
        expect(yield* store.version("a")).toBe(2)
      })
    ))

  it.effect("tail replays stored events then delivers live ones without a gap or duplicate", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        for (let i = 0; i < 50; i++) yield* store.append({ stream: "a", expectedVersion: "any", events: [draft(i)], actor: "system" })
        const collector = yield* store.tail(10).pipe(Stream.take(140), Stream.runCollect, Effect.fork)
        // append concurrently with the replay
        yield* Effect.forEach(
          Array.from({ length: 100 }, (_, i) => i),
          (i) => store.append({ stream: "b", expectedVersion: "any", events: [draft(i)], actor: "system" }),
          { concurrency: 8, discard: true }
        )
        const got = Chunk.toReadonlyArray(yield* Fiber.join(collector))
        expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 140 }, (_, i) => i + 11))
      })
    ))

  it.live("a subscriber that falls behind its buffer is cut off with the seq to resume from", () =>
    withStore(tempDb(), (store) =>
      Effect.gen(function*() {
        const received: Array<StoredEvent> = []
        const slow = yield* store.tail(0, { buffer: 8 }).pipe(
          Stream.tap((e) => Effect.sync(() => received.push(e)).pipe(Effect.zipRight(Effect.sleep("50 millis")))),
          Stream.runDrain,
          Effect.fork
        )
        const fast = yield* store.tail(0, { buffer: 1000 }).pipe(Stream.take(200), Stream.runCollect, Effect.fork)
        yield* Effect.sleep("20 millis")
        for (let i = 0; i < 200; i++) yield* store.append({ stream: "a", expectedVersion: "any", events: [draft(i)], actor: "system" })
        const exit = yield* Fiber.await(slow)
        expect(Exit.isFailure(exit)).toBe(true)
        const error = Exit.isFailure(exit) ? exit.cause : undefined
        expect(String(error)).toContain("SubscriberOverflow")
        expect(Chunk.size(yield* Fiber.join(fast))).toBe(200)
        expect(yield* store.subscriberCount).toBe(0)
        // resuming from the last seq received continues exactly after it
        const last = received[received.length - 1]!.seq
        const resumed = yield* store.tail(last).pipe(Stream.take(200 - last), Stream.runCollect)
        expect(Chunk.toReadonlyArray(resumed).map((e) => e.seq)).toEqual(Array.from({ length: 200 - last }, (_, i) => last + i + 1))
      })
    ))

  describe("verify catches tampering", () => {
    const seeded = (n: number) =>
      Effect.gen(function*() {
        const filename = tempDb()
        yield* withStore(filename, (store) =>
          Effect.forEach(Array.from({ length: n }, (_, i) => i), (i) =>
            store.append({ stream: `s${i % 3}`, expectedVersion: "any", events: [draft(i)], actor: "system" }), { discard: true }))
        return filename
      })
    const tamper = (filename: string, sql: string) => {
      const db = new Database(filename)
      db.exec(sql)
      db.close()
    }
    const verifyFile = (filename: string) => withStore(filename, (store) => store.verify)

    it.effect("an edited data column", () =>
      Effect.gen(function*() {
        const filename = yield* seeded(10)
        tamper(filename, `UPDATE events SET data = '{"n":999}' WHERE seq = 4`)
        expect(yield* verifyFile(filename)).toMatchObject({ valid: false, broken_at_seq: 4, entry_count: 10 })
      }))

    it.effect("data edited to a number canonical JSON cannot hold", () =>
      Effect.gen(function*() {
        const filename = yield* seeded(5)
        tamper(filename, `UPDATE events SET data = '{"n":1e400}' WHERE seq = 2`)
        expect(yield* verifyFile(filename)).toMatchObject({ valid: false, broken_at_seq: 2, found: "unparseable JSON" })
      }))

    it.effect("data and meta written again in another but equivalent JSON form still verify; an edited value does not", () =>
      Effect.gen(function*() {
        const filename = tempDb()
        yield* withStore(filename, (store) =>
          store.append({ stream: "s", expectedVersion: "any", events: [{ type: "thing_happened", data: { b: 2, a: [1, "x"] } }], actor: "system", meta: { correlation_id: "c" } }))
        tamper(filename, `UPDATE events SET data = '{ "b": 2.0, "a": [1, "x"] }', meta = '{"correlation_id" : "c"}' WHERE seq = 1`)
        expect(yield* verifyFile(filename)).toMatchObject({ valid: true, entry_count: 1 })
        tamper(filename, `UPDATE events SET data = '{ "b": 3, "a": [1, "x"] }' WHERE seq = 1`)
        expect(yield* verifyFile(filename)).toMatchObject({ valid: false, broken_at_seq: 1, reason: "hash does not match the row's contents" })
      }))

    it.effect("text moved from the data column into meta, the hashed bytes unchanged, breaks the chain", () =>
      Effect.gen(function*() {
        const filename = tempDb()
        yield* withStore(filename, (store) =>
          store.append({ stream: "s", expectedVersion: "any", events: [draft(0), { type: "thing_happened", data: { a: 1, b: 2 } }], actor: "system" }))
        // data {"a":1,"b":2} and meta {} were hashed as `{"a":1,"b":2},{}`; the same bytes split at another comma
        tamper(filename, `PRAGMA ignore_check_constraints = ON; UPDATE events SET data = '{"a":1', meta = '"b":2},{}' WHERE seq = 2`)
        expect(yield* verifyFile(filename)).toMatchObject({ valid: false, broken_at_seq: 2, found: "unparseable JSON" })
      }))

    it.effect("a deleted row", () =>
      Effect.gen(function*() {
        const filename = yield* seeded(10)
        tamper(filename, `DELETE FROM events WHERE seq = 6`)
        expect(yield* verifyFile(filename)).toMatchObject({ valid: false, broken_at_seq: 6, entry_count: 9 })
      }))

    it.effect("two swapped rows", () =>
      Effect.gen(function*() {
        const filename = yield* seeded(10)
        tamper(
          filename,
          `UPDATE events SET seq = -1 WHERE seq = 3; UPDATE events SET seq = 3 WHERE seq = 7; UPDATE events SET seq = 7 WHERE seq = -1;`
        )
        expect(yield* verifyFile(filename)).toMatchObject({ valid: false, broken_at_seq: 3 })
      }))
  })
})
