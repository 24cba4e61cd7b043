/** Black-box tests of `/api/permissions/{agent}` against the real `annal serve`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const put = (agent: string, body: unknown, headers: Record<string, string> = {}) =>
  server.json(`/api/permissions/${agent}`, { method: "PUT", body: JSON.stringify(body), headers })
const head = async () => (await server.json("/api/status")).body.components.state_store.head_seq as number
const lastEvents = async (n: number) => {
  const to = await head()
  return (await server.json(`/api/audit/entries?from_seq=${Math.max(0, to - n + 1)}&to_seq=${to}`)).body.entries as Array<{ action: string; resource: string; agent_name: string }>
}

const DEFAULTS = {
  allowed_tools: ["read", "write", "edit", "ls", "grep", "find", "memory_store", "memory_search", "*__*"],
  allowed_paths: ["**"],
  denied_paths: ["**/.git/**", "**/.env", "**/.env.*", "**/*.key", "**/*.pem"],
  network_access: false,
  max_execution_time_secs: 300,
  max_memory_mb: 512,
  can_fork: false
}

describe("GET /api/permissions/{agent}", () => {
  it("is 404 for an agent that has no permissions", async () => {
    const { status, body } = await server.json("/api/permissions/never-seen")
    expect(status).toBe(404)
    expect(body).toEqual({ error: "permissions of agent not found: never-seen" })
  })

  it("needs the token", async () => {
    expect((await server.fetch("/api/permissions/x", { token: null })).status).toBe(401)
  })
})

describe("PUT /api/permissions/{agent}", () => {
  it("creates the record from the defaults, changing only the given fields, and records permissions_changed", async () => {
    const { status, body } = await put("builder-agent", { network_access: true, max_execution_time_secs: 120 })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "updated", agent: "builder-agent" })
    const got = await server.json("/api/permissions/builder-agent")
    expect(got.status).toBe(200)
    expect(got.body).toEqual({ agent_name: "builder-agent", ...DEFAULTS, network_access: true, max_execution_time_secs: 120, stream: "permissions-builder-agent" })
    // the Oxios fields in their order, then Annal's link to the history
    expect(Object.keys(got.body)).toEqual([
      "agent_name", "allowed_tools", "allowed_paths", "denied_paths", "network_access", "max_execution_time_secs", "max_memory_mb", "can_fork", "stream"
    ])
    const [event] = await lastEvents(1)
    expect(event).toMatchObject({ action: "permissions_changed", resource: "permissions-builder-agent", agent_name: "user:api" })
  })

  it("a later change keeps every other field", async () => {
    await put("keeper", { allowed_tools: ["read", "exec"], denied_paths: ["/etc", "secrets"] })
    await put("keeper", { can_fork: true })
    expect((await server.json("/api/permissions/keeper")).body).toEqual({
      agent_name: "keeper",
      stream: "permissions-keeper",
      ...DEFAULTS,
      allowed_tools: ["read", "exec"],
      denied_paths: ["/etc", "secrets"],
      can_fork: true
    })
  })

  it("appends nothing when nothing changes, and applies an Idempotency-Key once", async () => {
    await put("steady", { max_memory_mb: 256 })
    const at = await head()
    expect((await put("steady", { max_memory_mb: 256, can_fork: false })).status).toBe(200)
    expect(await head()).toBe(at)
    const first = await put("steady", { max_memory_mb: 128 }, { "idempotency-key": "perm-key-1" })
    const again = await put("steady", { max_memory_mb: 64 }, { "idempotency-key": "perm-key-1" })
    expect([first.status, again.status]).toEqual([200, 200])
    expect(await head()).toBe(at + 1)
    expect((await server.json("/api/permissions/steady")).body.max_memory_mb).toBe(128)
  })

  it("refuses invalid input with 400 naming the field, and changes nothing", async () => {
    await put("strict", {})
    const before = (await server.json("/api/permissions/strict")).body
    const at = await head()
    for (const [body, field] of [
      [{ allowed_tool: ["read"], can_fork: "no" }, "can_fork"],
      [{ allowed_tools: ["rm -rf"] }, "allowed_tools.0"],
      [{ allowed_tools: "read" }, "allowed_tools"],
      [{ allowed_paths: [""] }, "allowed_paths.0"],
      [{ network_access: "yes" }, "network_access"],
      [{ max_execution_time_secs: 0 }, "max_execution_time_secs"],
      [{ max_memory_mb: 1.5 }, "max_memory_mb"],
      [{ can_fork: null }, "can_fork"]
    ] as const) {
      const { status, body: error } = await put("strict", body)
      expect(status, JSON.stringify(body)).toBe(400)
      expect(error.error).toContain(`"${field}"`)
    }
    const malformed = await server.json("/api/permissions/strict", { method: "PUT", body: "{not json" })
    expect(malformed).toMatchObject({ status: 400, body: { error: "request body is not valid JSON" } })
    expect(await head()).toBe(at)
    expect((await server.json("/api/permissions/strict")).body).toEqual(before)
  })

  it("persists across a restart", async () => {
    const s = await startServer()
    await s.json("/api/permissions/durable", { method: "PUT", body: JSON.stringify({ allowed_paths: ["src", "docs/*.md"], can_fork: true }) })
    await s.stop()
    const again = await startServer({ dataDir: s.dataDir })
    try {
      expect((await again.json("/api/permissions/durable")).body).toEqual({
        agent_name: "durable",
        stream: "permissions-durable",
        ...DEFAULTS,
        allowed_paths: ["src", "docs/*.md"],
        can_fork: true
      })
      expect((await again.json("/api/permissions/other")).status).toBe(404)
    } finally {
      await again.stop()
    }
  }, 90_000)
})
