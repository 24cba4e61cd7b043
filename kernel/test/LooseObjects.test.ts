/**
 * The workspace's synchronous commits, checked against the real git CLI: the same object ids git
 * computes, an index git reads as clean, and a fall back (nothing changed) where the repository
 * is not in the simple state they handle.
 */
import { describe, expect, it } from "vitest"
import { execFileSync } from "node:child_process"
import { mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as LooseObjects from "../src/git/LooseObjects.js"

const git = (dir: string, ...args: Array<string>) =>
  execFileSync("git", ["-C", dir, "-c", "user.name=T", "-c", "user.email=t@x", ...args], { encoding: "utf8" })
const author = { name: "annal", email: "annal@localhost", timestamp: 1_779_013_800, timezoneOffset: 0 }

/** A repository the git CLI made, with one commit. */
const repo = () => {
  const dir = realpathSync(mkdtempSync(join(tmpdir(), "annal-loose-")))
  git(dir, "init", "-q", "-b", "main")
  writeFileSync(join(dir, "README"), "hello\n")
  git(dir, "add", "-A")
  git(dir, "commit", "-q", "-m", "first")
  return dir
}

const put = (dir: string, path: string, text: string) => {
  mkdirSync(join(dir, path, ".."), { recursive: true })
  writeFileSync(join(dir, path), text)
}

describe("LooseObjects.commitPaths", () => {
  it("commits what git would: the same tree id as `git write-tree`, a clean status, a sound repository", () => {
    const dir = repo()
    // names whose order differs between plain and tree-aware sorting: "a.b" < "a/" but "a" tree sorts as "a/"
    const files = { "a/x.txt": "1", "a.b": "2", "a-c/y.md": "3", "src/deep/z.rs": "4", "b": "5" }
    for (const [path, text] of Object.entries(files)) put(dir, path, text)
    const commit = LooseObjects.commitPaths(dir, join(dir, ".git"), Object.keys(files), "write them", author)
    expect(commit).toMatch(/^[0-9a-f]{40}$/)
    expect(git(dir, "rev-parse", "HEAD").trim()).toBe(commit)
    expect(git(dir, "log", "-1", "--format=%an <%ae> %at%n%s")).toBe(`annal <annal@localhost> ${author.timestamp}\nwrite them\n`)
    expect(git(dir, "status", "--porcelain")).toBe("")
    // git computes the same tree from its own index
    expect(git(dir, "write-tree").trim()).toBe(git(dir, "rev-parse", "HEAD^{tree}").trim())
    git(dir, "fsck", "--full", "--strict")
    expect(git(dir, "show", "HEAD:src/deep/z.rs")).toBe("4")
  })

  it("commits two files of one new folder in one commit (the folder's tree made once, then extended)", () => {
    const dir = repo()
    put(dir, "notes/a.md", "a")
    put(dir, "notes/deeper/b.md", "b")
    put(dir, "notes/c.md", "c")
    const commit = LooseObjects.commitPaths(dir, join(dir, ".git"), ["notes/a.md", "notes/deeper/b.md", "notes/c.md"], "three", author)
    expect(git(dir, "rev-parse", "HEAD").trim()).toBe(commit)
    expect(git(dir, "ls-tree", "-r", "--name-only", "HEAD").trim().split("\n").sort()).toEqual(["README", "notes/a.md", "notes/c.md", "notes/deeper/b.md"])
    expect(git(dir, "status", "--porcelain")).toBe("")
    expect(git(dir, "write-tree").trim()).toBe(git(dir, "rev-parse", "HEAD^{tree}").trim())
    git(dir, "fsck", "--full", "--strict")
  })

  it("removes a path that is gone, and a folder left empty with it", () => {
    const dir = repo()
    put(dir, "notes/only.txt", "x")
    put(dir, "keep.txt", "k")
    LooseObjects.commitPaths(dir, join(dir, ".git"), ["notes/only.txt", "keep.txt"], "add", author)
    rmSync(join(dir, "notes"), { recursive: true })
    expect(LooseObjects.commitPaths(dir, join(dir, ".git"), ["notes/only.txt"], "remove", author)).toBeDefined()
    expect(git(dir, "ls-tree", "-r", "--name-only", "HEAD").trim().split("\n").sort()).toEqual(["README", "keep.txt"])
    expect(git(dir, "status", "--porcelain")).toBe("")
    git(dir, "fsck", "--full", "--strict")
  })

  it("keeps the executable bit, and a later edit by hand shows in git status", () => {
    const dir = repo()
    put(dir, "run.sh", "#!/bin/sh\n")
    execFileSync("chmod", ["+x", join(dir, "run.sh")])
    LooseObjects.commitPaths(dir, join(dir, ".git"), ["run.sh"], "script", author)
    expect(git(dir, "ls-tree", "HEAD", "run.sh")).toMatch(/^100755 blob /)
    writeFileSync(join(dir, "README"), "changed\n")
    expect(git(dir, "status", "--porcelain").trim()).toBe("M README")
  })

  it("changes nothing and says so (undefined) when objects are packed or HEAD is detached", () => {
    const packed = repo()
    git(packed, "gc", "-q")
    put(packed, "new.txt", "n")
    const before = git(packed, "rev-parse", "HEAD").trim()
    expect(LooseObjects.commitPaths(packed, join(packed, ".git"), ["new.txt"], "new", author)).toBeUndefined()
    expect(git(packed, "rev-parse", "HEAD").trim()).toBe(before)
    expect(git(packed, "status", "--porcelain").trim()).toBe("?? new.txt")

    const detached = repo()
    git(detached, "checkout", "-q", "--detach")
    put(detached, "new.txt", "n")
    expect(LooseObjects.commitPaths(detached, join(detached, ".git"), ["new.txt"], "new", author)).toBeUndefined()
  })
})
