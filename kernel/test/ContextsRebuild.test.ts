import { describe, expect, it } from "@effect/vitest"
import { AgentGroups, Kernel, Rebuild, Seeds } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { contextsRun as run } from "./fixtures/mixedRun.js"

const MY_TABLES = ["agent_group_members", "agent_groups", "persona_active", "personas", "seeds", "session_messages", "sessions", "skills"]

const kernel = (dir: string) =>
  Kernel.layer({ store: { filename: join(dir, "annal.db"), synchronous: "NORMAL" }, dataDir: dir, resourceSampleIntervalSecs: 60 })

describe("seeds, skills, personas, sessions and agent groups", () => {
  it.live("rebuilding from the log gives views identical to the live ones", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "annal-contexts-"))
      mkdirSync(join(dir, "seeds"))
      writeFileSync(join(dir, "seeds", "handwritten.md"), "# Handwritten\nA seed from a file")
      yield* Effect.gen(function*() {
        yield* run
        const report = yield* Rebuild.rebuild(Kernel.projections)
        const mine = report.tables.filter((t) => MY_TABLES.includes(t.table))
        expect(mine.map((t) => t.table).sort()).toEqual(MY_TABLES)
        expect(mine.filter((t) => !t.equal)).toEqual([])
        expect(report.equal).toBe(true)
        const rows = Object.fromEntries(mine.map((t) => [t.table, t.live.rows]))
        expect(rows).toEqual({
          seeds: 10,
          skills: 5,
          personas: 1,
          persona_active: 1,
          sessions: 2,
          session_messages: 10,
          agent_groups: 9,
          agent_group_members: 18
        })
      }).pipe(Effect.provide(kernel(dir)))

      // after a restart: the same views, nothing re-imported or re-created, still equal to a rebuild
      yield* Effect.gen(function*() {
        const store = yield* EventStore
        const before = yield* store.head
        const report = yield* Rebuild.rebuild(Kernel.projections)
        expect(report.equal).toBe(true)
        expect(report.tables.find((t) => t.table === "seeds")!.live.rows).toBe(10)
        expect((yield* store.head).seq).toBe(before.seq)
        const groups = yield* AgentGroups
        expect((yield* groups.list).map((g) => g.status)).toEqual([
          "completed", "failed", "running", "completed", "failed", "running", "completed", "failed", "running"
        ])
      }).pipe(Effect.provide(kernel(dir)))
    }), 60_000)

  it.live("a tampered view of these contexts is found and repaired from the log", () =>
    Effect.gen(function*() {
      const dir = mkdtempSync(join(tmpdir(), "annal-contexts-"))
      yield* Effect.gen(function*() {
        yield* run
        const store = yield* EventStore
        yield* store.withViews((db) =>
          Effect.all([db.run("UPDATE seeds SET score = 0.99"), db.run("DELETE FROM session_messages WHERE role = 'agent'")]))
        const broken = yield* Rebuild.rebuild(Kernel.projections, { replace: true })
        expect(broken.tables.filter((t) => !t.equal).map((t) => t.table).sort()).toEqual(["seeds", "session_messages"])
        expect((yield* Rebuild.rebuild(Kernel.projections)).equal).toBe(true)
        const seeds = yield* Seeds
        const page = yield* seeds.list({ page: 1, limit: 1, offset: 0 })
        const lineage = yield* seeds.evolution(page.items[0]!.id)
        expect(lineage.map((s) => s.score)).toEqual([0.3 * 1, 0.3 * 2, 0.3 * 3])
      }).pipe(Effect.provide(kernel(dir)))
    }), 60_000)
})
