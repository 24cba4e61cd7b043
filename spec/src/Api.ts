/**
 * The HTTP contract of Annal: the Oxios Agent OS REST API, endpoint for endpoint. The gateway
 * implements it; `/openapi.json` and `/docs` are generated from it.
 */
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import { Schema } from "effect"
import {
  AccessDecision,
  AgentAuditEntries,
  AuditEntries,
  AuditEntriesQuery,
  AuditExport,
  AuditExportRequest,
  AuditFlush,
  AuditVerify
} from "./Audit.js"
import { AgentsGroup } from "./Agents.js"
import { ApprovalsGroup } from "./Approvals.js"
import { AuthGroup, Authorization } from "./Auth.js"
import { BudgetGroup } from "./Budgets.js"
import { ConfigDocument, ConfigPatch } from "./Config.js"
import { ChatGroup } from "./Chat.js"
import { describeWire } from "./DocumentTransform.js"
import {
  BadRequest,
  Conflict,
  Forbidden,
  GatewayTimeout,
  InternalError,
  NotFound,
  PayloadTooLarge,
  PaymentRequired,
  RequestTimeout,
  ServiceUnavailable,
  TooManyRequests,
  UnsupportedMediaType
} from "./Errors.js"
import { GitGroup } from "./Git.js"
import { LogGroup } from "./Log.js"
import { MemoryGroup } from "./Memory.js"
import { Page, PageQuery } from "./Pagination.js"
import { PermissionsGroup } from "./Permissions.js"
import { ProgramsGroup, ProgramsLocalGroup } from "./Programs.js"
import { Health, HostToolsStatus, OverloadStatus, ResourceHistory, ResourceHistoryQuery, ResourceSnapshot, Status } from "./System.js"
import { WorkspaceGroup } from "./Workspace.js"
import { AgentGroupsGroup } from "./AgentGroups.js"
import { PersonasGroup } from "./Personas.js"
import { SeedsGroup } from "./Seeds.js"
import { SessionsGroup } from "./Sessions.js"
import { SkillsGroup } from "./Skills.js"
import { CronGroup } from "./Cron.js"
import { SchedulerGroup } from "./Scheduler.js"
import { AtSeqQuery } from "./AtSeq.js"

export const VERSION = "0.1.0"

/** The document's promises about every route (`info.description`). */
const API_DESCRIPTION = [
  "Every error is a JSON body `{\"error\": \"...\"}` with its status, for every route and status, including those declared for every route " +
    "(400 an unreadable parameter or body, 408 headers or body too slow, 413 a body over the limit, 415 a body that is not JSON where JSON is expected, " +
    "429 the rate limit, 500, 503).",
  "A path no route has is 404; a path that exists with a method it does not have is 405 with an `Allow` header listing its methods.",
  "Query parameters declared as integers carry their bounds; a value that is not an integer within them is 400.",
  "JSON request bodies ignore fields they do not know; the fields they know are validated (400 naming the field)."
].join("\n\n")

const text = (contentType: string) => Schema.String.pipe(HttpApiSchema.withEncoding({ kind: "Text", contentType }))

export class HealthGroup extends HttpApiGroup.make("health")
  .add(HttpApiEndpoint.get("health", "/health").addSuccess(Health))
  .annotate(OpenApi.Description, "Liveness; needs no token.")
{}

export class SystemGroup extends HttpApiGroup.make("system")
  .add(HttpApiEndpoint.get("status", "/api/status").addSuccess(Status))
  .add(HttpApiEndpoint.get("getConfig", "/api/config").setUrlParams(AtSeqQuery).addSuccess(ConfigDocument))
  .add(
    HttpApiEndpoint.put("putConfig", "/api/config")
      .setPayload(ConfigPatch)
      .addSuccess(ConfigDocument)
      .addError(BadRequest)
      .addError(Conflict)
  )
  .add(HttpApiEndpoint.get("resources", "/api/resources").addSuccess(ResourceSnapshot))
  .add(HttpApiEndpoint.get("resourceHistory", "/api/resources/history").setUrlParams(ResourceHistoryQuery).addSuccess(ResourceHistory))
  .add(HttpApiEndpoint.get("overload", "/api/resources/overload").addSuccess(OverloadStatus))
  .add(HttpApiEndpoint.get("hostTools", "/api/host-tools").addSuccess(HostToolsStatus))
  .add(
    HttpApiEndpoint.get("metrics", "/api/metrics")
      .addSuccess(text("text/plain; version=0.0.4; charset=utf-8"))
      .annotate(OpenApi.Description, "Prometheus text exposition format.")
  )
  .middleware(Authorization)
{}

export class AuditGroup extends HttpApiGroup.make("audit")
  .add(HttpApiEndpoint.get("entries", "/api/audit/entries").setUrlParams(AuditEntriesQuery).addSuccess(AuditEntries))
  .add(HttpApiEndpoint.get("verify", "/api/audit/verify").addSuccess(AuditVerify))
  .add(
    HttpApiEndpoint.get("byAgent", "/api/audit/agent/:agent_id")
      .setPath(Schema.Struct({ agent_id: Schema.String }))
      .addSuccess(AgentAuditEntries)
  )
  .add(HttpApiEndpoint.post("export", "/api/audit/export").setPayload(Schema.NullOr(AuditExportRequest)).addSuccess(AuditExport))
  .add(HttpApiEndpoint.post("flush", "/api/audit/flush").addSuccess(AuditFlush))
  .add(HttpApiEndpoint.get("legacy", "/api/audit").setUrlParams(PageQuery).addSuccess(Page(AccessDecision)))
  .middleware(Authorization)
{}

export class EventsGroup extends HttpApiGroup.make("events")
  .add(
    HttpApiEndpoint.get("events", "/api/events")
      .setUrlParams(Schema.Struct({ types: Schema.optional(Schema.String), token: Schema.optional(Schema.String) }))
      .addSuccess(text("text/event-stream"))
      .annotate(
        OpenApi.Description,
        "Server-Sent Events: `id: <seq>` and `data: <json>` lines, a comment ping every 30 s, `Last-Event-ID` resume, `?types=a,b` filter."
      )
  )
  .middleware(Authorization)
{}

export class AnnalApi extends HttpApi.make("annal")
  .add(HealthGroup)
  .add(AuthGroup)
  .add(SystemGroup)
  .add(AuditGroup)
  .add(EventsGroup)
  .add(LogGroup)
  .add(PermissionsGroup)
  .add(BudgetGroup)
  .add(ApprovalsGroup)
  .add(WorkspaceGroup)
  .add(GitGroup)
  .add(SeedsGroup)
  .add(SkillsGroup)
  .add(PersonasGroup)
  .add(SessionsGroup)
  .add(AgentGroupsGroup)
  .add(AgentsGroup)
  .add(SchedulerGroup)
  .add(CronGroup)
  .add(MemoryGroup)
  .add(ChatGroup)
  .add(ProgramsGroup)
  .add(ProgramsLocalGroup)
  .addError(BadRequest)
  .addError(PaymentRequired)
  .addError(Forbidden)
  .addError(NotFound)
  .addError(RequestTimeout)
  .addError(Conflict)
  .addError(PayloadTooLarge)
  .addError(UnsupportedMediaType)
  .addError(TooManyRequests)
  .addError(InternalError)
  .addError(ServiceUnavailable)
  .addError(GatewayTimeout)
  .annotate(OpenApi.Title, "Annal API (Oxios Agent OS compatible)")
  .annotate(OpenApi.Version, VERSION)
  .annotate(OpenApi.Description, API_DESCRIPTION)
  .annotate(OpenApi.Transform, describeWire)
{}
