/**
 * The budgets service: token and call limits per agent over a fixed window. Commands on one
 * agent's budget run one at a time in this process (a semaphore per agent) and append at the
 * version they decided on, retrying when another process got there first, so concurrent
 * reservations never overspend.
 */
import type { BudgetStatus, SetBudgetRequest } from "@annal/spec"
import { type EventDraft, EventStore, type EventStoreError } from "@annal/store"
import { SqlClient } from "@effect/sql"
import { Clock, Context, Effect, Either, Layer } from "effect"
import { type CommandContext, commandsOf } from "../shared/Command.js"
import { commandHandler } from "../shared/CommandHandler.js"
import { type ConcurrentChange, EntityNotFound, type Exhausted, type InvalidCommand } from "../shared/errors.js"
import { type Amount, type BudgetState, decideCharge, decideRemove, decideReserve, decideReset, decideSet, statusAt } from "./decide.js"
import { BUDGET_CHARGED, BUDGET_REMOVED, BUDGET_RESERVED, BUDGET_RESET, BUDGET_SET, budgetStream } from "./events.js"
import { BudgetRow } from "./projection.js"

/** Real usage of a call: tokens and calls used, and the tokens reserved for it beforehand. */
export interface BudgetUsage {
  readonly tokens: number
  readonly calls: number
  readonly reservedTokens?: number | undefined
}

export class Budgets extends Context.Tag("@annal/kernel/Budgets")<
  Budgets,
  {
    /** What is left now; EntityNotFound when the agent has no budget. */
    readonly get: (agentId: string) => Effect.Effect<BudgetStatus, EntityNotFound | EventStoreError>
    /** Sets the limits and starts a fresh window. */
    readonly set: (agentId: string, limits: SetBudgetRequest, context: CommandContext) => Effect.Effect<void, InvalidCommand | ConcurrentChange | EventStoreError>
    /** Removes the budget; the agent is then unlimited. */
    readonly remove: (agentId: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Starts a fresh window with the full allocation. */
    readonly reset: (agentId: string, context: CommandContext) => Effect.Effect<void, EntityNotFound | InvalidCommand | ConcurrentChange | EventStoreError>
    /**
     * Reserves tokens and calls before a call: Exhausted (and nothing reserved) when over the
     * budget; EntityNotFound when the agent has no budget, which the gate reads as "no limit".
     */
    readonly reserve: (
      agentId: string,
      amount: Amount,
      context: CommandContext
    ) => Effect.Effect<void, EntityNotFound | Exhausted | InvalidCommand | ConcurrentChange | EventStoreError>
    /** Records real usage after a call (never refused); nothing when the agent has no budget. */
    readonly charge: (agentId: string, usage: BudgetUsage, context: CommandContext) => Effect.Effect<void, InvalidCommand | ConcurrentChange | EventStoreError>
  }
>() {
  static readonly layer = Layer.effect(
    Budgets,
    Effect.gen(function*() {
      // the gate charges and reserves on every step and call: bound to the store, nothing to provide
      const store = yield* EventStore
      const { view } = commandsOf(store, yield* SqlClient.SqlClient)
      const handle = commandHandler(store)
      const locks = new Map<string, Effect.Semaphore>()
      const lockOf = (agentId: string) => {
        let lock = locks.get(agentId)
        if (lock === undefined) {
          lock = Effect.unsafeMakeSemaphore(1)
          locks.set(agentId, lock)
        }
        return lock
      }

      const read = (agentId: string) =>
        Effect.map(view("budgets", BudgetRow, (sql) => sql`SELECT * FROM budgets WHERE agent_id = ${agentId}`), ([row]): BudgetState | undefined => row)

      /**
       * A budget command: decided on the budget as it stands and the current time, serialised per
       * agent here (the gate reserves and charges on every call, often several at once), and
       * decided again by the handler when another process appended in between. A command that
       * decides nothing (a charge for an agent without a budget) appends nothing.
       */
      const command = <E>(
        agentId: string,
        type: string,
        decide: (state: BudgetState | undefined, now: number) => Either.Either<EventDraft | undefined, E>,
        context: CommandContext
      ) =>
        lockOf(agentId).withPermits(1)(handle({
          stream: () => budgetStream(agentId),
          load: (): Effect.Effect<readonly [BudgetState | undefined, number], EventStoreError> => Effect.zip(read(agentId), Clock.currentTimeMillis),
          decide: (_: void, [state, now]: readonly [BudgetState | undefined, number]) => Either.map(decide(state, now), (draft) => (draft === undefined ? [] : [draft])),
          emits: [type],
          answer: () => Effect.void
        })(undefined, context))

      const draft = (type: string) => <A extends { readonly agent_id: string }>(data: A): EventDraft => ({ type, data })

      return Budgets.of({
        get: (agentId) =>
          Effect.gen(function*() {
            const state = yield* read(agentId)
            if (state === undefined) return yield* new EntityNotFound({ what: "budget of agent", id: agentId })
            return statusAt(state, yield* Clock.currentTimeMillis)
          }),
        set: (agentId, limits, context) => command(agentId, BUDGET_SET, () => Either.right(draft(BUDGET_SET)(decideSet(agentId, limits))), context),
        remove: (agentId, context) => command(agentId, BUDGET_REMOVED, (state) => Either.map(decideRemove(state, agentId), draft(BUDGET_REMOVED)), context),
        reset: (agentId, context) => command(agentId, BUDGET_RESET, (state) => Either.map(decideReset(state, agentId), draft(BUDGET_RESET)), context),
        reserve: (agentId, amount, context) =>
          command(agentId, BUDGET_RESERVED, (state, now) => Either.map(decideReserve(state, agentId, amount, now), draft(BUDGET_RESERVED)), context),
        charge: (agentId, usage, context) =>
          command(agentId, BUDGET_CHARGED, (state, now) => {
            const event = decideCharge(state, agentId, { tokens: usage.tokens, calls: usage.calls, releasedTokens: usage.reservedTokens ?? 0 }, now)
            return Either.right(event === undefined ? undefined : draft(BUDGET_CHARGED)(event))
          }, context)
      })
    })
  )
}
