/** Black-box tests of `/api/budget/{agent_id}` against the real `annal serve`. */
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))
const post = (path: string, body?: unknown, headers: Record<string, string> = {}) =>
  server.json(path, { method: "POST", ...(body === undefined ? {} : { body: JSON.stringify(body) }), headers })
const set = (agent: string, token_budget: number, calls_budget: number, window_secs: number) =>
  post(`/api/budget/${agent}`, { token_budget, calls_budget, window_secs })
const reserve = (agent: string, tokens: number, headers: Record<string, string> = {}) => post(`/api/budget/${agent}/reserve`, { tokens }, headers)
const get = (agent: string) => server.json(`/api/budget/${agent}`)
const head = async () => (await server.json("/api/status")).body.components.state_store.head_seq as number

describe("budgets over HTTP", () => {
  it("sets a budget and reports it in the seed's shape", async () => {
    expect(await set("builder-agent", 50000, 100, 3600)).toMatchObject({ status: 200, body: { set: true, agent_id: "builder-agent" } })
    const { status, body } = await get("builder-agent")
    expect(status).toBe(200)
    expect(body).toEqual({ agent_id: "builder-agent", tokens_remaining: 50000, calls_remaining: 100, window_remaining_secs: 3600, is_exhausted: false, stream: "budget-builder-agent" })
    expect(Object.keys(body)).toEqual(["agent_id", "tokens_remaining", "calls_remaining", "window_remaining_secs", "is_exhausted", "stream"])
    const to = await head()
    const [event] = (await server.json(`/api/audit/entries?from_seq=${to}&to_seq=${to}`)).body.entries
    expect(event).toMatchObject({ action: "budget_set", resource: "budget-builder-agent", agent_name: "user:api" })
  })

  it("reserves tokens and one call per reservation; beyond the budget is 402 and nothing changes", async () => {
    await set("spender", 1000, 5, 3600)
    expect(await reserve("spender", 600)).toEqual(expect.objectContaining({ status: 200, body: { reserved: true } }))
    expect((await get("spender")).body).toMatchObject({ tokens_remaining: 400, calls_remaining: 4, is_exhausted: false })
    const at = await head()
    const over = await reserve("spender", 401)
    expect(over.status).toBe(402)
    expect(over.body).toEqual({ error: `budget exhausted: agent "spender" has 400 of 1000 tokens left in this window, 401 requested` })
    expect(await head()).toBe(at)
    expect((await get("spender")).body).toMatchObject({ tokens_remaining: 400, calls_remaining: 4 })
    expect((await reserve("spender", 400)).status).toBe(200)
    expect((await get("spender")).body).toMatchObject({ tokens_remaining: 0, calls_remaining: 3, is_exhausted: true })
    // calls run out too: a reservation of no tokens still takes a call
    const calls = await post("/api/budget/spender/reserve", { tokens: 0, calls: 4 })
    expect(calls.status).toBe(402)
    expect(calls.body.error).toMatch(/^budget exhausted: agent "spender" has 3 of 5 calls left/)
  })

  it("50 concurrent reservations of 100 against 1000 tokens: exactly 10 succeed, the rest are 402", async () => {
    await set("racer", 1000, 1000, 3600)
    const results = await Promise.all(Array.from({ length: 50 }, () => reserve("racer", 100)))
    const statuses = results.map((r) => r.status)
    expect(statuses.filter((s) => s === 200)).toHaveLength(10)
    expect(statuses.filter((s) => s === 402)).toHaveLength(40)
    for (const r of results.filter((r) => r.status === 402)) expect(r.body.error).toMatch(/^budget exhausted: /)
    expect((await get("racer")).body).toEqual({ agent_id: "racer", tokens_remaining: 0, calls_remaining: 990, window_remaining_secs: expect.any(Number), is_exhausted: true, stream: "budget-racer" })
    const reserved = (await server.json("/api/audit/entries?from_seq=0&to_seq=100000")).body.entries.filter(
      (e: { action: string; resource: string }) => e.action === "budget_reserved" && e.resource === "budget-racer"
    )
    expect(reserved).toHaveLength(10)
  })

  it("reset restores the full allocation and starts a new window", async () => {
    await set("resettable", 100, 2, 3600)
    await reserve("resettable", 100)
    expect((await get("resettable")).body.is_exhausted).toBe(true)
    expect(await post("/api/budget/resettable/reset")).toMatchObject({ status: 200, body: { reset: true, agent_id: "resettable" } })
    expect((await get("resettable")).body).toEqual({ agent_id: "resettable", tokens_remaining: 100, calls_remaining: 2, window_remaining_secs: 3600, is_exhausted: false, stream: "budget-resettable" })
  })

  it("the window ends after window_secs and the next reservation opens a new one", async () => {
    await set("windowed", 100, 10, 1)
    expect((await reserve("windowed", 100)).status).toBe(200)
    expect((await reserve("windowed", 1)).status).toBe(402)
    await sleep(1200)
    expect((await get("windowed")).body).toEqual({ agent_id: "windowed", tokens_remaining: 100, calls_remaining: 10, window_remaining_secs: 1, is_exhausted: false, stream: "budget-windowed" })
    expect((await reserve("windowed", 30)).status).toBe(200)
    expect((await get("windowed")).body).toMatchObject({ tokens_remaining: 70, calls_remaining: 9 })
  })

  it("DELETE removes the budget; the agent is then unknown to every budget endpoint", async () => {
    await set("removable", 10, 1, 60)
    expect(await server.json("/api/budget/removable", { method: "DELETE" })).toMatchObject({ status: 200, body: { removed: true, agent_id: "removable" } })
    expect(await get("removable")).toMatchObject({ status: 404, body: { error: "budget of agent not found: removable" } })
    expect((await server.json("/api/budget/removable", { method: "DELETE" })).status).toBe(404)
    expect((await post("/api/budget/removable/reset")).status).toBe(404)
    expect((await reserve("removable", 1)).status).toBe(404)
    expect((await get("never-budgeted")).status).toBe(404)
  })

  it("a retried reservation (same Idempotency-Key) answers as the first did and reserves once", async () => {
    await set("retrier", 100, 10, 3600)
    expect((await reserve("retrier", 100, { "idempotency-key": "reserve-1" })).status).toBe(200)
    expect((await reserve("retrier", 100, { "idempotency-key": "reserve-1" })).status).toBe(200)
    expect((await get("retrier")).body).toMatchObject({ tokens_remaining: 0, calls_remaining: 9 })
    expect((await reserve("retrier", 100, { "idempotency-key": "reserve-2" })).status).toBe(402)
  })

  it("refuses invalid input with 400 naming the field", async () => {
    for (const [path, body, field] of [
      ["/api/budget/x", { token_budget: 10, calls_budget: 1 }, "window_secs"],
      ["/api/budget/x", { token_budget: -1, calls_budget: 1, window_secs: 5 }, "token_budget"],
      ["/api/budget/x", { token_budget: 10, calls_budget: 1.5, window_secs: 5 }, "calls_budget"],
      ["/api/budget/x", { token_budget: 10, calls_budget: 1, window_secs: 0 }, "window_secs"],
      ["/api/budget/x/reserve", { tokens: "100" }, "tokens"],
      ["/api/budget/x/reserve", {}, "tokens"]
    ] as const) {
      const { status, body: error } = await post(path, body)
      expect(status, JSON.stringify(body)).toBe(400)
      expect(error.error).toContain(`"${field}"`)
    }
    expect((await get("x")).status).toBe(404)
  })

  it("budgets and their usage persist across a restart", async () => {
    const s = await startServer()
    await s.json("/api/budget/durable", { method: "POST", body: JSON.stringify({ token_budget: 500, calls_budget: 5, window_secs: 3600 }) })
    await s.json("/api/budget/durable/reserve", { method: "POST", body: JSON.stringify({ tokens: 200 }) })
    await s.stop()
    const again = await startServer({ dataDir: s.dataDir })
    try {
      const { body } = await again.json("/api/budget/durable")
      expect(body).toMatchObject({ agent_id: "durable", tokens_remaining: 300, calls_remaining: 4, is_exhausted: false })
      expect(body.window_remaining_secs).toBeGreaterThan(3500)
      expect(body.window_remaining_secs).toBeLessThanOrEqual(3600)
      expect((await again.json("/api/budget/durable/reserve", { method: "POST", body: JSON.stringify({ tokens: 301 }) })).status).toBe(402)
    } finally {
      await again.stop()
    }
  }, 90_000)
})
