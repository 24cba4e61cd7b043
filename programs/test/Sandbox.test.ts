/** Module tools run in a real child Node process under the permission model; what it refuses is refused. */
import { Effect } from "effect"
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, symlinkSync, writeFileSync, existsSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { escapingLink, runModule, sandboxFlags } from "../src/index.js"

const setup = (source: string) => {
  const root = realpathSync(mkdtempSync(join(tmpdir(), "annal-sandbox-")))
  const programDir = join(root, "program")
  const workspace = join(root, "workspace")
  mkdirSync(programDir)
  mkdirSync(workspace)
  writeFileSync(join(programDir, "tool.js"), source)
  return { programDir, workspace, module: join(programDir, "tool.js") }
}

const call = (source: string, args: unknown = {}, options: { childProcess?: boolean; timeoutMs?: number } = {}) => {
  const s = setup(source)
  return Effect.runPromise(runModule({
    ...s,
    args,
    childProcess: options.childProcess ?? false,
    timeoutMs: options.timeoutMs ?? 10_000,
    outputCapBytes: 65_536,
    env: { PATH: "/usr/bin:/bin" }
  })).then((result) => ({ result, ...s }))
}

describe("the module sandbox", () => {
  it("passes arguments and context in and the result out", async () => {
    const { result, workspace } = await call(`export default (args, ctx) => ({ got: args.x, ws: ctx.workspace })`, { x: 42 })
    expect(result).toEqual({ _tag: "Ok", text: JSON.stringify({ got: 42, ws: workspace }) })
  })

  it("lets a module read its program and the workspace and write the workspace", async () => {
    const { result, workspace } = await call(`
      import { readFileSync, writeFileSync } from "node:fs"
      import { join } from "node:path"
      export default (_, ctx) => {
        writeFileSync(join(ctx.workspace, "out.txt"), readFileSync(join(ctx.program_dir, "tool.js"), "utf8").slice(0, 6))
        return "ok"
      }`)
    expect(result).toEqual({ _tag: "Ok", text: "ok" })
    expect(readFileSync(join(workspace, "out.txt"), "utf8")).toBe("\n     ")
  })

  it("reports reading /etc/passwd as a tool error", async () => {
    const { result } = await call(`import { readFileSync } from "node:fs"; export default () => readFileSync("/etc/passwd", "utf8")`)
    expect(result).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
  })

  it("refuses writing the program's own folder or outside the workspace", async () => {
    const { result, programDir } = await call(`import { writeFileSync } from "node:fs"; export default (_, ctx) => writeFileSync(ctx.program_dir + "/tool.js", "x")`)
    expect(result).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
    expect(readFileSync(join(programDir, "tool.js"), "utf8")).toContain("writeFileSync")
    const tmp = await call(`import { writeFileSync } from "node:fs"; export default () => writeFileSync("/tmp/annal-escaped.txt", "x")`)
    expect(tmp.result).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
    expect(existsSync("/tmp/annal-escaped.txt")).toBe(false)
  })

  it("refuses touching the workspace's repository, which is outside the workspace (GIT_DIR)", async () => {
    const s = setup(`import { writeFileSync, readFileSync } from "node:fs"
      export default (args) => args.read ? readFileSync(process.env.GIT_DIR + "/HEAD", "utf8") : writeFileSync(process.env.GIT_DIR + "/hooks/post-checkout", "#!/bin/sh\\necho pwned\\n")`)
    const gitdir = `${s.workspace}.git`
    mkdirSync(join(gitdir, "hooks"), { recursive: true })
    writeFileSync(join(gitdir, "HEAD"), "ref: refs/heads/main\n")
    const run = (args: unknown) =>
      Effect.runPromise(runModule({ ...s, args, childProcess: false, timeoutMs: 10_000, outputCapBytes: 65_536, env: { PATH: "/usr/bin:/bin", GIT_DIR: gitdir } }))
    expect(await run({})).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
    expect(existsSync(join(gitdir, "hooks", "post-checkout"))).toBe(false)
    expect(await run({ read: true })).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
  })

  it("reports spawning a process as a tool error unless the tool declares child_process", async () => {
    const source = `import { execFileSync } from "node:child_process"; export default () => execFileSync("echo", ["spawned"]).toString()`
    expect((await call(source)).result).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
    expect((await call(source, {}, { childProcess: true })).result).toEqual({ _tag: "Ok", text: "spawned\n" })
  })

  it("refuses worker threads", async () => {
    const { result } = await call(`import { Worker } from "node:worker_threads"; export default () => { new Worker("./x.js"); return "started" }`)
    expect(result).toMatchObject({ _tag: "Failed", message: expect.stringContaining("ERR_ACCESS_DENIED") })
  })

  it("does not run while the workspace holds a link out of it", async () => {
    const s = setup(`import { readFileSync } from "node:fs"; export default (_, ctx) => readFileSync(ctx.workspace + "/passwd", "utf8")`)
    symlinkSync("/etc/passwd", join(s.workspace, "passwd"))
    expect(escapingLink(s.workspace)).toBe("passwd")
    const result = await Effect.runPromise(runModule({ ...s, args: {}, childProcess: false, timeoutMs: 10_000, outputCapBytes: 1000, env: {} }))
    expect(result).toEqual({ _tag: "Failed", message: "module tools do not run while the workspace holds a link that leads out of it: passwd", timedOut: false })
  })

  it("finds such a link under a .git folder too (the workspace's repository is not there)", () => {
    const s = setup("export default () => 1")
    mkdirSync(join(s.workspace, ".git"))
    symlinkSync("/etc", join(s.workspace, ".git", "x"))
    expect(escapingLink(s.workspace)).toBe(".git/x")
  })

  it("kills a module past its time limit", async () => {
    const started = Date.now()
    const { result } = await call(`export default () => new Promise(() => setInterval(() => {}, 1000))`, {}, { timeoutMs: 1000 })
    expect(result).toMatchObject({ _tag: "Failed", timedOut: true, message: expect.stringContaining("did not finish within 1 s") })
    expect(Date.now() - started).toBeLessThan(8000)
  })

  it("turns a throw into a tool error with its message", async () => {
    expect((await call(`export default () => { throw new Error("no such thing") }`)).result).toEqual({ _tag: "Failed", message: "no such thing", timedOut: false })
  })

  it("grants exactly the program folder and workspace", () => {
    const flags = sandboxFlags({ programDir: "/p", workspace: "/w", childProcess: false })
    expect(flags).toContain("--experimental-permission")
    expect(flags.filter((f) => f.startsWith("--allow-fs-read=")).slice(1)).toEqual(["--allow-fs-read=/p", "--allow-fs-read=/w"])
    expect(flags.filter((f) => f.startsWith("--allow-fs-write="))).toEqual(["--allow-fs-write=/w"])
    expect(flags).not.toContain("--allow-child-process")
  })
})
