import { describe, expect, it } from "@effect/vitest"
import { AgentGroups, Kernel, Personas, Rebuild, Seeds, Sessions, Skills } from "@annal/kernel"
import { EventStore } from "@annal/store"
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const MY_TABLES = ["agent_group_members", "agent_groups", "persona_active", "personas", "seeds", "session_messages", "sessions", "skills"]

const kernel = (dir: string) =>
  Kernel.layer({ store: { filename: join(dir, "annal.db"), synchronous: "NORMAL" }, dataDir: dir, resourceSampleIntervalSecs: 60 })

/** A realistic run of seeds, skills, personas, sessions and agent groups together. */
const run = Effect.gen(function*() {
  const seeds = yield* Seeds
  const skills = yield* Skills
  const personas = yield* Personas
  const sessions = yield* Sessions
  const groups = yield* AgentGroups
  const user = { actor: "user:api" }
  const agent = { actor: "agent:orchestrator" }

  const reviewer = yield* personas.create(
    { name: "Reviewer", role: "Code Reviewer", description: "thorough", system_prompt: "Review.", enabled: true, model: "gpt-4", personality_traits: ["careful"] },
    user
  )
  yield* personas.update(reviewer.id, { personality_traits: ["careful", "kind"], enabled: true }, user)
  yield* personas.activate(reviewer.id, user)
  for (let i = 0; i < 6; i++) yield* skills.create({ name: `skill-${i}`, description: `skill ${i}`, content: `# Skill ${i}\n${"step\n".repeat(i)}` }, user)
  yield* skills.delete("skill-2", user)
  yield* skills.create({ name: "skill-2", description: "again", content: "recreated" }, user)
  yield* skills.delete("skill-4", user)

  for (let conversation = 0; conversation < 3; conversation++) {
    const { session_id } = yield* sessions.recordUserMessage(undefined, { content: `Build thing ${conversation}`, user_id: `user-${conversation}`, persona_id: reviewer.id }, user)
    let parent: string | null = null
    for (let generation = 0; generation < 3; generation++) {
      const seed: { id: string } = yield* seeds.create({ goal: `thing ${conversation} v${generation}`, constraints: ["tested"], parent_seed_id: parent }, agent)
      yield* seeds.recordEvaluation(seed.id, { score: 0.3 * (generation + 1), passed: generation === 2 }, agent)
      const group = yield* groups.create({ name: `build-${conversation}-${generation}`, agent_ids: ["a", "b"] }, agent)
      yield* groups.memberCompleted(group.id, "a", { success: true, result: "ok" }, agent)
      if (generation > 0) yield* groups.memberCompleted(group.id, "b", { success: generation === 2 }, agent)
      yield* sessions.recordResponse(session_id, { content: `generation ${generation}`, seed_id: seed.id, phase_reached: "evaluate", evaluation_passed: generation === 2 }, agent)
      parent = seed.id
    }
    yield* sessions.recordUserMessage(session_id, { content: "thanks" }, user)
    if (conversation === 1) yield* sessions.delete(session_id, user)
  }
  const deleted = yield* personas.delete(reviewer.id, user)
  expect(deleted.active_id).toBe("default")
})

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
