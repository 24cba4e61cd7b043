import { execFileSync } from "node:child_process"
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from "node:fs"
import { request } from "node:http"
import { dirname, join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { runCli, type RunningServer, startServer, tempDir } from "./harness.js"

let server: RunningServer
let ws: string

beforeAll(async () => {
  server = await startServer()
  ws = join(server.dataDir, "workspace")
})
afterAll(async () => {
  await server?.stop()
})

const MB = 1024 * 1024

/** The real git CLI on the workspace: an independent witness of the commits. */
const git = (...args: Array<string>) => execFileSync("git", ["--git-dir", `${ws}.git`, "-C", ws, ...args], { encoding: "utf8" })

/**
 * A request with the path exactly as given: fetch (WHATWG URL) would resolve `..` and `%2e%2e`
 * before sending, so traversal attempts go through node:http, which sends the path verbatim.
 */
const raw = (method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) =>
  new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const url = new URL(server.url)
    const req = request(
      { host: url.hostname, port: url.port, method, path, headers: { authorization: `Bearer ${server.token}`, ...headers } },
      (res) => {
        const chunks: Array<Buffer> = []
        res.on("data", (c: Buffer) => chunks.push(c))
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8"), headers: res.headers }))
      }
    )
    req.on("error", reject)
    req.end(body)
  })

const put = (path: string, body: string | Uint8Array, headers: Record<string, string> = {}) =>
  server.fetch(`/api/workspace/file/${path}`, { method: "PUT", body, headers: { "content-type": "text/plain", ...headers } })

const eventTypes = async () => {
  const { body } = await server.json("/api/audit/entries?from_seq=0&to_seq=100000")
  return (body.entries as Array<{ action: string; resource: string }>).map((e) => `${e.action} ${e.resource}`)
}

/** Every entry under a directory (following no link), as relative paths with sizes. */
const listing = (dir: string): Array<string> =>
  readdirSync(dir, { withFileTypes: true, recursive: true })
    .map((d) => {
      const path = join(d.parentPath, d.name)
      return `${path.slice(dir.length + 1)} ${d.isFile() ? readFileSync(path).length : d.isDirectory() ? "dir" : "other"}`
    })
    .sort()

describe("PUT and GET /api/workspace/file/{*path}", () => {
  it("writes the body as the file (any content type), answers 200 with an empty body, and commits it", async () => {
    const content = 'fn main() { println!("Hello, Oxios!"); }'
    const response = await put("src/main.rs", content)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("")
    expect(readFileSync(join(ws, "src", "main.rs"), "utf8")).toBe(content)
    expect(git("log", "--format=%s", "-1").trim()).toBe("write src/main.rs")
    expect(git("show", "HEAD:src/main.rs")).toBe(content)
    const get = await server.fetch("/api/workspace/file/src/main.rs")
    expect(get.status).toBe(200)
    expect(await get.text()).toBe(content)
    // a JSON content type does not make the body JSON: it is stored as sent
    expect((await put("notes/raw.txt", "{not json", { "content-type": "application/json" })).status).toBe(200)
    expect(readFileSync(join(ws, "notes", "raw.txt"), "utf8")).toBe("{not json")
    expect(await eventTypes()).toEqual(expect.arrayContaining(["workspace_file_written workspace-src/main.rs"]))
  })

  it("serves each file with the seed's MIME type and its bytes exactly as stored", async () => {
    const cases: Array<[string, string]> = [
      ["m/readme.md", "text/markdown; charset=utf-8"],
      ["m/data.json", "application/json; charset=utf-8"],
      ["m/Cargo.toml", "application/toml; charset=utf-8"],
      ["m/ci.yaml", "application/yaml; charset=utf-8"],
      ["m/ci.YML", "application/yaml; charset=utf-8"],
      ["m/a.txt", "text/plain; charset=utf-8"],
      ["m/index.html", "text/html; charset=utf-8"],
      ["m/site.css", "text/css; charset=utf-8"],
      ["m/app.js", "application/javascript; charset=utf-8"],
      ["m/main.rs", "text/plain; charset=utf-8"],
      ["m/Makefile", "text/plain; charset=utf-8"]
    ]
    for (const [path] of cases) expect((await put(path, `content of ${path}`)).status).toBe(200)
    for (const [path, type] of cases) {
      const response = await server.fetch(`/api/workspace/file/${path}`)
      expect(response.headers.get("content-type"), path).toBe(type)
      expect(await response.text()).toBe(`content of ${path}`)
    }
    const binary = new Uint8Array([0xff, 0xfe, 0x00, 0x80, 0x0d, 0x0a, 0xc3])
    expect((await put("m/blob.bin", binary, { "content-type": "application/octet-stream" })).status).toBe(200)
    const back = await server.fetch("/api/workspace/file/m/blob.bin")
    expect(new Uint8Array(await back.arrayBuffer())).toEqual(binary)
    expect(new Uint8Array(readFileSync(join(ws, "m", "blob.bin")))).toEqual(binary)
  })

  it("decodes percent-encoded names once", async () => {
    expect((await put("enc/hello%20world%25.txt", "spaced")).status).toBe(200)
    expect(readFileSync(join(ws, "enc", "hello world%.txt"), "utf8")).toBe("spaced")
    expect(await (await server.fetch("/api/workspace/file/enc/hello%20world%25.txt")).text()).toBe("spaced")
  })

  it("answers 404 for a missing file or a directory, 400 for a path that is no file", async () => {
    for (const path of ["nope.txt", "src", "src/main.rs/deeper"]) {
      const { status, body } = await server.json(`/api/workspace/file/${path}`)
      expect(status, path).toBe(404)
      expect(body.error).toContain("not found")
    }
    const dir = await put("src", "x")
    expect(dir.status).toBe(400)
    expect(((await dir.json()) as { error: string }).error).toContain("is a directory")
    const underFile = await put("src/main.rs/inside.txt", "x")
    expect(underFile.status).toBe(400)
    expect(((await underFile.json()) as { error: string }).error).toContain("is a file")
  })

  it("applies an Idempotency-Key once", async () => {
    const head = git("rev-parse", "HEAD")
    expect((await put("idem.txt", "first", { "idempotency-key": "ws-idem-1" })).status).toBe(200)
    const after = git("rev-parse", "HEAD")
    expect(after).not.toBe(head)
    expect((await put("idem.txt", "second", { "idempotency-key": "ws-idem-1" })).status).toBe(200)
    expect(git("rev-parse", "HEAD")).toBe(after)
    expect(readFileSync(join(ws, "idem.txt"), "utf8")).toBe("first")
  })

  it("serialises concurrent writes: each one commit and one event, in the same order", async () => {
    const before = Number(git("rev-list", "--count", "HEAD").trim())
    const seqBefore = (await server.json("/api/status")).body.components.state_store.head_seq
    const paths = Array.from({ length: 16 }, (_, i) => (i % 4 === 0 ? "race/shared.txt" : `race/f${i}.txt`))
    const responses = await Promise.all(paths.map((p, i) => put(p, `writer ${i}`)))
    expect(responses.map((r) => r.status)).toEqual(paths.map(() => 200))
    expect(Number(git("rev-list", "--count", "HEAD").trim())).toBe(before + paths.length)
    expect(git("status", "--porcelain")).toBe("")
    const { body } = await server.json(`/api/audit/entries?from_seq=${seqBefore + 1}&to_seq=100000`)
    const recorded = (body.entries as Array<{ action: string; resource: string }>)
      .filter((e) => e.action === "workspace_file_written")
      .map((e) => e.resource.slice("workspace-".length))
    const committed = git("log", `-${paths.length}`, "--format=%s").trim().split("\n").reverse().map((s) => s.slice("write ".length))
    expect(recorded).toEqual(committed)
    expect([...recorded].sort()).toEqual([...paths].sort())
    // the shared file holds the content of the last write the log records
    const last = git("log", "-1", "--format=%H", "--", "race/shared.txt").trim()
    expect(readFileSync(join(ws, "race", "shared.txt"), "utf8")).toBe(git("show", `${last}:race/shared.txt`))
  })

  it("needs the token", async () => {
    expect((await server.fetch("/api/workspace/file/src/main.rs", { token: null })).status).toBe(401)
    expect((await server.fetch("/api/workspace/file/x.txt", { method: "PUT", body: "x", token: null })).status).toBe(401)
    expect((await server.fetch("/api/workspace/tree", { token: null })).status).toBe(401)
  })
})

describe("the 1 MB limit of PUT /api/workspace/file", () => {
  it("accepts exactly 1 MB", async () => {
    const response = await put("big/exact.bin", "x".repeat(MB))
    expect(response.status).toBe(200)
    expect(readFileSync(join(ws, "big", "exact.bin")).length).toBe(MB)
  })

  it("answers 413 {error} to a declared body over 1 MB and writes nothing", async () => {
    const head = git("rev-parse", "HEAD")
    const response = await put("big/over.bin", "x".repeat(MB + 1))
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ error: expect.stringContaining("too large: 1048577 bytes") })
    expect(readdirSync(join(ws, "big"))).toEqual(["exact.bin"])
    expect(git("rev-parse", "HEAD")).toBe(head)
    expect((await server.json("/api/status")).status).toBe(200)
  })

  it("answers 413 to an oversized body sent in chunks without a length, and the client reads it", async () => {
    const head = git("rev-parse", "HEAD")
    const chunk = new TextEncoder().encode("y".repeat(256 * 1024))
    let sent = 0
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 6) controller.enqueue(chunk)
        else controller.close()
      }
    })
    const response = await server
      .fetch("/api/workspace/file/big/chunked.bin", { method: "PUT", body: stream, duplex: "half" } as RequestInit)
      .catch((e: unknown) => e)
    if (!(response instanceof Response)) throw new Error(`the client got no response: ${String(response)}`)
    expect(response.status).toBe(413)
    expect(await response.json()).toEqual({ error: expect.stringContaining("too large") })
    expect(readdirSync(join(ws, "big"))).toEqual(["exact.bin"])
    expect(git("rev-parse", "HEAD")).toBe(head)
    // a chunked body within the limit is fine
    let small = 0
    const ok = await server.fetch("/api/workspace/file/big/chunked-ok.bin", {
      method: "PUT",
      body: new ReadableStream<Uint8Array>({
        pull(controller) {
          if (small++ < 3) controller.enqueue(chunk)
          else controller.close()
        }
      }),
      duplex: "half"
    } as RequestInit)
    expect(ok.status).toBe(200)
    expect(readFileSync(join(ws, "big", "chunked-ok.bin")).length).toBe(3 * 256 * 1024)
  })
})

describe("GET /api/workspace/tree", () => {
  it("lists directories first, then files, alphabetically, with sizes, and never .git", async () => {
    const root = tempDir()
    const s = await startServer({ dataDir: root })
    try {
      for (const [path, content] of [["b.txt", "bb"], ["Cargo.toml", "[package]"], ["src/lib.rs", "x"], ["a-dir/x", ""], ["README.md", "# r"]]) {
        expect((await s.fetch(`/api/workspace/file/${path}`, { method: "PUT", body: content! })).status).toBe(200)
      }
      const { status, body } = await s.json("/api/workspace/tree")
      expect(status).toBe(200)
      expect(body).toEqual([
        { name: "a-dir", is_dir: true, size: 0 },
        { name: "src", is_dir: true, size: 0 },
        { name: "Cargo.toml", is_dir: false, size: 9 },
        { name: "README.md", is_dir: false, size: 3 },
        { name: "b.txt", is_dir: false, size: 2 }
      ])
      expect((await s.json("/api/workspace/tree?dir=src")).body).toEqual([{ name: "lib.rs", is_dir: false, size: 1 }])
      expect((await s.json("/api/workspace/tree?dir=")).body).toEqual(body)
      expect((await s.json("/api/workspace/tree?dir=nowhere")).status).toBe(404)
      expect((await s.json("/api/workspace/tree?dir=b.txt")).status).toBe(404)
      for (const dir of ["..", "../", "src/../..", "%2e%2e", "/etc", ".git", "src%2F..%2F..", "%252e%252e"]) {
        const refused = await s.json(`/api/workspace/tree?dir=${encodeURIComponent(dir)}`)
        expect(refused.status, dir).toBe(403)
        expect(refused.body.error).toContain("refused")
      }
    } finally {
      await s.stop()
    }
  }, 60_000)
})

describe("paths that leave the workspace get 403 and touch nothing", () => {
  let outside: string
  let outsideFile: string

  beforeAll(async () => {
    outside = realpathSync(tempDir("annal-outside-"))
    outsideFile = join(outside, "secret.txt")
    writeFileSync(outsideFile, "do not read me")
    mkdirSync(join(ws, "links"), { recursive: true })
    symlinkSync(outside, join(ws, "links", "out-dir"))
    symlinkSync(outsideFile, join(ws, "links", "out-file"))
    symlinkSync(join(outside, "not-yet.txt"), join(ws, "links", "dangling"))
    symlinkSync("../links/out-dir", join(ws, "links", "chained"))
  })

  const attempts = [
    "/api/workspace/file/../../etc/passwd",
    "/api/workspace/file/../outside.txt",
    "/api/workspace/file/a/../../../escape.txt",
    "/api/workspace/file/%2e%2e/%2e%2e/escape.txt",
    "/api/workspace/file/%2E%2E%2Fescape.txt",
    "/api/workspace/file/..%2fescape.txt",
    "/api/workspace/file/..%2F..%2Fescape.txt",
    "/api/workspace/file/%252e%252e%252fescape.txt",
    "/api/workspace/file/..%252fescape.txt",
    "/api/workspace/file/%25252e%25252e%25252fescape.txt",
    "/api/workspace/file//etc/passwd",
    "/api/workspace/file/%2fetc%2fpasswd",
    "/api/workspace/file/..%5c..%5cescape.txt",
    "/api/workspace/file/a%5cb.txt",
    "/api/workspace/file/a%00.txt",
    "/api/workspace/file/.git/config",
    "/api/workspace/file/.git/hooks/pre-commit",
    "/api/workspace/file/sub/.git/config",
    "/api/workspace/file/links/out-dir/planted.txt",
    "/api/workspace/file/links/out-dir/new/deep/planted.txt",
    "/api/workspace/file/links/chained/planted.txt",
    "/api/workspace/file/links/out-file",
    "/api/workspace/file/links/dangling"
  ]

  it("PUT: 403 {error} for every attempt; nothing appears outside; nothing changes inside; no write is recorded", async () => {
    const outsideBefore = listing(outside)
    const insideBefore = listing(ws)
    const head = git("rev-parse", "HEAD")
    const eventsBefore = await eventTypes()
    for (const path of attempts) {
      const { status, body } = await raw("PUT", path, "pwned", { "content-type": "text/plain" })
      expect(status, path).toBe(403)
      expect(JSON.parse(body), path).toEqual({ error: expect.stringContaining("refused") })
    }
    expect(listing(outside)).toEqual(outsideBefore)
    expect(readFileSync(outsideFile, "utf8")).toBe("do not read me")
    // where the traversals would have landed: next to the workspace, next to the data directory, next to `outside`
    for (const dir of [server.dataDir, dirname(server.dataDir), dirname(outside), "/etc"]) {
      for (const name of ["escape.txt", "outside.txt", "planted.txt", "new"]) expect(existsSync(join(dir, name)), join(dir, name)).toBe(false)
    }
    expect(readFileSync("/etc/passwd", "utf8")).not.toContain("pwned")
    expect(listing(ws)).toEqual(insideBefore)
    expect(git("rev-parse", "HEAD")).toBe(head)
    const added = (await eventTypes()).slice(eventsBefore.length)
    // each refusal is an access decision on the record; no workspace event
    expect(added.every((e) => e.startsWith("write_path "))).toBe(true)
    expect(added.length).toBe(attempts.length)
  })

  it("GET: 403 for every attempt, and the outside file is never served", async () => {
    for (const path of attempts) {
      const { status, body } = await raw("GET", path)
      expect(status, path).toBe(403)
      expect(body).not.toContain("do not read me")
    }
  })

  it("a symlink that stays inside the workspace is followed", async () => {
    mkdirSync(join(ws, "real-dir"), { recursive: true })
    symlinkSync("../real-dir", join(ws, "links", "inside"))
    expect((await raw("PUT", "/api/workspace/file/links/inside/ok.txt", "fine")).status).toBe(200)
    expect(readFileSync(join(ws, "real-dir", "ok.txt"), "utf8")).toBe("fine")
    expect(git("log", "-1", "--format=%s").trim()).toBe("write real-dir/ok.txt")
    expect((await server.fetch("/api/workspace/file/links/inside/ok.txt")).status).toBe(200)
  })
})

describe("restart and rebuild", () => {
  it("files, commits and the view survive a restart; a clean restart records nothing; rebuild is equal", async () => {
    const s = await startServer()
    const wsDir = join(s.dataDir, "workspace")
    expect((await s.fetch("/api/workspace/file/keep/a.md", { method: "PUT", body: "# kept" })).status).toBe(200)
    expect((await s.fetch("/api/workspace/file/keep/b.json", { method: "PUT", body: "{}" })).status).toBe(200)
    const head = (await s.json("/api/status")).body.components.state_store.head_seq
    const commits = execFileSync("git", ["--git-dir", `${wsDir}.git`, "-C", wsDir, "log", "--oneline"], { encoding: "utf8" })
    await s.stop()
    const again = await startServer({ dataDir: s.dataDir })
    try {
      expect(await (await again.fetch("/api/workspace/file/keep/a.md")).text()).toBe("# kept")
      expect((await again.json("/api/workspace/tree?dir=keep")).body).toEqual([
        { name: "a.md", is_dir: false, size: 6 },
        { name: "b.json", is_dir: false, size: 2 }
      ])
      expect((await again.json("/api/status")).body.components.state_store.head_seq).toBe(head)
      expect(execFileSync("git", ["--git-dir", `${wsDir}.git`, "-C", wsDir, "log", "--oneline"], { encoding: "utf8" })).toBe(commits)
    } finally {
      await again.stop()
    }
    const rebuilt = await runCli(["rebuild", "--data-dir", s.dataDir])
    expect(rebuilt.code).toBe(0)
    expect(rebuilt.stdout).toMatch(/equal +workspace_files: live 2 rows, replayed 2 rows/)
    expect(rebuilt.stdout).toMatch(/equal +workspace_head/)
  }, 120_000)

  it("the log records path, size and sha256 of each write, never the content", async () => {
    const s = await startServer()
    try {
      expect((await s.fetch("/api/workspace/file/secret/plan.txt", { method: "PUT", body: "launch codes 1234" })).status).toBe(200)
    } finally {
      await s.stop()
    }
    const out = join(tempDir(), "log.jsonl")
    expect((await runCli(["audit", "export", "--data-dir", s.dataDir, "--out", out])).code).toBe(0)
    const events = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l))
    const written = events.filter((e) => e.type === "workspace_file_written")
    expect(written).toHaveLength(1)
    const sha = execFileSync("sha256sum", [join(s.dataDir, "workspace", "secret", "plan.txt")], { encoding: "utf8" }).split(" ")[0]
    expect(written[0].data).toEqual({
      path: "secret/plan.txt",
      size: 17,
      sha256: sha,
      blob: execFileSync("git", ["--git-dir", `${join(s.dataDir, "workspace")}.git`, "-C", join(s.dataDir, "workspace"), "rev-parse", "HEAD:secret/plan.txt"], { encoding: "utf8" }).trim(),
      commit: execFileSync("git", ["--git-dir", `${join(s.dataDir, "workspace")}.git`, "-C", join(s.dataDir, "workspace"), "rev-parse", "HEAD"], { encoding: "utf8" }).trim()
    })
    expect(readFileSync(out, "utf8")).not.toContain("launch codes")
  }, 60_000)
})
