/**
 * Signing a browser in and out (`/api/auth/session`), black-box against the real server: the
 * cookie's attributes, what it opens (REST, SSE, WebSocket, file links), the Origin check on
 * unsafe methods, signing out, and the access decisions on the record.
 */
import { request as httpRequest } from "node:http"
import { WebSocket } from "ws"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let s: RunningServer
let origin: string

beforeAll(async () => {
  s = await startServer()
  origin = s.url
  // many requests from one address in this file
  expect((await s.json("/api/config", { method: "PUT", body: JSON.stringify({ security: { rate_limit_per_minute: 100_000 } }) })).status).toBe(200)
})
afterAll(async () => {
  await s?.stop()
})

const signIn = (token: string, headers: Record<string, string> = {}) =>
  s.fetch("/api/auth/session", { method: "POST", token: null, body: JSON.stringify({ token }), headers: { origin, ...headers } })

/** The `name=value` of a Set-Cookie header. */
const cookieOf = (response: Response) => (response.headers.get("set-cookie") ?? "").split(";")[0]!

const withCookie = (cookie: string, init: RequestInit = {}) => ({ ...init, token: null, headers: { ...(init.headers as Record<string, string>), cookie } })

describe("POST /api/auth/session", () => {
  it("exchanges the API token for an HttpOnly, SameSite=Strict cookie with an expiry", async () => {
    const response = await signIn(s.token)
    expect(response.status).toBe(200)
    const body = (await response.json()) as any
    expect(body.signed_in).toBe(true)
    expect(body.auth_enabled).toBe(true)
    const expires = Date.parse(body.expires_at)
    expect(expires - Date.now()).toBeGreaterThan(11 * 3600_000)
    expect(expires - Date.now()).toBeLessThanOrEqual(12 * 3600_000)
    const setCookie = response.headers.get("set-cookie") ?? ""
    expect(setCookie).toMatch(/^annal_session=[^;]+/)
    expect(setCookie).toMatch(/; HttpOnly/i)
    expect(setCookie).toMatch(/; SameSite=Strict/i)
    expect(setCookie).toMatch(/; Path=\//)
    expect(setCookie).toMatch(/; Max-Age=43200/)
    expect(setCookie).not.toMatch(/; Secure/i)
  })

  it("marks the cookie Secure behind HTTPS", async () => {
    const response = await signIn(s.token, { "x-forwarded-proto": "https", origin: origin.replace(/^http:/, "https:") })
    expect(response.status).toBe(200)
    expect(response.headers.get("set-cookie")).toMatch(/; Secure/i)
  })

  it("refuses a wrong or missing token with 401 and no cookie", async () => {
    for (const token of ["wrong-token", ""]) {
      const response = await signIn(token)
      expect(response.status).toBe(401)
      expect(((await response.json()) as any).error).toMatch(/unauthorized/)
      expect(response.headers.get("set-cookie")).toBeNull()
    }
    const bad = await s.fetch("/api/auth/session", { method: "POST", token: null, body: JSON.stringify({ nope: 1 }), headers: { origin } })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).error).toMatch(/token/)
  })

  it("refuses a sign-in from another origin with 403", async () => {
    const response = await signIn(s.token, { origin: "http://evil.example" })
    expect(response.status).toBe(403)
    expect(response.headers.get("set-cookie")).toBeNull()
  })
})

describe("the session cookie", () => {
  let cookie: string
  beforeAll(async () => {
    cookie = cookieOf(await signIn(s.token))
  })

  it("opens the REST API, with no token", async () => {
    const response = await s.json("/api/status", withCookie(cookie))
    expect(response.status).toBe(200)
    expect(response.body.service).toBeDefined()
    expect((await s.fetch("/api/status", withCookie("annal_session=forged.value.here"))).status).toBe(401)
    expect((await s.fetch("/api/status", { token: null })).status).toBe(401)
  })

  it("says who is signed in at GET /api/auth/session", async () => {
    const signedIn = await s.json("/api/auth/session", withCookie(cookie))
    expect(signedIn.body).toMatchObject({ signed_in: true, auth_enabled: true })
    expect(typeof signedIn.body.expires_at).toBe("string")
    expect((await s.json("/api/auth/session", { token: null })).body).toMatchObject({ signed_in: false, expires_at: null })
  })

  it("opens the SSE stream", async () => {
    const controller = new AbortController()
    const response = await s.fetch("/api/events", { ...withCookie(cookie), signal: controller.signal })
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toMatch(/text\/event-stream/)
    controller.abort()
  })

  it("opens file links", async () => {
    expect((await s.fetch("/api/workspace/file/notes/a.txt", { method: "PUT", body: "hello", headers: { "content-type": "text/plain" } })).status).toBe(200)
    const response = await s.fetch("/api/workspace/file/notes/a.txt", withCookie(cookie))
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("hello")
  })

  it("opens the WebSocket from this origin only", async () => {
    const url = `${s.url.replace(/^http/, "ws")}/api/chat/stream`
    const open = (o: string) =>
      new Promise<number>((resolve) => {
        const ws = new WebSocket(url, { headers: { cookie, origin: o } })
        ws.on("open", () => {
          ws.close()
          resolve(101)
        })
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0))
      })
    expect(await open(origin)).toBe(101)
    expect(await open("http://evil.example")).toBe(403)
  })

  it("acts with an unsafe method only from this origin", async () => {
    const put = (headers: Record<string, string>) =>
      s.fetch("/api/workspace/file/notes/b.txt", withCookie(cookie, { method: "PUT", body: "x", headers: { "content-type": "text/plain", ...headers } }))
    const foreign = await put({ origin: "http://127.0.0.1:1" })
    expect(foreign.status).toBe(403)
    expect(((await foreign.json()) as any).error).toMatch(/cross-origin/)
    // without Origin (not a browser's fetch, or a stripped one), the cookie alone does not act
    const bare = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${s.url}/api/workspace/file/notes/b.txt`, { method: "PUT", headers: { cookie, "content-type": "text/plain" } }, (res) => {
        res.resume()
        resolve(res.statusCode ?? 0)
      })
      req.on("error", reject)
      req.end("x")
    })
    expect(bare).toBe(403)
    expect((await put({ origin })).status).toBe(200)
    // a safe method needs no Origin
    expect((await s.fetch("/api/workspace/file/notes/b.txt", withCookie(cookie))).status).toBe(200)
  })

  it("signing out ends the session and clears the cookie", async () => {
    const own = cookieOf(await signIn(s.token))
    expect((await s.fetch("/api/status", withCookie(own))).status).toBe(200)
    const foreign = await s.fetch("/api/auth/session", withCookie(own, { method: "DELETE", headers: { origin: "http://evil.example" } }))
    expect(foreign.status).toBe(403)
    expect((await s.fetch("/api/status", withCookie(own))).status).toBe(200)
    const out = await s.fetch("/api/auth/session", withCookie(own, { method: "DELETE", headers: { origin } }))
    expect(out.status).toBe(200)
    expect((await out.json()) as any).toMatchObject({ signed_in: false })
    expect(out.headers.get("set-cookie")).toMatch(/^annal_session=;.*(Max-Age=0|Expires=Thu, 01 Jan 1970)/i)
    const after = await s.json("/api/status", withCookie(own))
    expect(after.status).toBe(401)
    expect(after.body.error).toMatch(/signed out/)
    // the other session is untouched
    expect((await s.fetch("/api/status", withCookie(cookie))).status).toBe(200)
  })

  it("puts signing in and out on the record as access decisions", async () => {
    const { body } = await s.json("/api/audit?limit=500")
    const actions = body.items.map((d: any) => `${d.action}:${d.allowed}`)
    expect(actions).toContain("sign_in:true")
    expect(actions).toContain("sign_in:false")
    expect(actions).toContain("sign_out:true")
    expect(actions).toContain("sign_out:false")
    const refused = body.items.find((d: any) => d.action === "sign_in" && !d.allowed)
    expect(refused.reason).toMatch(/invalid token|missing token|cross-origin/)
  })
})

describe("the API's description", () => {
  it("declares sign-in, the session and sign-out, and the cookie scheme", async () => {
    const { body } = await s.json("/openapi.json", { token: null })
    const route = body.paths["/api/auth/session"]
    expect(Object.keys(route).sort()).toEqual(["delete", "get", "post"])
    const schemes = JSON.stringify(body.components.securitySchemes)
    expect(schemes).toMatch(/annal_session/)
  })
})
