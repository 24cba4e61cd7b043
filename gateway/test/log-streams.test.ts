/**
 * The history of one entity: `GET /api/log/streams/{stream}` lists its events newest first in
 * the Oxios page shape, and the view rows' answers (memory, permissions, personas) name the
 * stream to follow.
 */
import { rmSync } from "node:fs"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let s: RunningServer
beforeAll(async () => {
  s = await startServer()
})
afterAll(async () => {
  await s.stop()
  rmSync(s.dataDir, { recursive: true, force: true })
})

const history = (stream: string, query = "") => s.json(`/api/log/streams/${encodeURIComponent(stream)}${query}`)

describe("GET /api/log/streams/{stream}", () => {
  it("follows a memory's stream from its answer: who stored it, when, and how; newest first, paged", async () => {
    const stored = await s.json("/api/memory", { method: "POST", body: JSON.stringify({ content: "the build uses node 20", tags: ["ci"] }) })
    expect(stored.status).toBe(200)
    const id = stored.body.id as string
    const entry = await s.json(`/api/memory/${id}`)
    expect(entry.body.stream).toBe(`memory-${id}`)
    expect((await s.json("/api/memory")).body.items.find((m: any) => m.name === id).stream).toBe(`memory-${id}`)

    const one = await history(entry.body.stream)
    expect(one.status).toBe(200)
    expect(one.body).toMatchObject({ total: 1, page: 1, limit: 50 })
    expect(one.body.items).toEqual([
      expect.objectContaining({
        stream: `memory-${id}`,
        version: 1,
        type: "memory_stored",
        actor: "user:api",
        at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
        data: expect.objectContaining({ content: "the build uses node 20", tags: ["ci"] }),
        hash: expect.stringMatching(/^[0-9a-f]{64}$/)
      })
    ])
    // the event is the log's own row: the same seq and hash as the audit trail
    const [audited] = (await s.json(`/api/audit/entries?from_seq=${one.body.items[0].seq}&to_seq=${one.body.items[0].seq}`)).body.entries
    expect(audited.hash).toBe(`sha256:${one.body.items[0].hash}`)

    expect((await s.fetch(`/api/memory/${id}`, { method: "DELETE" })).status).toBe(200)
    const two = await history(`memory-${id}`)
    expect(two.body.total).toBe(2)
    expect(two.body.items.map((e: any) => [e.version, e.type])).toEqual([[2, "memory_deleted"], [1, "memory_stored"]])
    // the memory is gone from the view; its history stays
    expect((await s.json(`/api/memory/${id}`)).status).toBe(404)

    const first = await history(`memory-${id}`, "?page=1&limit=1")
    const second = await history(`memory-${id}`, "?page=2&limit=1")
    expect([first.body.items[0].type, second.body.items[0].type]).toEqual(["memory_deleted", "memory_stored"])
    expect(second.body).toMatchObject({ total: 2, page: 2, limit: 1 })
    expect((await history(`memory-${id}`, "?page=3&limit=1")).body).toEqual({ items: [], total: 2, page: 3, limit: 1 })
  })

  it("names the streams of permissions and personas, and each lists who changed what", async () => {
    for (const patch of [{ network_access: true }, { can_fork: true }]) {
      expect((await s.json("/api/permissions/auditor", { method: "PUT", body: JSON.stringify(patch) })).status).toBe(200)
    }
    const permissions = (await s.json("/api/permissions/auditor")).body
    expect(permissions.stream).toBe("permissions-auditor")
    const changes = (await history(permissions.stream)).body
    expect(changes.total).toBe(2)
    expect(changes.items.map((e: any) => e.version)).toEqual([2, 1])
    expect(changes.items[0]).toMatchObject({ type: "permissions_changed", actor: "user:api", data: expect.objectContaining({ can_fork: true }) })

    const created = await s.json("/api/personas", { method: "POST", body: JSON.stringify({ name: "Historian", role: "r", description: "d", system_prompt: "p" }) })
    expect(created.status).toBe(200)
    const persona = (await s.json(`/api/personas/${created.body.id}`)).body
    const listed = (await s.json("/api/personas")).body as Array<{ stream: string }>
    expect(listed.every((p) => p.stream === persona.stream)).toBe(true)
    const personas = (await history(persona.stream)).body
    expect(personas.items[0]).toMatchObject({ type: "persona_created", data: expect.objectContaining({ name: "Historian" }) })
  })

  it("answers 404 {error} for a stream with no events, 400 for a bad page, 401 without the token", async () => {
    expect(await history("memory-nope")).toMatchObject({ status: 404, body: { error: "no events in stream memory-nope" } })
    expect((await history("config", "?page=x")).status).toBe(400)
    expect((await s.fetch("/api/log/streams/config", { token: null })).status).toBe(401)
  })
})
