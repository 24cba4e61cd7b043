/**
 * Test harness. `startServer` runs the real server in the test process: `Server.layer` on port 0
 * over SQLite files in a temporary data directory, reached over real HTTP, its log lines kept
 * for `output()`. `startServerProcess` and `runCli` run the compiled `annal` command
 * (gateway/dist, built by the global setup) for what needs a process of its own: kill -9, the
 * CLI, the data directory's lock, what `annal serve` prints.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { randomBytes } from "node:crypto"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { promisify } from "node:util"
import { Cause, Effect, Exit, Layer, Logger, Scope } from "effect"
import * as DataDirLock from "../src/DataDirLock.js"
import { checkResponse, readable } from "./contract.js"
import * as Server from "../src/Server.js"

export const ROOT = resolve(import.meta.dirname, "..", "..")
export const BIN = join(ROOT, "gateway", "bin", "annal.js")

/** A fresh folder under the OS temp dir (the test run's own, removed when the run ends). */
export const tempDir = (prefix = "annal-test-") => mkdtempSync(join(tmpdir(), prefix))

type RequestOptions = RequestInit & { readonly token?: string | null }

export interface RunningServer {
  readonly url: string
  readonly dataDir: string
  readonly token: string
  /** Everything the server logged (or, in a process, printed) so far. */
  readonly output: () => string
  /** Stops it (a process: SIGTERM) and waits until it has; 0 when it stopped cleanly. */
  readonly stop: () => Promise<number | null>
  /** Kills the process with SIGKILL and waits for it; only a server in a process can crash. */
  readonly crash: () => Promise<void>
  readonly fetch: (path: string, init?: RequestOptions) => Promise<Response>
  readonly json: <A = any>(path: string, init?: RequestOptions) => Promise<{ status: number; body: A; headers: Headers }>
}

export interface ServerProcess extends RunningServer {
  readonly process: ChildProcess
}

export interface StartOptions {
  readonly dataDir?: string
  /** The server's environment on top of the test's (`ANNAL_API_KEY`, `ANNAL_LLM_*`, `ANNAL_MODEL_PATH`). */
  readonly env?: Record<string, string>
  /** `annal serve` flags. */
  readonly args?: ReadonlyArray<string>
}

/** The token a client uses: `ANNAL_API_KEY` when given, else the generated token file. */
const tokenOf = (dataDir: string, env: Record<string, string> | undefined) => {
  const envKey = env?.ANNAL_API_KEY
  if (envKey !== undefined && envKey !== "") return envKey
  try {
    return readFileSync(join(dataDir, "token"), "utf8").trim()
  } catch {
    return ""
  }
}

const client = (url: string, token: string) => {
  const doFetch = async (path: string, init: RequestOptions = {}) => {
    const { token: override, ...rest } = init
    const headers = new Headers(rest.headers)
    const t = override === undefined ? token : override
    if (t !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${t}`)
    if (typeof rest.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json")
    const response = await fetch(url + path, { ...rest, headers })
    // every answer is held to /openapi.json: a mismatch fails the test that received it
    const body = readable(response.status, response.headers) ? await response.clone().text() : undefined
    checkResponse({ method: rest.method ?? "GET", url: path, status: response.status, headers: response.headers, body })
    return response
  }
  const json = async (path: string, init?: RequestOptions) => {
    const response = await doFetch(path, init)
    const text = await response.text()
    let body: any
    try {
      body = JSON.parse(text)
    } catch {
      body = text
    }
    return { status: response.status, body, headers: response.headers }
  }
  return { fetch: doFetch, json }
}

/** `annal serve` flags as Server.layer options (the ones tests use). */
const serveFlags = (args: ReadonlyArray<string>) => {
  const flags: { synchronous?: "FULL" | "NORMAL" | "EXTRA"; modelPath?: string; acceptRollback?: boolean } = {}
  for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]]
    if (flag === "--accept-log-rollback") {
      flags.acceptRollback = true
      i--
    } else if (flag === "--synchronous" && (value === "FULL" || value === "NORMAL" || value === "EXTRA")) flags.synchronous = value
    else if (flag === "--model" && value !== undefined) flags.modelPath = value
    else throw new Error(`startServer: unsupported flag ${flag} ${value ?? ""} (startServerProcess runs the real CLI)`)
  }
  return flags
}

const messageText = (message: unknown): string =>
  (Array.isArray(message) ? message : [message]).map((m) => (typeof m === "string" ? m : JSON.stringify(m))).join(" ")

/**
 * Starts the server in this process on port 0 over `dataDir` (a fresh one by default), holding
 * the data directory's lock as `annal serve` does, and resolves once it listens.
 */
export const startServer = async (options: StartOptions = {}): Promise<RunningServer> => {
  const dataDir = options.dataDir ?? tempDir()
  const env = { ...process.env, ANNAL_API_KEY: "", ...options.env }
  const flags = serveFlags(options.args ?? [])
  let output = ""
  const logger = Logger.make(({ logLevel, message, cause }) => {
    output += `${logLevel.label} ${messageText(message)}${Cause.isEmpty(cause) ? "" : ` ${Cause.pretty(cause)}`}\n`
  })
  const scope = Effect.runSync(Scope.make())
  const secret = randomBytes(32).toString("hex")
  const started = await Effect.gen(function*() {
    yield* DataDirLock.acquire(dataDir, "server")
    const context = yield* Layer.build(Server.layer({
      dataDir,
      host: "127.0.0.1",
      port: 0,
      apiKey: env.ANNAL_API_KEY,
      synchronous: flags.synchronous,
      modelPath: flags.modelPath,
      log: { acceptRollback: flags.acceptRollback ?? false },
      localInstallSecret: secret,
      env
    }))
    const url = yield* Effect.provide(Server.serverUrl, context)
    yield* DataDirLock.publish(dataDir, url, secret)
    return url
  }).pipe(
    Scope.extend(scope),
    Effect.provide(Logger.replace(Logger.defaultLogger, logger)),
    Effect.runPromiseExit
  )
  if (Exit.isFailure(started)) {
    await Effect.runPromise(Scope.close(scope, started))
    throw new Error(`server did not start: ${Cause.pretty(started.cause)}\n${output}`)
  }
  const url = started.value
  let stopped: Promise<number> | undefined
  const stop = () => (stopped ??= Effect.runPromise(Scope.close(scope, Exit.void)).then(() => 0, () => 1))
  return {
    url,
    dataDir,
    token: tokenOf(dataDir, options.env),
    output: () => output,
    stop,
    crash: () => Promise.reject(new Error("a server in the test process cannot crash: use startServerProcess")),
    ...client(url, tokenOf(dataDir, options.env))
  }
}

/** Starts the compiled `annal serve --port 0` in a process of its own and resolves once it prints its address. */
export const startServerProcess = (options: StartOptions = {}): Promise<ServerProcess> => {
  const dataDir = options.dataDir ?? tempDir()
  const child = spawn(process.execPath, [BIN, "serve", "--port", "0", "--host", "127.0.0.1", "--data-dir", dataDir, ...(options.args ?? [])], {
    cwd: ROOT,
    env: { ...process.env, ANNAL_API_KEY: "", ...options.env },
    stdio: ["ignore", "pipe", "pipe"]
  })
  let output = ""
  child.stdout!.on("data", (d) => (output += d))
  child.stderr!.on("data", (d) => (output += d))
  const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)))
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 60_000)
    const onData = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(output)
      if (match === null) return
      clearTimeout(timer)
      child.stdout!.off("data", onData)
      const url = match[1]!
      const token = tokenOf(dataDir, options.env)
      resolvePromise({
        url,
        dataDir,
        token,
        process: child,
        output: () => output,
        stop: () => {
          child.kill("SIGTERM")
          return exited
        },
        crash: async () => {
          child.kill("SIGKILL")
          await exited
        },
        ...client(url, token)
      })
    }
    child.stdout!.on("data", onData)
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
}

/** Runs the compiled `annal` CLI to completion. */
export const runCli = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" }
  }
}

/**
 * The one polling helper: calls `check` until `ok` holds for its result (every `everyMs`, at most
 * `timeoutMs`) and returns that result; fails naming `what` and the last result when time runs
 * out, or at once when `signal` aborts (the test that waits has ended).
 */
export const until = async <A>(
  what: string,
  check: () => A | Promise<A>,
  ok: (a: A) => boolean = Boolean,
  options: { readonly everyMs?: number; readonly timeoutMs?: number; readonly signal?: AbortSignal } = {}
): Promise<A> => {
  const { everyMs = 20, timeoutMs = 10_000, signal } = options
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const last = await check()
    if (ok(last)) return last
    if (signal?.aborted) throw new Error(`the test ended while waiting for ${what}`)
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${describe(last)}`)
    await new Promise((r) => setTimeout(r, everyMs))
  }
}

const describe = (value: unknown) => {
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value)
  } catch {
    return String(value)
  }
}
