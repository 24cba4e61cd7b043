/** Agents (seed section 4): the list from the agents view, and kill through the supervisor. */
import { HttpApiBuilder } from "@effect/platform"
import { Agents, Supervisor } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { Effect } from "effect"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

export const AgentsLive = HttpApiBuilder.group(AnnalApi, "agents", (handlers) =>
  Effect.gen(function*() {
    const agents = yield* Agents
    const supervisor = yield* Supervisor
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(agents.list(pageRequest(urlParams)), apiError("could not list agents"))))
      .handle("kill", ({ path }) =>
        Effect.gen(function*() {
          yield* supervisor.kill(path.id, { actor: API_ACTOR, meta: yield* requestMeta })
        }).pipe(Effect.mapError(apiError("could not kill the agent"))))
  }))
