/** Agent groups (seed section 19): list and read. The supervisor creates groups and reports their members. */
import { HttpApiBuilder } from "@effect/platform"
import { AgentGroups } from "@annal/kernel"
import { AnnalApi } from "@annal/spec"
import { Effect } from "effect"
import { apiError, asOf } from "./common.js"

export const AgentGroupsLive = HttpApiBuilder.group(AnnalApi, "agentGroups", (handlers) =>
  Effect.gen(function*() {
    const groups = yield* AgentGroups
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(groups.list, apiError("could not list agent groups"))))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(groups.get(path.id), apiError("could not read the agent group"))))
  }))
