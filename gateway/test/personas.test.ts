/** Black-box tests of the personas endpoints (seed section 15) against the real `annal serve`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import Database from "better-sqlite3"
import { join } from "node:path"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer
const send = (method: string, path: string, body?: unknown) =>
  server.json(path, { method, ...(body === undefined ? {} : { body: JSON.stringify(body) }) })
const head = async () => (await server.json("/api/status")).body.components.state_store.head_seq as number

const reviewer = {
  name: "Reviewer",
  role: "Code Reviewer",
  description: "A thorough code review specialist",
  system_prompt: "You are an expert code reviewer...",
  enabled: true,
  model: "gpt-4",
  personality_traits: ["detail-oriented", "constructive"]
}
let reviewerId: string

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

describe("on first start", () => {
  it("has a default persona, and it is active", async () => {
    const { status, body } = await server.json("/api/personas")
    expect(status).toBe(200)
    expect(body).toEqual([
      {
        id: "default",
        name: "Annal",
        role: "General assistant",
        description: expect.any(String),
        enabled: true,
        personality_traits: ["helpful", "precise", "candid"],
        active: true,
        stream: "personas"
      }
    ])
    const active = await server.json("/api/personas/active")
    expect(active.status).toBe(200)
    expect(active.body).toMatchObject({ id: "default", name: "Annal", role: "General assistant", enabled: true, model: null, active: true })
    expect(active.body.system_prompt).toContain("You are Annal")
  })
})

describe("POST /api/personas", () => {
  it("creates a persona with a new id", async () => {
    const { status, body } = await send("POST", "/api/personas", reviewer)
    expect(status).toBe(200)
    expect(body).toEqual({ status: "created", id: expect.stringMatching(/^[0-9a-f-]{36}$/), name: "Reviewer" })
    reviewerId = body.id
  })

  it("fills the optional fields with their defaults", async () => {
    const { body } = await send("POST", "/api/personas", { name: "Minimal", role: "Helper", description: "d" })
    const persona = (await server.json(`/api/personas/${body.id}`)).body
    expect(persona).toMatchObject({ name: "Minimal", system_prompt: "", enabled: true, model: null, personality_traits: [] })
  })

  it.each([
    [{ role: "r", description: "d" }, "name"],
    [{ name: "  ", role: "r", description: "d" }, "name"],
    [{ name: "n", description: "d" }, "role"],
    [{ name: "n", role: "r", description: "d", enabled: "yes" }, "enabled"],
    [{ name: "n", role: "r", description: "d", personality_traits: "kind" }, "personality_traits"],
    [{ name: "n", role: "r", description: 5, mood: "happy" }, "description"]
  ])("answers 400 naming the field for %#", async (request, field) => {
    const before = await head()
    const { status, body } = await send("POST", "/api/personas", request)
    expect(status).toBe(400)
    expect(body.error).toContain(`"${field}"`)
    expect(await head()).toBe(before)
  })
})

describe("GET /api/personas/{id}", () => {
  it("returns every detail", async () => {
    const { status, body } = await server.json(`/api/personas/${reviewerId}`)
    expect(status).toBe(200)
    expect(body).toEqual({ id: reviewerId, ...reviewer, created_at: expect.any(String), updated_at: expect.any(String), stream: "personas" })
  })

  it("answers 404 for an unknown id", async () => {
    const { status, body } = await server.json("/api/personas/persona-nope")
    expect(status).toBe(404)
    expect(body).toEqual({ error: "persona not found: persona-nope" })
  })
})

describe("PUT /api/personas/{id}", () => {
  it("changes only the fields given", async () => {
    const { status, body } = await send("PUT", `/api/personas/${reviewerId}`, { name: "Senior Reviewer", model: null })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "updated", id: reviewerId })
    const persona = (await server.json(`/api/personas/${reviewerId}`)).body
    expect(persona).toMatchObject({ ...reviewer, name: "Senior Reviewer", model: null })
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000")).body.entries
    expect(entries[entries.length - 1]).toMatchObject({ action: "persona_updated", resource: "personas" })
  })

  it("appends nothing when nothing changes", async () => {
    const before = await head()
    expect((await send("PUT", `/api/personas/${reviewerId}`, { role: reviewer.role })).status).toBe(200)
    expect((await send("PUT", `/api/personas/${reviewerId}`, {})).status).toBe(200)
    expect(await head()).toBe(before)
  })

  it("answers 404 for an unknown id and 400 for a bad field", async () => {
    expect((await send("PUT", "/api/personas/persona-nope", { name: "x" })).status).toBe(404)
    const bad = await send("PUT", `/api/personas/${reviewerId}`, { enabled: 1 })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toContain(`"enabled"`)
    // the id comes from the path: one in the body (a GET sent back) is ignored
    expect((await send("PUT", `/api/personas/${reviewerId}`, { id: "other" })).status).toBe(200)
    expect((await server.json(`/api/personas/${reviewerId}`)).body.id).toBe(reviewerId)
  })
})

describe("the active persona", () => {
  it("PUT /api/personas/active activates a persona, and GET returns it (not a persona with id \"active\")", async () => {
    const { status, body } = await send("PUT", "/api/personas/active", { id: reviewerId })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "active", id: reviewerId, name: "Senior Reviewer" })
    const active = await server.json("/api/personas/active")
    expect(active.status).toBe(200)
    expect(active.body).toMatchObject({ id: reviewerId, name: "Senior Reviewer", role: "Code Reviewer", system_prompt: reviewer.system_prompt, active: true })
    const list = (await server.json("/api/personas")).body as Array<{ id: string; active: boolean }>
    expect(list.filter((p) => p.active).map((p) => p.id)).toEqual([reviewerId])
  })

  it("answers 404 for an unknown id, 400 for a disabled persona or a bad body", async () => {
    expect((await send("PUT", "/api/personas/active", { id: "persona-nope" })).status).toBe(404)
    const off = (await send("POST", "/api/personas", { name: "Off", role: "r", description: "d", enabled: false })).body.id
    const disabled = await send("PUT", "/api/personas/active", { id: off })
    expect(disabled.status).toBe(400)
    expect(disabled.body.error).toContain("disabled")
    expect((await send("PUT", "/api/personas/active", {})).status).toBe(400)
    expect((await server.json("/api/personas/active")).body.id).toBe(reviewerId)
  })
})

describe("DELETE /api/personas/{id}", () => {
  it("deleting the active persona activates the default one and says so", async () => {
    const { status, body } = await send("DELETE", `/api/personas/${reviewerId}`)
    expect(status).toBe(200)
    expect(body).toEqual({ status: "deleted", id: reviewerId, active_id: "default", message: `${reviewerId} was the active persona; default is active now` })
    expect((await server.json("/api/personas/active")).body).toMatchObject({ id: "default", active: true })
    expect((await server.json(`/api/personas/${reviewerId}`)).status).toBe(404)
  })

  it("answers 404 for an unknown id, and 400 for the last persona", async () => {
    expect((await send("DELETE", "/api/personas/persona-nope")).status).toBe(404)
    const others = ((await server.json("/api/personas")).body as Array<{ id: string }>).filter((p) => p.id !== "default")
    for (const p of others) expect((await send("DELETE", `/api/personas/${p.id}`)).body).toEqual({ status: "deleted", id: p.id })
    const last = await send("DELETE", "/api/personas/default")
    expect(last.status).toBe(400)
    expect(last.body).toEqual({ error: "cannot delete the last persona (default)" })
    expect((await server.json("/api/personas")).body.map((p: { id: string }) => p.id)).toEqual(["default"])
  })
})

describe("/openapi.json", () => {
  it("documents these endpoints", async () => {
    const paths = Object.keys((await server.json("/openapi.json", { token: null })).body.paths)
    for (const path of ["/api/personas", "/api/personas/{id}", "/api/personas/active"]) expect(paths).toContain(path)
  })
})

describe("restart", () => {
  it("keeps the personas and the active one, and does not create the default again", async () => {
    const created = (await send("POST", "/api/personas", reviewer)).body.id
    await send("PUT", "/api/personas/active", { id: created })
    await send("PUT", `/api/personas/default`, { description: "renamed default" })
    const before = (await server.json("/api/personas")).body
    await server.stop()
    server = await startServer({ dataDir: server.dataDir })
    expect((await server.json("/api/personas")).body).toEqual(before)
    expect((await server.json("/api/personas/active")).body.id).toBe(created)
    expect((await server.json("/api/personas/default")).body.description).toBe("renamed default")
  }, 120_000)
})

describe("a view row its projection did not write", () => {
  it("is a 500 naming the view and the column, not a crash; the log and the other rows are untouched", async () => {
    const created = await server.json("/api/personas", { method: "POST", body: JSON.stringify({ ...reviewer, name: "Scribbled" }) })
    expect(created.status).toBe(200)
    // someone edits annal.db behind the server's back
    const db = new Database(join(server.dataDir, "annal.db"))
    db.prepare("UPDATE personas SET personality_traits = 'not json' WHERE id = ?").run(created.body.id)
    db.close()
    const one = await server.json(`/api/personas/${created.body.id}`)
    expect(one.status).toBe(500)
    expect(one.body.error).toMatch(/a row of personas is not what its projection writes: .*personality_traits/s)
    expect((await server.json("/api/personas")).status).toBe(500)
    expect((await server.json("/api/audit/verify")).body.valid).toBe(true)
  })
})
