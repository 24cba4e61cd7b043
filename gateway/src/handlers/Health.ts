import { HttpApiBuilder } from "@effect/platform"
import { AnnalApi, VERSION } from "@annal/spec"
import { Effect } from "effect"

const health = { status: "ok", version: VERSION } as const

export const HealthLive = HttpApiBuilder.group(AnnalApi, "health", (handlers) => handlers.handle("health", () => Effect.succeed(health)))
