import { describe, expect, it } from "@effect/vitest"
import {
  AccessRefused,
  GitRepository,
  InvalidCommand,
  Kernel,
  Rebuild,
  Workspace,
  WorkspaceDecide,
  WorkspaceEvents,
  WorkspacePath
} from "@annal/kernel"
import { EventStore, type StoredEvent } from "@annal/store"
import { Effect, Either, Exit, Fiber } from "effect"
import { execFileSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, renameSync, symlinkSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const temp = () => realpathSync(mkdtempSync(join(tmpdir(), "annal-ws-")))

const kernel = (dataDir: string) =>
  Kernel.layer({ store: { filename: join(dataDir, "annal.db"), synchronous: "NORMAL" }, dataDir, resourceSampleIntervalSecs: 60 })

/** The real git CLI, as an independent witness of what isomorphic-git wrote. */
const gitCli = (dir: string, ...args: Array<string>) => execFileSync("git", ["--git-dir", `${dir}.git`, "-C", dir, ...args], { encoding: "utf8" })

const ctx = { actor: "user:test" }
const bytes = (text: string) => new TextEncoder().encode(text)

const allEvents = Effect.gen(function*() {
  const store = yield* EventStore
  return yield* store.read(1, (yield* store.head).seq)
})
const ofType = (events: ReadonlyArray<StoredEvent>, type: string) => events.filter((e) => e.type === type)

describe("WorkspacePath.parse", () => {
  it.each([
    ["..", "'..'"],
    ["../etc/passwd", "'..'"],
    ["a/../../b", "'..'"],
    ["a/..", "'..'"],
    ["/etc/passwd", "absolute"],
    ["%2e%2e/secret", "'..'"],
    ["..%2fsecret", "'..'"],
    ["%2e%2e%2fsecret", "'..'"],
    ["%252e%252e%252fsecret", "'..'"],
    ["%25252e%25252e%25252fsecret", "'..'"],
    ["%2fetc%2fpasswd", "absolute"],
    ["a\\..\\b", "backslash"],
    ["a%5cb", "backslash"],
    ["a\0b", "NUL"],
    ["a%00b", "NUL"],
    [".git/config", ".git"],
    ["sub/.GIT/HEAD", ".git"]
  ])("refuses %j (%s)", (path, why) => {
    const result = WorkspacePath.parse(path)
    if (Either.isRight(result)) throw new Error(`accepted ${JSON.stringify(path)}`)
    expect(result.left).toBeInstanceOf(AccessRefused)
    expect(result.left.message).toContain(why)
  })

  it.each([
    ["a/b.txt", ["a", "b.txt"]],
    ["a//b/./c", ["a", "b", "c"]],
    ["", []],
    ["..foo/bar..", ["..foo", "bar.."]],
    ["100%.txt", ["100%.txt"]],
    [".gitignore", [".gitignore"]],
    ["名前/файл.md", ["名前", "файл.md"]]
  ])("accepts %j", (path, segments) => {
    expect(Either.getOrThrow(WorkspacePath.parse(path))).toEqual(segments)
  })

  it("refuses an overlong path as invalid, not as an escape", () => {
    const result = WorkspacePath.parse("a/".repeat(3000))
    expect(Either.isLeft(result) && result.left).toBeInstanceOf(InvalidCommand)
  })
})

describe("WorkspacePath.resolveIn follows symbolic links the way the OS will", () => {
  const base = temp()
  const root = join(base, "ws")
  const outside = join(base, "outside")
  mkdirSync(join(root, ".git"), { recursive: true })
  mkdirSync(join(root, "real"), { recursive: true })
  mkdirSync(outside)
  writeFileSync(join(outside, "secret.txt"), "secret")
  symlinkSync("../outside", join(root, "up"))
  symlinkSync(outside, join(root, "abs"))
  symlinkSync(join(outside, "secret.txt"), join(root, "secret-link"))
  symlinkSync(join(outside, "not-yet"), join(root, "dangling"))
  symlinkSync("dangling", join(root, "via-dangling"))
  symlinkSync("loop-b", join(root, "loop-a"))
  symlinkSync("loop-a", join(root, "loop-b"))
  symlinkSync(".git", join(root, "gitdir"))
  symlinkSync("real", join(root, "alias"))
  symlinkSync("real/inner.txt", join(root, "inner-link"))
  mkdirSync(join(root, "real", "deeper"))
  symlinkSync("../../../outside", join(root, "real", "deeper", "back-out"))
  symlinkSync("../../later", join(root, "real", "deeper", "dangling-inside"))

  it.each([
    [["up", "x.txt"], "outside"],
    [["abs", "a", "b"], "outside"],
    [["secret-link"], "outside"],
    [["dangling"], "outside"],
    [["dangling", "child"], "outside"],
    [["via-dangling"], "outside"],
    [["real", "deeper", "back-out", "f"], "outside"],
    [["alias", "deeper", "back-out"], "outside"],
    [["loop-a"], "loop"],
    [["gitdir", "config"], ".git"]
  ])("refuses %j", (segments, why) => {
    const result = WorkspacePath.resolveIn(root, segments)
    expect(Either.isLeft(result)).toBe(true)
    if (Either.isLeft(result)) expect(result.left.message).toContain(why)
  })

  it.each([
    [["alias", "n.txt"], "real/n.txt"],
    [["inner-link"], "real/inner.txt"],
    [["new", "deep", "file.md"], "new/deep/file.md"],
    [["real", "deeper", "dangling-inside", "x"], "later/x"],
    [[], ""]
  ])("resolves %j to %j", (segments, relative) => {
    const resolved = Either.getOrThrow(WorkspacePath.resolveIn(root, segments))
    expect(resolved.relative).toBe(relative)
    expect(resolved.absolute).toBe(relative === "" ? root : join(root, relative))
  })
})

describe("workspace decisions", () => {
  it("identifies content by sha256 and by the blob id git itself computes", () => {
    const dir = temp()
    const content = bytes("fn main() { println!(\"Hello, Oxios!\"); }\n\u00e9")
    writeFileSync(join(dir, "f"), content)
    const version = WorkspaceDecide.fileVersion("src/main.rs", content)
    expect(version.blob).toBe(execFileSync("git", ["hash-object", join(dir, "f")], { encoding: "utf8" }).trim())
    expect(version.sha256).toBe(execFileSync("sha256sum", [join(dir, "f")], { encoding: "utf8" }).split(" ")[0])
    expect(version.size).toBe(content.length)
    expect(JSON.stringify(WorkspaceDecide.written(version, "c0ffee"))).not.toContain("Hello")
  })

  it("diffs the log's files against a commit's: changed, new and deleted", () => {
    const known = new Map([["a", "1"], ["b", "2"], ["gone", "3"]])
    const actual = new Map([["a", "1"], ["b", "9"], ["new", "4"]])
    expect(WorkspaceDecide.diffFiles(known, actual)).toEqual({ changed: ["b", "new"], deleted: ["gone"] })
    expect(WorkspaceDecide.diffFiles(actual, actual)).toEqual({ changed: [], deleted: [] })
  })

  it("records a reconciliation only when there is something to record", () => {
    expect(WorkspaceDecide.reconcile({ commit: "c", initialized: false }, [], [])).toBeUndefined()
    expect(WorkspaceDecide.reconcile({ commit: "c", initialized: true }, [], [])).toBeUndefined()
    const file = WorkspaceDecide.fileVersion("a", bytes("a"))
    expect(WorkspaceDecide.reconcile({ commit: "c", initialized: true }, [file], [])).toEqual({
      type: WorkspaceEvents.WORKSPACE_RECONCILED,
      data: { commit: "c", initialized: true, written: [file], deleted: [] }
    })
    expect(WorkspaceDecide.reconcile({ commit: "c", initialized: false }, [], ["x"])?.data).toMatchObject({ deleted: ["x"] })
  })
})

describe("the Workspace service", () => {
  it.live("creates the repository with a first commit on first start; an empty one records nothing", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_RECONCILED)).toEqual([])
      const ws = join(dataDir, "workspace")
      const log = gitCli(ws, "log", "--format=%an <%ae> %s")
      expect(log.trim()).toBe("annal <annal@localhost> initialize workspace")
      expect(gitCli(ws, "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main")
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("keeps the repository outside the worktree (workspace.git), which git finds by its own config", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const ws = join(dataDir, "workspace")
      expect(existsSync(join(ws, ".git"))).toBe(false)
      expect(existsSync(join(dataDir, "workspace.git", "HEAD"))).toBe(true)
      yield* workspace.write("a.txt", bytes("a"), ctx)
      // no --work-tree: core.worktree names it
      const plain = (...args: Array<string>) => execFileSync("git", ["--git-dir", join(dataDir, "workspace.git"), ...args], { encoding: "utf8" })
      expect(plain("status", "--porcelain")).toBe("")
      expect(plain("log", "--format=%s").trim().split("\n")).toEqual(["write a.txt", "initialize workspace"])
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("moves the repository of an earlier data directory (workspace/.git, holding the log's last commit) out of the worktree, history kept", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const first = yield* Effect.flatMap(Workspace, (workspace) => workspace.write("old.txt", bytes("from before"), ctx)).pipe(Effect.provide(kernel(dataDir)))
      // the layout of an earlier version: the repository inside the worktree
      renameSync(join(dataDir, "workspace.git"), join(ws, ".git"))
      yield* Effect.gen(function*() {
        const workspace = yield* Workspace
        expect(existsSync(join(ws, ".git"))).toBe(false)
        expect(gitCli(ws, "rev-parse", "HEAD").trim()).toBe(first.commit)
        yield* workspace.write("new.txt", bytes("n"), ctx)
        expect(gitCli(ws, "log", "--format=%s").trim().split("\n")).toEqual(["write new.txt", "write old.txt", "initialize workspace"])
        expect(gitCli(ws, "status", "--porcelain")).toBe("")
        // nothing was found changed behind the log's back
        expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_RECONCILED)).toEqual([])
      }).pipe(Effect.provide(kernel(dataDir)))
    })
  })

  it.live("leaves alone a workspace/.git that does not hold the log's last commit (someone else's repository)", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      yield* Effect.flatMap(Workspace, (workspace) => workspace.write("a.txt", bytes("a"), ctx)).pipe(Effect.provide(kernel(dataDir)))
      const theirs = (...args: Array<string>) => execFileSync("git", ["-C", ws, "-c", "user.name=T", "-c", "user.email=t@x", ...args], { encoding: "utf8" })
      theirs("init", "-q", "-b", "main")
      theirs("commit", "-q", "--allow-empty", "-m", "their own")
      const head = theirs("rev-parse", "HEAD").trim()
      yield* Effect.gen(function*() {
        const workspace = yield* Workspace
        yield* workspace.write("b.txt", bytes("b"), ctx)
        expect(theirs("rev-parse", "HEAD").trim()).toBe(head)
        expect(gitCli(ws, "log", "--format=%s").trim().split("\n")).toEqual(["write b.txt", "write a.txt", "initialize workspace"])
      }).pipe(Effect.provide(kernel(dataDir)))
    })
  })

  it.live("a .git folder someone makes inside the workspace is not its repository, and is never committed", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const head = gitCli(ws, "rev-parse", "HEAD").trim()
      // what a program's module tool, allowed to write the workspace, could leave there
      mkdirSync(join(ws, ".git", "hooks"), { recursive: true })
      writeFileSync(join(ws, ".git", "HEAD"), "ref: refs/heads/forged\n")
      writeFileSync(join(ws, ".git", "hooks", "post-checkout"), "#!/bin/sh\necho pwned\n")
      const written = yield* workspace.write("b.txt", bytes("b"), ctx)
      expect(gitCli(ws, "rev-parse", "HEAD~1").trim()).toBe(head)
      expect(gitCli(ws, "rev-parse", "HEAD").trim()).toBe(written.commit)
      expect(gitCli(ws, "ls-tree", "-r", "--name-only", "HEAD").trim().split("\n")).toEqual(["b.txt"])
      expect(gitCli(ws, "rev-parse", "--abbrev-ref", "HEAD").trim()).toBe("main")
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("commits and records files that were in the directory before the repository existed", () => {
    const dataDir = temp()
    mkdirSync(join(dataDir, "workspace", "docs"), { recursive: true })
    writeFileSync(join(dataDir, "workspace", "docs", "old.md"), "# from before")
    return Effect.gen(function*() {
      const reconciled = ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_RECONCILED)
      expect(reconciled.map((e) => e.data)).toEqual([
        { commit: gitCli(join(dataDir, "workspace"), "rev-parse", "HEAD").trim(), initialized: true, written: [WorkspaceDecide.fileVersion("docs/old.md", bytes("# from before"))], deleted: [] }
      ])
      expect(gitCli(join(dataDir, "workspace"), "show", "HEAD:docs/old.md")).toBe("# from before")
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("writes a file, commits it and records path, size and sha256 (never the content)", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const content = bytes("# Notes\nsecret-ish content\n")
      const event = yield* workspace.write("notes/today.md", content, ctx)
      expect(readFileSync(join(ws, "notes", "today.md"))).toEqual(Buffer.from(content))
      expect(event).toMatchObject({ path: "notes/today.md", size: content.length, sha256: createHash("sha256").update(content).digest("hex") })
      expect(gitCli(ws, "log", "-1", "--format=%H %s").trim()).toBe(`${event.commit} write notes/today.md`)
      expect(gitCli(ws, "show", "HEAD:notes/today.md")).toBe("# Notes\nsecret-ish content\n")
      expect(gitCli(ws, "status", "--porcelain")).toBe("")
      const written = ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_FILE_WRITTEN)
      expect(written).toHaveLength(1)
      expect(written[0]!.stream).toBe("workspace-notes/today.md")
      expect(written[0]!.actor).toBe("user:test")
      expect(JSON.stringify(written[0]!.data)).not.toContain("secret-ish")
      // no temporary file is left behind
      expect(readdirSync(join(`${ws}.git`, "annal-tmp"))).toEqual([])
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("a write answers once its commit and event are on the record; writes of one path commit in order", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const [first, next] = yield* Effect.all([
        workspace.write("notes/staged.md", bytes("staged\n"), ctx),
        workspace.write("notes/staged.md", bytes("again\n"), ctx)
      ], { concurrency: "unbounded" })
      expect(first).toMatchObject({ path: "notes/staged.md", size: 7 })
      expect(gitCli(ws, "log", "--format=%H", "-2").trim().split("\n")).toEqual([next.commit, first.commit])
      expect(gitCli(ws, "show", `${first.commit}:notes/staged.md`)).toBe("staged\n")
      expect(gitCli(ws, "status", "--porcelain")).toBe("")
      expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_FILE_WRITTEN).map((e) => e.data.commit)).toEqual([first.commit, next.commit])
      // a write cut short while it waits for the repository places nothing and records nothing
      const repo = yield* GitRepository
      const holder = yield* Effect.fork(repo.locked(Effect.sleep("300 millis")))
      yield* Effect.sleep("30 millis")
      const cut = yield* Effect.fork(workspace.write("notes/cut.md", bytes("never"), ctx))
      yield* Effect.sleep("30 millis")
      yield* Fiber.interrupt(cut)
      yield* Fiber.join(holder)
      yield* workspace.settled
      expect(existsSync(join(ws, "notes", "cut.md"))).toBe(false)
      expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_FILE_WRITTEN)).toHaveLength(2)
      // a refused path fails the write itself, and nothing is placed
      const refused = yield* Effect.exit(workspace.write("../out.txt", bytes("x"), ctx))
      expect(Exit.isFailure(refused)).toBe(true)
      expect(existsSync(join(dataDir, "out.txt"))).toBe(false)
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("keeps a file's mode, refuses a directory as a file, and writes bytes exactly", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const binary = new Uint8Array([0, 255, 13, 10, 128, 0x1b])
      yield* workspace.write("bin/tool.sh", binary, ctx)
      execFileSync("chmod", ["755", join(ws, "bin", "tool.sh")])
      yield* workspace.write("bin/tool.sh", bytes("#!/bin/sh\necho hi\n"), ctx)
      expect(execFileSync(join(ws, "bin", "tool.sh"), { encoding: "utf8" })).toBe("hi\n")
      const exit = yield* Effect.exit(workspace.write("bin", bytes("x"), ctx))
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("InvalidCommand")
      const under = yield* Effect.exit(workspace.write("bin/tool.sh/inside", bytes("x"), ctx))
      expect(Exit.isFailure(under) && JSON.stringify(under.cause)).toContain("InvalidCommand")
      expect(yield* workspace.read("bin/tool.sh", ctx)).toEqual(new Uint8Array(bytes("#!/bin/sh\necho hi\n")))
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("refuses a write through a symlink that leaves the workspace, touches nothing, and records the refusal", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    const outside = temp()
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      yield* workspace.write("keep.txt", bytes("keep"), ctx)
      symlinkSync(outside, join(ws, "escape"))
      const head = gitCli(ws, "rev-parse", "HEAD")
      const before = (yield* allEvents).length
      const exit = yield* Effect.exit(workspace.write("escape/planted.txt", bytes("pwned"), ctx))
      expect(Exit.isFailure(exit) && JSON.stringify(exit.cause)).toContain("AccessRefused")
      expect(readdirSync(outside)).toEqual([])
      expect(gitCli(ws, "rev-parse", "HEAD")).toBe(head)
      const after = yield* allEvents
      expect(after.slice(before).map((e) => e.type)).toEqual(["access_decided"])
      expect(after[after.length - 1]!.data).toMatchObject({ subject: "user:test", action: "write_path", resource: "escape/planted.txt", allowed: false })
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("restores a file from an earlier commit, commits the restore and records it", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const first = yield* workspace.write("doc.txt", bytes("version one"), ctx)
      yield* workspace.write("doc.txt", bytes("version two"), ctx)
      const result = yield* workspace.restore(first.commit.slice(0, 7), "doc.txt", ctx)
      expect(result).toMatchObject({ restored: "doc.txt", from: first.commit.slice(0, 7) })
      expect(readFileSync(join(ws, "doc.txt"), "utf8")).toBe("version one")
      expect(gitCli(ws, "log", "-1", "--format=%H %s").trim()).toBe(`${result.commit} restore doc.txt from ${first.commit.slice(0, 12)}`)
      const restoredEvents = ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_FILE_RESTORED)
      expect(restoredEvents.map((e) => e.data)).toEqual([
        { path: "doc.txt", from: first.commit, commit: result.commit, size: 11, sha256: first.sha256, blob: first.blob }
      ])
      const missing = yield* Effect.exit(workspace.restore("0123456789abcdef", "doc.txt", ctx))
      expect(Exit.isFailure(missing) && JSON.stringify(missing.cause)).toContain("EntityNotFound")
      const noFile = yield* Effect.exit(workspace.restore(first.commit, "other.txt", ctx))
      expect(Exit.isFailure(noFile) && JSON.stringify(noFile.cause)).toContain("EntityNotFound")
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("applies an Idempotency-Key once: no second write, commit or event", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      const keyed = { actor: "user:test", meta: { idempotency_key: "write-once" } }
      const first = yield* workspace.write("once.txt", bytes("first"), keyed)
      const again = yield* workspace.write("once.txt", bytes("second"), keyed)
      expect(again).toEqual(first)
      expect(readFileSync(join(ws, "once.txt"), "utf8")).toBe("first")
      expect(gitCli(ws, "rev-list", "--count", "HEAD").trim()).toBe("2")
      expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_FILE_WRITTEN)).toHaveLength(1)
      // a key used by another kind of request is refused, not silently answered with its events
      const reused = yield* Effect.exit(workspace.restore(first.commit, "once.txt", keyed))
      expect(Exit.isFailure(reused) && JSON.stringify(reused.cause)).toContain("already used for a different request")
      // a refused request does not use up its key: the refusal's event is recorded without it
      const retry = { actor: "user:test", meta: { idempotency_key: "refused-first" } }
      const refused = yield* Effect.exit(workspace.write("../out.txt", bytes("x"), retry))
      expect(Exit.isFailure(refused) && JSON.stringify(refused.cause)).toContain("AccessRefused")
      yield* workspace.write("fixed.txt", bytes("fixed"), retry)
      expect(readFileSync(join(ws, "fixed.txt"), "utf8")).toBe("fixed")
    }).pipe(Effect.provide(kernel(dataDir)))
  })

  it.live("its view rebuilds from the log identically and survives a restart", () => {
    const dataDir = temp()
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const workspace = yield* Workspace
        const a = yield* workspace.write("a.txt", bytes("a1"), ctx)
        yield* workspace.write("dir/b.json", bytes("{}"), ctx)
        yield* workspace.write("a.txt", bytes("a2"), ctx)
        yield* workspace.restore(a.commit, "a.txt", ctx)
        const report = yield* Rebuild.rebuild(Kernel.projections)
        expect(report.equal).toBe(true)
        expect(report.tables.find((t) => t.table === "workspace_files")?.live.rows).toBe(2)
      }).pipe(Effect.provide(kernel(dataDir)))
      const rows = yield* Effect.gen(function*() {
        const store = yield* EventStore
        // a clean restart appends nothing
        expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_RECONCILED)).toHaveLength(0)
        return yield* store.withViews((db) => db.all<{ path: string; size: number }>("SELECT path, size FROM workspace_files ORDER BY path"))
      }).pipe(Effect.provide(kernel(dataDir)))
      expect(rows).toEqual([{ path: "a.txt", size: 2 }, { path: "dir/b.json", size: 2 }])
    })
  })

  it.live("on start, records what a crash (or anyone) left in the workspace outside the log", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      yield* Effect.gen(function*() {
        const workspace = yield* Workspace
        yield* workspace.write("kept.txt", bytes("kept"), ctx)
        yield* workspace.write("removed.txt", bytes("soon gone"), ctx)
      }).pipe(Effect.provide(kernel(dataDir)))
      // as if the process had died after writing a file (no commit, no event) …
      writeFileSync(join(ws, "uncommitted.txt"), "written, then the crash")
      // … and after committing one (no event); plus a deletion behind the API's back
      writeFileSync(join(ws, "committed.txt"), "committed, then the crash")
      gitCli(ws, "rm", "-q", "removed.txt")
      gitCli(ws, "add", "committed.txt")
      gitCli(ws, "-c", "user.name=someone", "-c", "user.email=s@x", "commit", "-q", "-m", "outside")
      yield* Effect.gen(function*() {
        const reconciled = ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_RECONCILED)
        expect(reconciled).toHaveLength(1)
        const last = reconciled[0]!
        expect(last.actor).toBe("system")
        expect(last.data).toMatchObject({
          initialized: false,
          written: [
            { path: "committed.txt", size: 25, sha256: createHash("sha256").update("committed, then the crash").digest("hex") },
            { path: "uncommitted.txt", size: 23 }
          ],
          deleted: ["removed.txt"]
        })
        expect(gitCli(ws, "log", "-1", "--format=%H %s").trim()).toBe(`${last.data.commit} record changes found in the workspace at start`)
        expect(gitCli(ws, "status", "--porcelain")).toBe("")
        expect((yield* Rebuild.rebuild(Kernel.projections)).equal).toBe(true)
      }).pipe(Effect.provide(kernel(dataDir)))
      // reconciled once: the next start finds nothing to record
      yield* Effect.gen(function*() {
        expect(ofType(yield* allEvents, WorkspaceEvents.WORKSPACE_RECONCILED)).toHaveLength(1)
      }).pipe(Effect.provide(kernel(dataDir)))
    })
  })

  it.live("commits a file on purpose even when .gitignore matches it", () => {
    const dataDir = temp()
    const ws = join(dataDir, "workspace")
    return Effect.gen(function*() {
      const workspace = yield* Workspace
      yield* workspace.write(".gitignore", bytes("*.log\n"), ctx)
      yield* workspace.write("run.log", bytes("line\n"), ctx)
      expect(gitCli(ws, "ls-files").split("\n").filter((l) => l !== "")).toEqual([".gitignore", "run.log"])
      expect(existsSync(join(ws, "run.log"))).toBe(true)
      const repo = yield* GitRepository
      expect((yield* repo.log(100)).map((e) => e.message)).toEqual(["write run.log", "write .gitignore", "initialize workspace"])
    }).pipe(Effect.provide(kernel(dataDir)))
  })
})
