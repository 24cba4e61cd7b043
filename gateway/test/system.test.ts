import { execFileSync } from "node:child_process"
import { writeFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, tempDir } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

describe("GET /api/status", () => {
  it("reports components with real figures", async () => {
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ resources: { history_size: 500 } }) })
    // a new log has no checkpoint yet: the start verified its whole chain
    const body = (await server.json("/api/status")).body
    expect(body).toMatchObject({
      service: "annal",
      status: "running",
      version: expect.any(String),
      channels: ["web"],
      uptime: expect.stringMatching(/^\d+h \d+m \d+s$/),
      components: {
        state_store: { healthy: true, detail: null, chain_valid: true, chain_verified_from: 1 },
        event_bus: { healthy: true, detail: null },
        memory: { enabled: true, index_size: 0, total_entries: 0 },
        agents: { active_count: 0, total_forked: 0, total_completed: 0, total_failed: 0 }
      }
    })
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000")).body
    expect(body.components.state_store.head_seq).toBeGreaterThanOrEqual(entries.count)
    expect(body.components.state_store.head_seq).toBeGreaterThanOrEqual(1)
  })
})

describe("GET/PUT /api/config", () => {
  it("returns the full configuration", async () => {
    const { status, body } = await server.json("/api/config")
    expect(status).toBe(200)
    // contexts add their own sections; these are the ones every build has
    expect(Object.keys(body)).toEqual(expect.arrayContaining(["events", "resources", "scheduler", "security", "server"]))
    expect(body.server).toEqual({ host: "127.0.0.1", port: 4200 })
  })

  it("changes only what is given, records a config_changed event, and answers with the new config", async () => {
    const before = (await server.json("/api/config")).body
    const { status, body } = await server.json("/api/config", {
      method: "PUT",
      body: JSON.stringify({ resources: { overload: { cpu_percent: 33.5 } } })
    })
    expect(status).toBe(200)
    expect(body.resources.overload).toEqual({ ...before.resources.overload, cpu_percent: 33.5 })
    expect(body.events).toEqual(before.events)
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000")).body.entries
    expect(entries[entries.length - 1]).toMatchObject({ action: "config_changed", agent_name: "user:api", resource: "config" })
    // and it is what the next read sees
    expect((await server.json("/api/config")).body.resources.overload).toEqual(body.resources.overload)
  })

  it("hot-reloads: the overload threshold applies to the next request", async () => {
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ resources: { overload: { cpu_percent: 0, memory_percent: 0, load_avg: 0 } } }) })
    const low = (await server.json("/api/resources/overload")).body
    expect(low).toEqual({ overloaded: true, threshold: { cpu_percent: 0, memory_percent: 0, load_avg: 0 } })
    await server.json("/api/config", { method: "PUT", body: JSON.stringify({ resources: { overload: { cpu_percent: 100, memory_percent: 100, load_avg: 1000 } } }) })
    const high = (await server.json("/api/resources/overload")).body
    expect(high).toEqual({ overloaded: false, threshold: { cpu_percent: 100, memory_percent: 100, load_avg: 1000 } })
  })

  it("applies an Idempotency-Key once", async () => {
    const put = (size: number) =>
      server.json("/api/config", { method: "PUT", body: JSON.stringify({ resources: { history_size: size } }), headers: { "idempotency-key": "same-key-1" } })
    const head = async () => (await server.json("/api/status")).body.components.state_store.head_seq as number
    const first = await put(321)
    const at = await head()
    const again = await put(654)
    expect(first.status).toBe(200)
    expect(again.status).toBe(200)
    expect(await head()).toBe(at)
    expect((await server.json("/api/config")).body.resources.history_size).toBe(321)
  })

  it("refuses an invalid config with 400 naming the field and changes nothing", async () => {
    const before = (await server.json("/api/config")).body
    for (const [body, field] of [
      [{ server: { port: 70000 } }, "server.port"],
      [{ resources: { overload: { memory_percent: 101 } } }, "resources.overload.memory_percent"],
      [{ events: { ping_interval_secs: 0 } }, "events.ping_interval_secs"],
      [{ security: { auth_enabled: "yes" } }, "security.auth_enabled"],
      [{ security: { api_key: "short" } }, "security.api_key"]
    ] as const) {
      const { status, body: error } = await server.json("/api/config", { method: "PUT", body: JSON.stringify(body) })
      expect(status).toBe(400)
      expect(error.error).toContain(`"${field}"`)
    }
    expect((await server.json("/api/config")).body).toEqual(before)
  })

  it("persists across a restart", async () => {
    const s = await startServer()
    await s.json("/api/config", { method: "PUT", body: JSON.stringify({ events: { ping_interval_secs: 7 }, server: { port: 4321 } }) })
    await s.stop()
    const again = await startServer({ dataDir: s.dataDir })
    try {
      const body = (await again.json("/api/config")).body
      expect(body.events.ping_interval_secs).toBe(7)
      // the flag given at start (--port 0) wins over the configured port
      expect(body.server.port).toBe(4321)
      expect(again.url).not.toContain(":4321")
    } finally {
      await again.stop()
    }
  })
})

describe("resources and host tools", () => {
  it("GET /api/resources is a real sample of this machine", async () => {
    const { body } = await server.json("/api/resources")
    const os = await import("node:os")
    expect(body.memory_total_mb).toBe(Math.round(os.totalmem() / 1024 / 1024))
    expect(body.cpu_percent).toBeGreaterThanOrEqual(0)
    expect(body.cpu_percent).toBeLessThanOrEqual(100)
    expect(body.memory_percent).toBeGreaterThan(0)
    expect(body.load_avg_1m).toBeGreaterThanOrEqual(0)
    expect(Date.now() - Date.parse(body.timestamp)).toBeLessThan(60_000)
  })

  it("GET /api/resources/history returns at most last_n snapshots, newest first", async () => {
    const { body } = await server.json("/api/resources/history?last_n=5")
    expect(body.count).toBe(body.snapshots.length)
    expect(body.count).toBeGreaterThanOrEqual(1)
    expect(body.count).toBeLessThanOrEqual(5)
    const times = body.snapshots.map((s: { timestamp: string }) => Date.parse(s.timestamp))
    expect([...times].sort((a, b) => b - a)).toEqual(times)
    expect(Object.keys(body.snapshots[0]).sort()).toEqual(["cpu_percent", "memory_percent", "timestamp"])
    expect((await server.json("/api/resources/history?last_n=-1")).status).toBe(400)
  })

  it("GET /api/host-tools probes real binaries", async () => {
    const { body } = await server.json("/api/host-tools")
    expect(body.all_required_present).toBe(true)
    expect(body.missing_required).toEqual([])
    expect(body.optional_available.node).toBe(true)
    const hasGit = (() => {
      try {
        execFileSync("git", ["--version"])
        return true
      } catch {
        return false
      }
    })()
    expect(body.optional_available.git).toBe(hasGit)
  })
})

describe("GET /api/metrics", () => {
  it("is Prometheus text that promtool accepts, with requests, latency, events and subscribers", async () => {
    await server.fetch("/api/status")
    await server.fetch("/api/audit/agent/someone")
    const response = await server.fetch("/api/metrics")
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/plain")
    const text = await response.text()
    expect(text).toMatch(/annal_http_requests_total\{method="GET",route="\/api\/status",status="200"\} \d+/)
    expect(text).toMatch(/annal_http_requests_total\{method="GET",route="\/api\/audit\/agent\/:agent_id",status="200"\} \d+/)
    expect(text).toContain("annal_http_request_duration_seconds_bucket")
    expect(text).toMatch(/annal_events_appended_total [1-9]\d*/)
    expect(text).toMatch(/annal_event_subscribers 0/)
    const file = join(tempDir(), "metrics.txt")
    writeFileSync(file, text)
    // promtool reads the exposition from stdin and exits non-zero on any problem
    const out = execFileSync("sh", ["-c", `promtool check metrics < ${file} 2>&1; echo "exit=$?"`]).toString()
    expect(out.trim().split("\n").pop()).toBe("exit=0")
  })

  it("needs the token like every /api route", async () => {
    expect((await server.fetch("/api/metrics", { token: null })).status).toBe(401)
  })
})
