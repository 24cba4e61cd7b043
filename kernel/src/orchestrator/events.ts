/**
 * The orchestrator's events: each phase of a chat run starts and completes on the stream
 * `orchestrator-<session id>`. They carry only ids and the phase (a live stream shows both).
 */
import { Schema } from "effect"

export const PHASE_STARTED = "phase_started"
export const PHASE_COMPLETED = "phase_completed"

export const ORCHESTRATOR_EVENTS = [PHASE_STARTED, PHASE_COMPLETED] as const

/** The phases of the Ouroboros loop, in order. */
export const Phase = Schema.Literal("interview", "seed", "execute", "evaluate", "evolve")
export type Phase = typeof Phase.Type

/** A phase of a session's chat run began. */
export const PhaseStarted = Schema.Struct({ session_id: Schema.String, phase: Phase })
export type PhaseStarted = typeof PhaseStarted.Type

/** A phase of a session's chat run finished (a failed phase has no `phase_completed`). */
export const PhaseCompleted = Schema.Struct({ session_id: Schema.String, phase: Phase })
export type PhaseCompleted = typeof PhaseCompleted.Type

export const orchestratorStream = (sessionId: string) => `orchestrator-${sessionId}`
