import { rmSync } from "node:fs"
import { createServer } from "node:net"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const post = (s: RunningServer, path: string, body: unknown, headers: Record<string, string> = {}) =>
  s.json(path, { method: "POST", body: JSON.stringify(body), headers })

const remember = async (s: RunningServer, body: Record<string, unknown>) => {
  const { status, body: created } = await post(s, "/api/memory", body)
  expect(status).toBe(200)
  return created.id as string
}

const ids = (body: { entries: ReadonlyArray<{ id: string }> }) => body.entries.map((e) => e.id)

const TEXTS = {
  deploy: "The deployment pipeline builds the container image and pushes it to the registry",
  bread: "My favourite recipe for banana bread uses brown sugar and walnuts",
  backup: "Alice rotates the database backup keys every ninety days",
  flight: "Our flight to Lisbon leaves at seven in the morning from terminal two"
}

/** Reads SSE frames (`data:` JSON) from the start of the log until `enough` says stop. */
const sseFrames = async (s: RunningServer, types: string, enough: (frames: Array<any>) => boolean) => {
  const controller = new AbortController()
  const response = await s.fetch(`/api/events?types=${types}`, { headers: { "last-event-id": "0" }, signal: controller.signal })
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  const frames: Array<any> = []
  let buffer = ""
  const timer = setTimeout(() => controller.abort(), 10_000)
  try {
    while (!enough(frames)) {
      const { value, done } = await reader.read()
      if (done) break
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const data = frame.split("\n").find((l) => l.startsWith("data: "))
        if (data !== undefined) frames.push(JSON.parse(data.slice(6)))
      }
    }
  } finally {
    clearTimeout(timer)
    controller.abort()
  }
  return frames
}

describe("POST /api/memory", () => {
  it("stores a memory with the seed's defaults; GET /api/memory/{name} returns it", async () => {
    const { status, body } = await post(server, "/api/memory", { content: "Oxios uses an event-driven architecture" })
    expect(status).toBe(200)
    expect(body).toEqual({ id: expect.stringMatching(/^[0-9a-f-]{36}$/), status: "created" })
    const got = await server.json(`/api/memory/${body.id}`)
    expect(got.status).toBe(200)
    expect(got.body).toMatchObject({
      name: body.id,
      category: "fact",
      content: "Oxios uses an event-driven architecture",
      id: body.id,
      type: "fact",
      tags: [],
      importance: 0.5,
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/)
    })
    const full = await remember(server, { content: "a knowledge note", memory_type: "knowledge", tags: ["arch", "events"], importance: 0.8 })
    expect((await server.json(`/api/memory/${full}`)).body).toMatchObject({ category: "knowledge", tags: ["arch", "events"], importance: 0.8 })
  })

  it("refuses bad input with 400 naming the field, and appends nothing", async () => {
    const before = (await server.json("/api/memory")).body.total
    const cases: ReadonlyArray<readonly [unknown, string]> = [
      [{}, "content"],
      [{ content: "" }, "content"],
      [{ content: "   " }, "content"],
      [{ content: 5 }, "content"],
      [{ content: "a".repeat(32 * 1024 + 1) }, "content"],
      [{ content: "x", memory_type: "dream" }, "memory_type"],
      [{ content: "x", memory_type: "conversation" }, "memory_type"],
      [{ content: "x", tags: "a" }, "tags"],
      [{ content: "x", tags: [1] }, "tags.0"],
      [{ content: "x", importance: 1.5 }, "importance"],
      [{ content: "x", importance: "high" }, "importance"],
      [{ content: "x", name: "ignored", importance: 2 }, "importance"]
    ]
    for (const [body, field] of cases) {
      const response = await post(server, "/api/memory", body)
      expect([JSON.stringify(body).slice(0, 60), response.status]).toEqual([JSON.stringify(body).slice(0, 60), 400])
      expect(response.body.error).toContain(`"${field}"`)
    }
    expect((await server.json("/api/memory")).body.total).toBe(before)
    // exactly 32 KB is accepted
    await remember(server, { content: "b".repeat(32 * 1024) })
  })

  it("applies an Idempotency-Key once", async () => {
    const headers = { "idempotency-key": "memory-key-1" }
    const first = await post(server, "/api/memory", { content: "only once" }, headers)
    const again = await post(server, "/api/memory", { content: "only once" }, headers)
    expect(again.body).toEqual(first.body)
    const found = await post(server, "/api/memory/search", { query: "only once" })
    expect(ids(found.body).filter((id) => id === first.body.id)).toHaveLength(1)
    expect(found.body.entries.filter((e: { content: string }) => e.content === "only once")).toHaveLength(1)
  })
})

describe("GET /api/memory", () => {
  it("lists newest first in the Oxios page shape; an unknown name is 404", async () => {
    const s = await startServer()
    try {
      const made = []
      for (let i = 0; i < 5; i++) made.push(await remember(s, { content: `memory ${i}`, memory_type: i === 4 ? "episode" : "fact" }))
      const { status, body } = await s.json("/api/memory?page=1&limit=2")
      expect(status).toBe(200)
      expect(body).toEqual({
        items: [
          { name: made[4], category: "episode", importance: 0.5, created_at: expect.any(String), stream: `memory-${made[4]}` },
          { name: made[3], category: "fact", importance: 0.5, created_at: expect.any(String), stream: `memory-${made[3]}` }
        ],
        total: 5,
        page: 1,
        limit: 2
      })
      expect((await s.json("/api/memory?page=3&limit=2")).body.items.map((i: { name: string }) => i.name)).toEqual([made[0]])
      expect((await s.json("/api/memory")).body.limit).toBe(50)
      const missing = await s.json("/api/memory/no-such-memory")
      expect(missing.status).toBe(404)
      expect(missing.body).toEqual({ error: "memory not found: no-such-memory" })
    } finally {
      await s.stop()
    }
  })
})

describe("POST /api/memory/search", () => {
  it("ranks by BM25, filters by type, and matches words literally whatever the query holds", async () => {
    const best = await remember(server, { content: "The event log is append-only: every event in the log is kept forever" })
    const weaker = await remember(server, { content: "Write the crash report to the log file" })
    const episode = await remember(server, { content: "The conference event was fun", memory_type: "episode" })
    const { status, body } = await post(server, "/api/memory/search", { query: "event log", limit: 10 })
    expect(status).toBe(200)
    expect(body.count).toBe(body.entries.length)
    expect(ids(body)[0]).toBe(best)
    expect(ids(body)).toEqual(expect.arrayContaining([best, weaker, episode]))
    expect(Object.keys(body.entries[0]).sort()).toEqual(["content", "created_at", "id", "importance", "tags", "type"])

    const episodes = (await post(server, "/api/memory/search", { query: "event log", memory_type: "episode" })).body
    expect(ids(episodes)).toEqual([episode])
    expect((await post(server, "/api/memory/search", { query: "event log", memory_type: "session" })).body).toEqual({ count: 0, entries: [] })
    expect((await post(server, "/api/memory/search", { query: "event log", memory_type: null, limit: 1 })).body.count).toBe(1)

    for (const query of ['"', "AND(", "*", "event*", "NEAR(event log", 'log" OR "x', "-event", "{content}: log", "^log"]) {
      const response = await post(server, "/api/memory/search", { query })
      expect([query, response.status]).toEqual([query, 200])
    }
    expect(ids((await post(server, "/api/memory/search", { query: "AND( event" })).body)).toContain(best)
  })

  it("refuses a missing or empty query, a bad limit or type with 400 (unknown fields are ignored)", async () => {
    for (const [body, field] of [
      [{}, "query"],
      [{ query: "" }, "query"],
      [{ query: "x", limit: 0 }, "limit"],
      [{ query: "x", limit: 501 }, "limit"],
      [{ query: "x", limit: 2.5 }, "limit"],
      [{ query: "x", memory_type: "dream" }, "memory_type"],
      [{ query: "x", fuzzy: true, limit: -1 }, "limit"]
    ] as const) {
      for (const path of ["/api/memory/search", "/api/memory/semantic"]) {
        const response = await post(server, path, body)
        expect([path, field, response.status]).toEqual([path, field, 400])
        expect(response.body.error).toContain(`"${field}"`)
      }
    }
  })
})

describe("POST /api/memory/semantic", () => {
  it("finds a paraphrase first through the HNSW index, filters by type, and reports similarity and distance", async () => {
    const deploy = await remember(server, { content: TEXTS.deploy, tags: ["ci"] })
    const bread = await remember(server, { content: TEXTS.bread, memory_type: "knowledge" })
    await remember(server, { content: TEXTS.backup })
    const { status, body } = await post(server, "/api/memory/semantic", { query: "how do we build and push container images when deploying?", limit: 3 })
    expect(status).toBe(200)
    expect(body.engine).toBe("hnsw")
    expect(body.count).toBe(3)
    expect(body.entries[0]).toMatchObject({ id: deploy, type: "fact", content: TEXTS.deploy, tags: ["ci"], importance: 0.5 })
    expect(Object.keys(body.entries[0]).sort()).toEqual(["content", "created_at", "distance", "id", "importance", "similarity", "tags", "type"])
    const [first, second] = body.entries
    expect(first.similarity).toBeCloseTo(1 - first.distance, 6)
    expect(first.similarity).toBeGreaterThan(second.similarity)
    const baking = (await post(server, "/api/memory/semantic", { query: "baking bread", memory_type: "knowledge", limit: 5 })).body
    expect(baking.entries[0].id).toBe(bread)
    expect(baking.entries.every((e: { type: string }) => e.type === "knowledge")).toBe(true)
  })
})

describe("DELETE /api/memory/{name}", () => {
  it("deletes a memory from the list and from both searches; unknown is 404", async () => {
    const id = await remember(server, { content: TEXTS.flight })
    expect(ids((await post(server, "/api/memory/semantic", { query: "Lisbon flight morning", limit: 1 })).body)).toEqual([id])
    const deleted = await server.json(`/api/memory/${id}`, { method: "DELETE" })
    expect(deleted).toMatchObject({ status: 200, body: { name: id, status: "deleted" } })
    expect((await server.json(`/api/memory/${id}`)).status).toBe(404)
    expect((await server.json(`/api/memory/${id}`, { method: "DELETE" })).status).toBe(404)
    expect(ids((await post(server, "/api/memory/search", { query: "Lisbon flight" })).body)).not.toContain(id)
    expect(ids((await post(server, "/api/memory/semantic", { query: "Lisbon flight morning", limit: 50 })).body)).not.toContain(id)
  })
})

describe("memory events and status", () => {
  it("puts memory_stored, memory_deleted and memory_recalled on the SSE stream without contents or queries", async () => {
    const s = await startServer()
    try {
      const id = await remember(s, { content: "the secret lasagne recipe", tags: ["food"], importance: 0.9 })
      await post(s, "/api/memory/search", { query: "lasagne" })
      await post(s, "/api/memory/semantic", { query: "italian cooking secret" })
      await post(s, "/api/memory/search", { query: "nothing matches this" })
      await s.json(`/api/memory/${id}`, { method: "DELETE" })
      const frames = await sseFrames(s, "memory_stored,memory_recalled,memory_deleted", (f) => f.length >= 4)
      expect(frames.map((f) => f.type)).toEqual(["memory_stored", "memory_recalled", "memory_recalled", "memory_deleted"])
      expect(frames[0]).toMatchObject({ id, memory_type: "fact", tags: ["food"], importance: 0.9 })
      expect(frames[1]).toMatchObject({ memory_ids: [id], count: 1 })
      expect(frames[3]).toMatchObject({ id })
      const text = JSON.stringify(frames)
      for (const secret of ["lasagne", "italian", "cooking"]) expect(text).not.toContain(secret)
      // the log itself has the recall's query hash and length, not its text
      const exported = JSON.parse((await post(s, "/api/audit/export", {})).body.json)
      expect(exported.filter((e: { action: string }) => e.action === "memory_recalled")).toHaveLength(2)
    } finally {
      await s.stop()
    }
  })

  it("GET /api/status shows the memory index and entries", async () => {
    const s = await startServer()
    try {
      for (const text of Object.values(TEXTS)) await remember(s, { content: text })
      await post(s, "/api/memory/semantic", { query: "anything" })
      const { body } = await s.json("/api/status")
      expect(body.components.memory).toEqual({ enabled: true, index_size: 4, total_entries: 4 })
    } finally {
      await s.stop()
    }
  })
})

describe("the semantic index across restarts", () => {
  it("is loaded on start, and rebuilt with the same results when its file is deleted", async () => {
    const first = await startServer()
    const query = { query: "who keeps the database backups?", limit: 4 }
    let before: any
    try {
      for (const text of Object.values(TEXTS)) await remember(first, { content: text })
      before = (await post(first, "/api/memory/semantic", query)).body
      expect(before.count).toBe(4)
    } finally {
      await first.stop()
    }
    const second = await startServer({ dataDir: first.dataDir })
    try {
      const after = (await post(second, "/api/memory/semantic", query)).body
      expect(second.output()).toMatch(/memory index loaded: 4 vectors up to seq \d+/)
      expect(ids(after)).toEqual(ids(before))
      expect(after.entries.map((e: { similarity: number }) => e.similarity.toFixed(5))).toEqual(before.entries.map((e: { similarity: number }) => e.similarity.toFixed(5)))
    } finally {
      await second.stop()
    }
    rmSync(join(first.dataDir, "memory.hnsw"))
    const third = await startServer({ dataDir: first.dataDir })
    try {
      const rebuilt = (await post(third, "/api/memory/semantic", query)).body
      expect(third.output()).toContain("memory index rebuilt from the log (no saved index")
      expect(ids(rebuilt)).toEqual(ids(before))
      expect((await third.json("/api/status")).body.components.memory).toMatchObject({ index_size: 4, total_entries: 4 })
    } finally {
      await third.stop()
    }
  }, 120_000)
})

describe("embedding configuration", () => {
  it("has a memory section; a provider without its settings is refused, one that cannot work gives 503 on semantic search only", async () => {
    const s = await startServer()
    try {
      const config = (await s.json("/api/config")).body
      expect(config.memory).toEqual({
        embedding: { provider: "lexical", dimension: 384, model_path: null, base_url: null, model: null, api_key_env: "ANNAL_EMBEDDING_API_KEY", batch_size: 64 },
        hnsw: { m: 16, ef_construction: expect.any(Number), ef_search: expect.any(Number) }
      })
      await remember(s, { content: "kept whatever the embedder" })

      const noPath = await s.json("/api/config", { method: "PUT", body: JSON.stringify({ memory: { embedding: { provider: "llama" } } }) })
      expect(noPath.status).toBe(400)
      expect(noPath.body.error).toContain('"memory.embedding.model_path"')
      const badDim = await s.json("/api/config", { method: "PUT", body: JSON.stringify({ memory: { embedding: { dimension: 3 } } }) })
      expect(badDim.body.error).toContain('"memory.embedding.dimension"')

      const missing = join(s.dataDir, "no-such-model.gguf")
      expect((await s.json("/api/config", { method: "PUT", body: JSON.stringify({ memory: { embedding: { provider: "llama", model_path: missing } } }) })).status).toBe(200)
      const unavailable = await post(s, "/api/memory/semantic", { query: "kept" })
      expect(unavailable.status).toBe(503)
      expect(unavailable.body.error).toContain(`${missing} does not exist`)
      expect((await post(s, "/api/memory/search", { query: "kept" })).body.count).toBe(1)
      expect((await post(s, "/api/memory", { content: "still stored" })).status).toBe(200)
      expect((await s.json("/api/status")).body.components.memory).toMatchObject({ enabled: false, total_entries: 2 })

      const port = await new Promise<number>((resolve) => {
        const probe = createServer().listen(0, "127.0.0.1", () => {
          const p = (probe.address() as { port: number }).port
          probe.close(() => resolve(p))
        })
      })
      await s.json("/api/config", { method: "PUT", body: JSON.stringify({ memory: { embedding: { provider: "openai", base_url: `http://127.0.0.1:${port}`, model: "m" } } }) })
      const unreachable = await post(s, "/api/memory/semantic", { query: "kept" })
      expect(unreachable.status).toBe(503)
      expect(unreachable.body.error).toContain("unreachable")

      await s.json("/api/config", { method: "PUT", body: JSON.stringify({ memory: { embedding: { provider: "lexical" } } }) })
      const back = await post(s, "/api/memory/semantic", { query: "kept" })
      expect(back.status).toBe(200)
      expect(back.body.count).toBe(2)
      expect((await s.json("/api/status")).body.components.memory).toEqual({ enabled: true, index_size: 2, total_entries: 2 })
    } finally {
      await s.stop()
    }
  }, 60_000)
})
