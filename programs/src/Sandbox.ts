/**
 * The sandbox of module tools: a child Node process under the permission model. It may read
 * the runner, the program's folder and the workspace, write only the workspace, and start no
 * process, worker, addon or WASI module unless the tool declares `child_process = true`. Node
 * follows symbolic links that already exist inside granted folders, so a call is refused while
 * the workspace holds a link that leads out of it. The call's time limit kills the process
 * group; output is capped. (Node's permission model does not cover the network.)
 */
import { ToolProcess } from "@annal/kernel"
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { lstatSync, readdirSync, readlinkSync, realpathSync } from "node:fs"
import { dirname, isAbsolute, join, resolve, sep } from "node:path"
import { fileURLToPath } from "node:url"

/** The script each call runs in (plain JavaScript, so the child needs no loader). */
export const RUNNER = fileURLToPath(new URL("./sandbox/runner.mjs", import.meta.url))

export interface ModuleCall {
  readonly module: string
  readonly programDir: string
  readonly workspace: string
  readonly args: unknown
  readonly childProcess: boolean
  readonly timeoutMs: number
  readonly outputCapBytes: number
  readonly env: Readonly<Record<string, string>>
  /** V8 heap limit of the child. */
  readonly maxMemoryMb?: number | undefined
}

export type ModuleResult =
  | { readonly _tag: "Ok"; readonly text: string }
  | { readonly _tag: "Failed"; readonly message: string; readonly timedOut: boolean }

/** The node flags of a call: the permission model and what it grants. */
export const sandboxFlags = (call: Pick<ModuleCall, "programDir" | "workspace" | "childProcess" | "maxMemoryMb">): ReadonlyArray<string> => [
  "--experimental-permission",
  `--allow-fs-read=${RUNNER}`,
  `--allow-fs-read=${call.programDir}`,
  `--allow-fs-read=${call.workspace}`,
  `--allow-fs-write=${call.workspace}`,
  ...(call.childProcess ? ["--allow-child-process"] : []),
  "--disable-warning=ExperimentalWarning",
  `--max-old-space-size=${call.maxMemoryMb ?? 256}`
]

/** Entries a link check walks at most before it gives up (and the call is refused). */
const MAX_WALK = 50_000

/** The first symbolic link under `root` whose target is outside it, if any; "too large" past the walk limit. */
export const escapingLink = (root: string): string | undefined => {
  const base = realpathSync(root)
  const stack = [base]
  let seen = 0
  while (stack.length > 0) {
    const dir = stack.pop()!
    let names: Array<string>
    try {
      names = readdirSync(dir)
    } catch {
      continue
    }
    for (const name of names) {
      if (++seen > MAX_WALK) return `(more than ${MAX_WALK} entries to check)`
      const path = join(dir, name)
      const stat = lstatSync(path, { throwIfNoEntry: false })
      if (stat === undefined) continue
      if (stat.isSymbolicLink()) {
        const target = readlinkSync(path)
        const resolved = isAbsolute(target) ? resolve(target) : resolve(dirname(path), target)
        if (resolved !== base && !resolved.startsWith(base + sep)) return path.slice(base.length + 1)
      } else if (stat.isDirectory()) {
        stack.push(path)
      }
    }
  }
  return undefined
}

/** Runs one module call; never fails (a failure is a `Failed` result). Interruption kills the child. */
export const runModule = (call: ModuleCall): Effect.Effect<ModuleResult> =>
  Effect.suspend(() => {
    const link = escapingLink(call.workspace)
    if (link !== undefined) {
      return Effect.succeed<ModuleResult>({
        _tag: "Failed",
        message: `module tools do not run while the workspace holds a link that leads out of it: ${link}`,
        timedOut: false
      })
    }
    return Effect.async<ModuleResult>((resume) => {
      let output = ""
      let done = false
      let timedOut = false
      const child = spawn(process.execPath, [...sandboxFlags(call), RUNNER], {
        cwd: call.workspace,
        env: call.env,
        detached: true,
        stdio: ["ignore", "pipe", "pipe", "ipc"]
      })
      const collect = (chunk: Buffer) => {
        if (output.length < call.outputCapBytes) output += chunk.toString("utf8").slice(0, call.outputCapBytes - output.length)
      }
      child.stdout!.on("data", collect)
      child.stderr!.on("data", collect)
      const finish = (result: ModuleResult) => {
        if (done) return
        done = true
        clearTimeout(timer)
        ToolProcess.killGroup(child.pid)
        resume(Effect.succeed(result))
      }
      const timer = setTimeout(() => {
        timedOut = true
        ToolProcess.killGroup(child.pid)
      }, call.timeoutMs)
      child.on("message", (m: { ok?: boolean; text?: string; error?: string; code?: string | null }) => {
        if (m.ok === true) finish({ _tag: "Ok", text: String(m.text ?? "") })
        else finish({ _tag: "Failed", message: `${m.error ?? "the module failed"}${m.code ? ` (${m.code})` : ""}`, timedOut: false })
      })
      child.on("error", (e) => finish({ _tag: "Failed", message: `could not start the module: ${e.message}`, timedOut: false }))
      // a last message may still be in flight when the exit is seen
      child.on("exit", (code, signal) => setTimeout(() => {
        const tail = output.trim().split("\n").slice(-5).join("\n")
        finish({
          _tag: "Failed",
          message: timedOut
            ? `the module did not finish within ${Math.round(call.timeoutMs / 1000)} s and was killed`
            : `the module exited (${signal ?? `code ${code}`}) without a result${tail === "" ? "" : `: ${tail}`}`,
          timedOut
        })
      }, 100))
      child.send({ module: call.module, args: call.args, context: { workspace: call.workspace, program_dir: call.programDir } })
      return Effect.sync(() => {
        clearTimeout(timer)
        ToolProcess.killGroup(child.pid)
      })
    })
  })
