import { describe, expect, it } from "@effect/vitest"
import { GitRepo, GitRepository, Kernel, Workspace } from "@annal/kernel"
import { Effect, Exit } from "effect"
import { execFileSync } from "node:child_process"
import { chmodSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { deflateSync } from "node:zlib"

const temp = () => realpathSync(mkdtempSync(join(tmpdir(), "annal-git-")))

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })

const gitCli = (dir: string, ...args: Array<string>) => execFileSync("git", ["--git-dir", `${dir}.git`, "-C", dir, ...args], { encoding: "utf8" })
const fsckPasses = (dir: string) => {
  try {
    execFileSync("git", ["--git-dir", `${dir}.git`, "-C", dir, "fsck", "--full", "--strict"], { stdio: "pipe" })
    return true
  } catch {
    return false
  }
}
const objectFile = (ws: string, oid: string) => join(`${ws}.git`, "objects", oid.slice(0, 2), oid.slice(2))
const ctx = { actor: "user:test" }
const bytes = (text: string) => new TextEncoder().encode(text)

/** A workspace with three writes; returns its worktree. */
const withHistory = Effect.gen(function*() {
  const workspace = yield* Workspace
  yield* workspace.write("a.txt", bytes("alpha"), ctx)
  yield* workspace.write("src/b.rs", bytes("fn b() {}"), ctx)
  yield* workspace.write("a.txt", bytes("alpha 2"), ctx)
  return workspace.root
})

describe("git times", () => {
  it.each([
    [0, 0, "1970-01-01T00:00:00+00:00"],
    [1779013800, -120, "2026-05-17T12:30:00+02:00"],
    [1779013800, 330, "2026-05-17T05:00:00-05:30"]
  ])("formats %d with offset %d as %s", (ts, offset, expected) => {
    expect(GitRepo.formatGitTime(ts, offset)).toBe(expected)
  })
})

describe("the workspace repository", () => {
  it.live("each write is a commit git itself reads: the tree holds every file, the index matches, status is clean", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const files: Record<string, string> = { "a.txt": "1", "src/b.rs": "2", "src/deep/c.md": "3", "src/deep/d.md": "4", "z.txt": "5" }
      for (const [path, text] of Object.entries(files)) yield* workspace.write(path, bytes(text), ctx)
      yield* workspace.write("src/deep/c.md", bytes("3 again"), ctx)
      const ws = workspace.root
      expect(gitCli(ws, "ls-tree", "-r", "--name-only", "HEAD").trim().split("\n").sort()).toEqual(Object.keys(files).sort())
      expect(gitCli(ws, "show", "HEAD:src/deep/c.md")).toBe("3 again")
      expect(gitCli(ws, "show", "HEAD~1:src/deep/c.md")).toBe("3")
      expect(gitCli(ws, "status", "--porcelain")).toBe("")
      expect(gitCli(ws, "diff", "--cached", "--name-only")).toBe("")
      expect(fsckPasses(ws)).toBe(true)
      // a change made by hand is seen by git as one, against the index the writes kept
      writeFileSync(join(ws, "z.txt"), "by hand")
      expect(gitCli(ws, "status", "--porcelain").trim()).toBe("M z.txt")
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("logs commits newest first with author, message and the author's own offset", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      gitCli(ws, "-c", "user.name=Ada", "-c", "user.email=ada@x", "commit", "-q", "--allow-empty", "-m", "feat: by hand\n\nbody", "--date=2026-05-17T12:30:00+02:00")
      const repo = yield* GitRepository
      const log = yield* repo.log(100)
      expect(log.map((e) => e.message)).toEqual(["feat: by hand\n\nbody", "write a.txt", "write src/b.rs", "write a.txt", "initialize workspace"])
      expect(log[0]).toEqual({ hash: gitCli(ws, "rev-parse", "HEAD").trim(), author: "Ada", message: "feat: by hand\n\nbody", timestamp: "2026-05-17T12:30:00+02:00" })
      expect(log[1]!.author).toBe("annal")
      expect(log[1]!.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/)
      expect(Math.abs(Date.parse(log[1]!.timestamp) - Date.now())).toBeLessThan(60_000)
      expect(log.map((e) => e.hash)).toEqual(gitCli(ws, "log", "--format=%H").trim().split("\n"))
      expect(yield* repo.log(2)).toHaveLength(2)
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("logs a path's commits only, at most the limit, as git log --first-parent -- <path>", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      const workspace = yield* Workspace
      yield* workspace.write("a.txt", bytes("alpha 3"), ctx)
      const repo = yield* GitRepository
      const ofA = yield* repo.log(100, "a.txt")
      expect(ofA.map((e) => e.message)).toEqual(["write a.txt", "write a.txt", "write a.txt"])
      expect(ofA.map((e) => e.hash)).toEqual(gitCli(ws, "log", "--first-parent", "--format=%H", "--", "a.txt").trim().split("\n"))
      // the limit counts the path's commits, not the commits walked
      expect((yield* repo.log(2, "a.txt")).map((e) => e.hash)).toEqual(ofA.slice(0, 2).map((e) => e.hash))
      expect((yield* repo.log(100, "src")).map((e) => e.message)).toEqual(["write src/b.rs"])
      expect(yield* repo.log(100, "nowhere.txt")).toEqual([])
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("lists lightweight and annotated tags", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      const repo = yield* GitRepository
      expect(yield* repo.tags).toEqual([])
      gitCli(ws, "tag", "v0.1.0")
      gitCli(ws, "-c", "user.name=Ada", "-c", "user.email=ada@x", "tag", "-a", "seed-evolution-3", "-m", "third", "HEAD~1")
      expect(yield* repo.tags).toEqual(["seed-evolution-3", "v0.1.0"])
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("verifies every object git itself counts, loose or packed, tags included", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      gitCli(ws, "-c", "user.name=Ada", "-c", "user.email=ada@x", "tag", "-a", "t1", "-m", "annotated")
      const repo = yield* GitRepository
      const objects = gitCli(ws, "rev-list", "--objects", "--all").trim().split("\n").length
      const commits = Number(gitCli(ws, "rev-list", "--all", "--count").trim())
      expect(yield* repo.verify).toEqual({ valid: true, commits_checked: commits, objects_checked: objects })
      gitCli(ws, "gc", "-q")
      expect(gitCli(ws, "count-objects", "-v")).toMatch(/^count: 0$/m)
      expect(yield* repo.verify).toEqual({ valid: true, commits_checked: commits, objects_checked: objects })
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("finds a corrupted object, as git fsck does", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      const repo = yield* GitRepository
      expect(fsckPasses(ws)).toBe(true)
      // the first version of a.txt, reachable only through history: replace it with another valid object
      const blob = gitCli(ws, "rev-parse", "HEAD~2:a.txt").trim()
      const file = objectFile(ws, blob)
      chmodSync(file, 0o644)
      writeFileSync(file, deflateSync(Buffer.from("blob 5\0omega")))
      const result = yield* repo.verify
      expect(result.valid).toBe(false)
      expect(result.problem).toContain(blob)
      expect(fsckPasses(ws)).toBe(false)
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("finds garbage in an object file and a missing tree", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      const repo = yield* GitRepository
      const blob = gitCli(ws, "rev-parse", "HEAD:src/b.rs").trim()
      const original = readFileSync(objectFile(ws, blob))
      chmodSync(objectFile(ws, blob), 0o644)
      writeFileSync(objectFile(ws, blob), Buffer.from("not zlib at all"))
      expect((yield* repo.verify).valid).toBe(false)
      writeFileSync(objectFile(ws, blob), original)
      expect((yield* repo.verify).valid).toBe(true)
      const tree = gitCli(ws, "rev-parse", "HEAD~1^{tree}").trim()
      rmSync(objectFile(ws, tree))
      const result = yield* repo.verify
      expect(result.valid).toBe(false)
      expect(result.problem).toContain(tree)
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("resolves a commit by a unique prefix, and refuses unknown, non-commit and ambiguous ones", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const ws = yield* withHistory
      const repo = yield* GitRepository
      const head = gitCli(ws, "rev-parse", "HEAD").trim()
      expect(yield* repo.resolveCommit(head.slice(0, 6).toUpperCase())).toBe(head)
      const failure = (hash: string) =>
        Effect.map(Effect.exit(repo.resolveCommit(hash)), (exit) => (Exit.isFailure(exit) ? JSON.stringify(exit.cause) : "succeeded"))
      expect(yield* failure("0000000000000000000000000000000000000000")).toContain("EntityNotFound")
      expect(yield* failure(gitCli(ws, "rev-parse", "HEAD:a.txt").trim())).toContain("EntityNotFound")
      // two blobs whose ids share their first four digits make that prefix ambiguous
      const seen = new Map<string, string>()
      let pair: [string, string] | undefined
      for (let i = 0; pair === undefined; i++) {
        const content = `filler ${i}\n`
        const prefix = GitRepo.objectId("blob", bytes(content)).slice(0, 4)
        const other = seen.get(prefix)
        if (other !== undefined) pair = [other, content]
        else seen.set(prefix, content)
      }
      for (const content of pair) execFileSync("git", ["--git-dir", `${ws}.git`, "-C", ws, "hash-object", "-w", "--stdin"], { input: content })
      const ambiguous = GitRepo.objectId("blob", bytes(pair[0])).slice(0, 4)
      expect(yield* failure(ambiguous)).toContain("InvalidCommand")
    }).pipe(Effect.provide(kernel(dataDir)))
  })
})
