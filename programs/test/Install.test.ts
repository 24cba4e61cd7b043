/**
 * Installing for real: from a git repository served by `git http-backend`, from tarballs served
 * over HTTP, hostile archives refused leaving nothing behind, crash recovery, tampered files,
 * and the registry following enable, disable and uninstall at once.
 */
import { DataDir, Permissions, PermissionsDecide, Programs, ToolGate, ToolRegistry } from "@annal/kernel"
import { SqlClient } from "@effect/sql"
import { Effect, Either, Option } from "effect"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { Installer, inspectTree, ProgramHost } from "../src/index.js"
import { type GitServer, startGitServer } from "./fixtures/gitServer.js"
import { gzipSync } from "node:zlib"
import { type FileServer, programEntries, rawTar, startFileServer, tarGz } from "./fixtures/tarball.js"
import { filesOf, shipped, withHost } from "./support.js"

let git: GitServer
let files: FileServer
beforeAll(async () => {
  git = await startGitServer()
  files = await startFileServer()
})
afterAll(async () => {
  await git?.close()
  await files?.close()
})

const temp = () => mkdtempSync(join(tmpdir(), "annal-install-"))
const ctx = { actor: "user:test" }
const programEvents = Effect.flatMap(SqlClient.SqlClient, (sql) =>
  sql<{ type: string; stream: string }>`SELECT type, stream FROM events WHERE stream LIKE 'program-%' ORDER BY seq`)
const registered = (name: string) => Effect.flatMap(ToolRegistry, (r) => Effect.map(r.get(name), Option.isSome))

const hello = (name = "hello") => ({
  "program.toml": `[program]
name = "${name}"
version = "1.2.3"
description = "Greets people"
author = "tests"

[tools.greet]
description = "Say hello"
command = ["echo", "hello", "{who}"]
arguments = [{ name = "who" }]

[tools.shout]
description = "Upper-case a text"
module = "tools/shout.js"
arguments = [{ name = "text" }]
`,
  "tools/shout.js": "export default ({ text }) => text.toUpperCase()\n",
  "SKILL.md": "---\ndescription: greet people politely\nkeywords: [greet, hello]\n---\n# Greeting\n"
})

const serveTarball = (path: string, archive: Buffer) => {
  files.files.set(path, archive)
  return `${files.url}${path}`
}

describe("installing a program", () => {
  it("clones a git repository over http, records its tree and registers its tools", async () => {
    const url = git.repository("hello", hello())
    const dataDir = temp()
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      expect(yield* host.install({ _tag: "Remote", path: url }, ctx)).toEqual({ name: "hello", version: "1.2.3" })
      const record = yield* (yield* Programs).get("hello")
      expect(record.source).toMatchObject({ kind: "git", location: url, commit: expect.stringMatching(/^[0-9a-f]{40}$/) })
      expect(existsSync(join(record.path, ".git"))).toBe(false)
      expect(readFileSync(join(record.path, "tools/shout.js"), "utf8")).toContain("toUpperCase")
      expect(record.sha256).toBe(Either.getOrThrow(inspectTree(record.path)).sha256)
      expect(record.skill).toMatchObject({ description: "greet people politely", keywords: ["greet", "hello"] })
      expect(yield* registered("hello__greet")).toBe(true)
      expect(yield* registered("hello__shout")).toBe(true)
      expect((yield* programEvents).map((e) => e.type)).toEqual(["program_installed"])
      const detail = yield* host.get("hello")
      expect(detail).toMatchObject({ enabled: true, offered: true, not_offered_reason: null, source: expect.stringContaining(`${url}#`) })
    }))
  }, 60_000)

  it("downloads a tarball, takes its single top-level folder as the root, and refuses the name twice", async () => {
    const url = serveTarball("/hello-1.2.3.tar.gz", tarGz(programEntries("hello-1.2.3", hello())))
    const dataDir = temp()
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      yield* host.install({ _tag: "Remote", path: url }, ctx)
      expect(existsSync(join(dataDir, "programs", "hello", "program.toml"))).toBe(true)
      const again = yield* Effect.flip(host.install({ _tag: "Remote", path: url }, ctx))
      expect(again).toMatchObject({ _tag: "AlreadyExists", message: "program already exists: hello" })
      expect(readdirSync(join(dataDir, "programs"))).toEqual(["hello"])
      expect((yield* programEvents).map((e) => e.type)).toEqual(["program_installed"])
    }))
  }, 60_000)

  it("refuses hostile tarballs and leaves nothing behind", async () => {
    const dataDir = temp()
    // 1 GiB of zeros in 1 MB of gzip members
    const megabyteOfZeros = gzipSync(Buffer.alloc(1024 * 1024), { level: 9 })
    const hostile: Array<[string, Buffer, string]> = [
      ["dotdot", tarGz([...programEntries("p", hello("p")), { path: "p/../../../evil.txt", data: "x" }]), '".." segment'],
      ["absolute", tarGz([{ path: "/tmp/annal-evil.txt", data: "x" }, ...programEntries("p", hello("p"))]), "absolute path"],
      ["etc-link", tarGz([...programEntries("p", hello("p")), { path: "p/etc", type: "2", linkpath: "/etc" }]), "points outside"],
      ["many", tarGz([...programEntries("p", hello("p")), ...Array.from({ length: 10_000 }, (_, i) => ({ path: `p/f/${i}`, data: "" }))]), "more than 5000 entries"],
      ["gzip-bomb", Buffer.concat([gzipSync(rawTar([{ path: "p/bomb", data: "" }]).subarray(0, 512)), ...Array.from({ length: 1024 }, () => megabyteOfZeros)]), "inflates to more than"],
      ["not-a-program", tarGz(programEntries("p", { "README.md": "hi" })), "no program.toml"],
      ["bad-manifest", tarGz(programEntries("p", { "program.toml": "[program]\nname = \"p\"\n" })), 'invalid field "program.version"'],
      ["missing-module", tarGz(programEntries("p", { "program.toml": hello("p")["program.toml"] })), "tools/shout.js is not a file of the program"]
    ]
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      for (const [name, archive, reason] of hostile) {
        const error = yield* Effect.flip(host.install({ _tag: "Remote", path: serveTarball(`/${name}.tgz`, archive) }, ctx))
        expect(error.message, name).toContain(reason)
        expect(["InstallRefused", "ManifestInvalid"]).toContain(error._tag)
      }
      // nothing in place, nothing staged, nothing recorded, nothing outside
      expect(readdirSync(join(dataDir, "programs"))).toEqual([])
      expect(existsSync("/tmp/annal-evil.txt")).toBe(false)
      expect(existsSync(join(dataDir, "evil.txt"))).toBe(false)
      expect(yield* programEvents).toEqual([])
    }))
  }, 120_000)

  it("stops a download past the size limit and a clone of a missing repository", async () => {
    const dataDir = temp()
    const big = serveTarball("/big.tgz", Buffer.alloc(4096, 1))
    await withHost(dataDir, Effect.gen(function*() {
      const limits = { ...Installer.DEFAULT_INSTALL_LIMITS, maxDownloadBytes: 1024 }
      const refused = yield* Effect.flip(Installer.install({ _tag: "Remote", path: big }, ctx, limits))
      expect(refused.message).toContain("larger than the limit of 1024 bytes")
      const missing = yield* Effect.flip(Installer.install({ _tag: "Remote", path: `${git.url}/nope.git` }, ctx))
      expect(missing).toMatchObject({ _tag: "InstallRefused", message: expect.stringContaining("could not clone") })
      const notFound = yield* Effect.flip(Installer.install({ _tag: "Remote", path: `${files.url}/nothing.tgz` }, ctx))
      expect(notFound.message).toContain("HTTP 404")
      expect(readdirSync(join(dataDir, "programs"))).toEqual([])
    }))
  }, 60_000)
})

describe("the program host", () => {
  it("makes a disabled program's tools disappear at once and come back when enabled", async () => {
    const dataDir = temp()
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      yield* host.install({ _tag: "Archive", archive: tarGz(programEntries("x", hello())), location: "/src/hello" }, ctx)
      yield* host.setEnabled("hello", false, ctx)
      expect(yield* registered("hello__greet")).toBe(false)
      expect(yield* host.get("hello")).toMatchObject({ enabled: false, offered: false, not_offered_reason: "the program is disabled" })
      // the gate refuses a call to it now
      const gate = yield* ToolGate
      const denied = yield* gate.call("agent-1", { id: "c1", name: "hello__greet", arguments: '{"who":"x"}' }, ctx)
      expect(denied).toMatchObject({ status: "denied", stage: "arguments", content: 'unknown tool "hello__greet"' })
      yield* host.setEnabled("hello", true, ctx)
      expect(yield* registered("hello__greet")).toBe(true)
      expect((yield* programEvents).map((e) => e.type)).toEqual(["program_installed", "program_disabled", "program_enabled"])
      yield* host.uninstall("hello", ctx)
      expect(yield* registered("hello__greet")).toBe(false)
      expect(existsSync(join(dataDir, "programs", "hello"))).toBe(false)
      expect(yield* Effect.flip((yield* Programs).get("hello"))).toMatchObject({ _tag: "EntityNotFound" })
    }))
  }, 60_000)

  it("does not offer a program whose required tools are missing", async () => {
    const dataDir = temp()
    const needy = { ...hello("needy"), "program.toml": `${hello("needy")["program.toml"]}\n[requires_tools]\nnames = ["read", "browser_open"]\n` }
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      yield* host.install({ _tag: "Archive", archive: tarGz(programEntries("n", needy)), location: "/src/needy" }, ctx)
      expect(yield* registered("needy__greet")).toBe(false)
      expect(yield* host.get("needy")).toMatchObject({ offered: false, not_offered_reason: "required tools are missing: browser_open" })
      expect(yield* host.hostRequirements("needy")).toEqual({
        program_name: "needy",
        all_required_present: true,
        missing_required: [],
        optional_available: {},
        missing_tools: ["browser_open"]
      })
      // neither its tools nor its skill
      expect(yield* (yield* Programs).skillsFor("greet the new hello visitors")).toEqual([])
    }))
  }, 60_000)

  it("runs command, module and path-checked tools through the gate", async () => {
    const dataDir = temp()
    const readOnly = { ...hello(), "program.toml": hello()["program.toml"].replace(/arguments = \[\{ name = "(who|text)" \}\]/g, "$&\nread_only = true") }
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      yield* host.install({ _tag: "Archive", archive: tarGz(programEntries("x", readOnly)), location: "/src/hello" }, ctx)
      yield* host.install({ _tag: "Archive", archive: tarGz(programEntries("t", filesOf(shipped("text-stats")))), location: shipped("text-stats") }, ctx)
      const { workspace } = yield* DataDir
      writeFileSync(join(workspace, "notes.md"), "one two three\nfour\n")
      const gate = yield* ToolGate
      const agent = "agent-tools"
      yield* (yield* Permissions).ensureDefaults(agent, ctx)
      const call = (name: string, args: unknown) => gate.call(agent, { id: name, name, arguments: JSON.stringify(args) }, ctx)
      // the argument is one argv element: nothing of it reaches a shell
      expect(yield* call("hello__greet", { who: "$(whoami); rm -rf /" })).toMatchObject({
        status: "completed",
        content: "hello $(whoami); rm -rf /\n\n[exit code 0]",
        exit_code: 0
      })
      expect(yield* call("hello__shout", { text: "quiet" })).toMatchObject({ status: "completed", content: "QUIET" })
      expect((yield* call("text-stats__count", { path: "notes.md" })).content).toMatch(/^\s*2\s+4\s+19 notes\.md\n/)
      // a path argument is a workspace path the permission step checks
      expect(yield* call("text-stats__count", { path: "/etc/passwd" })).toMatchObject({ status: "denied", stage: "permission", content: expect.stringContaining("outside the workspace") })
      expect(yield* call("text-stats__count", { path: ".env" })).toMatchObject({ status: "denied", stage: "permission" })
      expect(yield* call("hello__greet", { who: "x", extra: 1 })).toMatchObject({ status: "denied", stage: "arguments" })
      expect(yield* call("hello__greet", {})).toMatchObject({ status: "denied", stage: "arguments", content: expect.stringContaining('"who"') })
      expect(PermissionsDecide.DEFAULT_TOOLS).toContain("*__*")
    }))
  }, 60_000)

  it("reports a module tool that reads /etc/passwd or starts a process as a failed call", async () => {
    const dataDir = temp()
    const nosy = {
      "program.toml": `[program]
name = "nosy"
version = "0.0.1"
description = "Tries to leave its sandbox"
author = "tests"

[tools.peek]
description = "Read /etc/passwd"
module = "peek.js"
read_only = true

[tools.spawn]
description = "Start a shell"
module = "spawn.js"
read_only = true
`,
      "peek.js": 'import { readFileSync } from "node:fs"\nexport default () => readFileSync("/etc/passwd", "utf8")\n',
      "spawn.js": 'import { execSync } from "node:child_process"\nexport default () => execSync("id").toString()\n'
    }
    await withHost(dataDir, Effect.gen(function*() {
      yield* (yield* ProgramHost).install({ _tag: "Archive", archive: tarGz(programEntries("n", nosy)), location: "/src/nosy" }, ctx)
      yield* (yield* Permissions).ensureDefaults("agent-nosy", ctx)
      const gate = yield* ToolGate
      for (const tool of ["nosy__peek", "nosy__spawn"]) {
        const result = yield* gate.call("agent-nosy", { id: tool, name: tool, arguments: "{}" }, ctx)
        expect(result, tool).toMatchObject({ status: "failed", is_error: true, content: expect.stringContaining("ERR_ACCESS_DENIED") })
        expect(result.content).not.toContain("root:")
      }
      const failed = yield* Effect.flatMap(SqlClient.SqlClient, (sql) => sql<{ n: number }>`SELECT count(*) AS n FROM events WHERE type = 'tool_call_failed'`)
      expect(failed[0]!.n).toBe(2)
    }))
  }, 60_000)
})

describe("recovery at start", () => {
  it("removes folders no installed program owns and what staging left", async () => {
    const dataDir = temp()
    await withHost(dataDir, Effect.gen(function*() {
      yield* (yield* ProgramHost).install({ _tag: "Archive", archive: tarGz(programEntries("x", hello())), location: "/src/hello" }, ctx)
    }))
    // a crash after the rename but before the event, and one in the middle of staging
    mkdirSync(join(dataDir, "programs", "ghost"))
    writeFileSync(join(dataDir, "programs", "ghost", "program.toml"), "[program]")
    mkdirSync(join(dataDir, "programs", ".staging", "0123"), { recursive: true })
    await withHost(dataDir, Effect.gen(function*() {
      expect(readdirSync(join(dataDir, "programs"))).toEqual(["hello"])
      expect(yield* registered("hello__greet")).toBe(true)
    }))
  }, 60_000)

  it("does not offer a program whose files changed after it was installed", async () => {
    const dataDir = temp()
    await withHost(dataDir, Effect.gen(function*() {
      yield* (yield* ProgramHost).install({ _tag: "Archive", archive: tarGz(programEntries("x", hello())), location: "/src/hello" }, ctx)
    }))
    writeFileSync(join(dataDir, "programs", "hello", "tools", "shout.js"), "export default () => 'tampered'\n")
    await withHost(dataDir, Effect.gen(function*() {
      const host = yield* ProgramHost
      expect(yield* registered("hello__shout")).toBe(false)
      expect((yield* host.get("hello")).not_offered_reason).toMatch(/^its files changed since it was installed/)
    }))
  }, 60_000)
})
