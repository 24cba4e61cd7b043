import { execFileSync } from "node:child_process"
import { chmodSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { deflateSync } from "node:zlib"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type RunningServer, startServer, tempDir } from "./harness.js"

let server: RunningServer
let ws: string

beforeAll(async () => {
  server = await startServer()
  ws = join(server.dataDir, "workspace")
})
afterAll(async () => {
  await server?.stop()
})

/** The real git CLI on the workspace: an independent witness. */
const git = (...args: Array<string>) => execFileSync("git", ["--git-dir", `${ws}.git`, "-C", ws, ...args], { encoding: "utf8" })

const put = (path: string, body: string) => server.fetch(`/api/workspace/file/${path}`, { method: "PUT", body, headers: { "content-type": "text/plain" } })
const restore = (body: unknown, headers: Record<string, string> = {}) =>
  server.json("/api/git/restore", { method: "POST", body: JSON.stringify(body), headers })

describe("GET /api/git/log", () => {
  it("starts with the first commit of the new workspace", async () => {
    const { status, body } = await server.json("/api/git/log")
    expect(status).toBe(200)
    expect(body).toEqual({
      entries: [{ hash: git("rev-parse", "HEAD").trim(), author: "annal", message: "initialize workspace", timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/) }]
    })
  })

  it("lists the commits git itself sees, newest first, every write one of them", async () => {
    expect((await put("log/one.txt", "1")).status).toBe(200)
    expect((await put("log/two.txt", "2")).status).toBe(200)
    const { body } = await server.json("/api/git/log")
    expect(body.entries.map((e: { hash: string }) => e.hash)).toEqual(git("log", "--format=%H").trim().split("\n"))
    expect(body.entries.slice(0, 2).map((e: { message: string }) => e.message)).toEqual(["write log/two.txt", "write log/one.txt"])
    expect(git("log", "--oneline").trim().split("\n").map((l) => l.slice(8))).toEqual(["write log/two.txt", "write log/one.txt", "initialize workspace"])
  })

  it("returns at most 100 entries", async () => {
    // 105 commits in one git process (fast-import), not 105 processes: a loaded machine did not
    // spawn them within the test's time
    const branch = git("symbolic-ref", "HEAD").trim()
    const parent = git("rev-parse", "HEAD").trim()
    const stream = Array.from({ length: 105 }, (_, i) => {
      const message = `bulk ${i + 1}`
      return `commit ${branch}\ncommitter bulk <b@x> ${1_700_000_000 + i} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n${i === 0 ? `from ${parent}\n` : ""}\n`
    }).join("")
    execFileSync("git", ["--git-dir", `${ws}.git`, "fast-import", "--quiet"], { input: stream })
    const { body } = await server.json("/api/git/log")
    expect(body.entries).toHaveLength(100)
    expect(body.entries[0]).toMatchObject({ message: "bulk 105", author: "bulk" })
    expect(body.entries.map((e: { hash: string }) => e.hash)).toEqual(git("log", "-100", "--format=%H").trim().split("\n"))
  })
})

describe("GET /api/git/tags", () => {
  it("lists every tag", async () => {
    expect((await server.json("/api/git/tags")).body).toEqual({ tags: [] })
    git("tag", "v0.1.0")
    git("-c", "user.name=a", "-c", "user.email=a@x", "tag", "-a", "seed-evolution-3", "-m", "evolved", "HEAD~1")
    git("tag", "0.1.2", "HEAD~2")
    expect((await server.json("/api/git/tags")).body).toEqual({ tags: ["0.1.2", "seed-evolution-3", "v0.1.0"] })
  })
})

describe("POST /api/git/restore", () => {
  it("restores a file's content at a commit, commits the restore and records it", async () => {
    expect((await put("src/main.rs", "fn main() {}")).status).toBe(200)
    const first = git("rev-parse", "HEAD").trim()
    expect((await put("src/main.rs", "fn main() { broken")).status).toBe(200)
    const short = first.slice(0, 12)
    const { status, body } = await restore({ hash: short, path: "src/main.rs" })
    expect(status).toBe(200)
    expect(body).toEqual({ restored: "src/main.rs", from: short, commit: git("rev-parse", "HEAD").trim() })
    expect(await (await server.fetch("/api/workspace/file/src/main.rs")).text()).toBe("fn main() {}")
    expect(git("log", "-1", "--format=%s").trim()).toBe(`restore src/main.rs from ${short}`)
    expect(git("show", "HEAD:src/main.rs")).toBe("fn main() {}")
    const entries = (await server.json("/api/audit/entries?from_seq=0&to_seq=100000")).body.entries
    expect(entries[entries.length - 1]).toMatchObject({ action: "workspace_file_restored", resource: "workspace-src/main.rs", agent_name: "user:api" })
  })

  it("restores a file deleted since, and applies an Idempotency-Key once", async () => {
    expect((await put("gone/later.txt", "here once")).status).toBe(200)
    const at = git("rev-parse", "HEAD").trim()
    git("rm", "-q", "gone/later.txt")
    git("-c", "user.name=a", "-c", "user.email=a@x", "commit", "-q", "-m", "remove it")
    const once = await restore({ hash: at, path: "gone/later.txt" }, { "idempotency-key": "restore-1" })
    expect(once.status).toBe(200)
    expect(readFileSync(join(ws, "gone", "later.txt"), "utf8")).toBe("here once")
    const head = git("rev-parse", "HEAD")
    const again = await restore({ hash: at, path: "gone/later.txt" }, { "idempotency-key": "restore-1" })
    expect(again.status).toBe(200)
    expect(again.body).toMatchObject({ restored: "gone/later.txt", commit: once.body.commit })
    expect(git("rev-parse", "HEAD")).toBe(head)
  })

  it("answers 400 naming the field for a malformed hash or request", async () => {
    for (const hash of ["", "abc", "xyz123", "g".repeat(40), "a".repeat(41), "12 34", 1234]) {
      const { status, body } = await restore({ hash, path: "src/main.rs" })
      expect(status, String(hash)).toBe(400)
      expect(body.error).toContain(`"hash"`)
    }
    // an unknown field is ignored, the known ones still validated
    const unknown = await restore({ hash: "xyz", path: "x", extra: 1 })
    expect(unknown.status).toBe(400)
    expect(unknown.body.error).toContain(`"hash"`)
    const noPath = await restore({ hash: "abcd" })
    expect(noPath.status).toBe(400)
    expect(noPath.body.error).toContain(`"path"`)
  })

  it("answers 404 for an unknown commit or a path the commit does not have", async () => {
    const head = git("rev-parse", "HEAD").trim()
    const noCommit = await restore({ hash: "0123456789abcdef0123456789abcdef01234567", path: "src/main.rs" })
    expect(noCommit.status).toBe(404)
    expect(noCommit.body.error).toContain("commit not found")
    const blob = git("rev-parse", "HEAD:src/main.rs").trim()
    expect((await restore({ hash: blob, path: "src/main.rs" })).status).toBe(404)
    const noPath = await restore({ hash: head, path: "src/nothing.rs" })
    expect(noPath.status).toBe(404)
    expect(noPath.body.error).toContain("src/nothing.rs")
    expect((await restore({ hash: head, path: "src" })).status).toBe(404)
    expect(git("rev-parse", "HEAD").trim()).toBe(head)
  })

  it("answers 403 for a path that leaves the workspace, and writes nothing", async () => {
    const outside = realpathSync(tempDir("annal-restore-out-"))
    symlinkSync(outside, join(ws, "out"))
    const head = git("rev-parse", "HEAD").trim()
    // the path is checked before the commit is read
    for (const path of ["../escape.txt", "/etc/passwd", "a/../../x", "%2e%2e/x", "a\\..\\x", ".git/config", "out/src/main.rs"]) {
      const { status, body } = await restore({ hash: head, path })
      expect(status, path).toBe(403)
      expect(body.error).toContain("refused")
    }
    expect(execFileSync("ls", ["-A", outside], { encoding: "utf8" })).toBe("")
    expect(git("rev-parse", "HEAD").trim()).toBe(head)
  })
})

describe("GET /api/git/log?path= and GET /api/git/show", () => {
  const logOf = async (path: string) => {
    const { status, body } = await server.json(`/api/git/log?path=${encodeURIComponent(path)}`)
    expect(status, path).toBe(200)
    return (body.entries as Array<{ hash: string; message: string }>)
  }
  /** What git itself lists for the path. */
  const gitLogOf = (path: string) => git("log", "--first-parent", "--format=%H", "--", path).trim().split("\n").filter((h) => h !== "")

  it("lists only the commits that changed a file — written, edited, removed, restored — as git does", async () => {
    expect((await put("hist/plan.md", "one")).status).toBe(200)
    const one = git("rev-parse", "HEAD").trim()
    expect((await put("hist/other.md", "unrelated")).status).toBe(200)
    expect((await put("hist/plan.md", "two")).status).toBe(200)
    git("rm", "-q", "hist/plan.md")
    git("-c", "user.name=a", "-c", "user.email=a@x", "commit", "-q", "-m", "remove the plan")
    // back with the content it had before it was removed: the removal still counts
    expect((await restore({ hash: one, path: "hist/plan.md" })).status).toBe(200)
    expect((await put("hist/other.md", "still unrelated")).status).toBe(200)

    const entries = await logOf("hist/plan.md")
    expect(entries.map((e) => e.message)).toEqual([`restore hist/plan.md from ${one.slice(0, 12)}`, "remove the plan", "write hist/plan.md", "write hist/plan.md"])
    expect(entries.map((e) => e.hash)).toEqual(gitLogOf("hist/plan.md"))
    expect(entries[3]!.hash).toBe(one)
    // the same path spelled with a leading ./ and doubled slashes; a directory's commits are its files'
    expect(await logOf("./hist//plan.md")).toEqual(entries)
    expect((await logOf("hist")).map((e) => e.hash)).toEqual(gitLogOf("hist"))
    expect(await logOf("hist/never-written.md")).toEqual([])
    expect(await logOf("hist/plan.md/inside")).toEqual([])
    // without a path: the whole log, as before
    expect((await server.json("/api/git/log")).body.entries.slice(0, 2).map((e: { message: string }) => e.message)).toEqual([
      "write hist/other.md",
      `restore hist/plan.md from ${one.slice(0, 12)}`
    ])
  })

  it("answers a file's bytes at a commit with its type, and 404, 400, 403 as restore does", async () => {
    expect((await put("hist/notes.json", "{\"v\": 1}")).status).toBe(200)
    const first = git("rev-parse", "HEAD").trim()
    expect((await put("hist/notes.json", "{\"v\": 2}")).status).toBe(200)
    const show = (hash: string, path: string) => server.fetch(`/api/git/show?hash=${encodeURIComponent(hash)}&path=${encodeURIComponent(path)}`)
    const old = await show(first.slice(0, 10), "hist/notes.json")
    expect(old.status).toBe(200)
    expect(old.headers.get("content-type")).toBe("application/json; charset=utf-8")
    expect(await old.text()).toBe(git("show", `${first}:hist/notes.json`))
    expect(await (await show(git("rev-parse", "HEAD").trim(), "hist/notes.json")).text()).toBe("{\"v\": 2}")

    const missing = await server.json(`/api/git/show?hash=${first}&path=hist/not-there.md`)
    expect(missing.status).toBe(404)
    expect(missing.body.error).toContain("hist/not-there.md")
    expect((await show("0000000000", "hist/notes.json")).status).toBe(404)
    // a directory, or the root, is no file
    expect((await show(first, "hist")).status).toBe(404)
    expect((await show(first, ".")).status).toBe(404)
    expect((await show("xyz", "hist/notes.json")).status).toBe(400)
    expect((await server.fetch(`/api/git/show?hash=${first}`)).status).toBe(400)
    for (const path of ["../escape.txt", "/etc/passwd", "a/../../x", "%2e%2e/x", ".git/config"]) {
      const shown = await server.json(`/api/git/show?hash=${first}&path=${encodeURIComponent(path)}`)
      expect(shown.status, path).toBe(403)
      expect(shown.body.error).toContain("refused")
      const logged = await server.json(`/api/git/log?path=${encodeURIComponent(path)}`)
      expect(logged.status, path).toBe(403)
      expect(logged.body.error).toContain("refused")
    }
    expect((await server.json("/api/git/log?path=")).status).toBe(400)
  })
})

describe("POST /api/git/verify", () => {
  it("is valid for an intact repository and finds a corrupted object", async () => {
    const s = await startServer()
    const dir = join(s.dataDir, "workspace")
    try {
      for (const [path, content] of [["a.txt", "alpha"], ["b/c.txt", "gamma"], ["a.txt", "alpha 2"]]) {
        expect((await s.fetch(`/api/workspace/file/${path}`, { method: "PUT", body: content! })).status).toBe(200)
      }
      const intact = await s.json("/api/git/verify", { method: "POST" })
      expect(intact.status).toBe(200)
      const objects = execFileSync("git", ["--git-dir", `${dir}.git`, "-C", dir, "rev-list", "--objects", "--all"], { encoding: "utf8" }).trim().split("\n").length
      expect(intact.body).toEqual({ valid: true, commits_checked: 4, objects_checked: objects })
      // replace the first a.txt's object with a valid object of other content
      const blob = execFileSync("git", ["--git-dir", `${dir}.git`, "-C", dir, "rev-parse", "HEAD~2:a.txt"], { encoding: "utf8" }).trim()
      const file = join(`${dir}.git`, "objects", blob.slice(0, 2), blob.slice(2))
      chmodSync(file, 0o644)
      writeFileSync(file, deflateSync(Buffer.from("blob 5\0omega")))
      const broken = await s.json("/api/git/verify", { method: "POST" })
      expect(broken.status).toBe(200)
      expect(broken.body.valid).toBe(false)
      expect(broken.body.problem).toContain(blob)
      // git agrees
      expect(() => execFileSync("git", ["--git-dir", `${dir}.git`, "-C", dir, "fsck", "--full"], { stdio: "pipe" })).toThrow()
    } finally {
      await s.stop()
    }
  }, 60_000)

  it("needs the token", async () => {
    expect((await server.fetch("/api/git/verify", { method: "POST", token: null })).status).toBe(401)
    expect((await server.fetch("/api/git/log", { token: null })).status).toBe(401)
  })
})
