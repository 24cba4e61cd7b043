/** Per-agent permissions (seed section 12). */
import { HttpApiBuilder } from "@effect/platform"
import { Permissions, PermissionsEvents } from "@annal/kernel"
import { AnnalApi } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const PermissionsLive = HttpApiBuilder.group(AnnalApi, "permissions", (handlers) =>
  Effect.gen(function*() {
    const permissions = yield* Permissions
    return handlers
      .handle("get", ({ path, urlParams }) =>
        asOf(urlParams)(permissions.get(path.agent).pipe(
          Effect.map((p) => ({ ...p, stream: PermissionsEvents.permissionsStream(path.agent) })),
          Effect.mapError(apiError("could not read permissions"))
        )))
      .handle("update", ({ path, payload }) =>
        Effect.gen(function*() {
          const meta = yield* requestMeta
          yield* permissions.update(path.agent, payload, { actor: API_ACTOR, meta })
          return { status: "updated" as const, agent: path.agent }
        }).pipe(Effect.mapError(apiError("could not change permissions"))))
  }))
