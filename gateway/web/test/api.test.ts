/** The UI's API client against the server's own description: every route it calls exists there. */
import { OpenApi } from "@effect/platform"
import { AnnalApi } from "@annal/spec"
import { describe, expect, it } from "vitest"
import { endpoints, fillPath, urlOf } from "../src/api.js"

describe("the UI's API client", () => {
  it("calls only routes /openapi.json declares, with their methods", () => {
    const paths = OpenApi.fromApi(AnnalApi).paths as Record<string, Record<string, unknown>>
    const missing = Object.entries(endpoints)
      .filter(([, [method, path]]) => paths[path]?.[method.toLowerCase()] === undefined)
      .map(([name, [method, path]]) => `${name}: ${method} ${path}`)
    expect(missing).toEqual([])
  })

  it("fills path parameters, encoding each value, and a {path} of any depth segment by segment", () => {
    expect(fillPath("/api/sessions/{id}", { id: "a b/c" })).toBe("/api/sessions/a%20b%2Fc")
    expect(fillPath("/api/workspace/file/{path}", { path: "notes/a b.md" })).toBe("/api/workspace/file/notes/a%20b.md")
    expect(() => fillPath("/api/agents/{id}/kill")).toThrow(/id/)
    expect(urlOf("agents", { query: { limit: 10, page: undefined } })).toBe("/api/agents?limit=10")
  })
})
