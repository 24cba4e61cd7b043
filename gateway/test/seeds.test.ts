/**
 * Black-box tests of the seeds endpoints (seed section 6) against the real `annal serve`.
 * Structured seeds and evaluations come from the orchestrator, which has no endpoint: the test
 * writes them through the real kernel on the data directory before the server starts.
 */
import { Seeds } from "@annal/kernel"
import { Effect } from "effect"
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, tempDir } from "./harness.js"
import { sseFrames, withKernel } from "./offline.js"

let server: RunningServer
let dataDir: string
let lineage: { root: string; gen1: string; gen2: string; other: string }

beforeAll(async () => {
  dataDir = tempDir()
  mkdirSync(join(dataDir, "seeds"))
  writeFileSync(join(dataDir, "seeds", "my-seed.md"), "# My Seed\nBuild something great...")
  lineage = await withKernel(
    dataDir,
    Effect.gen(function*() {
      const seeds = yield* Seeds
      const agent = { actor: "agent:orchestrator" }
      const root = yield* seeds.create({ goal: "Build a REST API", constraints: ["Use Rust", "Include tests", "No unsafe"], acceptance_criteria: ["GET /items returns 200"] }, agent)
      yield* seeds.recordEvaluation(root.id, { score: 0.72, passed: false }, agent)
      const gen1 = yield* seeds.create({ goal: "Build a REST API with proper error handling", parent_seed_id: root.id, constraints: ["Use Rust"] }, agent)
      yield* seeds.recordEvaluation(gen1.id, { score: 0.89, passed: true }, agent)
      const gen2 = yield* seeds.create({
        goal: "Build a production-ready REST API with tests",
        parent_seed_id: gen1.id,
        constraints: ["Use Rust", "Include tests"],
        ontology: { name: "Item", description: "what the API stores", fields: [{ name: "id", field_type: "string", description: "primary key" }] }
      }, agent)
      const other = yield* seeds.create({ goal: "Unrelated", id: "seed-550e8400" }, agent)
      return { root: root.id, gen1: gen1.id, gen2: gen2.id, other: other.id }
    })
  )
  server = await startServer({ dataDir })
})
afterAll(async () => {
  await server?.stop()
})

describe("GET /api/seeds", () => {
  it("lists seeds newest first in the Oxios page shape", async () => {
    const { status, body } = await server.json("/api/seeds")
    expect(status).toBe(200)
    expect(body).toMatchObject({ total: 5, page: 1, limit: 50 })
    // the Markdown seed was imported when the kernel first started, before the structured ones
    expect(body.items.map((s: { id: string }) => s.id)).toEqual(["seed-550e8400", lineage.gen2, lineage.gen1, lineage.root, "my-seed"])
    const root = body.items[3]
    expect(root).toEqual({ id: lineage.root, goal: "Build a REST API", constraints_count: 3, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), stream: `seed-${lineage.root}` })
    expect(body.items[4]).toEqual({ id: "my-seed", goal: "My Seed", constraints_count: 0, created_at: expect.any(String), stream: "seed-my-seed" })
  })

  it("paginates", async () => {
    const { body } = await server.json("/api/seeds?page=2&limit=2")
    expect(body).toMatchObject({ total: 5, page: 2, limit: 2 })
    expect(body.items.map((s: { id: string }) => s.id)).toEqual([lineage.gen1, lineage.root])
    expect((await server.json("/api/seeds?limit=x")).status).toBe(400)
  })
})

describe("GET /api/seeds/{id}", () => {
  it("returns a structured seed with goal, constraints, generation, parent, acceptance criteria and ontology", async () => {
    const { status, body } = await server.json(`/api/seeds/${lineage.gen2}`)
    expect(status).toBe(200)
    expect(body).toEqual({
      id: lineage.gen2,
      goal: "Build a production-ready REST API with tests",
      constraints: ["Use Rust", "Include tests"],
      created_at: expect.any(String),
      generation: 2,
      parent_seed_id: lineage.gen1,
      acceptance_criteria: [],
      ontology: { name: "Item", description: "what the API stores", fields: [{ name: "id", field_type: "string", description: "primary key" }] },
      evaluation: null,
      stream: `seed-${lineage.gen2}`
    })
    const root = (await server.json(`/api/seeds/${lineage.root}`)).body
    expect(root).toMatchObject({ generation: 0, parent_seed_id: null, acceptance_criteria: ["GET /items returns 200"], ontology: null })
    expect(root.evaluation).toEqual({ score: 0.72, passed: false, evaluated_at: expect.any(String) })
  })

  it("returns a Markdown seed as {id, content}", async () => {
    const { status, body } = await server.json("/api/seeds/my-seed")
    expect(status).toBe(200)
    expect(body).toEqual({ id: "my-seed", content: "# My Seed\nBuild something great...", stream: "seed-my-seed" })
  })

  it("answers 404 {error} for an unknown id", async () => {
    const { status, body } = await server.json("/api/seeds/no-such-seed")
    expect(status).toBe(404)
    expect(body).toEqual({ error: "seed not found: no-such-seed" })
  })

  it("has no endpoint to create a seed", async () => {
    const { status, headers } = await server.json("/api/seeds", { method: "POST", body: JSON.stringify({ goal: "x" }) })
    expect(status).toBe(405)
    expect(headers.get("allow")).toBe("GET, HEAD")
  })
})

describe("GET /api/seeds/{id}/evolution", () => {
  it("traces the lineage root first, with the latest evaluation of each seed", async () => {
    const { status, body } = await server.json(`/api/seeds/${lineage.gen2}/evolution`)
    expect(status).toBe(200)
    expect(body).toEqual([
      { id: lineage.root, generation: 0, goal: "Build a REST API", parent_id: null, score: 0.72, passed: false },
      { id: lineage.gen1, generation: 1, goal: "Build a REST API with proper error handling", parent_id: lineage.root, score: 0.89, passed: true },
      { id: lineage.gen2, generation: 2, goal: "Build a production-ready REST API with tests", parent_id: lineage.gen1, score: null, passed: null }
    ])
    expect((await server.json(`/api/seeds/${lineage.root}/evolution`)).body).toHaveLength(1)
  })

  it("answers 404 for an unknown id", async () => {
    expect((await server.json("/api/seeds/nope/evolution")).status).toBe(404)
  })
})

describe("/openapi.json", () => {
  it("documents these endpoints", async () => {
    const paths = Object.keys((await server.json("/openapi.json", { token: null })).body.paths)
    for (const path of ["/api/seeds", "/api/seeds/{id}", "/api/seeds/{id}/evolution"]) expect(paths).toContain(path)
  })
})

describe("the record", () => {
  it("streams seed_created and evaluation_complete without goals or contents", async () => {
    const frames = await sseFrames(server, ["seed_created", "seed_imported", "evaluation_complete"], (f) => f.length >= 7)
    expect(frames.map((f) => f.type)).toEqual([
      "seed_imported", "seed_created", "evaluation_complete", "seed_created", "evaluation_complete", "seed_created", "seed_created"
    ])
    expect(frames[0]).toMatchObject({ seed_id: "my-seed", actor: "system" })
    expect(frames[3]).toMatchObject({ seed_id: lineage.gen1, parent_seed_id: lineage.root, generation: 1, stream: `seed-${lineage.gen1}` })
    expect(frames[4]).toMatchObject({ seed_id: lineage.gen1, score: 0.89, passed: true })
    for (const f of frames) {
      expect(f).not.toHaveProperty("goal")
      expect(f).not.toHaveProperty("content")
    }
  })
})

describe("restart", () => {
  it("keeps every seed; an unchanged file is not imported again, a changed one is", async () => {
    const before = (await server.json("/api/seeds")).body
    const head = async (s: RunningServer) => (await s.json("/api/status")).body.components.state_store.head_seq as number
    const headBefore = await head(server)
    await server.stop()
    server = await startServer({ dataDir })
    expect((await server.json("/api/seeds")).body).toEqual(before)
    expect(await head(server)).toBe(headBefore)

    await server.stop()
    writeFileSync(join(dataDir, "seeds", "my-seed.md"), "# My Seed, revised\nBuild something greater")
    server = await startServer({ dataDir })
    expect((await server.json("/api/seeds/my-seed")).body).toEqual({ id: "my-seed", content: "# My Seed, revised\nBuild something greater", stream: "seed-my-seed" })
    expect(await head(server)).toBe(headBefore + 1)
    expect((await server.json("/api/seeds")).body.items.map((s: { goal: string }) => s.goal)).toContain("My Seed, revised")
  }, 120_000)
})
