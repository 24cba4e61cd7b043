/**
 * Test harness: the real `annal` CLI in a child process on a random port over a temporary data
 * directory, and a small client for its API.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { promisify } from "node:util"

export const ROOT = resolve(import.meta.dirname, "..", "..")
export const BIN = join(ROOT, "gateway", "bin", "annal.js")

export const tempDir = (prefix = "annal-test-") => mkdtempSync(join(tmpdir(), prefix))

export interface RunningServer {
  readonly url: string
  readonly dataDir: string
  readonly token: string
  readonly process: ChildProcess
  /** Everything the server printed so far. */
  readonly output: () => string
  /** Stops with SIGTERM and waits for exit. */
  readonly stop: () => Promise<number | null>
  /** Kills with SIGKILL (a crash) and waits for exit. */
  readonly crash: () => Promise<void>
  readonly fetch: (path: string, init?: RequestInit & { readonly token?: string | null }) => Promise<Response>
  readonly json: <A = any>(path: string, init?: RequestInit & { readonly token?: string | null }) => Promise<{ status: number; body: A; headers: Headers }>
}

export interface StartOptions {
  readonly dataDir?: string
  readonly env?: Record<string, string>
  readonly args?: ReadonlyArray<string>
}

/** Starts `annal serve --port 0` and resolves once it prints its address. */
export const startServer = (options: StartOptions = {}): Promise<RunningServer> => {
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
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000)
    const onData = () => {
      const match = /listening on (http:\/\/[^\s]+)/.exec(output)
      if (match === null) return
      clearTimeout(timer)
      child.stdout!.off("data", onData)
      const url = match[1]!
      const envKey = options.env?.ANNAL_API_KEY
      let token = envKey !== undefined && envKey !== "" ? envKey : ""
      if (token === "") {
        try {
          token = readFileSync(join(dataDir, "token"), "utf8").trim()
        } catch {
          token = ""
        }
      }
      const doFetch = (path: string, init: RequestInit & { readonly token?: string | null } = {}) => {
        const { token: override, ...rest } = init
        const headers = new Headers(rest.headers)
        const t = override === undefined ? token : override
        if (t !== null && !headers.has("authorization")) headers.set("authorization", `Bearer ${t}`)
        if (typeof rest.body === "string" && !headers.has("content-type")) headers.set("content-type", "application/json")
        return fetch(url + path, { ...rest, headers })
      }
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
        fetch: doFetch,
        json: async (path, init) => {
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
      })
    }
    child.stdout!.on("data", onData)
    child.on("exit", (code) => {
      clearTimeout(timer)
      reject(new Error(`server exited with ${code}:\n${output}`))
    })
  })
}

/** Runs the `annal` CLI to completion. */
export const runCli = async (args: ReadonlyArray<string>, env: Record<string, string> = {}) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], { cwd: ROOT, env: { ...process.env, ...env } })
    return { code: 0, stdout, stderr }
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string }
    return { code: err.code ?? 1, stdout: err.stdout ?? "", stderr: err.stderr ?? "" }
  }
}
