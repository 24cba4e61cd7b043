import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, startServerProcess } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

describe("the Oxios conventions of every /api route", () => {
  it("serves /health without a token", async () => {
    const { status, body } = await server.json("/health", { token: null })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "ok", version: expect.any(String) })
  })

  it("prints where the token is, and stores it 0600", async () => {
    // what `annal serve` prints: a process of its own
    const s = await startServerProcess()
    try {
      expect(s.output()).toMatch(/API token \(shown once; also saved in .*token\): annal_/)
      const { statSync } = await import("node:fs")
      expect(statSync(`${s.dataDir}/token`).mode & 0o777).toBe(0o600)
      expect((await s.fetch("/api/status")).status).toBe(200)
    } finally {
      await s.stop()
    }
  })

  it.each([
    ["missing", null, "missing token"],
    ["empty", "", "missing token"],
    ["wrong", "not-the-token", "invalid token"]
  ])("answers 401 {error} to a %s token and records the refusal", async (_, token, reason) => {
    const { status, body } = await server.json("/api/status", { token })
    expect(status).toBe(401)
    expect(body).toEqual({ error: `unauthorized: ${reason}` })
    const audit = await server.json("/api/audit?limit=1")
    expect(audit.body.items[0]).toMatchObject({ action: "authenticate", resource: "GET /api/status", allowed: false, reason })
  })

  it("answers 401 to a Bearer header with an empty value", async () => {
    const response = await server.fetch("/api/status", { headers: { authorization: "Bearer " } })
    expect(response.status).toBe(401)
  })

  it("answers 404 {error} to an unknown route", async () => {
    const { status, body } = await server.json("/api/no-such-thing")
    expect(status).toBe(404)
    expect(body.error).toContain("/api/no-such-thing")
  })

  it("answers 400 {error} to malformed JSON", async () => {
    const { status, body } = await server.json("/api/config", { method: "PUT", body: "{not json" })
    expect(status).toBe(400)
    expect(body).toEqual({ error: "request body is not valid JSON" })
  })

  it("answers 400 naming the field to a schema violation", async () => {
    const wrongType = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ server: { port: "eighty" } }) })
    expect(wrongType.status).toBe(400)
    expect(wrongType.body.error).toContain(`"server.port"`)
    // a key Annal does not know beside a bad one it knows: still 400 naming the known one
    const unknown = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { bogus: true, auth_enabled: 1 } }) })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toContain(`"security.auth_enabled"`)
    const range = await server.json("/api/audit/entries?from_seq=-3")
    expect(range.status).toBe(400)
    expect(range.body.error).toContain(`"from_seq"`)
  })

  it("answers 413 {error} to a body over 10 MB, and the client receives it", async () => {
    const big = "x".repeat(10 * 1024 * 1024 + 1)
    const { status, body } = await server.json("/api/config", { method: "PUT", body: JSON.stringify({ pad: big }) })
    expect(status).toBe(413)
    expect(body.error).toContain("too large")
    // the server is still fine afterwards
    expect((await server.json("/api/status")).status).toBe(200)
  })

  it("answers 413 to an oversized body sent in chunks without a length", async () => {
    const chunk = new TextEncoder().encode("x".repeat(1024 * 1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 12) controller.enqueue(chunk)
        else controller.close()
      }
    })
    const response = await server
      .fetch("/api/config", { method: "PUT", body: stream, headers: { "content-type": "application/json" }, duplex: "half" } as RequestInit)
      .catch((e: unknown) => e)
    if (response instanceof Response) {
      expect(response.status).toBe(413)
      expect(await response.json()).toEqual({ error: expect.stringContaining("too large") })
    } else {
      throw new Error(`the client got no response: ${String(response)}`)
    }
  })

  it("paginates: page 0 reads as 1, limit is capped at 500", async () => {
    const zero = await server.json("/api/audit?page=0&limit=2")
    expect(zero.status).toBe(200)
    expect(zero.body).toMatchObject({ page: 1, limit: 2, total: expect.any(Number) })
    expect(zero.body.items.length).toBeLessThanOrEqual(2)
    const capped = await server.json("/api/audit?limit=100000")
    expect(capped.body.limit).toBe(500)
    const bad = await server.json("/api/audit?page=abc")
    expect(bad.status).toBe(400)
  })

  it("serves /openapi.json and /docs generated from the API", async () => {
    const { status, body } = await server.json("/openapi.json", { token: null })
    expect(status).toBe(200)
    expect(body.openapi).toMatch(/^3\./)
    for (const path of ["/health", "/api/status", "/api/config", "/api/audit/verify", "/api/events", "/api/metrics"]) {
      expect(Object.keys(body.paths)).toContain(path)
    }
    // both are made on their first request; the page embeds the same document
    const docs = await server.fetch("/docs", { token: null })
    expect(docs.status).toBe(200)
    expect(docs.headers.get("content-type")).toMatch(/^text\/html/)
    const page = await docs.text()
    expect(page).toContain("SwaggerUIBundle")
    expect(page).toContain('"/api/audit/verify"')
    expect(await (await server.fetch("/docs", { token: null })).text()).toBe(page)
    expect((await server.json("/openapi.json", { token: null })).body).toEqual(body)
  })
})

describe("rate limiting", () => {
  it("limits bursts with 429 {error} and Retry-After, and a new limit applies live", async () => {
    const s = await startServer()
    try {
      expect((await s.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 5 } }) })).status).toBe(200)
      const answers = await Promise.all(Array.from({ length: 12 }, () => s.fetch("/api/status")))
      const limited = answers.filter((r) => r.status === 429)
      // the bucket held 599 tokens when the limit dropped to 5, so it now holds at most 5
      expect(limited.length).toBeGreaterThanOrEqual(7)
      expect(Number(limited[0]!.headers.get("retry-after"))).toBeGreaterThanOrEqual(1)
      expect(await limited[0]!.json()).toEqual({ error: expect.stringContaining("rate limit") })
      // /health is not limited
      expect((await s.fetch("/health")).status).toBe(200)
    } finally {
      await s.stop()
    }
  })
})

describe("tokens from the environment and the configuration", () => {
  it("accepts ANNAL_API_KEY and nothing else", async () => {
    const s = await startServerProcess({ env: { ANNAL_API_KEY: "env-key-0123456789abcdef" } })
    try {
      expect(s.output()).toContain("API token: the value of ANNAL_API_KEY")
      expect((await s.fetch("/api/status")).status).toBe(200)
      expect((await s.fetch("/api/status", { token: "annal_something_else" })).status).toBe(401)
    } finally {
      await s.stop()
    }
  })

  it("switches to a key set through PUT /api/config at once, and keeps it after a restart", async () => {
    const s = await startServer()
    const key = "configured-key-0123456789"
    try {
      const put = await s.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { api_key: key } }) })
      expect(put.status).toBe(200)
      expect(put.body.security.api_key_set).toBe(true)
      expect(JSON.stringify(put.body)).not.toContain(key)
      expect((await s.fetch("/api/status")).status).toBe(401)
      expect((await s.fetch("/api/status", { token: key })).status).toBe(200)
    } finally {
      await s.stop()
    }
    const again = await startServer({ dataDir: s.dataDir })
    try {
      expect((await again.fetch("/api/status", { token: key })).status).toBe(200)
      expect((await again.fetch("/api/status", { token: s.token })).status).toBe(401)
    } finally {
      await again.stop()
    }
  })
})
