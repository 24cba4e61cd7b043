/**
 * Running one child process for `exec`: argv without a shell, in its own process group so a
 * timeout or an interruption kills everything it started, with output capped in memory.
 */
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { isAbsolute } from "node:path"

export interface ProcessRequest {
  readonly argv: ReadonlyArray<string>
  readonly cwd: string
  readonly env: Readonly<Record<string, string>>
  readonly timeoutMs: number
  readonly outputCapBytes: number
}

export interface ProcessResult {
  /** null when the process was killed by a signal. */
  readonly exitCode: number | null
  readonly signal: string | null
  readonly timedOut: boolean
  /** stdout and stderr interleaved as they arrived, at most the cap. */
  readonly output: string
  readonly truncated: boolean
  readonly pid: number | undefined
  readonly durationMs: number
}

/** A PATH with only absolute entries: a relative one would let the workspace shadow a binary. */
export const safePath = (path: string | undefined): string =>
  (path ?? "/usr/local/bin:/usr/bin:/bin").split(":").filter((p) => p !== "" && isAbsolute(p)).join(":")

/** Kills the process group `pid` leads (nothing when it is gone). */
export const killGroup = (pid: number | undefined) => {
  if (pid === undefined) return
  try {
    // negative pid: the whole process group the child leads
    process.kill(-pid, "SIGKILL")
  } catch {
    // already gone
  }
}

/**
 * Runs argv[0] with the rest as its arguments. Never fails: a spawn error is reported as
 * output with exit code 127. Interrupting the effect kills the process group.
 */
export const runProcess = (request: ProcessRequest): Effect.Effect<ProcessResult> =>
  Effect.async<ProcessResult>((resume) => {
    const started = Date.now()
    const chunks: Array<Buffer> = []
    let size = 0
    let truncated = false
    let timedOut = false
    let done = false
    const child = spawn(request.argv[0]!, request.argv.slice(1), {
      cwd: request.cwd,
      env: request.env,
      shell: false,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"]
    })
    const collect = (chunk: Buffer) => {
      if (size >= request.outputCapBytes) {
        truncated = true
        return
      }
      const room = request.outputCapBytes - size
      const kept = chunk.length > room ? chunk.subarray(0, room) : chunk
      if (kept.length < chunk.length) truncated = true
      chunks.push(kept)
      size += kept.length
    }
    child.stdout.on("data", collect)
    child.stderr.on("data", collect)
    const timer = setTimeout(() => {
      timedOut = true
      killGroup(child.pid)
    }, request.timeoutMs)
    const finish = (result: Omit<ProcessResult, "output" | "truncated" | "pid" | "durationMs" | "timedOut">) => {
      if (done) return
      done = true
      clearTimeout(timer)
      resume(Effect.succeed({
        ...result,
        timedOut,
        // a cut may split a UTF-8 sequence; the decoder replaces the broken tail
        output: Buffer.concat(chunks).toString("utf8"),
        truncated,
        pid: child.pid,
        durationMs: Date.now() - started
      }))
    }
    child.on("error", (e) => {
      chunks.push(Buffer.from(`could not run ${JSON.stringify(request.argv[0])}: ${e.message}`))
      finish({ exitCode: 127, signal: null })
    })
    // background children must not outlive the command: when the leader exits, the group goes
    child.on("exit", () => killGroup(child.pid))
    child.on("close", (code, signal) => finish({ exitCode: code, signal }))
    return Effect.sync(() => {
      clearTimeout(timer)
      killGroup(child.pid)
    })
  })
