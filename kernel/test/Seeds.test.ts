import { describe, expect, it } from "@effect/vitest"
import { DataDir, Kernel, Seeds, SeedsDecide, SeedsEvents, SeedsProjection } from "@annal/kernel"
import { pageRequest } from "@annal/spec"
import { EventStore } from "@annal/store"
import { Effect, Either, Layer } from "effect"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { scratchViews } from "./scratchViews.js"

const tempDir = () => mkdtempSync(join(tmpdir(), "annal-seeds-"))
const seedsAt = (dir: string) =>
  Seeds.layer.pipe(
    Layer.provideMerge(Layer.merge(Kernel.storeLayer({ filename: join(dir, "annal.db"), synchronous: "NORMAL" }), DataDir.layer(dir)))
  )
const user = { actor: "agent:orchestrator" }
const ref = (id: string, generation: number, format: "json" | "markdown" = "json", sha256: string | null = null) => ({ id, format, generation, sha256 })

describe("seed decisions", () => {
  it("a root seed is generation 0; an evolved seed is its parent's generation + 1", () => {
    const root = Either.getOrThrow(SeedsDecide.decideCreate("root", { goal: "  Build a REST API ", constraints: ["Use Rust"] }, undefined, undefined))
    expect(root).toEqual({
      seed_id: "root",
      goal: "Build a REST API",
      constraints: ["Use Rust"],
      acceptance_criteria: [],
      ontology: null,
      generation: 0,
      parent_seed_id: null
    })
    const child = Either.getOrThrow(SeedsDecide.decideCreate("child", { goal: "Better", parent_seed_id: "root" }, undefined, ref("root", 3)))
    expect(child).toMatchObject({ generation: 4, parent_seed_id: "root" })
  })

  it("refuses a missing parent, an empty goal, a bad id, an existing id and a blank constraint", () => {
    const fail = (e: Either.Either<unknown, { _tag: string; message: string }>) => Either.isLeft(e) ? e.left : undefined
    expect(fail(SeedsDecide.decideCreate("c", { goal: "g", parent_seed_id: "nope" }, undefined, undefined))).toMatchObject({
      _tag: "EntityNotFound",
      message: "parent seed not found: nope"
    })
    expect(fail(SeedsDecide.decideCreate("c", { goal: "   " }, undefined, undefined))?._tag).toBe("InvalidCommand")
    expect(fail(SeedsDecide.decideCreate("../x", { goal: "g" }, undefined, undefined))?._tag).toBe("InvalidCommand")
    expect(fail(SeedsDecide.decideCreate("c", { goal: "g" }, ref("c", 0), undefined))?._tag).toBe("AlreadyExists")
    expect(fail(SeedsDecide.decideCreate("c", { goal: "g", constraints: ["ok", " "] }, undefined, undefined))?.message).toContain("constraints[1]")
  })

  it("imports a Markdown file when new or changed, never over a structured seed", () => {
    expect(Either.getOrThrow(SeedsDecide.decideImport("a", "# A", "h1", undefined))).toEqual({ seed_id: "a", content: "# A", sha256: "h1" })
    expect(Either.getOrThrow(SeedsDecide.decideImport("a", "# A", "h1", ref("a", 0, "markdown", "h1")))).toBeUndefined()
    expect(Either.getOrThrow(SeedsDecide.decideImport("a", "# B", "h2", ref("a", 0, "markdown", "h1")))).toMatchObject({ sha256: "h2" })
    expect(Either.isLeft(SeedsDecide.decideImport("a", "# A", "h1", ref("a", 0, "json")))).toBe(true)
  })

  it("evaluates only existing seeds, with a score between 0 and 1", () => {
    expect(Either.getOrThrow(SeedsDecide.decideEvaluation("s", ref("s", 0), { score: 0.5, passed: false }))).toEqual({
      seed_id: "s",
      score: 0.5,
      passed: false,
      summary: null
    })
    expect(Either.isLeft(SeedsDecide.decideEvaluation("s", undefined, { score: 0.5, passed: true }))).toBe(true)
    expect(Either.isLeft(SeedsDecide.decideEvaluation("s", ref("s", 0), { score: 1.5, passed: true }))).toBe(true)
    expect(Either.isLeft(SeedsDecide.decideEvaluation("s", ref("s", 0), { score: Number.NaN, passed: true }))).toBe(true)
  })

  it("a Markdown seed's goal is its first heading", () => {
    expect(SeedsDecide.markdownTitle("\n\nintro line\n## My Seed\nBuild")).toBe("My Seed")
    expect(SeedsDecide.markdownTitle("just text\nmore")).toBe("just text")
    expect(SeedsDecide.markdownTitle("")).toBe("")
  })
})

describe("seeds projection", () => {
  it("keeps the latest evaluation, and a changed Markdown file replaces the content but not the creation time", () => {
    const views = scratchViews(SeedsProjection.seedsProjection)
    views.apply(SeedsEvents.SEED_CREATED, { seed_id: "s1", goal: "G", constraints: ["a", "b"], acceptance_criteria: ["c"], ontology: null, generation: 0, parent_seed_id: null })
    views.apply(SeedsEvents.EVALUATION_COMPLETE, { seed_id: "s1", score: 0.4, passed: false, summary: null })
    views.apply(SeedsEvents.EVALUATION_COMPLETE, { seed_id: "s1", score: 0.9, passed: true, summary: "ok" })
    views.apply(SeedsEvents.SEED_IMPORTED, { seed_id: "md", content: "# One", sha256: "h1" })
    views.apply(SeedsEvents.SEED_IMPORTED, { seed_id: "md", content: "# Two", sha256: "h2" })
    expect(views.db.get("SELECT score, passed, evaluations, json_array_length(constraints) AS n FROM seeds WHERE id = 's1'")).toEqual({
      score: 0.9,
      passed: 1,
      evaluations: 2,
      n: 2
    })
    expect(views.db.get("SELECT goal, content, sha256, seq, created_at, updated_at FROM seeds WHERE id = 'md'")).toEqual({
      goal: "Two",
      content: "# Two",
      sha256: "h2",
      seq: 4,
      created_at: "2026-01-01T00:00:04.000Z",
      updated_at: "2026-01-01T00:00:05.000Z"
    })
    views.close()
  })
})

describe("the Seeds service", () => {
  it.live("creates a lineage, records evaluations against it and traces it root first", () =>
    Effect.gen(function*() {
      const seeds = yield* Seeds
      const root = yield* seeds.create({ goal: "Build a REST API", constraints: ["Use Rust", "Include tests"], acceptance_criteria: ["GET /items works"] }, user)
      const gen1 = yield* seeds.create({ goal: "Build a REST API with error handling", parent_seed_id: root.id }, user)
      const gen2 = yield* seeds.create({
        goal: "Production-ready REST API",
        parent_seed_id: gen1.id,
        ontology: { name: "Item", description: "a stored item", fields: [{ name: "id", field_type: "string", description: "key" }] }
      }, user)
      expect(root.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      expect(gen2).toMatchObject({ generation: 2, parent_seed_id: gen1.id, evaluation: null, ontology: { name: "Item" } })

      yield* seeds.recordEvaluation(root.id, { score: 0.72, passed: false }, user)
      yield* seeds.recordEvaluation(gen1.id, { score: 0.5, passed: false }, user)
      yield* seeds.recordEvaluation(gen1.id, { score: 0.89, passed: true, summary: "all criteria met" }, user)

      expect(yield* seeds.evolution(gen2.id)).toEqual([
        { id: root.id, generation: 0, goal: "Build a REST API", parent_id: null, score: 0.72, passed: false },
        { id: gen1.id, generation: 1, goal: "Build a REST API with error handling", parent_id: root.id, score: 0.89, passed: true },
        { id: gen2.id, generation: 2, goal: "Production-ready REST API", parent_id: gen1.id, score: null, passed: null }
      ])
      expect(yield* seeds.evolution(root.id)).toHaveLength(1)

      const page = yield* seeds.list(pageRequest({ page: 1, limit: 2 }))
      expect(page.total).toBe(3)
      expect(page.items.map((s) => s.id)).toEqual([gen2.id, gen1.id])
      const last = yield* seeds.list(pageRequest({ page: 2, limit: 2 }))
      expect(last.items).toEqual([{ id: root.id, goal: "Build a REST API", constraints_count: 2, created_at: root.created_at, stream: `seed-${root.id}` }])

      // the record: seed_created with everything, evaluation_complete with score and passed
      const store = yield* EventStore
      const events = yield* store.readStream(`seed-${gen1.id}`)
      expect(events.map((e) => e.type)).toEqual(["seed_created", "evaluation_complete", "evaluation_complete"])
      expect(events[0]!.data).toMatchObject({ generation: 1, parent_seed_id: root.id, constraints: [], acceptance_criteria: [], ontology: null })
      expect(events[2]!.data).toEqual({ seed_id: gen1.id, score: 0.89, passed: true, summary: "all criteria met" })
    }).pipe(Effect.provide(seedsAt(tempDir()))))

  it.live("answers unknown ids and bad commands with typed errors and appends nothing", () =>
    Effect.gen(function*() {
      const seeds = yield* Seeds
      const store = yield* EventStore
      const before = (yield* store.head).seq
      expect((yield* Effect.flip(seeds.get("nope")))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(seeds.evolution("nope")))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(seeds.recordEvaluation("nope", { score: 1, passed: true }, user)))._tag).toBe("EntityNotFound")
      expect((yield* Effect.flip(seeds.create({ goal: "x", parent_seed_id: "nope" }, user)))._tag).toBe("EntityNotFound")
      const s = yield* seeds.create({ goal: "x", id: "fixed-id" }, user)
      expect((yield* Effect.flip(seeds.create({ goal: "y", id: "fixed-id" }, user)))._tag).toBe("AlreadyExists")
      expect((yield* Effect.flip(seeds.recordEvaluation(s.id, { score: -0.1, passed: true }, user)))._tag).toBe("InvalidCommand")
      expect((yield* store.head).seq).toBe(before + 1)
    }).pipe(Effect.provide(seedsAt(tempDir()))))

  it.live("imports Markdown seeds at start once per content, and they survive a restart", () =>
    Effect.gen(function*() {
      const dir = tempDir()
      mkdirSync(join(dir, "seeds"))
      writeFileSync(join(dir, "seeds", "my-seed.md"), "# My Seed\nBuild something great")
      writeFileSync(join(dir, "seeds", "other.md"), "plain goal")
      writeFileSync(join(dir, "seeds", "-bad name.md"), "x")
      writeFileSync(join(dir, "seeds", "notes.txt"), "not a seed")
      const imports = (expected: number) =>
        Effect.gen(function*() {
          const store = yield* EventStore
          const all = yield* store.read(1, 1000)
          return all.filter((e) => e.type === "seed_imported").length
        }).pipe(Effect.provide(seedsAt(dir)), Effect.tap((n) => Effect.sync(() => expect(n).toBe(expected))))

      yield* imports(2)
      // unchanged files: nothing appended
      yield* imports(2)
      writeFileSync(join(dir, "seeds", "my-seed.md"), "# My Seed v2\nBuild something greater")
      yield* imports(3)
      const view = yield* Effect.gen(function*() {
        const seeds = yield* Seeds
        return {
          seed: yield* seeds.get("my-seed"),
          list: yield* seeds.list(pageRequest({})),
          report: yield* seeds.importDirectory,
          lineage: yield* seeds.evolution("my-seed")
        }
      }).pipe(Effect.provide(seedsAt(dir)))
      expect(view.seed).toEqual({ id: "my-seed", content: "# My Seed v2\nBuild something greater", stream: "seed-my-seed" })
      expect(view.list.items.map((s) => [s.id, s.goal, s.constraints_count])).toEqual([["other", "plain goal", 0], ["my-seed", "My Seed v2", 0]])
      expect(view.report).toEqual({ imported: [], unchanged: ["my-seed", "other"], skipped: [{ file: "-bad name.md", reason: expect.stringContaining("invalid seed file name") }] })
      expect(view.lineage).toEqual([{ id: "my-seed", generation: 0, goal: "My Seed v2", parent_id: null, score: null, passed: null }])
    }))
})
