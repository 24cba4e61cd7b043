/** Pure decisions of the approvals context; `now` is ms since the epoch. */
import type { ApprovalResolution, ApprovalStatus } from "@annal/spec"
import { Either } from "effect"
import { EntityNotFound } from "../shared/errors.js"
import type { ApprovalRequested, ApprovalResolved } from "./events.js"

/** What the gate asks a person to approve. */
export interface ApprovalInput {
  readonly subject: string
  readonly action: string
  readonly resource: string
  readonly reason: string
}

/** The part of an approval a resolution is decided on. */
export interface ApprovalState {
  readonly id: string
  readonly status: ApprovalStatus
  readonly expires_at: string
  /** The approval stream's version. */
  readonly version: number
}

/** A new pending approval that expires `timeoutSecs` after `now`. */
export const decideRequest = (id: string, input: ApprovalInput, timeoutSecs: number, now: number): ApprovalRequested => ({
  id,
  subject: input.subject,
  action: input.action,
  resource: input.resource,
  reason: input.reason,
  timeout_secs: timeoutSecs,
  expires_at: new Date(now + timeoutSecs * 1000).toISOString()
})

/**
 * Resolves a pending approval. Only a pending one can be resolved (EntityNotFound otherwise);
 * once its deadline has passed, a person's decision comes too late and it expires instead.
 */
export const decideResolve = (
  state: ApprovalState | undefined,
  id: string,
  resolution: ApprovalResolution,
  by: string,
  now: number
): Either.Either<ApprovalResolved, EntityNotFound> => {
  if (state === undefined) return Either.left(new EntityNotFound({ what: "approval", id }))
  if (state.status !== "pending") return Either.left(new EntityNotFound({ what: "pending approval", id }))
  if (resolution !== "expired" && now >= Date.parse(state.expires_at)) return Either.right({ id, resolution: "expired", by: "system" })
  return Either.right({ id, resolution, by })
}
