/** Personas (seed section 15): CRUD, and which persona is active. */
import { HttpApiBuilder } from "@effect/platform"
import { Personas } from "@annal/kernel"
import { AnnalApi } from "@annal/spec"
import { Effect, Option } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))

export const PersonasLive = HttpApiBuilder.group(AnnalApi, "personas", (handlers) =>
  Effect.gen(function*() {
    const personas = yield* Personas
    return handlers
      .handle("active", ({ urlParams }) =>
        asOf(urlParams)(personas.active.pipe(
          Effect.map(Option.match({
            onNone: () => ({ active: false as const, message: "No active persona set" }),
            onSome: (persona) => ({ ...persona, active: true as const })
          })),
          Effect.mapError(apiError("could not read the active persona"))
        )))
      .handle("setActive", ({ payload }) =>
        Effect.flatMap(context, (ctx) => personas.activate(payload.id, ctx)).pipe(
          Effect.map(({ id, name }) => ({ status: "active" as const, id, name })),
          Effect.mapError(apiError("could not activate the persona"))
        ))
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(personas.list, apiError("could not list personas"))))
      .handle("create", ({ payload }) =>
        Effect.flatMap(context, (ctx) => personas.create(payload, ctx)).pipe(
          Effect.map(({ id, name }) => ({ status: "created" as const, id, name })),
          Effect.mapError(apiError("could not create the persona"))
        ))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(personas.get(path.id), apiError("could not read the persona"))))
      .handle("update", ({ path, payload }) =>
        Effect.flatMap(context, (ctx) => personas.update(path.id, payload, ctx)).pipe(
          Effect.map((id) => ({ status: "updated" as const, id })),
          Effect.mapError(apiError("could not update the persona"))
        ))
      .handle("delete", ({ path }) =>
        Effect.flatMap(context, (ctx) => personas.delete(path.id, ctx)).pipe(Effect.mapError(apiError("could not delete the persona"))))
  }))
