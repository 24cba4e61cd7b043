/**
 * What an Oxios v0.1.2 client sends, replayed: bodies with fields Annal does not know (ignored,
 * like a serde server does), GET-then-PUT round trips, and an Oxios-shaped configuration.
 */
import { Configuration } from "@annal/kernel"
import { defaultConfig } from "@annal/spec"
import { EventStore } from "@annal/store"
import Database from "better-sqlite3"
import { Effect } from "effect"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { kernelLayer } from "../src/Server.js"
import { type RunningServer, startServer, tempDir } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const send = (method: string, path: string, body: unknown) => server.json(path, { method, body: JSON.stringify(body) })

/** The data of the last `config_changed` event, read back from the log's SQLite file. */
const lastConfigChange = () => {
  const db = new Database(join(server.dataDir, "annal.db"), { readonly: true })
  try {
    const row = db.prepare("SELECT data FROM events WHERE type = 'config_changed' ORDER BY seq DESC LIMIT 1").get() as { data: string }
    return { data: JSON.parse(row.data) }
  } finally {
    db.close()
  }
}

describe("an Oxios client's ordinary requests", () => {
  it("PUT /api/permissions/{agent} with the body it just read (agent_name included) is applied", async () => {
    expect((await send("PUT", "/api/permissions/builder-agent", { allowed_tools: ["read"], can_fork: false })).status).toBe(200)
    const got = await server.json("/api/permissions/builder-agent")
    expect(got.status).toBe(200)
    expect(got.body.agent_name).toBe("builder-agent")
    const edited = { ...got.body, allowed_tools: ["read", "write"], max_memory_mb: 256 }
    const put = await send("PUT", "/api/permissions/builder-agent", edited)
    expect(put).toMatchObject({ status: 200, body: { status: "updated", agent: "builder-agent" } })
    expect((await server.json("/api/permissions/builder-agent")).body).toEqual(edited)
    // the fields it knows are still validated
    const bad = await send("PUT", "/api/permissions/builder-agent", { ...edited, max_memory_mb: "lots" })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toContain(`"max_memory_mb"`)
  })

  it("POST /api/memory with name and category stores the memory (they are the list's view of it)", async () => {
    const created = await send("POST", "/api/memory", {
      name: "rust-patterns",
      category: "knowledge",
      content: "Builder pattern in Rust",
      memory_type: "knowledge",
      tags: ["rust"],
      importance: 0.8
    })
    expect(created).toMatchObject({ status: 200, body: { status: "created" } })
    const entry = await server.json(`/api/memory/${created.body.id}`)
    expect(entry.body).toMatchObject({ content: "Builder pattern in Rust", category: "knowledge", tags: ["rust"], importance: 0.8 })
  })

  it("GET then PUT of a persona, with id, active and timestamps, changes what changed", async () => {
    const list = await server.json("/api/personas")
    const id = list.body[0].id
    const got = await server.json(`/api/personas/${id}`)
    const put = await send("PUT", `/api/personas/${id}`, { ...got.body, description: "edited by an Oxios client" })
    expect(put).toMatchObject({ status: 200, body: { status: "updated", id } })
    expect((await server.json(`/api/personas/${id}`)).body.description).toBe("edited by an Oxios client")
  })

  it("ignores unknown fields on every other JSON body, still validating the known ones", async () => {
    const skill = await send("POST", "/api/skills", { name: "oxios-skill", description: "d", content: "c", version: "1.0" })
    expect(skill.status).toBe(200)
    const cron = await send("POST", "/api/cron-jobs", { name: "n", schedule: "0 0 * * * *", goal: "g", enabled: true })
    expect(cron.status).toBe(200)
    const budget = await send("POST", "/api/budget/oxios-agent", { token_budget: 10, calls_budget: 1, window_secs: 60, currency: "tokens" })
    expect(budget.status).toBe(200)
    const search = await send("POST", "/api/memory/search", { query: "Builder", fuzzy: true })
    expect(search.status).toBe(200)
    expect(search.body.count).toBeGreaterThanOrEqual(1)
    const exported = await send("POST", "/api/audit/export", { from_seq: 0, limit: 1, format: "jsonl" })
    expect(exported.status).toBe(200)
    // no model configured: the chat gets as far as the model (503), past the body's reader
    const chat = await send("POST", "/api/chat", { content: "hello", channel: "web", attachments: [] })
    expect(chat.status).toBe(503)
    const badSkill = await send("POST", "/api/skills", { name: "bad name", description: "d", version: "1.0" })
    expect(badSkill.status).toBe(400)
    expect(badSkill.body.error).toContain(`"name"`)
  })
})

describe("PUT /api/config with an Oxios configuration", () => {
  const oxios = {
    server: { host: "127.0.0.1", port: 4200, tls: null },
    security: { auth_enabled: true, cors_origins: ["http://localhost:5173"] },
    kernel: { max_agents: 8, default_model: "llama3.2" },
    channels: { web: { enabled: true } }
  }

  it("applies what Annal knows, keeps the rest as given, returns it and records it", async () => {
    const put = await send("PUT", "/api/config", oxios)
    expect(put.status).toBe(200)
    expect(put.body).toMatchObject(oxios)
    const got = (await server.json("/api/config")).body
    expect(got).toMatchObject(oxios)
    expect(got.security.rate_limit_per_minute).toBe(defaultConfig.security.rate_limit_per_minute)
    const event = lastConfigChange()
    expect(event.data.extra).toEqual({
      server: { tls: null },
      security: { cors_origins: ["http://localhost:5173"] },
      kernel: { max_agents: 8, default_model: "llama3.2" },
      channels: { web: { enabled: true } }
    })
    expect(event.data.changed).toEqual(expect.arrayContaining(["kernel.max_agents", "security.cors_origins"]))
  })

  it("takes back exactly what GET returned, and a known setting beside unknown ones is applied", async () => {
    const got = (await server.json("/api/config")).body
    const same = await send("PUT", "/api/config", got)
    expect(same.status).toBe(200)
    expect(same.body).toEqual(got)
    const changed = await send("PUT", "/api/config", { ...got, events: { ...got.events, ping_interval_secs: 9 }, kernel: { max_agents: 9 } })
    expect(changed.status).toBe(200)
    const after = (await server.json("/api/config")).body
    expect(after.events.ping_interval_secs).toBe(9)
    expect(after.kernel).toEqual({ max_agents: 9, default_model: "llama3.2" })
  })

  it("refuses a host the server could not listen on with 400 naming server.host, changing nothing", async () => {
    const before = (await server.json("/api/config")).body
    for (const host of [" ", "", "bad host", "http://x", "999.1.1.1", "-x.example"]) {
      const bad = await send("PUT", "/api/config", { server: { host }, kernel: { max_agents: 1 } })
      expect([host, bad.status]).toEqual([host, 400])
      expect(bad.body.error).toContain(`"server.host"`)
    }
    expect((await server.json("/api/config")).body).toEqual(before)
    for (const host of ["0.0.0.0", "::", "::1", "localhost", "annal.example.org"]) {
      expect([host, (await send("PUT", "/api/config", { server: { host } })).status]).toEqual([host, 200])
    }
    await send("PUT", "/api/config", { server: { host: "127.0.0.1" } })
  })
})

describe("a stored setting that cannot be used at start", () => {
  it("is replaced by its default and reported in the log and /api/status; the server starts", async () => {
    const dataDir = tempDir()
    // what an older version could record: a blank host and a zero ping interval
    await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function*() {
          const store = yield* EventStore
          const { version } = yield* (yield* Configuration).state
          yield* store.append({
            stream: "config",
            expectedVersion: version,
            events: [{
              type: "config_changed",
              data: {
                config: { ...defaultConfig, server: { host: " ", port: 4200 }, events: { ...defaultConfig.events, ping_interval_secs: 0 } },
                api_key_sha256: null,
                changed: ["events.ping_interval_secs", "server.host"]
              }
            }],
            actor: "system"
          })
        })
      ).pipe(Effect.provide(kernelLayer(dataDir)))
    )
    const s = await startServer({ dataDir })
    try {
      const config = (await s.json("/api/config")).body
      expect(config.server.host).toBe("127.0.0.1")
      expect(config.events.ping_interval_secs).toBe(defaultConfig.events.ping_interval_secs)
      const status = (await s.json("/api/status")).body
      expect(status.components.config.healthy).toBe(false)
      expect(status.components.config.detail).toContain("server.host")
      expect(status.components.config.detail).toContain("events.ping_interval_secs")
      expect(s.output()).toContain("server.host")
      // the next valid change is stored whole again
      expect((await s.json("/api/config", { method: "PUT", body: JSON.stringify({ kernel: {} }) })).status).toBe(200)
    } finally {
      await s.stop()
    }
  })
})
