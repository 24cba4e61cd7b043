/** Seeds (seed section 6): list, read, and the evolution lineage. Seeds are created by the orchestrator, not the API. */
import { HttpApiBuilder } from "@effect/platform"
import { Seeds } from "@annal/kernel"
import { AnnalApi, pageRequest } from "@annal/spec"
import { Effect } from "effect"
import { apiError, asOf } from "./common.js"

export const SeedsLive = HttpApiBuilder.group(AnnalApi, "seeds", (handlers) =>
  Effect.gen(function*() {
    const seeds = yield* Seeds
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(seeds.list(pageRequest(urlParams)), apiError("could not list seeds"))))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(seeds.get(path.id), apiError("could not read the seed"))))
      .handle("evolution", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(seeds.evolution(path.id), apiError("could not read the seed's lineage"))))
  }))
