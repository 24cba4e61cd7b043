/** Skills (seed section 7): list, read, create, delete; each skill is also a file under `<data-dir>/skills/`. */
import { HttpApiBuilder } from "@effect/platform"
import { Skills } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const SkillsLive = HttpApiBuilder.group(AnnalApi, "skills", (handlers) =>
  Effect.gen(function*() {
    const skills = yield* Skills
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(skills.list(pageRequest(urlParams)), apiError("could not list skills"))))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(skills.get(path.name), apiError("could not read the skill"))))
      .handle("create", ({ payload }) =>
        Effect.gen(function*() {
          const name = yield* skills.create(payload, { actor: API_ACTOR, meta: yield* requestMeta })
          return { status: "created" as const, name }
        }).pipe(Effect.mapError(apiError("could not create the skill"))))
      .handle("delete", ({ path }) =>
        Effect.gen(function*() {
          const name = yield* skills.delete(path.name, { actor: API_ACTOR, meta: yield* requestMeta })
          return { status: "deleted" as const, name }
        }).pipe(Effect.mapError(apiError("could not delete the skill"))))
  }))
