/**
 * Where a program comes from, and fetching it: a git URL is cloned with isomorphic-git (over
 * http or https: ssh is refused with a clear message), any other http(s) URL is downloaded as
 * a tarball; local paths come only from `annal programs install <dir>`. Both downloads stop at
 * a byte limit and a time limit.
 */
import { Effect, Either } from "effect"
import git from "isomorphic-git"
import gitHttp from "isomorphic-git/http/node"
import * as fs from "node:fs"
import { join } from "node:path"
import { InstallRefused } from "./Tree.js"

export type RemoteSource =
  | { readonly kind: "git"; readonly url: string }
  | { readonly kind: "tarball"; readonly url: string }

const LOCAL_REFUSED = "local paths cannot be installed through the API; run `annal programs install <dir>` on the server's machine instead"

/** Classifies `POST /api/programs`'s `path`; the Left says why it is refused. */
export const classifySource = (path: string): Either.Either<RemoteSource, string> => {
  const p = path.trim()
  if (/^(git@|ssh:\/\/|git\+ssh:\/\/|ssh\+git:\/\/)/i.test(p) || /^[\w.-]+@[\w.-]+:/.test(p)) {
    return Either.left(`ssh URLs are not supported (${p.slice(0, 200)}): use the repository's https URL`)
  }
  if (/^git:\/\//i.test(p)) return Either.left("the git:// protocol is not supported: use the repository's https URL")
  if (/^file:/i.test(p) || !/^[a-z][a-z0-9+.-]*:/i.test(p)) return Either.left(LOCAL_REFUSED)
  let url: URL
  try {
    url = new URL(p)
  } catch {
    return Either.left(`invalid field "path": ${JSON.stringify(p.slice(0, 200))} is not a URL`)
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return Either.left(`unsupported URL scheme ${url.protocol} (use https)`)
  if (url.username !== "" || url.password !== "") return Either.left("a URL with credentials in it is refused: they would be recorded in the log")
  return Either.right({ kind: /\.git\/?$/i.test(url.pathname) ? "git" : "tarball", url: url.toString() })
}

export interface FetchLimits {
  readonly maxDownloadBytes: number
  readonly timeoutMs: number
}

/** Reads a body to its end, failing as soon as it passes `max` bytes. */
const readCapped = async (body: AsyncIterable<Uint8Array>, max: number, what: string, onExceed: () => void): Promise<Buffer> => {
  const chunks: Array<Uint8Array> = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > max) {
      onExceed()
      throw new InstallRefused({ message: `${what} is larger than the limit of ${max} bytes` })
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

const refusedOr = (what: string) => (e: unknown) =>
  e instanceof InstallRefused
    ? e
    : new InstallRefused({ message: `${what}: ${(e as Error).name === "TimeoutError" ? "timed out" : (e as Error).message}` })

/** Downloads a tarball. */
export const download = (url: string, limits: FetchLimits): Effect.Effect<Buffer, InstallRefused> =>
  Effect.tryPromise({
    try: async (signal) => {
      const controller = new AbortController()
      signal.addEventListener("abort", () => controller.abort())
      const timer = setTimeout(() => controller.abort(new DOMException("timed out", "TimeoutError")), limits.timeoutMs)
      try {
        const response = await fetch(url, { signal: controller.signal, redirect: "follow" })
        if (response.status !== 200) throw new InstallRefused({ message: `downloading ${url} answered HTTP ${response.status}` })
        const length = Number(response.headers.get("content-length") ?? "NaN")
        if (Number.isFinite(length) && length > limits.maxDownloadBytes) {
          controller.abort()
          throw new InstallRefused({ message: `the tarball at ${url} is larger than the limit of ${limits.maxDownloadBytes} bytes (${length})` })
        }
        if (response.body === null) throw new InstallRefused({ message: `downloading ${url} gave no body` })
        return await readCapped(response.body as unknown as AsyncIterable<Uint8Array>, limits.maxDownloadBytes, `the tarball at ${url}`, () => controller.abort())
      } finally {
        clearTimeout(timer)
      }
    },
    catch: refusedOr(`could not download ${url}`)
  })

/** Clones the default branch's head into `dir` (which must not exist), then drops `.git`; the commit's oid. */
export const clone = (url: string, dir: string, limits: FetchLimits): Effect.Effect<string, InstallRefused> =>
  Effect.tryPromise({
    try: async () => {
      const controller = new AbortController()
      const timer = setTimeout(() => controller.abort(), limits.timeoutMs)
      let received = 0
      // every response body counts against one limit: the refs, then the pack
      const http = {
        request: async (request: Parameters<typeof gitHttp.request>[0]) => {
          const response = await gitHttp.request({ ...request, signal: controller.signal })
          const body = response.body
          if (body === undefined) return response
          async function* capped() {
            for await (const chunk of body!) {
              received += chunk.length
              if (received > limits.maxDownloadBytes) {
                controller.abort()
                throw new InstallRefused({ message: `the repository at ${url} is larger than the download limit of ${limits.maxDownloadBytes} bytes` })
              }
              yield chunk
            }
          }
          return { ...response, body: capped() }
        }
      }
      try {
        fs.mkdirSync(dir)
        await git.clone({ fs, http, dir, url, depth: 1, singleBranch: true, noTags: true })
        const oid = await git.resolveRef({ fs, dir, ref: "HEAD" })
        fs.rmSync(join(dir, ".git"), { recursive: true, force: true })
        return oid
      } catch (e) {
        fs.rmSync(dir, { recursive: true, force: true })
        if (controller.signal.aborted && !(e instanceof InstallRefused)) {
          throw new InstallRefused({ message: `cloning ${url} did not finish within ${Math.round(limits.timeoutMs / 1000)} s` })
        }
        throw e
      } finally {
        clearTimeout(timer)
      }
    },
    catch: refusedOr(`could not clone ${url}`)
  })
