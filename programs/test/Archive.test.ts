import { Effect, Either } from "effect"
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, symlinkSync, writeFileSync, mkdirSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { gzipSync } from "node:zlib"
import { describe, expect, it } from "vitest"
import { archivePath, DEFAULT_LIMITS, extractTarball, inspectTree, packDirectory, stripSingleRoot } from "../src/index.js"
import { programEntries, rawTar, tarGz } from "./fixtures/tarball.js"

const temp = () => mkdtempSync(join(tmpdir(), "annal-archive-"))
const extract = (archive: Buffer, limits = DEFAULT_LIMITS) => {
  const dest = join(temp(), "out")
  return Effect.runPromise(Effect.either(extractTarball(archive, dest, limits))).then((r) => ({ r, dest }))
}
const refusal = async (archive: Buffer, limits = DEFAULT_LIMITS) => {
  const { r } = await extract(archive, limits)
  if (Either.isRight(r)) throw new Error("the archive was accepted")
  return r.left.message
}

describe("archive paths", () => {
  it("cleans ./ and refuses absolute paths, .. and control characters", () => {
    expect(archivePath("./a/./b")).toBe("a/b")
    expect(archivePath("./")).toBe("")
    expect(archivePath("/etc/passwd")).toEqual({ refused: expect.stringContaining("absolute") })
    expect(archivePath("C:/x")).toEqual({ refused: expect.stringContaining("absolute") })
    expect(archivePath("a/../../x")).toEqual({ refused: expect.stringContaining("..") })
    expect(archivePath("a\nb")).toEqual({ refused: expect.stringContaining("control") })
  })

  it("takes a single top-level folder as the root", () => {
    expect(stripSingleRoot(["p", "p/a", "p/b/c"])).toBe("p")
    expect(stripSingleRoot(["p/a", "q/b"])).toBeUndefined()
    expect(stripSingleRoot(["program.toml"])).toBeUndefined()
  })
})

describe("extractTarball", () => {
  it("unpacks a program under a single top-level folder, links inside kept", async () => {
    const { r, dest } = await extract(tarGz([
      ...programEntries("hello-1.0", { "program.toml": "x", "bin/run.sh": "#!/bin/sh\necho hi\n" }),
      { path: "hello-1.0/bin/run", type: "2", linkpath: "run.sh" },
      { path: "hello-1.0/copy.sh", type: "1", linkpath: "hello-1.0/bin/run.sh" }
    ]))
    expect(Either.isRight(r)).toBe(true)
    expect(readFileSync(join(dest, "program.toml"), "utf8")).toBe("x")
    expect(readlinkSync(join(dest, "bin/run"))).toBe("run.sh")
    expect(readFileSync(join(dest, "copy.sh"), "utf8")).toContain("echo hi")
    expect(lstatSync(join(dest, "copy.sh")).isSymbolicLink()).toBe(false)
  })

  it("refuses ../ entries, absolute paths, links out of the tree and devices, writing nothing", async () => {
    const cases: Array<[Buffer, string]> = [
      [tarGz([{ path: "p/program.toml", data: "x" }, { path: "p/../../evil", data: "x" }]), ".."],
      [tarGz([{ path: "/etc/evil", data: "x" }]), "absolute"],
      [tarGz([...programEntries("p", { "program.toml": "x" }), { path: "p/etc", type: "2", linkpath: "/etc" }]), "points outside"],
      [tarGz([...programEntries("p", { "program.toml": "x" }), { path: "p/up", type: "2", linkpath: "../../.." }]), "points outside"],
      [tarGz([...programEntries("p", { "program.toml": "x" }), { path: "p/h", type: "1", linkpath: "../etc/passwd" }]), "points outside"],
      [tarGz([...programEntries("p", { "program.toml": "x" }), { path: "p/null", type: "3" }]), "CharacterDevice"],
      [tarGz([...programEntries("p", { "program.toml": "x" }), { path: "p/fifo", type: "6" }]), "FIFO"],
      [tarGz([{ path: "p/d", type: "2", linkpath: "sub" }, { path: "p/sub/", type: "5" }, { path: "p/d/x", data: "through the link" }]), "under the link"]
    ]
    for (const [archive, reason] of cases) {
      const { r, dest } = await extract(archive)
      expect(Either.isLeft(r) && r.left.message, reason).toContain(reason)
      expect(existsSync(dest)).toBe(false)
    }
  })

  it("refuses 10,000 files and stops there", async () => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({ path: `p/f${i}`, data: "" }))
    expect(await refusal(tarGz(entries))).toContain(`more than ${DEFAULT_LIMITS.maxEntries} entries`)
  })

  it("stops inflating a gzip bomb at the ceiling", async () => {
    // 1 GiB of zeros in about 1 MB: gzip members concatenated inflate as one stream
    const tarHead = gzipSync(rawTar([{ path: "p/bomb", data: Buffer.alloc(0) }]).subarray(0, 512))
    const megabyte = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })
    const bomb = Buffer.concat([tarHead, ...Array.from({ length: 1024 }, () => megabyte)])
    expect(bomb.length).toBeLessThan(2 * 1024 * 1024)
    const started = process.memoryUsage().rss
    expect(await refusal(bomb)).toContain("inflates to more than")
    expect(process.memoryUsage().rss - started).toBeLessThan(512 * 1024 * 1024)
  }, 60_000)

  it("refuses an archive whose files are larger in all than the limit", async () => {
    expect(await refusal(tarGz([{ path: "a", data: "x".repeat(2000) }]), { ...DEFAULT_LIMITS, maxBytes: 1000 })).toContain("unpacks to more than 1000 bytes")
  })

  it("refuses what is not a tarball", async () => {
    expect(await refusal(Buffer.from("<html>not found</html>"))).toMatch(/not a (valid )?tar/)
    expect(await refusal(Buffer.from([0x1f, 0x8b, 1, 2, 3]))).toContain("not valid gzip")
  })
})

describe("packDirectory and inspectTree", () => {
  it("packs a folder without .git and unpacks it to the same tree digest", async () => {
    const dir = temp()
    writeFileSync(join(dir, "program.toml"), "[program]\n")
    mkdirSync(join(dir, ".git"))
    writeFileSync(join(dir, ".git", "HEAD"), "x")
    mkdirSync(join(dir, "tools"))
    writeFileSync(join(dir, "tools", "x.js"), "export default () => 1", { mode: 0o755 })
    symlinkSync("tools/x.js", join(dir, "link.js"))
    const archive = await Effect.runPromise(packDirectory(dir))
    const { r, dest } = await extract(archive)
    expect(Either.isRight(r)).toBe(true)
    expect(existsSync(join(dest, ".git"))).toBe(false)
    const a = inspectTree(dest)
    expect(Either.isRight(a) && a.right).toMatchObject({ entries: 4, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) })
    // the digest covers content: one byte changed is another digest
    writeFileSync(join(dest, "tools", "x.js"), "export default () => 2", { mode: 0o755 })
    const b = inspectTree(dest)
    expect(Either.isRight(a) && Either.isRight(b) && a.right.sha256 !== b.right.sha256).toBe(true)
  })

  it("refuses a tree with a link out of it", () => {
    const dir = temp()
    symlinkSync("/etc/passwd", join(dir, "passwd"))
    const r = inspectTree(dir)
    expect(Either.isLeft(r) && r.left.message).toContain("points outside")
  })
})
