import { describe, expect, it } from "@effect/vitest"
import { Access, Configuration, Kernel, MalformedEvent, Projection, Rebuild } from "@annal/kernel"
import { EventStore, EventStoreSqlite, IdGenerator, openScratch, runNow, type StoredEvent } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Effect, Layer } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"

const tempDb = () => join(mkdtempSync(join(tmpdir(), "annal-kernel-")), "annal.db")

const kernel = (filename: string) =>
  Kernel.layer({ store: { filename, synchronous: "NORMAL" }, dataDir: dirname(filename), resourceSampleIntervalSecs: 60 })

/** A realistic mixed run: config changes, access decisions, an idempotent retry. */
const mixedRun = Effect.gen(function*() {
  const config = yield* Configuration
  const access = yield* Access
  for (let i = 0; i < 20; i++) {
    yield* config.update({ resources: { history_size: 100 + i } }, { actor: "user:api" })
    yield* access.record(
      { subject: i % 2 === 0 ? "builder" : "api:127.0.0.1", action: `use_tool:t${i % 3}`, resource: `/w/${i}`, allowed: i % 4 !== 0, reason: i % 4 === 0 ? "denied path" : null },
      { actor: "system" }
    )
  }
  yield* config.update({ security: { api_key: "a-long-enough-api-key" } }, { actor: "user:api", meta: { idempotency_key: "k1" } })
  yield* config.update({ security: { api_key: "a-long-enough-api-key" } }, { actor: "user:api", meta: { idempotency_key: "k1" } })
})

describe("projections", () => {
  it.live("rebuild replays the log into views identical to the live ones", () =>
    Effect.gen(function*() {
      yield* mixedRun
      const report = yield* Rebuild.rebuild(Kernel.projections)
      expect(report.equal).toBe(true)
      // the run's 41 events, and whatever the contexts record at start (the default persona)
      expect(report.events).toBe((yield* (yield* EventStore).head).seq)
      expect(report.events).toBeGreaterThanOrEqual(41)
      expect(report.tables.map((t) => t.table)).toEqual(expect.arrayContaining(["access_decisions", "config_current"]))
      expect(report.tables.find((t) => t.table === "access_decisions")!.live.rows).toBe(20)
    }).pipe(Effect.provide(kernel(tempDb())))
  )

  it.live("a view changed behind the log's back is found and repaired from the log", () =>
    Effect.gen(function*() {
      yield* mixedRun
      const store = yield* EventStore
      yield* store.withViews((db) => db.run("UPDATE access_decisions SET allowed = 1 - allowed WHERE seq = 4"))
      const broken = yield* Rebuild.rebuild(Kernel.projections, { replace: true })
      expect(broken.equal).toBe(false)
      expect(broken.tables.filter((t) => !t.equal).map((t) => t.table)).toEqual(["access_decisions"])
      expect(broken.replaced).toBe(true)
      expect((yield* Rebuild.rebuild(Kernel.projections)).equal).toBe(true)
    }).pipe(Effect.provide(kernel(tempDb())))
  )

  it.live("views survive a restart, and a projection whose version changed is rebuilt on start", () =>
    Effect.gen(function*() {
      const filename = tempDb()
      yield* mixedRun.pipe(Effect.provide(kernel(filename)))
      const after = yield* Effect.gen(function*() {
        return yield* (yield* Configuration).current
      }).pipe(Effect.provide(kernel(filename)))
      expect(after.resources.history_size).toBe(119)
      expect(after.security.api_key_set).toBe(true)

      // a new version of the access projection that also counts denials per subject
      const v2 = Projection.make({
        name: "access",
        version: 2,
        tables: [{ name: "access_denials", ddl: "CREATE TABLE access_denials (subject TEXT PRIMARY KEY, n INTEGER NOT NULL)" }],
        handles: ["access_decided"],
        apply: (event, db) =>
          event.data.allowed === false
            ? Effect.asVoid(db.run("INSERT INTO access_denials (subject, n) VALUES (?, 1) ON CONFLICT (subject) DO UPDATE SET n = n + 1", [event.data.subject]))
            : Effect.void
      })
      const rows = yield* Effect.gen(function*() {
        const store = yield* EventStore
        return yield* store.withViews((db) => db.all<{ subject: string; n: number }>("SELECT subject, n FROM access_denials ORDER BY subject"))
      }).pipe(
        Effect.provide(EventStoreSqlite.layer({ filename }).pipe(Layer.provide(Layer.merge(Projection.projector([v2]), IdGenerator.layer)))),
        Effect.scoped
      )
      expect(rows).toEqual([{ subject: "builder", n: 5 }])
    })
  )

  it.live("an event whose data its Schema refuses fails its append with an error naming the seq, and changes no view", () =>
    Effect.gen(function*() {
      const store = yield* EventStore
      const before = (yield* store.head).seq
      const failure = yield* Effect.flip(store.append({
        stream: "agent-x",
        expectedVersion: 0,
        events: [{ type: "agent_created", data: { agent_id: "x", name: 42, seed_id: null } }],
        actor: "system"
      }))
      expect(failure.message).toContain(`event ${before + 1} (agent_created on agent-x) does not match its schema`)
      expect(failure.cause).toBeInstanceOf(MalformedEvent)
      expect(failure.cause).toMatchObject({ seq: before + 1, type: "agent_created", stream: "agent-x" })
      expect((yield* store.head).seq).toBe(before)
      expect(yield* (yield* SqlClient.SqlClient)`SELECT id FROM agents`).toEqual([])
    }).pipe(Effect.provide(kernel(tempDb())))
  )

  it("a replay that meets a malformed stored event stops there, naming its seq", () => {
    const event = (seq: number, data: StoredEvent["data"]): StoredEvent => ({
      seq, id: `e${seq}`, stream: "task-t", version: seq, type: seq === 1 ? "task_submitted" : "task_started", actor: "system",
      at: "2026-01-01T00:00:00.000Z", data, meta: {}, prev_hash: "", hash: ""
    })
    const submitted = { id: "t", description: "d", goal: "g", constraints: [], acceptance_criteria: [], toolchain: "default", priority: "Normal", source: { kind: "api", id: null } }
    const replay = () => {
      const scratch = openScratch()
      try {
        runNow(Projection.buildInto(scratch.db, Kernel.projections, (apply) =>
          Effect.zipRight(apply(event(1, submitted)), apply(event(2, { runner: "agent" })))))
      } finally {
        scratch.close()
      }
    }
    expect(replay).toThrow(MalformedEvent)
    expect(replay).toThrow(/^event 2 \(task_started on task-t\) does not match its schema/)
  })
})
