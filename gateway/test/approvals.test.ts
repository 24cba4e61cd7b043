/**
 * Black-box tests of `/api/approvals` against the real `annal serve`. Approvals are asked for
 * by the tool gate, not over HTTP, so the test asks through the kernel's Approvals service on
 * the same data directory while the server is stopped (the code path the gate uses); the server
 * then finds them pending in the log, re-arms their expiry, and lets a person decide them.
 */
import { Approvals } from "@annal/kernel"
import { Effect } from "effect"
import { afterAll, describe, expect, it } from "vitest"
import { kernelLayer } from "../src/Server.js"
import { type RunningServer, startServer, tempDir, until } from "./harness.js"

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** The `approvals.timeout_secs` the test configures: p, asked without a timeout, expires after it. */
const CONFIGURED_SECS = 10

interface Ask {
  readonly action: string
  readonly resource: string
  readonly timeoutSecs?: number
}

/** Asks for approvals as the gate does, in this process, on a stopped server's data directory. */
const askAsTheGate = (dataDir: string, asks: ReadonlyArray<Ask>) =>
  Effect.runPromise(
    Effect.gen(function*() {
      const approvals = yield* Approvals
      return yield* Effect.forEach(asks, (a) =>
        Effect.map(
          approvals.request(
            { subject: "agent:builder-agent", action: a.action, resource: a.resource, reason: `builder wants ${a.action}`, timeoutSecs: a.timeoutSecs },
            { actor: "agent:builder-agent" }
          ),
          (p) => p.id
        ))
    }).pipe(Effect.provide(kernelLayer(dataDir, "NORMAL")))
  )

const dataDir = tempDir()
let server: RunningServer | undefined
let ids: { a: string; b: string; p: string; q: string; r: string }

afterAll(async () => {
  await server?.stop()
})

const list = async () => {
  const { status, body } = await server!.json("/api/approvals")
  expect(status).toBe(200)
  return body as Array<Record<string, unknown> & { id: string; status: string }>
}
const statusOf = async (id: string) => (await list()).find((a) => a.id === id)?.status
const decide = (id: string, verb: "approve" | "reject") => server!.json(`/api/approvals/${id}/${verb}`, { method: "POST" })

describe("approvals over HTTP", () => {
  it("starts with none, and takes its timeout from approvals.timeout_secs", async () => {
    server = await startServer({ dataDir })
    expect(await list()).toEqual([])
    // short enough that the test waits little for p to expire, long enough that p is still pending
    // after a restart on a loaded machine (the expiry itself is tested on the TestClock in the kernel)
    const { status, body } = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ approvals: { timeout_secs: CONFIGURED_SECS } }) })
    expect(status).toBe(200)
    expect(body.approvals).toEqual({ timeout_secs: CONFIGURED_SECS })
    const bad = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ approvals: { timeout_secs: 0 } }) })
    expect(bad.status).toBe(400)
    expect(bad.body.error).toContain(`"approvals.timeout_secs"`)
    await server.stop()
    server = undefined

    const [a, b, p, q, r] = await askAsTheGate(dataDir, [
      { action: "use_tool:exec", resource: "scripts/deploy.sh", timeoutSecs: 600 },
      { action: "use_tool:write", resource: "src/main.ts", timeoutSecs: 600 },
      { action: "access_path:secrets/db.txt", resource: "secrets/db.txt" },
      { action: "use_tool:exec", resource: "rm -rf build", timeoutSecs: 1 },
      { action: "use_tool:exec", resource: "git push --force", timeoutSecs: 600 }
    ])
    ids = { a: a!, b: b!, p: p!, q: q!, r: r! }
    // the server is down while q's deadline passes
    await sleep(1200)
  }, 90_000)

  it("on start, a pending approval already past its deadline expires at once; the others stay pending", async () => {
    server = await startServer({ dataDir })
    await until("the overdue approval to expire", async () => (await statusOf(ids.q)) === "expired", Boolean, { everyMs: 100 })
    const items = await list()
    expect(items.map((i) => i.id)).toEqual([ids.r, ids.q, ids.p, ids.b, ids.a])
    expect(items.map((i) => i.status)).toEqual(["pending", "expired", "pending", "pending", "pending"])
    const a = items.find((i) => i.id === ids.a)!
    expect(a).toEqual({
      id: ids.a,
      subject: "agent:builder-agent",
      action: "use_tool:exec",
      resource: "scripts/deploy.sh",
      reason: "builder wants use_tool:exec",
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      status: "pending",
      expires_at: expect.any(String),
      resolved_at: null,
      resolved_by: null,
      stream: `approval-${ids.a}`
    })
    expect(Date.parse(a.expires_at as string) - Date.parse(a.created_at as string)).toBeGreaterThan(599_000)
    const p = items.find((i) => i.id === ids.p)!
    // no timeout given: the configured one
    expect(Date.parse(p.expires_at as string) - Date.parse(p.created_at as string)).toBeGreaterThan(CONFIGURED_SECS * 1000 - 1000)
    expect(Date.parse(p.expires_at as string) - Date.parse(p.created_at as string)).toBeLessThanOrEqual(CONFIGURED_SECS * 1000)
    expect(items.find((i) => i.id === ids.q)).toMatchObject({ status: "expired", resolved_by: "system" })
    expect((await server.json("/api/approvals?status=pending")).body.map((i: { id: string }) => i.id)).toEqual([ids.r, ids.p, ids.b, ids.a])
    expect((await server.json("/api/approvals?limit=2")).body).toHaveLength(2)
  }, 60_000)

  it("approves and rejects a pending approval once; then it is 404", async () => {
    expect(await decide(ids.a, "approve")).toMatchObject({ status: 200, body: { status: "approved", id: ids.a } })
    expect(await decide(ids.b, "reject")).toMatchObject({ status: 200, body: { status: "rejected", id: ids.b } })
    for (const [id, verb] of [[ids.a, "approve"], [ids.a, "reject"], [ids.b, "approve"], [ids.q, "approve"]] as const) {
      expect(await decide(id, verb)).toEqual(expect.objectContaining({ status: 404, body: { error: `pending approval not found: ${id}` } }))
    }
    const items = await list()
    expect(items.find((i) => i.id === ids.a)).toMatchObject({ status: "approved", resolved_by: "user:api", resolved_at: expect.any(String) })
    expect(items.find((i) => i.id === ids.b)).toMatchObject({ status: "rejected", resolved_by: "user:api" })
    const to = (await server!.json("/api/status")).body.components.state_store.head_seq
    const entries = (await server!.json(`/api/audit/entries?from_seq=${to - 1}&to_seq=${to}`)).body.entries
    expect(entries.map((e: { action: string; resource: string }) => [e.action, e.resource])).toEqual([
      ["approval_resolved", `approval-${ids.a}`],
      ["approval_resolved", `approval-${ids.b}`]
    ])
  })

  it("refuses a malformed id with 400 and an unknown one with 404", async () => {
    const malformed = await decide("not-a-uuid", "approve")
    expect(malformed.status).toBe(400)
    expect(malformed.body.error).toContain(`"id"`)
    expect((await decide("550e8400-e29b-41d4-a716-44665544000", "reject")).status).toBe(400)
    const unknown = "550e8400-e29b-41d4-a716-446655440000"
    expect(await decide(unknown, "reject")).toEqual(expect.objectContaining({ status: 404, body: { error: `approval not found: ${unknown}` } }))
    expect((await server!.json("/api/approvals?status=maybe")).status).toBe(400)
    expect((await server!.fetch(`/api/approvals/${ids.r}/approve`, { method: "POST", token: null })).status).toBe(401)
    expect(await statusOf(ids.r)).toBe("pending")
  })

  it("a pending approval expires at its deadline while the server runs", async () => {
    expect(await statusOf(ids.p)).toBe("pending")
    await until("the approval to expire", async () => (await statusOf(ids.p)) === "expired", Boolean, { timeoutMs: CONFIGURED_SECS * 1000 + 10_000, everyMs: 100 })
    const p = (await list()).find((i) => i.id === ids.p)!
    expect(p.resolved_by).toBe("system")
    expect(Date.parse(p.resolved_at as string)).toBeGreaterThanOrEqual(Date.parse(p.expires_at as string))
    expect(await decide(ids.p, "approve")).toMatchObject({ status: 404 })
  }, 60_000)

  it("a pending approval survives a restart and can be decided after it", async () => {
    await server!.stop()
    server = await startServer({ dataDir })
    expect(await statusOf(ids.r)).toBe("pending")
    expect(await decide(ids.r, "approve")).toMatchObject({ status: 200, body: { status: "approved", id: ids.r } })
    expect((await list()).map((i) => [i.id, i.status])).toEqual([
      [ids.r, "approved"],
      [ids.q, "expired"],
      [ids.p, "expired"],
      [ids.b, "rejected"],
      [ids.a, "approved"]
    ])
  }, 60_000)
})
