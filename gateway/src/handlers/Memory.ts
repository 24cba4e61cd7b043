/** Memory (seed section 8): store, list, read, delete, keyword and semantic search. */
import { HttpApiBuilder } from "@effect/platform"
import { Memory } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const MemoryLive = HttpApiBuilder.group(AnnalApi, "memory", (handlers) =>
  Effect.gen(function*() {
    const memory = yield* Memory
    const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(memory.list(pageRequest(urlParams)).pipe(Effect.mapError(apiError("could not list memories")))))
      .handle("create", ({ payload }) =>
        Effect.flatMap(context, (ctx) => memory.store(payload, ctx)).pipe(
          Effect.map(({ id }) => ({ id, status: "created" as const })),
          Effect.mapError(apiError("could not store the memory"))
        ))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(memory.get(path.name).pipe(Effect.mapError(apiError("could not read the memory")))))
      .handle("delete", ({ path }) =>
        Effect.flatMap(context, (ctx) => memory.remove(path.name, ctx)).pipe(
          Effect.as({ name: path.name, status: "deleted" as const }),
          Effect.mapError(apiError("could not delete the memory"))
        ))
      .handle("search", ({ payload, urlParams }) =>
        asOf(urlParams)(Effect.flatMap(context, (ctx) => memory.search(payload, ctx)).pipe(Effect.mapError(apiError("could not search memories")))))
      .handle("semantic", ({ payload, urlParams }) =>
        asOf(urlParams)(Effect.flatMap(context, (ctx) => memory.semantic(payload, ctx)).pipe(Effect.mapError(apiError("could not search memories")))))
  }))
