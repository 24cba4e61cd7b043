/** The workspace's git history (seed section 16): log, tags, verify, restore. */
import { HttpApiBuilder } from "@effect/platform"
import { GitRepository, Workspace } from "@annal/kernel"
import { AnnalApi, GIT_LOG_LIMIT } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, internal, requestMeta } from "./common.js"
import { workspaceError } from "./Workspace.js"

export const GitLive = HttpApiBuilder.group(AnnalApi, "git", (handlers) =>
  Effect.gen(function*() {
    const repo = yield* GitRepository
    const workspace = yield* Workspace
    return handlers
      .handle("log", () =>
        repo.log(GIT_LOG_LIMIT).pipe(
          Effect.map((entries) => ({ entries })),
          Effect.mapError(internal("could not read the git log"))
        ))
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
