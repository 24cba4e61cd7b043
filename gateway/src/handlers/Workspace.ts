/** The workspace (seed section 5): list directories, read and write files. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { Workspace, type WorkspaceFailure } from "@annal/kernel"
import { AnnalApi, type ApiError, BadRequest, InternalError, MAX_WORKSPACE_FILE_BYTES, WORKSPACE_MIME_TYPES } from "@annal/spec"
import { Data, Effect, Stream } from "effect"
import { errorResponse } from "../http/Errors.js"
import { API_ACTOR, apiError, type KernelFailure, requestMeta } from "./common.js"

/** The Content-Type a workspace file is served with. */
export const contentTypeOf = (path: string): string => {
  const ext = /\.([^./]+)$/.exec(path)?.[1]?.toLowerCase()
  return `${(ext === undefined ? undefined : WORKSPACE_MIME_TYPES[ext]) ?? "text/plain"}; charset=utf-8`
}

/**
 * The `{path}` of `/api/workspace/file/{path}` (the route's `*`), percent-decoded once, or undefined when its
 * encoding is malformed. Taken from the raw URL so that nothing on the way (the router collapses
 * `//`, for one) turns an absolute or escaping path into a harmless-looking one.
 */
export const filePathOf = (url: string): string | undefined => {
  const match = /^\/+api\/+workspace\/+file\/(.*)$/is.exec(url.split("?")[0] ?? "")
  if (match === null) return undefined
  try {
    return decodeURIComponent(match[1] ?? "")
  } catch {
    return undefined
  }
}

/** A workspace failure as the API error with its status. */
export const workspaceError = (what: string) => (e: WorkspaceFailure): ApiError =>
  e._tag === "WorkspaceIOError" || e._tag === "GitError"
    ? new InternalError({ error: `${what}: ${e.message}` })
    : apiError(what)(e satisfies KernelFailure)

class TooLarge extends Data.TaggedError("TooLarge")<{ readonly bytes: number }> {}

const tooLarge = (size: string, headers?: Record<string, string>) =>
  errorResponse(413, `file content is too large: ${size}, the limit is ${MAX_WORKSPACE_FILE_BYTES} bytes (1 MB)`, headers)

/** The body's bytes, counted as they arrive; fails with TooLarge past `max`. */
const readAtMost = <E>(body: Stream.Stream<Uint8Array, E>, max: number) =>
  Stream.runFoldEffect(body, { parts: [] as Array<Uint8Array>, size: 0 }, (acc, chunk) => {
    const size = acc.size + chunk.length
    if (size > max) return Effect.fail(new TooLarge({ bytes: size }))
    acc.parts.push(chunk)
    return Effect.succeed({ parts: acc.parts, size })
  }).pipe(Effect.map(({ parts, size }) => new Uint8Array(Buffer.concat(parts, size))))

const badPath = new BadRequest({ error: "the file path is not valid percent-encoding" })

export const WorkspaceLive = HttpApiBuilder.group(AnnalApi, "workspace", (handlers) =>
  Effect.gen(function*() {
    const workspace = yield* Workspace
    const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))
    return handlers
      .handle("tree", ({ urlParams }) =>
        Effect.flatMap(context, (ctx) => workspace.tree(urlParams.dir ?? "", ctx)).pipe(Effect.mapError(workspaceError("could not list the directory"))))
      .handleRaw("readFile", ({ request }) =>
        Effect.gen(function*() {
          const path = filePathOf(request.url)
          if (path === undefined) return yield* badPath
          const content = yield* workspace.read(path, yield* context).pipe(Effect.mapError(workspaceError("could not read the file")))
          return HttpServerResponse.uint8Array(content, { contentType: contentTypeOf(path) })
        }))
      .handleRaw("writeFile", ({ request }) =>
        Effect.gen(function*() {
          const path = filePathOf(request.url)
          if (path === undefined) return yield* badPath
          // A declared oversized body is refused before a byte of it is read.
          const declared = Number(request.headers["content-length"] ?? "0")
          if (Number.isFinite(declared) && declared > MAX_WORKSPACE_FILE_BYTES) return tooLarge(`${declared} bytes`)
          const content = yield* readAtMost(request.stream, MAX_WORKSPACE_FILE_BYTES).pipe(
            Effect.catchTag("RequestError", (e) => new BadRequest({ error: `could not read the request body: ${e.message}` }))
          )
          yield* workspace.write(path, content, yield* context).pipe(Effect.mapError(workspaceError("could not write the file")))
          return HttpServerResponse.empty({ status: 200 })
        }).pipe(
          // The rest of an undeclared oversized body is abandoned: close the connection after answering.
          Effect.catchTag("TooLarge", (e) => Effect.succeed(tooLarge(`at least ${e.bytes} bytes`, { connection: "close" })))
        ))
  }))
