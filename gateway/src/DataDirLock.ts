/**
 * One process at a time appends to a data directory's log (the store keeps the chain's head in
 * memory, so a second writer would fork the chain). `annal serve` holds `<data-dir>/annal.lock`
 * while it runs — its pid, and once it listens its URL and a random secret — and refuses to
 * start while another live process holds it. `annal programs install <dir>` hands its work to
 * that server (authenticated by the secret), or, with no server running, holds the lock itself.
 * A lock whose process is gone (a crash) is stale and taken over.
 */
import { Data, Effect, type Scope } from "effect"
import { closeSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from "node:fs"
import { join, resolve } from "node:path"

export interface LockInfo {
  readonly pid: number
  readonly owner: "server" | "cli"
  readonly started_at: string
  /** A server's address and the secret of `POST /api/programs/local-install`, once it listens. */
  readonly url?: string | undefined
  readonly secret?: string | undefined
}

/** Another live process holds the data directory. */
export class DataDirInUse extends Data.TaggedError("DataDirInUse")<{ readonly info: LockInfo; readonly dataDir: string }> {
  override get message() {
    const who = this.info.owner === "server" ? "a running annal server" : "another annal command"
    return `the data directory ${this.dataDir} is in use by ${who} (pid ${this.info.pid}); only one process may write its log at a time`
  }
}

export const lockPath = (dataDir: string) => join(resolve(dataDir), "annal.lock")

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    // EPERM: it exists but belongs to someone else
    return (e as { code?: string }).code === "EPERM"
  }
}

const parse = (text: string): LockInfo | undefined => {
  try {
    const info = JSON.parse(text) as LockInfo
    return typeof info.pid === "number" && (info.owner === "server" || info.owner === "cli") ? info : undefined
  } catch {
    return undefined
  }
}

/** The lock's holder when it is a live process; undefined when there is no lock or it is stale. */
export const holder = (dataDir: string): LockInfo | undefined => {
  let text: string
  try {
    text = readFileSync(lockPath(dataDir), "utf8")
  } catch {
    return undefined
  }
  const info = parse(text)
  return info !== undefined && info.pid !== process.pid && alive(info.pid) ? info : undefined
}

const tryCreate = (path: string, info: LockInfo): boolean => {
  try {
    const fd = openSync(path, "wx", 0o600)
    try {
      writeSync(fd, JSON.stringify(info))
    } finally {
      closeSync(fd)
    }
    return true
  } catch (e) {
    if ((e as { code?: string }).code === "EEXIST") return false
    throw e
  }
}

/** Holds the lock for the scope; DataDirInUse while another live process holds it. */
export const acquire = (dataDir: string, owner: LockInfo["owner"]): Effect.Effect<void, DataDirInUse, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const path = lockPath(dataDir)
      mkdirSync(resolve(dataDir), { recursive: true, mode: 0o700 })
      const info: LockInfo = { pid: process.pid, owner, started_at: new Date().toISOString() }
      for (let attempt = 0; attempt < 3; attempt++) {
        if (tryCreate(path, info)) return Effect.void
        const current = holder(dataDir)
        if (current !== undefined) return Effect.fail(new DataDirInUse({ info: current, dataDir: resolve(dataDir) }))
        // stale: its process is gone
        try {
          unlinkSync(path)
        } catch {
          // someone else removed it first
        }
      }
      return Effect.dieMessage(`could not create ${path}`)
    }),
    () =>
      Effect.sync(() => {
        try {
          if (parse(readFileSync(lockPath(dataDir), "utf8"))?.pid === process.pid) unlinkSync(lockPath(dataDir))
        } catch {
          // already gone
        }
      })
  )

/** Adds the server's URL and secret to the lock this process holds. */
export const publish = (dataDir: string, url: string, secret: string) =>
  Effect.sync(() => {
    const path = lockPath(dataDir)
    const info = parse(readFileSync(path, "utf8"))
    if (info === undefined || info.pid !== process.pid) return
    const tmp = `${path}.${process.pid}.tmp`
    const fd = openSync(tmp, "w", 0o600)
    try {
      writeSync(fd, JSON.stringify({ ...info, url, secret }))
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  })
