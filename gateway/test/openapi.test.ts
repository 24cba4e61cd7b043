import { Validator } from "@seriousme/openapi-schema-validator"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { checkResponse, document } from "./contract.js"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

type Json = Record<string, any>

const operations = () =>
  Object.entries<Json>(document.paths).flatMap(([path, methods]) => Object.entries<Json>(methods).map(([method, op]) => ({ path, method, op })))

const resolve = (schema: Json): Json =>
  typeof schema.$ref === "string" ? document.components.schemas[schema.$ref.replace("#/components/schemas/", "")] : schema

describe("/openapi.json", () => {
  it("is the document the tests check against, and a valid OpenAPI 3.1 description", async () => {
    const { status, body } = await server.json("/openapi.json", { token: null })
    expect(status).toBe(200)
    expect(body).toEqual(JSON.parse(JSON.stringify(document)))
    const validator = new Validator()
    const result = await validator.validate(body)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe("3.1")
  })

  it("describes every error response as exactly {\"error\": string}, with no _tag", () => {
    let errors = 0
    for (const { op } of operations()) {
      for (const [status, response] of Object.entries<Json>(op.responses)) {
        if (Number(status) < 400) continue
        errors++
        const schema = resolve(response.content["application/json"].schema)
        expect(schema).toEqual({
          type: "object",
          required: ["error"],
          properties: { error: { type: "string", description: expect.any(String) } },
          additionalProperties: false
        })
      }
    }
    expect(errors).toBeGreaterThan(500)
    expect(JSON.stringify(document)).not.toContain("HttpApiDecodeError")
  })

  it("has the workspace file routes as /api/workspace/file/{path} with the path parameter", () => {
    expect(Object.keys(document.paths).filter((p) => p.includes("*"))).toEqual([])
    const file = document.paths["/api/workspace/file/{path}"]
    expect(Object.keys(file).sort()).toEqual(["get", "put"])
    for (const op of Object.values<Json>(file)) {
      expect(op.parameters).toContainEqual(expect.objectContaining({ name: "path", in: "path", required: true, schema: { type: "string" } }))
    }
  })

  it("declares paging and sequence parameters as integers with their bounds", () => {
    const params = new Map<string, Json>()
    for (const { path, method, op } of operations()) {
      for (const p of op.parameters ?? []) params.set(`${method} ${path} ${p.name}`, p.schema)
    }
    const expected: Record<string, [number, number]> = {
      "get /api/seeds page": [0, Number.MAX_SAFE_INTEGER],
      "get /api/seeds limit": [0, Number.MAX_SAFE_INTEGER],
      "get /api/audit/entries from_seq": [0, Number.MAX_SAFE_INTEGER],
      "get /api/audit/entries to_seq": [0, Number.MAX_SAFE_INTEGER],
      "get /api/resources/history last_n": [0, 100_000],
      "get /api/log/proof/inclusion seq": [0, Number.MAX_SAFE_INTEGER],
      "get /api/log/proof/inclusion tree_size": [0, Number.MAX_SAFE_INTEGER],
      "get /api/log/proof/consistency first": [0, Number.MAX_SAFE_INTEGER],
      "get /api/log/proof/consistency second": [0, Number.MAX_SAFE_INTEGER],
      "get /api/approvals limit": [1, 100_000]
    }
    for (const [key, [minimum, maximum]] of Object.entries(expected)) {
      expect(params.get(key), key).toMatchObject({ type: "integer", minimum, maximum })
    }
    // no parameter anywhere is still the "string to be decoded into a number"
    for (const [key, schema] of params) expect(schema.type === "string" && /number/.test(schema.description ?? ""), key).toBe(false)
  })

  it("declares 426 on the chat stream and the generic statuses on every route", () => {
    expect(Object.keys(document.paths["/api/chat/stream"].get.responses)).toContain("426")
    for (const { path, method, op } of operations()) {
      for (const status of ["400", "408", "413", "415", "429", "500"]) expect(Object.keys(op.responses), `${method} ${path}`).toContain(status)
    }
  })
})

describe("what the document says holds on the wire", () => {
  it("a bad integer parameter is 400 {error}, and a bound is enforced", async () => {
    for (const url of ["/api/seeds?page=abc", "/api/seeds?limit=-1", "/api/seeds?page=1.5", "/api/resources/history?last_n=100001", "/api/approvals?limit=0", "/api/log/proof/inclusion?seq=x"]) {
      const { status, body } = await server.json(url)
      expect(status, url).toBe(400)
      expect(body, url).toEqual({ error: expect.any(String) })
    }
    expect((await server.json("/api/resources/history?last_n=100000")).status).toBe(200)
  })

  it("the chat stream without an upgrade is 426 {error}", async () => {
    const { status, body, headers } = await server.json("/api/chat/stream")
    expect(status).toBe(426)
    expect(headers.get("upgrade")).toBe("websocket")
    expect(body).toEqual({ error: expect.stringContaining("WebSocket") })
  })

  it("a file path of any depth is served under {path}, its slashes as they are or as %2F", async () => {
    expect((await server.fetch("/api/workspace/file/a/b/c.txt", { method: "PUT", body: "deep", headers: { "content-type": "text/plain" } })).status).toBe(200)
    expect(await (await server.fetch("/api/workspace/file/a/b/c.txt")).text()).toBe("deep")
    // what a generated client sends for path = "a/b/c.txt"
    expect(await (await server.fetch(`/api/workspace/file/${encodeURIComponent("a/b/c.txt")}`)).text()).toBe("deep")
    expect(readFileSync(join(server.dataDir, "workspace", "a", "b", "c.txt"), "utf8")).toBe("deep")
  })
})

describe("405 for a known path with a method it does not have", () => {
  it("answers 405 {error} with Allow listing the path's methods", async () => {
    const cases: Array<[string, string, string]> = [
      ["DELETE", "/api/status", "GET, HEAD"],
      ["POST", "/api/config", "GET, HEAD, PUT"],
      ["PATCH", "/api/memory/some-name", "DELETE, GET, HEAD"],
      ["GET", "/api/budget/a1/reserve", "POST"],
      ["DELETE", "/api/workspace/file/a/b/c.txt", "GET, HEAD, PUT"],
      ["POST", "/openapi.json", "GET, HEAD"]
    ]
    for (const [method, path, allow] of cases) {
      const { status, body, headers } = await server.json(path, { method })
      expect(status, `${method} ${path}`).toBe(405)
      expect(headers.get("allow"), `${method} ${path}`).toBe(allow)
      expect(body).toEqual({ error: expect.stringContaining(`${method} is not allowed`) })
    }
  })

  it("still answers 404 {error} for a path no route has, whatever the method", async () => {
    for (const method of ["GET", "POST", "DELETE"]) {
      const { status, body, headers } = await server.json("/api/no-such-thing", { method })
      expect(status).toBe(404)
      expect(headers.get("allow")).toBeNull()
      expect(body).toEqual({ error: expect.stringContaining("no such route") })
    }
  })
})

describe("the response check itself", () => {
  const observe = (method: string, url: string, status: number, body: unknown, contentType = "application/json") => ({
    method,
    url,
    status,
    headers: new Headers({ "content-type": contentType }),
    body: typeof body === "string" ? body : JSON.stringify(body)
  })

  it("accepts what the document declares", () => {
    expect(() => checkResponse(observe("GET", "/health", 200, { status: "ok", version: "0.1.0" }))).not.toThrow()
    expect(() => checkResponse(observe("GET", "/api/seeds/x", 404, { error: "no such seed" }))).not.toThrow()
  })

  it("refuses an error body with a _tag, an undeclared status, a wrong shape and a wrong media type", () => {
    expect(() => checkResponse(observe("GET", "/api/seeds/x", 404, { _tag: "NotFound", error: "x" }))).toThrow(/must NOT have additional properties/)
    expect(() => checkResponse(observe("GET", "/health", 418, { error: "teapot" }))).toThrow(/418 is not declared/)
    expect(() => checkResponse(observe("GET", "/api/seeds", 200, { items: "none" }))).toThrow(/does not match/)
    expect(() => checkResponse(observe("GET", "/api/seeds", 200, "<html>", "text/html"))).toThrow(/Content-Type text\/html is not declared/)
    expect(() => checkResponse(observe("DELETE", "/api/status", 404, { error: "x" }))).toThrow(/expected 405/)
  })
})
