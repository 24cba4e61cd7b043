/**
 * The log's live events to every `GET /api/events` connection of the server: one subscription to
 * the bus, and per batch of committed events one write of the batch's frames to each
 * connection's socket. No stream, fiber or queue per connection on an event's path — that cost,
 * paid a thousand times per event, took the thread the appenders share.
 *
 * Per connection: where it resumes (`Last-Event-ID`), a type filter and a bounded backlog. It
 * first catches up from the log, then joins the live batches with no gap or duplicate at the
 * seam (below). A socket that cannot take more (its write returned false) gets the following
 * events queued until it drains; one still holding more than `events.subscriber_buffer` when a
 * batch comes is cut off with a comment naming the seq to resume from, and its socket destroyed
 * after `events.cut_grace_secs` if it never reads it. Neither the other connections nor the
 * appenders wait for it: a write never blocks, and the store hands the broadcaster each batch
 * through one queue whatever the number of clients.
 *
 * Writing to a thousand sockets takes the thread for a while (on the loopback the kernel's
 * receiving side runs inside the writer's syscall too), so the broadcaster paces itself: it
 * writes for at most a few milliseconds, then lets the rest of the process run until that has
 * had five times as long (or has nothing to do) before it goes on, in the middle of a batch if
 * need be; what commits meanwhile goes out in the next batch. Under a flood of appends it takes
 * about a sixth of the thread and an append never waits behind more than a few milliseconds of
 * writes; alone it writes at full speed; its batches grow instead of its writes multiplying
 * (bench:fanout).
 */
import { EventBus } from "@annal/kernel"
import { EventStore, type EventStoreError, type StoredEvent } from "@annal/store"
import { Chunk, Context, Deferred, Duration, Effect, Exit, FiberSet, Layer, Stream } from "effect"
import type { ServerResponse } from "node:http"
import { framesAfter, PING, RETRY, streamFailed, tooFarBehind } from "./frames.js"

/** Events read from the log per page while a connection catches up. */
const PAGE = 1000

/**
 * The broadcaster's own buffer on the bus. It drains it after every batch, so it only fills if
 * the thread stalls for that many events; then the broadcaster resubscribes from its position,
 * reading what it missed from the log.
 */
const UPSTREAM_BUFFER = 65_536

/** How long the broadcaster waits after writing, per millisecond its writes took. */
const PACE = 5

/** The longest the broadcaster writes before it pauses, even in the middle of a batch. */
const SLICE_MS = 5

/** Below this its writes took too little of the thread to pause after them. */
const PACE_FLOOR_MS = 1

/** The longest pause (the thread may have been taken by other work on the machine meanwhile). */
const PACE_CEILING_MS = 250

/** A yield to the event loop that comes back sooner found nothing else to run. */
const IDLE_MS = 0.5

/** Connections written between two looks at the clock. */
const LOOK_EVERY = 16

export interface Subscription {
  /** The response, its head already written. */
  readonly response: ServerResponse
  /** Deliver events after this seq. */
  readonly afterSeq: number
  /** Only these event types (empty = all). */
  readonly types: ReadonlySet<string>
  /** Events queued for a socket that cannot take more before the connection is cut off. */
  readonly capacity: number
  readonly pingInterval: Duration.DurationInput
  /** How long a cut-off client has to read its goodbye before its socket is destroyed. */
  readonly cutGrace: Duration.DurationInput
}

/** What a batch does on a connection: written now, queued, or the connection is cut off. */
export type Delivery = "write" | "queue" | "cut"

/**
 * Cut off a connection still holding more than its capacity when a batch comes (so it holds at
 * most its capacity plus one batch); queue for one that is catching up or whose socket is full;
 * else write.
 */
export const deliveryOf = (c: { readonly live: boolean; readonly full: boolean; readonly queued: number; readonly capacity: number }): Delivery =>
  c.queued > c.capacity ? "cut" : c.live && !c.full ? "write" : "queue"

interface Connection {
  readonly response: ServerResponse
  readonly types: ReadonlySet<string>
  /** Connections with the same filter share a batch's bytes. */
  readonly key: string
  readonly capacity: number
  /** The last seq written to the socket (or passed over by the filter): where its client resumes. */
  last: number
  /** Registered and caught up: batches go to the socket as they come. */
  live: boolean
  /** The socket's last write returned false; nothing more is written until it drains. */
  full: boolean
  /** Events for the socket once it is live and drained, oldest first. */
  queued: Array<StoredEvent>
  /** Cut off or closed: nothing more is written. */
  ended: boolean
  readonly done: Deferred.Deferred<void>
  readonly cutGrace: Duration.DurationInput
}

export class Broadcaster extends Context.Tag("@annal/gateway/Broadcaster")<
  Broadcaster,
  {
    /** Streams the log to one SSE response until its client leaves or is cut off. */
    readonly serve: (subscription: Subscription) => Effect.Effect<void>
    /** Connections that receive every event from now on. */
    readonly connections: Effect.Effect<number>
  }
>() {}

export const make = Effect.gen(function*() {
  const bus = yield* EventBus
  const store = yield* EventStore
  const fork = yield* FiberSet.makeRuntime<never>()
  const connections = new Set<Connection>()
  /** The last seq handed to the connections: every later event reaches every registered one. */
  let position = yield* bus.head
  /** Milliseconds of writes since the broadcaster last paused. */
  let spent = 0

  const write = (c: Connection, bytes: Uint8Array) => {
    // Corked around the write, the chunk goes to the kernel now, in one syscall, instead of on
    // the next tick: its cost falls inside the time the broadcaster measures to pace itself.
    const socket = c.response.socket
    socket?.cork()
    const ok = c.response.write(bytes)
    socket?.uncork()
    if (!ok) c.full = true
  }

  /** Writes what was queued for a live connection whose socket can take it. */
  const flush = (c: Connection) => {
    if (c.ended || !c.live || c.full || c.queued.length === 0) return
    const queued = c.queued
    c.queued = []
    const bytes = framesAfter(queued, c.last, c.types)
    c.last = Math.max(c.last, queued[queued.length - 1]!.seq)
    if (bytes !== undefined) write(c, bytes)
  }

  const cut = (c: Connection) => {
    connections.delete(c)
    c.ended = true
    c.queued = []
    c.response.write(tooFarBehind(c.last))
    Deferred.unsafeDone(c.done, Exit.void)
    // ending the response waits for the client to read; a client that never does loses its socket
    fork(
      Effect.sleep(c.cutGrace).pipe(
        Effect.zipRight(Effect.sync(() => c.response.writableFinished || c.response.socket?.destroy()))
      )
    )
  }

  /** Hands one batch to one connection: written, queued, or the connection is cut off. */
  const deliver = (c: Connection, batch: ReadonlyArray<StoredEvent>, shared: Map<string, Uint8Array | undefined>) => {
    if (c.ended) return
    const lastSeq = batch[batch.length - 1]!.seq
    switch (deliveryOf({ live: c.live, full: c.full, queued: c.queued.length, capacity: c.capacity })) {
      case "cut":
        cut(c)
        break
      case "queue":
        for (const event of batch) if (event.seq > c.last) c.queued.push(event)
        break
      case "write": {
        let bytes: Uint8Array | undefined
        if (batch[0]!.seq > c.last) {
          if (!shared.has(c.key)) shared.set(c.key, framesAfter(batch, 0, c.types))
          bytes = shared.get(c.key)
        } else bytes = framesAfter(batch, c.last, c.types)
        c.last = Math.max(c.last, lastSeq)
        if (bytes !== undefined) write(c, bytes)
      }
    }
  }

  /** Comes back once the event loop has run what is ready now, I/O callbacks included (its check phase). */
  const yieldToIo = Effect.async<void>((resume) => {
    const handle = setImmediate(() => resume(Effect.void))
    return Effect.sync(() => clearImmediate(handle))
  })

  /**
   * Lets the rest of the process run until it has had PACE times what the writes since the last
   * pause took, or until it has nothing to do: a yield that comes back at once means nobody was
   * waiting for the thread, and then the broadcaster goes on at full speed.
   */
  const pause = Effect.suspend(() => {
    let owed = Math.min(PACE_CEILING_MS, PACE * spent)
    spent = 0
    if (owed < PACE_FLOOR_MS) return Effect.void
    const yielded = Effect.suspend(() => {
      const started = performance.now()
      return Effect.map(yieldToIo, () => performance.now() - started)
    })
    return Effect.whileLoop({
      while: () => owed > 0,
      body: () => yielded,
      step: (took) => {
        owed = took < IDLE_MS ? 0 : owed - took
      }
    })
  })

  /**
   * Hands a batch to the connections registered now, a slice of them at a time with a pause after
   * each. The position moves first: a connection registering meanwhile reads this batch from the
   * log, and the ones here get it from the slices.
   */
  const dispatch = (batch: ReadonlyArray<StoredEvent>) =>
    Effect.suspend(() => {
      if (batch.length === 0) return Effect.void
      const targets = [...connections]
      position = Math.max(position, batch[batch.length - 1]!.seq)
      // a batch's bytes for each filter, built the first time a connection with it needs them
      const shared = new Map<string, Uint8Array | undefined>()
      let next = 0
      const slice = Effect.suspend(() => {
        // wall time (not a decision about the domain: the thread's share)
        const started = performance.now()
        let now = started
        while (next < targets.length && now - started < SLICE_MS) {
          const end = Math.min(targets.length, next + LOOK_EVERY)
          while (next < end) deliver(targets[next++]!, batch, shared)
          now = performance.now()
        }
        spent += now - started
        return pause
      })
      return Effect.whileLoop({ while: () => next < targets.length, body: () => slice, step: () => {} })
    })

  // The one subscription: from the position on, again after a cut (its buffer overflowed while
  // the thread was stalled) or a failed read, so no event is ever skipped.
  const upstream = Effect.suspend(() =>
    bus.subscribe({ afterSeq: position, buffer: UPSTREAM_BUFFER, relay: true }).pipe(
      Stream.runForEachChunk((chunk) => dispatch(Chunk.toReadonlyArray(chunk))),
      Effect.catchTag("SubscriberOverflow", () => Effect.void),
      Effect.catchAll((e) => Effect.zipRight(Effect.logError("the event broadcaster's subscription failed; resubscribing", e), Effect.sleep(Duration.seconds(1))))
    )
  )
  yield* Effect.forkScoped(Effect.forever(upstream))

  /**
   * Writes the log's events after the connection's last seq up to `until` (infinity: to the
   * head), page by page, waiting for the socket to drain between pages.
   */
  const catchUp = (c: Connection, until: number) =>
    Effect.gen(function*() {
      while (!c.ended && c.last < until) {
        const to = Math.min(until, c.last + PAGE)
        const events: ReadonlyArray<StoredEvent> = yield* store.read(c.last + 1, to)
        if (c.ended) return
        const bytes = framesAfter(events, c.last, c.types)
        // seqs have no gaps: fewer rows than asked for means the log ends there
        const atHead = events.length < to - c.last
        c.last = atHead ? (events.length === 0 ? c.last : events[events.length - 1]!.seq) : to
        if (bytes !== undefined) write(c, bytes)
        if (c.full) yield* drained(c)
        if (atHead) return
      }
    })

  const drained = (c: Connection) =>
    Effect.async<void>((resume) => {
      const go = () => resume(Effect.void)
      c.response.once("drain", go)
      c.response.once("close", go)
      return Effect.sync(() => {
        c.response.off("drain", go)
        c.response.off("close", go)
      })
    })

  const serve = (subscription: Subscription): Effect.Effect<void> =>
    Effect.gen(function*() {
      const { response } = subscription
      const types = subscription.types
      const c: Connection = {
        response,
        types,
        key: [...types].sort().join(","),
        capacity: subscription.capacity,
        last: subscription.afterSeq,
        live: false,
        full: false,
        queued: [],
        ended: false,
        done: yield* Deferred.make<void>(),
        cutGrace: subscription.cutGrace
      }
      const onDrain = () => {
        c.full = false
        const started = performance.now()
        flush(c)
        spent += performance.now() - started
      }
      const onClose = () => {
        connections.delete(c)
        c.ended = true
        Deferred.unsafeDone(c.done, Exit.void)
      }
      response.on("drain", onDrain)
      response.on("close", onClose)
      yield* Effect.addFinalizer(() =>
        Effect.sync(() => {
          connections.delete(c)
          c.ended = true
          response.off("drain", onDrain)
          response.off("close", onClose)
        })
      )
      write(c, RETRY)
      yield* Effect.sleep(subscription.pingInterval).pipe(
        Effect.zipRight(Effect.sync(() => c.ended || c.full || write(c, PING))),
        Effect.forever,
        Effect.forkScoped
      )
      const failed = (e: EventStoreError) =>
        Effect.sync(() => {
          connections.delete(c)
          if (!c.ended) response.write(streamFailed(e.message))
          c.ended = true
        })
      // The seam: catch up from the log without a live buffer; then register (from this moment
      // every batch reaches the connection, queued while it is not live) and read from the log
      // what the broadcaster had already handed out, up to its position; then go live, writing
      // the queued events after the last seq written. Nothing is skipped or sent twice.
      yield* catchUp(c, Number.POSITIVE_INFINITY).pipe(
        Effect.zipRight(
          Effect.suspend(() => {
            if (c.ended) return Effect.void
            connections.add(c)
            return catchUp(c, position)
          })
        ),
        Effect.zipRight(
          Effect.sync(() => {
            c.live = true
            flush(c)
          })
        ),
        Effect.catchAll(failed)
      )
      if (!c.ended) yield* Deferred.await(c.done)
    }).pipe(Effect.scoped)

  return Broadcaster.of({ serve, connections: Effect.sync(() => connections.size) })
})

export const layer = Layer.scoped(Broadcaster, make)
