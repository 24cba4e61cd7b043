/**
 * Human-in-the-loop approvals (seed section 20): an action the gate will not take without a
 * person's yes. A pending approval is approved, rejected, or expires after
 * `approvals.timeout_secs`.
 */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import { IntegerParam } from "./IntegerParam.js"
import { Authorization } from "./Auth.js"
import { BadRequest, NotFound } from "./Errors.js"
import { atSeqField } from "./AtSeq.js"
import { StreamName } from "./StreamName.js"

export const ApprovalStatus = Schema.Literal("pending", "approved", "rejected", "expired")
export type ApprovalStatus = typeof ApprovalStatus.Type

/** How a pending approval ended. */
export const ApprovalResolution = Schema.Literal("approved", "rejected", "expired")
export type ApprovalResolution = typeof ApprovalResolution.Type

export const Approval = Schema.Struct({
  id: Schema.String,
  /** Who asks, e.g. `agent:builder-agent`. */
  subject: Schema.String,
  /** e.g. `use_tool:exec`, `access_path:{path}`. */
  action: Schema.String,
  resource: Schema.String,
  reason: Schema.String,
  created_at: Schema.String,
  status: ApprovalStatus,
  /** When a pending approval expires. */
  expires_at: Schema.String,
  resolved_at: Schema.NullOr(Schema.String),
  /** Who decided (`user:api`, …), or `system` for an expiry. */
  resolved_by: Schema.NullOr(Schema.String),
  stream: StreamName
})
export type Approval = typeof Approval.Type

export const ApprovalsQuery = Schema.Struct({
  status: Schema.optional(ApprovalStatus),
  limit: Schema.optional(IntegerParam(1, 100_000)),
  ...atSeqField
})
export type ApprovalsQuery = typeof ApprovalsQuery.Type

const IdPath = Schema.Struct({ id: Schema.UUID })

export class ApprovalsGroup extends HttpApiGroup.make("approvals")
  .add(
    HttpApiEndpoint.get("list", "/api/approvals")
      .setUrlParams(ApprovalsQuery)
      .addSuccess(Schema.Array(Approval))
      .annotate(OpenApi.Description, "Pending approvals and history, newest first; `?status=` filters, `?limit=` caps.")
  )
  .add(
    HttpApiEndpoint.post("approve", "/api/approvals/:id/approve")
      .setPath(IdPath)
      .addSuccess(Schema.Struct({ status: Schema.Literal("approved"), id: Schema.String }))
      .addError(BadRequest)
      .addError(NotFound)
      .annotate(OpenApi.Description, "404 when unknown or no longer pending.")
  )
  .add(
    HttpApiEndpoint.post("reject", "/api/approvals/:id/reject")
      .setPath(IdPath)
      .addSuccess(Schema.Struct({ status: Schema.Literal("rejected"), id: Schema.String }))
      .addError(BadRequest)
      .addError(NotFound)
      .annotate(OpenApi.Description, "404 when unknown or no longer pending.")
  )
  .middleware(Authorization)
{}
