/**
 * The composition root: the kernel over its SQLite log, the HTTP API with its conventions
 * (auth, rate limit, body limit, `{"error"}` bodies, metrics), `/openapi.json` and `/docs`, and the web
 * UI at `/`.
 */
import { HttpApiBuilder, HttpRouter, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Audit, Configuration, TransparencyLog, type TransparencyOptions, dataPaths, Kernel, type LanguageModel, ModelSettings } from "@annal/kernel"
import { AnnalApi, MAX_CLIENT_FRAME_BYTES } from "@annal/spec"
import type { EventStoreSqlite } from "@annal/store"
import { ProgramHost } from "@annal/programs"
import { Effect, Layer } from "effect"
import { mkdirSync } from "node:fs"
import { createServer } from "node:http"
import { AgentsLive } from "./handlers/Agents.js"
import { ApprovalsLive } from "./handlers/Approvals.js"
import { AuditLive } from "./handlers/Audit.js"
import { ChatLive } from "./handlers/Chat.js"
import { BudgetsLive } from "./handlers/Budgets.js"
import { CronLive } from "./handlers/Cron.js"
import { EventsLive } from "./handlers/Events.js"
import { GitLive } from "./handlers/Git.js"
import { HealthLive } from "./handlers/Health.js"
import { LogLive } from "./handlers/Log.js"
import { MemoryLive } from "./handlers/Memory.js"
import { PermissionsLive } from "./handlers/Permissions.js"
import { SchedulerLive } from "./handlers/Scheduler.js"
import { SystemLive } from "./handlers/System.js"
import { WorkspaceLive } from "./handlers/Workspace.js"
import { AgentGroupsLive } from "./handlers/AgentGroups.js"
import { PersonasLive } from "./handlers/Personas.js"
import { SeedsLive } from "./handlers/Seeds.js"
import { SessionsLive } from "./handlers/Sessions.js"
import { LocalInstallSecret, ProgramsLive, ProgramsLocalLive } from "./handlers/Programs.js"
import { SkillsLive } from "./handlers/Skills.js"
import { AuthLive } from "./handlers/Auth.js"
import * as ApiDocs from "./http/ApiDocs.js"
import { ApiTokens } from "./http/ApiTokens.js"
import { BrowserSessions } from "./http/BrowserSessions.js"
import { AuthorizationLive } from "./http/Auth.js"
import { LimitedIncomingMessage } from "./http/BodyLimit.js"
import { errorMiddleware } from "./http/Errors.js"
import { makeGuard } from "./http/Guard.js"
import { Metrics } from "./http/Metrics.js"
import { RateLimiter } from "./http/RateLimiter.js"
import * as SlowClients from "./http/SlowClients.js"
import * as Broadcaster from "./sse/Broadcaster.js"
import { limitWebSocketMessages } from "./http/WebSocketLimits.js"
import * as WebUi from "./http/WebUi.js"

export interface ServerOptions {
  readonly dataDir: string
  /** Overrides the configured `server.host`. */
  readonly host?: string | undefined
  /** Overrides the configured `server.port`; 0 picks a free port. */
  readonly port?: number | undefined
  /** `ANNAL_API_KEY`. */
  readonly apiKey?: string | undefined
  readonly synchronous?: EventStoreSqlite.Synchronous | undefined
  /** `--model PATH`: a local GGUF model (wins over the environment and the configuration). */
  readonly modelPath?: string | undefined
  /** The secret `annal programs install` presents (kept in the data directory's lock); none: the route refuses. */
  readonly localInstallSecret?: string | undefined
  /** The environment the model settings (`ANNAL_MODEL_PATH`, `ANNAL_LLM_*`) and HTTP timeouts (`ANNAL_HTTP_*_TIMEOUT_MS`) are read from; default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
  /** The built web UI served at `/` (default: `ANNAL_WEB_DIR`, else `gateway/web/dist`). */
  readonly webRoot?: string | undefined
  /** The log's checkpoints: `--checkpoint-dir`, `--signing-key`, `--accept-log-rollback`. */
  readonly log?: TransparencyOptions | undefined
}

/** The longest path parameter the router matches (node takes request lines up to its 16 KB header limit). */
const MAX_PATH_PARAMETER_LENGTH = 16 * 1024

/** The data directory's layout (the kernel's). */
export { dataPaths }

/** The kernel on a data directory (created if missing), with the model its agents use (default none). */
export const kernelLayer = (
  dataDir: string,
  synchronous?: EventStoreSqlite.Synchronous,
  languageModel?: Layer.Layer<LanguageModel, never, Configuration>,
  log?: TransparencyOptions
) => {
  const paths = dataPaths(dataDir)
  mkdirSync(paths.root, { recursive: true, mode: 0o700 })
  return Kernel.layer({ store: { filename: paths.database, synchronous }, dataDir: paths.root, languageModel, log })
}

/**
 * Reports the start-up check, which blocked the start: the log was checked against its last
 * signed checkpoint and its chain verified from there (a refused log never gets this far). The
 * chain behind the checkpoint is not walked again at start — that walk grows with the log, and
 * the checkpoint's signed root already covers it against a cut, a rollback or a rewrite; an edit
 * behind the checkpoint whose hash was left as it was is found by the full walk, `annal audit
 * verify` or `GET /api/audit/verify` (docs/event-log.md, "The check at start"). `/api/status`
 * shows the check's result and the seq its walk began at until a full walk replaces it.
 */
const verifyOnStart = Layer.effectDiscard(
  Effect.gen(function*() {
    const audit = yield* Audit
    const { startCheck } = yield* TransparencyLog
    const from = startCheck.checkpoints.length === 0 ? "no checkpoint yet" : `checkpoint at tree size ${Math.max(...startCheck.checkpoints.map((c) => c.size))}`
    if (!startCheck.ok) {
      const broken = startCheck.chainBreak
      yield* audit.recordVerification({
        result: broken === undefined ? { valid: false, entry_count: startCheck.head.seq, reason: startCheck.problems.join("; ") } : { valid: false, entry_count: startCheck.head.seq, ...broken },
        fromSeq: startCheck.verifiedFrom
      })
      return yield* Effect.logError(`EVENT LOG ACCEPTED DESPITE: ${startCheck.problems.join("; ")}`)
    }
    yield* audit.recordVerification({ result: { valid: true, entry_count: startCheck.head.seq }, fromSeq: startCheck.verifiedFrom })
    yield* Effect.logInfo(`event log checked: ${startCheck.head.seq} events, consistent with ${from}; chain verified from seq ${startCheck.verifiedFrom} (${startCheck.verifiedEvents} events)`)
  })
)

/** The whole server: HTTP on host:port over the kernel. Exposes the HttpServer and ApiTokens. */
export const layer = (options: ServerOptions) => {
  limitWebSocketMessages(MAX_CLIENT_FRAME_BYTES)
  // The language model is chosen once at start: flag, then environment, then configuration.
  // The kernel's agents (supervisor, scheduler runner) use it, so the kernel builds it.
  const model = Layer.unwrapEffect(
    Effect.map(Configuration, (config) =>
      Layer.unwrapEffect(
        Effect.map(config.current, (c) =>
          ModelSettings.layer(ModelSettings.resolveModel({ modelPath: options.modelPath, env: options.env ?? process.env, config: c.llm }))
        )
      ))
  )
  const kernel = kernelLayer(options.dataDir, options.synchronous, model, options.log)
  const services = Layer.mergeAll(
    RateLimiter.layer,
    Metrics.layer,
    BrowserSessions.layer(dataPaths(options.dataDir).root).pipe(
      Layer.provideMerge(ApiTokens.layer({ dataDir: dataPaths(options.dataDir).root, envKey: options.apiKey }))
    ),
    ProgramHost.layer,
    Layer.succeed(LocalInstallSecret, options.localInstallSecret)
  ).pipe(Layer.provideMerge(Broadcaster.layer), Layer.provideMerge(kernel))
  const api = HttpApiBuilder.api(AnnalApi).pipe(
    Layer.provide([AuthLive, AgentsLive, HealthLive, LogLive, SystemLive, AuditLive, EventsLive, PermissionsLive, BudgetsLive, ApprovalsLive, WorkspaceLive, GitLive, SeedsLive, SkillsLive, PersonasLive, SessionsLive, AgentGroupsLive, SchedulerLive, CronLive, MemoryLive, ChatLive, ProgramsLive, ProgramsLocalLive]),
    Layer.provide(AuthorizationLive)
  )
  const http = Layer.unwrapEffect(Effect.map(makeGuard, (guard) => HttpApiBuilder.serve(guard))).pipe(
    Layer.provide(ApiDocs.swaggerLayer("/docs")),
    Layer.provide(WebUi.layer(options.webRoot ?? WebUi.defaultWebRoot(options.env))),
    Layer.provide(ApiDocs.openApiLayer("/openapi.json")),
    Layer.provide(errorMiddleware),
    Layer.provide(api),
    Layer.provideMerge(
      // flags and environment win over the configuration in the log
      Layer.unwrapEffect(
        Effect.gen(function*() {
          const { server } = yield* (yield* Configuration).current
          const timeouts = SlowClients.serverOptions(SlowClients.httpTimeouts(options.env ?? process.env))
          const nodeServer = () =>
            SlowClients.answerClientErrors(createServer({ keepAliveTimeout: 65_000, IncomingMessage: LimitedIncomingMessage, ...timeouts }))
          return NodeHttpServer.layer(nodeServer, { port: options.port ?? server.port, host: options.host ?? server.host })
        })
      )
    )
  )
  // Annal exports no traces: without a tracer every request and SQL statement skips its spans.
  // The router takes path parameters of any length a request line can carry (its default, 100
  // characters, made a long name an unknown route — then a 405 — before a handler could say 400 or 404).
  return Layer.mergeAll(http, verifyOnStart).pipe(
    Layer.provideMerge(services),
    Layer.provide(Layer.setTracerEnabled(false)),
    Layer.provide(HttpRouter.setRouterConfig({ maxParamLength: MAX_PATH_PARAMETER_LENGTH }))
  )
}

/** The address the server listens on, as a URL. */
export const serverUrl = Effect.map(HttpServer.HttpServer, (server) =>
  server.address._tag === "TcpAddress"
    ? `http://${server.address.hostname.includes(":") ? `[${server.address.hostname}]` : server.address.hostname}:${server.address.port}`
    : `unix:${server.address.path}`)
