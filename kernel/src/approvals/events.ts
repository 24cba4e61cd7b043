import { ApprovalResolution } from "@annal/spec"
import { Schema } from "effect"

export const APPROVAL_REQUESTED = "approval_requested"
export const APPROVAL_RESOLVED = "approval_resolved"

/** Someone asks for a person's yes; without a decision it expires at `expires_at`. */
export const ApprovalRequested = Schema.Struct({
  id: Schema.String,
  subject: Schema.String,
  action: Schema.String,
  resource: Schema.String,
  reason: Schema.String,
  timeout_secs: Schema.Int.pipe(Schema.positive()),
  expires_at: Schema.String
})
export type ApprovalRequested = typeof ApprovalRequested.Type

/** A pending approval ended: approved or rejected by `by`, or expired (`by` is `system`). */
export const ApprovalResolved = Schema.Struct({
  id: Schema.String,
  resolution: ApprovalResolution,
  by: Schema.String
})
export type ApprovalResolved = typeof ApprovalResolved.Type

/** The stream of one approval: its request, then at most one resolution. */
export const approvalStream = (id: string) => `approval-${id}`
