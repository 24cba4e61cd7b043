/** Black-box tests of the skills endpoints (seed section 7) against the real `annal serve`. */
import { existsSync, readFileSync, rmSync } from "node:fs"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer } from "./harness.js"

let server: RunningServer
const skillFile = (name: string) => join(server.dataDir, "skills", `${name}.md`)
const post = (body: unknown, headers: Record<string, string> = {}) =>
  server.json("/api/skills", { method: "POST", body: JSON.stringify(body), headers })
const head = async () => (await server.json("/api/status")).body.components.state_store.head_seq as number

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.stop()
})

describe("POST /api/skills", () => {
  it("creates a skill, records skill_created, and writes <data-dir>/skills/<name>.md", async () => {
    const content = "# Deploy Skill\n\n## Steps\n1. Run tests\n2. Build\n3. Deploy"
    const { status, body } = await post({ name: "deploy", description: "Deploy the application to production", content })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "created", name: "deploy" })
    expect(readFileSync(skillFile("deploy"), "utf8")).toBe(content)
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=1000")).body.entries
    expect(entries[entries.length - 1]).toMatchObject({ action: "skill_created", resource: "skill-deploy", agent_name: "user:api" })
  })

  it("defaults content to an empty string", async () => {
    expect((await post({ name: "code-review", description: "Review code changes and provide feedback", stream: "skill-code-review" })).body).toEqual({ status: "created", name: "code-review" })
    expect((await server.json("/api/skills/code-review")).body.content).toBe("")
    expect(readFileSync(skillFile("code-review"), "utf8")).toBe("")
  })

  it("answers 409 when the name exists, and changes nothing", async () => {
    const before = await head()
    const { status, body } = await post({ name: "deploy", description: "other", content: "other" })
    expect(status).toBe(409)
    expect(body).toEqual({ error: "skill already exists: deploy" })
    expect(await head()).toBe(before)
    expect((await server.json("/api/skills/deploy")).body.description).toBe("Deploy the application to production")
  })

  it.each([
    [{ name: "../evil", description: "x" }, "name"],
    [{ name: "a/b", description: "x" }, "name"],
    [{ name: "", description: "x" }, "name"],
    [{ name: "has space", description: "x" }, "name"],
    [{ name: "ok" }, "description"],
    [{ name: "ok", description: "x", content: 5 }, "content"],
    [{ name: "ok", description: 7, extra: true }, "description"],
    [{ name: "ok", description: "x", content: "x".repeat(64 * 1024 + 1) }, "content"]
  ])("answers 400 naming the field for %#", async (request, field) => {
    const before = await head()
    const { status, body } = await post(request)
    expect(status).toBe(400)
    expect(body.error).toContain(`"${field}"`)
    expect(await head()).toBe(before)
  })

  it("accepts exactly 64 KB of content", async () => {
    expect((await post({ name: "big", description: "", content: "x".repeat(64 * 1024) })).status).toBe(200)
    expect(readFileSync(skillFile("big"), "utf8")).toHaveLength(64 * 1024)
  })

  it("applies an Idempotency-Key once and answers the retry as the first time", async () => {
    const first = await post({ name: "retried", description: "d", stream: "skill-retried" }, { "idempotency-key": "skill-retried-1" })
    const at = await head()
    const again = await post({ name: "retried", description: "d", stream: "skill-retried" }, { "idempotency-key": "skill-retried-1" })
    expect(first).toMatchObject({ status: 200, body: { status: "created", name: "retried" } })
    expect(again).toMatchObject({ status: 200, body: { status: "created", name: "retried" } })
    expect(await head()).toBe(at)
  })
})

describe("GET /api/skills and /api/skills/{name}", () => {
  it("lists {name, description} by name, paginated", async () => {
    const { status, body } = await server.json("/api/skills")
    expect(status).toBe(200)
    expect(body).toEqual({
      items: [
        { name: "big", description: "", stream: "skill-big" },
        { name: "code-review", description: "Review code changes and provide feedback", stream: "skill-code-review" },
        { name: "deploy", description: "Deploy the application to production", stream: "skill-deploy" },
        { name: "retried", description: "d", stream: "skill-retried" }
      ],
      total: 4,
      page: 1,
      limit: 50
    })
    const second = (await server.json("/api/skills?page=2&limit=3")).body
    expect(second).toEqual({ items: [{ name: "retried", description: "d", stream: "skill-retried" }], total: 4, page: 2, limit: 3 })
  })

  it("returns name, description, content and the file's absolute path", async () => {
    const { status, body } = await server.json("/api/skills/deploy")
    expect(status).toBe(200)
    expect(body).toEqual({
      name: "deploy",
      description: "Deploy the application to production",
      content: "# Deploy Skill\n\n## Steps\n1. Run tests\n2. Build\n3. Deploy",
      path: skillFile("deploy"),
      stream: "skill-deploy"
    })
    expect(readFileSync(body.path, "utf8")).toBe(body.content)
  })

  it("answers 404 for an unknown name", async () => {
    const { status, body } = await server.json("/api/skills/nope")
    expect(status).toBe(404)
    expect(body).toEqual({ error: "skill not found: nope" })
  })
})

describe("DELETE /api/skills/{name}", () => {
  it("deletes the skill and its file; then it is unknown, and the name is free again", async () => {
    const { status, body } = await server.json("/api/skills/code-review", { method: "DELETE" })
    expect(status).toBe(200)
    expect(body).toEqual({ status: "deleted", name: "code-review" })
    expect(existsSync(skillFile("code-review"))).toBe(false)
    expect((await server.json("/api/skills/code-review")).status).toBe(404)
    expect((await server.json("/api/skills/code-review", { method: "DELETE" })).status).toBe(404)
    expect((await post({ name: "code-review", description: "second life", content: "v2" })).status).toBe(200)
    expect(readFileSync(skillFile("code-review"), "utf8")).toBe("v2")
  })

  it("answers 404 for an unknown name", async () => {
    const { status, body } = await server.json("/api/skills/never-was", { method: "DELETE" })
    expect(status).toBe(404)
    expect(body.error).toBe("skill not found: never-was")
  })
})

describe("/openapi.json", () => {
  it("documents these endpoints", async () => {
    const paths = Object.keys((await server.json("/openapi.json", { token: null })).body.paths)
    for (const path of ["/api/skills", "/api/skills/{name}"]) expect(paths).toContain(path)
  })
})

describe("restart", () => {
  it("keeps the skills and recreates a missing file from the log", async () => {
    const before = (await server.json("/api/skills")).body
    await server.stop()
    rmSync(skillFile("deploy"))
    server = await startServer({ dataDir: server.dataDir })
    expect((await server.json("/api/skills")).body).toEqual(before)
    expect(readFileSync(skillFile("deploy"), "utf8")).toBe("# Deploy Skill\n\n## Steps\n1. Run tests\n2. Build\n3. Deploy")
    expect((await server.json("/api/skills/code-review")).body.content).toBe("v2")
  }, 120_000)
})
