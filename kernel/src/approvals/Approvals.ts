/**
 * The approvals service: the gate asks (`request`) and may wait for the decision; a person
 * approves or rejects; an expiry fiber per pending approval resolves it as `expired` at its
 * deadline. Pending approvals live in the log, so on start the timers are re-armed from the
 * view (ones already past their deadline expire at once) and they can still be decided.
 */
import type { Approval, ApprovalResolution, ApprovalsQuery } from "@annal/spec"
import { EventStore, type EventStoreError, IdGenerator } from "@annal/store"
import type { SqlClient } from "@effect/sql"
import { Clock, Context, Deferred, Duration, Effect, Either, FiberMap, Layer, Schema } from "effect"
import { Configuration } from "../config/Configuration.js"
import { type CommandContext, query } from "../shared/Command.js"
import { commandHandler, eventOf } from "../shared/CommandHandler.js"
import { type ConcurrentChange, EntityNotFound, type InvalidCommand } from "../shared/errors.js"
import { readData } from "../shared/EventData.js"
import { type ApprovalInput, decideRequest, decideResolve } from "./decide.js"
import { APPROVAL_REQUESTED, APPROVAL_RESOLVED, ApprovalRequested, ApprovalResolved, approvalStream } from "./events.js"
import { ApprovalRow } from "./projection.js"

/** What `request` asks; `timeoutSecs` overrides the configured `approvals.timeout_secs`. */
export interface ApprovalRequestInput extends ApprovalInput {
  readonly timeoutSecs?: number | undefined
}

/** A pending approval: its id, its deadline, and an Effect that completes with the decision. */
export interface PendingApproval {
  readonly id: string
  readonly expires_at: string
  readonly decision: Effect.Effect<ApprovalResolution>
}

const Deadline = ApprovalRow.pipe(Schema.pick("id", "expires_at"))

const toApproval = ({ seq: _seq, version: _version, ...row }: typeof ApprovalRow.Type): Approval => ({ ...row, stream: approvalStream(row.id) })

/** A decision's other failures: an idempotency key used for another request, or a change that kept conflicting. */
type Decision = InvalidCommand | ConcurrentChange

/** The actor of expiries. */
const SYSTEM: CommandContext = { actor: "system" }

export class Approvals extends Context.Tag("@annal/kernel/Approvals")<
  Approvals,
  {
    /** Records a pending approval and arms its expiry; `decision` completes when it is resolved. */
    readonly request: (input: ApprovalRequestInput, context: CommandContext) => Effect.Effect<PendingApproval, ConcurrentChange | InvalidCommand | EventStoreError>
    /** Waits for the decision on an approval (at once when it is decided already). */
    readonly await: (id: string) => Effect.Effect<ApprovalResolution, EntityNotFound | EventStoreError>
    /** Approves a pending approval; EntityNotFound when unknown, no longer pending, or past its deadline. */
    readonly approve: (id: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | Decision | EventStoreError>
    /** Rejects a pending approval; EntityNotFound when unknown or no longer pending. */
    readonly reject: (id: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | Decision | EventStoreError>
    readonly get: (id: string) => Effect.Effect<Approval, EntityNotFound | EventStoreError>
    /** Approvals newest first, optionally of one status and at most `limit`. */
    readonly list: (query: ApprovalsQuery) => Effect.Effect<ReadonlyArray<Approval>, EventStoreError>
  }
>() {
  static readonly layer = Layer.scoped(
    Approvals,
    Effect.gen(function*() {
      const ids = yield* IdGenerator
      const services = yield* Effect.context<SqlClient.SqlClient | EventStore>()
      const config = yield* Configuration
      const timers = yield* FiberMap.make<string>()
      /** The decision each pending approval's waiters wait on. */
      const waiting = new Map<string, Deferred.Deferred<ApprovalResolution>>()

      const read = (id: string) =>
        query("approvals", ApprovalRow, (sql) => sql`SELECT * FROM approvals WHERE id = ${id}`).pipe(
          Effect.map((rows) => rows[0]),
          Effect.provide(services)
        )

      const deferredOf = (id: string) =>
        Effect.gen(function*() {
          const existing = waiting.get(id)
          if (existing !== undefined) return existing
          const made = yield* Deferred.make<ApprovalResolution>()
          waiting.set(id, made)
          return made
        })

      /** Tells the waiters; the view holds the decision from now on. */
      const settle = (id: string, resolution: ApprovalResolution) =>
        Effect.suspend(() => {
          const deferred = waiting.get(id)
          waiting.delete(id)
          return deferred === undefined ? Effect.void : Deferred.succeed(deferred, resolution)
        })

      const handle = commandHandler(Context.get(services, EventStore))

      const resolution = handle({
        stream: (command: { readonly id: string; readonly resolution: ApprovalResolution; readonly by: string }) => approvalStream(command.id),
        load: (command) => Effect.zip(read(command.id), Clock.currentTimeMillis),
        decide: (command, [state, now]) =>
          Either.map(decideResolve(state, command.id, command.resolution, command.by, now), (data) => [{ type: APPROVAL_RESOLVED, data }]),
        emits: [APPROVAL_RESOLVED],
        // a repeated idempotency key answers with the resolution it recorded the first time
        answer: (events) => Effect.map(readData(ApprovalResolved, eventOf(events, APPROVAL_RESOLVED)!), (e) => e.resolution)
      })

      /** Appends the resolution decided now; the one that ends up recorded is returned. */
      const resolve = (id: string, wanted: ApprovalResolution, context: CommandContext) =>
        resolution({ id, resolution: wanted, by: context.actor }, context).pipe(
          // resolved by someone else first (another process): tell our waiters what it became
          Effect.tapError(() =>
            Effect.flatMap(read(id), (latest) =>
              latest !== undefined && latest.status !== "pending" ? settle(id, latest.status as ApprovalResolution) : Effect.void)
          ),
          Effect.tap((recorded) => settle(id, recorded))
        )

      /** Sleeps until the deadline, then expires the approval unless a person decided first. */
      const arm = (id: string, expiresAt: string) =>
        Effect.gen(function*() {
          yield* deferredOf(id)
          const expire = Effect.gen(function*() {
            const now = yield* Clock.currentTimeMillis
            yield* Effect.sleep(Duration.millis(Math.max(0, Date.parse(expiresAt) - now)))
            yield* resolve(id, "expired", SYSTEM)
          }).pipe(
            Effect.catchTag("EntityNotFound", () => Effect.void),
            Effect.catchAll((e) => Effect.logError(`could not expire approval ${id}`, e))
          )
          yield* FiberMap.run(timers, id, expire, { onlyIfMissing: true })
        })

      const decideBy = (wanted: "approved" | "rejected") => (id: string, context: CommandContext) =>
        Effect.gen(function*() {
          const recorded = yield* resolve(id, wanted, context)
          yield* FiberMap.remove(timers, id)
          // a decision after the deadline expired it instead
          if (recorded !== wanted) return yield* new EntityNotFound({ what: "pending approval", id })
        })

      const requested = handle({
        stream: (command: { readonly id: string; readonly input: ApprovalRequestInput; readonly timeout: number; readonly now: number }) =>
          approvalStream(command.id),
        load: () => Effect.void,
        decide: (command) =>
          Either.right([{ type: APPROVAL_REQUESTED, data: decideRequest(command.id, command.input, command.timeout, command.now) }]),
        emits: [APPROVAL_REQUESTED],
        // a repeated idempotency key answers with the approval it created the first time
        answer: (events) => readData(ApprovalRequested, eventOf(events, APPROVAL_REQUESTED)!)
      })

      const request = (input: ApprovalRequestInput, context: CommandContext) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          // a whole number of seconds, at least one, like the configured timeout
          const timeout = Math.max(1, Math.round(input.timeoutSecs ?? (yield* config.current).approvals.timeout_secs))
          const recorded = yield* requested({ id: yield* ids.next, input, timeout, now }, context)
          const deferred = yield* deferredOf(recorded.id)
          const row = yield* read(recorded.id)
          if (row !== undefined && row.status !== "pending") yield* settle(recorded.id, row.status as ApprovalResolution)
          else yield* arm(recorded.id, recorded.expires_at)
          return { id: recorded.id, expires_at: recorded.expires_at, decision: Deferred.await(deferred) }
        })

      const awaitDecision = (id: string) =>
        Effect.gen(function*() {
          const known = waiting.get(id)
          if (known !== undefined) return yield* Deferred.await(known)
          const row = yield* read(id)
          if (row === undefined) return yield* new EntityNotFound({ what: "approval", id })
          if (row.status !== "pending") return row.status as ApprovalResolution
          // pending but not armed here (appended by another process): watch it from now on
          const deferred = yield* deferredOf(id)
          yield* arm(id, row.expires_at)
          return yield* Deferred.await(deferred)
        })

      // re-arm every pending approval that survived a restart
      const pending = yield* query("approvals", Deadline, (sql) => sql`
        SELECT id, expires_at FROM approvals WHERE status = 'pending' ORDER BY seq`).pipe(Effect.provide(services))
      for (const p of pending) yield* arm(p.id, p.expires_at)

      return Approvals.of({
        request,
        await: awaitDecision,
        approve: decideBy("approved"),
        reject: decideBy("rejected"),
        get: (id) =>
          Effect.flatMap(read(id), (row) =>
            row === undefined ? Effect.fail(new EntityNotFound({ what: "approval", id })) : Effect.succeed(toApproval(row))),
        list: (q) =>
          query("approvals", ApprovalRow, (sql) => sql`
            SELECT * FROM approvals WHERE (${q.status ?? null} IS NULL OR status = ${q.status ?? null})
            ORDER BY seq DESC LIMIT ${q.limit ?? -1}`).pipe(
            Effect.map((rows) => rows.map(toApproval)),
            Effect.provide(services)
          )
      })
    })
  )
}
