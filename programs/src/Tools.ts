/**
 * The tools programs contribute, as kernel tools (so every call passes the ToolGate like a
 * built-in's): command tools run their argv template without a shell in the workspace; module
 * tools run their JavaScript in the sandbox. Both are named `<program>__<tool>`.
 */
import { type ToolArgument, type ToolDeclaration } from "@annal/spec"
import { Tool, ToolProcess } from "@annal/kernel"
import { Effect, Either } from "effect"
import { isAbsolute, join } from "node:path"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { pathToFileURL } from "node:url"
import { argumentsSchema, pathsOf, withDefaults } from "./Arguments.js"
import { insidePath, toolNameOf } from "./Manifest.js"
import { runModule } from "./Sandbox.js"
import { type HostVariable, render, type Template } from "./Template.js"

/** What a program's tools run with. */
export interface ProgramRuntime {
  readonly program: string
  /** The installed folder (real path). */
  readonly dir: string
  /** The workspace root (real path). */
  readonly workspace: string
  /** The workspace's repository, outside it (git's `GIT_DIR` for the program's processes). */
  readonly workspaceGit: string
  readonly host: Readonly<Record<HostVariable, string>>
  /** `tools.exec_timeout_secs`, read at call time. */
  readonly defaultTimeoutSecs: Effect.Effect<number>
  /** `tools.output_cap_bytes`, read at call time. */
  readonly outputCapBytes: Effect.Effect<number>
}

/** The environment of a program's processes: no secrets of the server's, a safe PATH. */
export const childEnv = (runtime: Pick<ProgramRuntime, "dir" | "workspace" | "workspaceGit">, extra: Readonly<Record<string, string>> = {}): Record<string, string> => ({
  PATH: ToolProcess.safePath(process.env.PATH),
  HOME: tmpdir(),
  LANG: "C.UTF-8",
  GIT_TERMINAL_PROMPT: "0",
  ANNAL_PROGRAM_DIR: runtime.dir,
  ANNAL_WORKSPACE: runtime.workspace,
  // git run in the workspace finds its repository, which is not inside it
  GIT_DIR: runtime.workspaceGit,
  GIT_WORK_TREE: runtime.workspace,
  ...extra
})

/** tsx's ESM loader, for `node --import ${TSX}`: TypeScript runs with nothing downloaded. */
const TSX_LOADER = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href

/** The host variables of a program. */
export const hostVariables = (dir: string, workspace: string): Record<HostVariable, string> => ({
  NODE: process.execPath,
  TSX: TSX_LOADER,
  PROGRAM_DIR: dir,
  WORKSPACE: workspace
})

/** argv[0] as spawn gets it: a path inside the program stays inside it; a bare name is looked up on PATH. */
export const executableOf = (first: string, dir: string): string | undefined => {
  if (!first.includes("/") || isAbsolute(first)) return first
  const inside = insidePath(first)
  return inside === undefined ? undefined : join(dir, inside)
}

const timeoutOf = (declaration: ToolDeclaration, runtime: ProgramRuntime) =>
  declaration.timeout_secs === undefined ? runtime.defaultTimeoutSecs : Effect.succeed(declaration.timeout_secs)

/** A command tool. */
export const commandTool = (runtime: ProgramRuntime, name: string, declaration: ToolDeclaration, template: Template) => {
  const args: ReadonlyArray<ToolArgument> = declaration.arguments
  const argvOf = (values: Readonly<Record<string, unknown>>) =>
    render(template, withDefaults(args, values as Readonly<Record<string, string | number | boolean | undefined>>), runtime.host)
  return Tool.make({
    name: toolNameOf(runtime.program, name),
    description: declaration.description,
    args: argumentsSchema(args),
    access: (values) => ({ paths: pathsOf(args, withDefaults(args, values)) }),
    consequential: () => !declaration.read_only,
    resource: (values) => Either.match(argvOf(values), { onLeft: () => toolNameOf(runtime.program, name), onRight: (argv) => argv.join(" ").slice(0, 256) }),
    timeoutSecs: timeoutOf(declaration, runtime),
    run: (values, env) =>
      Effect.gen(function*() {
        const argv = argvOf(values)
        if (Either.isLeft(argv)) return yield* new Tool.ToolFailed({ message: argv.left })
        const executable = executableOf(argv.right[0]!, runtime.dir)
        if (executable === undefined) return yield* new Tool.ToolFailed({ message: `${argv.right[0]} is not a path inside the program` })
        const cap = yield* runtime.outputCapBytes
        const result = yield* ToolProcess.runProcess({
          argv: [executable, ...argv.right.slice(1)],
          cwd: runtime.workspace,
          env: childEnv(runtime),
          timeoutMs: env.timeoutSecs * 1000,
          outputCapBytes: cap
        })
        if (result.timedOut) return yield* new Tool.ToolFailed({ message: `${argv.right[0]} was killed after the ${env.timeoutSecs} s time limit`, timedOut: true })
        const status = result.exitCode === null ? `killed by ${result.signal}` : `exit code ${result.exitCode}`
        const truncated = result.truncated ? `\n[output truncated at ${cap} bytes]` : ""
        return { text: `${result.output}${truncated}\n[${status}]`, exitCode: result.exitCode ?? -1 }
      })
  })
}

/** A module tool. */
export const moduleTool = (runtime: ProgramRuntime, name: string, declaration: ToolDeclaration, module: string) =>
  Tool.make({
    name: toolNameOf(runtime.program, name),
    description: declaration.description,
    args: argumentsSchema(declaration.arguments),
    access: (values) => ({ paths: pathsOf(declaration.arguments, withDefaults(declaration.arguments, values)) }),
    consequential: () => !declaration.read_only,
    timeoutSecs: timeoutOf(declaration, runtime),
    run: (values, env) =>
      Effect.gen(function*() {
        const result = yield* runModule({
          module: join(runtime.dir, module),
          programDir: runtime.dir,
          workspace: runtime.workspace,
          args: withDefaults(declaration.arguments, values),
          childProcess: declaration.child_process,
          timeoutMs: env.timeoutSecs * 1000,
          outputCapBytes: yield* runtime.outputCapBytes,
          env: childEnv(runtime)
        })
        if (result._tag === "Failed") return yield* new Tool.ToolFailed({ message: result.message, timedOut: result.timedOut })
        return { text: result.text }
      })
  })
