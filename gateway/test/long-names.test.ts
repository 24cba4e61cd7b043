import { readdirSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

const files = () => readdirSync(join(server.dataDir, "workspace"), { recursive: true }).map(String).filter((p) => !p.startsWith(".git")).sort()

const put = (path: string, body = "x") =>
  server.json(`/api/workspace/file/${path}`, { method: "PUT", body, headers: { "content-type": "text/plain" } })

const LONG = "a".repeat(300)

describe("a name longer than the file system allows", () => {
  it("is 400 naming the limit for a workspace file of 300 bytes, and nothing is written", async () => {
    const before = files()
    const { status, body } = await put(`notes/${LONG}.md`)
    expect(status).toBe(400)
    expect(body).toEqual({ error: expect.stringContaining("255") })
    expect(files()).toEqual(before)
  })

  it("is 400 to read it, to list a directory of that name, or to create a file under it", async () => {
    expect((await server.json(`/api/workspace/file/${LONG}`)).status).toBe(400)
    expect((await server.json(`/api/workspace/tree?dir=${LONG}`)).status).toBe(400)
    const { status, body } = await put(`${LONG}/inside.txt`)
    expect(status).toBe(400)
    expect(Object.keys(body)).toEqual(["error"])
  })

  it("counts bytes, not characters: 127 two-byte letters are taken, 128 are not", async () => {
    expect((await put(encodeURIComponent("é".repeat(127)))).status).toBe(200)
    expect((await put(encodeURIComponent("é".repeat(128)))).status).toBe(400)
  })

  it("a path whose names are each allowed but whose whole is too long for the OS (ENAMETOOLONG) is 400", async () => {
    // 4,096 characters relative to the workspace (the most a request may name), so more than
    // PATH_MAX once the workspace's own folder is in front
    const dirs = Array.from({ length: 16 }, (_, i) => `${i}`.padEnd(250, "d")).join("/")
    const path = `${dirs}/${"f".repeat(4096 - dirs.length - 1)}`
    expect(path.length).toBe(4096)
    const { status, body } = await put(path)
    expect(status).toBe(400)
    expect(body.error).toContain("longer than the file system allows")
    expect((await server.json(`/api/workspace/file/${path}`)).status).toBe(400)
  })

  it("restoring such a path from git is 400", async () => {
    const { status } = await server.json("/api/git/restore", { method: "POST", body: JSON.stringify({ hash: "abcdef12", path: `x/${LONG}` }) })
    expect(status).toBe(400)
  })

  it("a 300-byte name on a route that looks names up is that route's answer (404 for no such program), not an unknown route", async () => {
    const { status, body } = await server.json(`/api/programs/${LONG}`)
    expect(status).toBe(404)
    expect(body.error).not.toContain("no such route")
    expect((await server.json(`/api/skills/${LONG}`)).status).toBe(404)
  })

  it("no route with a path parameter answers 500 to a 300-byte value", async () => {
    const doc = (await server.json("/openapi.json", { token: null })).body
    const answers: Array<string> = []
    for (const [template, item] of Object.entries<Record<string, unknown>>(doc.paths)) {
      if (!template.includes("{")) continue
      for (const method of Object.keys(item)) {
        if (!["get", "put", "post", "delete", "patch"].includes(method)) continue
        const path = template.replace(/\{[^}]+\}/g, LONG)
        const { status, body } = await server.json(path, {
          method: method.toUpperCase(),
          ...(method === "get" || method === "delete" ? {} : { body: "{}" })
        })
        answers.push(`${method} ${template} ${status}`)
        expect(status, `${method} ${template}`).toBeLessThan(500)
        // the router matched it: never "this method is not allowed" for the route's own method
        expect(status, `${method} ${template}`).not.toBe(405)
        if (status >= 400) expect(Object.keys(body), `${method} ${template}`).toEqual(["error"])
      }
    }
    expect(answers.length).toBeGreaterThan(10)
  })
})
