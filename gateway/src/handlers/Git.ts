/** The workspace's git history (seed section 16): log (of one file too), tags, verify, a file at a commit, restore. */
import { HttpApiBuilder, HttpServerResponse } from "@effect/platform"
import { GitRepository, Workspace, WorkspacePath } from "@annal/kernel"
import { AnnalApi, GIT_LOG_LIMIT } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, internal, requestMeta } from "./common.js"
import { contentTypeOf, workspaceError } from "./Workspace.js"

/** A workspace path as git names it (`a/b.md`), refused like the workspace's own routes refuse it. */
const gitPathOf = (path: string) => Effect.map(WorkspacePath.parse(path), (segments) => segments.join("/"))

export const GitLive = HttpApiBuilder.group(AnnalApi, "git", (handlers) =>
  Effect.gen(function*() {
    const repo = yield* GitRepository
    const workspace = yield* Workspace
    return handlers
      .handle("log", ({ urlParams }) =>
        Effect.gen(function*() {
          const path = urlParams.path === undefined ? undefined : yield* Effect.mapError(gitPathOf(urlParams.path), workspaceError("could not read the git log"))
          const entries = yield* Effect.mapError(repo.log(GIT_LOG_LIMIT, path), internal("could not read the git log"))
          return { entries }
        }))
      .handleRaw("show", ({ urlParams }) =>
        Effect.gen(function*() {
          const path = yield* gitPathOf(urlParams.path)
          const content = yield* repo.readFileAt(yield* repo.resolveCommit(urlParams.hash), path)
          return HttpServerResponse.uint8Array(content, { contentType: contentTypeOf(path) })
        }).pipe(Effect.mapError(workspaceError("could not read the file at that commit"))))
      .handle("tags", () =>
        repo.tags.pipe(
          Effect.map((tags) => ({ tags })),
          Effect.mapError(internal("could not list the git tags"))
        ))
      .handle("verify", () => repo.verify)
      .handle("restore", ({ payload }) =>
        Effect.gen(function*() {
          const meta = yield* requestMeta
          return yield* workspace.restore(payload.hash, payload.path, { actor: API_ACTOR, meta })
        }).pipe(Effect.mapError(workspaceError("could not restore the file"))))
  }))
