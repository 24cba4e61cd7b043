/**
 * `GET /api/chat/stream`: the chat over a WebSocket (`docs/websocket.md`). The token was checked
 * before the upgrade (401 otherwise, by the API's bearer middleware, which accepts `?token=`
 * here). A connection:
 * - subscribes to the bus from the head at connect and sends the frames of the events of the
 *   sessions it follows (`chat/frames.ts`), and the live tokens of their runs;
 * - starts a chat run for each message (plain text continues the socket's current session);
 * - decides approvals, and on `resume` resubscribes from `last_seq`, replaying what it missed
 *   without sending twice what it already sent.
 * A connection that falls more than `events.subscriber_buffer` events behind is told the seq to
 * resume from and closed (1013). Runs go on when a socket closes; their frames can be resumed.
 */
import { HttpServerRequest, HttpServerResponse, Socket } from "@effect/platform"
import { Approvals, EventBus, Orchestrator } from "@annal/kernel"
import { MAX_CLIENT_FRAME_BYTES, type ServerFrame } from "@annal/spec"
import { EventStore, IdGenerator, type StoredEvent } from "@annal/store"
import { Effect, Either, FiberHandle, Option, Queue, Stream } from "effect"
import { alreadySent, type ClientRequest, type Follow, FrameMapper, followAll, followNothing, followSession, parseClientFrame, type Sent } from "../chat/frames.js"
import { errorResponse } from "../http/Errors.js"
import { RateLimiter } from "../http/RateLimiter.js"
import { API_ACTOR } from "./common.js"

/** Live tokens buffered per socket; a client reading slower than the model writes loses tokens, never the reply. */
const TOKEN_BUFFER = 4096

/** Client frames waiting to be handled, at most. */
const INBOX = 64

const utf8 = new TextDecoder()

/** One WebSocket connection, until it closes. */
const connection = (socket: Socket.Socket, client: string) =>
  Effect.gen(function*() {
    const bus = yield* EventBus
    const store = yield* EventStore
    const orchestrator = yield* Orchestrator
    const approvals = yield* Approvals
    const limiter = yield* RateLimiter
    const ids = yield* IdGenerator
    const clock = yield* Effect.clock
    const newId = () => ids.unsafeNext(clock.unsafeCurrentTimeMillis())
    const write = yield* socket.writer
    const send = (frame: ServerFrame) => Effect.ignore(write(JSON.stringify(frame)))
    const close = (code: number, reason: string) => Effect.ignore(write(new Socket.CloseEvent(code, reason)))

    let follow: Follow = followNothing
    let current: string | undefined
    // where the live subscription started, and the last event it handled
    let from = yield* bus.head
    let processed = from
    let sent: Sent | undefined
    const mapper = new FrameMapper()

    /** A reply whose text the socket never saw (a resume that starts between the two events): from the session's stream. */
    const fill = (frame: ServerFrame) =>
      frame.type !== "reply" || frame.reply !== null || typeof frame.session_id !== "string"
        ? Effect.succeed(frame)
        : store.readStream(`session-${frame.session_id}`).pipe(
          Effect.map((events) => ({
            ...frame,
            reply: events.find((e) => e.type === "agent_responded" && e.data.message_id === frame.id)?.data.content ?? null
          })),
          Effect.orElseSucceed(() => frame)
        )

    const deliver = (event: StoredEvent) =>
      Effect.gen(function*() {
        if (mapper.wants(follow, event) && !alreadySent(sent, event)) {
          for (const frame of mapper.frames(event)) yield* send(yield* fill(frame))
        }
        processed = Math.max(processed, event.seq)
      })

    const subscription = yield* FiberHandle.make()
    const subscribe = (afterSeq: number) =>
      FiberHandle.run(
        subscription,
        bus.subscribe({ afterSeq }).pipe(
          Stream.runForEach(deliver),
          Effect.catchTag("SubscriberOverflow", (e) =>
            Effect.zipRight(
              send({ type: "error", error: `too far behind: reconnect and send {"type":"resume","last_seq":${e.lastSeq}}`, last_seq: e.lastSeq }),
              close(1013, "too far behind; resume from last_seq")
            )),
          Effect.catchAll((e) => Effect.zipRight(send({ type: "error", error: `the event stream failed: ${e.message}` }), close(1011, "event stream failed")))
        )
      )

    const handle = (request: ClientRequest) => {
      switch (request._tag) {
        case "Message": {
          const sessionId = request.session_id ?? current ?? newId()
          current = sessionId
          // followed before the run starts, so its first event is already this socket's
          follow = followSession(follow, sessionId)
          return Effect.gen(function*() {
            const decision = yield* limiter.check(client)
            if (!decision.allowed) {
              return yield* send({ type: "error", session_id: sessionId, error: `rate limit exceeded; retry in ${decision.retryAfterSecs} s` })
            }
            yield* orchestrator.start({ content: request.content, session_id: sessionId, user_id: request.user_id }, { actor: API_ACTOR, meta: { correlation_id: newId() } }).pipe(
              Effect.catchAll((e) => send({ type: "error", session_id: sessionId, error: e.message }))
            )
          })
        }
        case "Resume":
          return Effect.gen(function*() {
            const head = yield* bus.head
            sent = { from, until: processed, follow }
            follow = request.session_id === undefined ? followAll : followSession(follow, request.session_id)
            if (request.session_id !== undefined) current = request.session_id
            from = Math.min(request.last_seq, head)
            yield* subscribe(from)
          })
        case "Decide":
          return Effect.gen(function*() {
            // its resolution is this socket's to show, whichever session asked
            mapper.watchApproval(request.id)
            const decide = request.decision === "approve" ? approvals.approve : approvals.reject
            yield* decide(request.id, { actor: API_ACTOR }).pipe(
              Effect.catchAll((e) => {
                mapper.unwatchApproval(request.id)
                return send({ type: "error", id: request.id, error: e.message })
              })
            )
          })
      }
    }

    const handleFrame = (data: string | Uint8Array) => {
      const bytes = typeof data === "string" ? Buffer.byteLength(data, "utf8") : data.byteLength
      if (bytes > MAX_CLIENT_FRAME_BYTES) {
        return Effect.zipRight(send({ type: "error", error: `a frame may have at most ${MAX_CLIENT_FRAME_BYTES} bytes` }), close(1009, "frame too big"))
      }
      return Either.match(parseClientFrame(typeof data === "string" ? data : utf8.decode(data)), {
        onLeft: (error) => send({ type: "error", error }),
        onRight: handle
      })
    }

    // frames are handled one at a time, in the order they came
    const inbox = yield* Queue.dropping<string | Uint8Array>(INBOX)
    yield* Effect.forkScoped(Effect.forever(Effect.flatMap(Queue.take(inbox), handleFrame)))
    const onFrame = (data: string | Uint8Array) =>
      Effect.flatMap(Queue.offer(inbox, data), (offered) =>
        offered ? Effect.void : send({ type: "error", error: `more than ${INBOX} frames are waiting; this one was dropped` }))

    yield* subscribe(from)
    yield* orchestrator.tokens.pipe(
      Stream.filter((t) => follow.all || follow.sessions.has(t.session_id)),
      Stream.buffer({ capacity: TOKEN_BUFFER, strategy: "dropping" }),
      Stream.runForEach((t) =>
        send({ type: "token", session_id: t.session_id, run_id: t.run_id, phase: t.phase, ...(t.agent_id === undefined ? {} : { agent_id: t.agent_id }), text: t.text })
      ),
      Effect.forkScoped
    )
    yield* socket.runRaw(onFrame).pipe(Effect.catchAll(() => Effect.void))
  })

/** The handler: 426 without a WebSocket upgrade, else the connection until it closes. */
export const chatStream = Effect.gen(function*() {
  const request = yield* HttpServerRequest.HttpServerRequest
  if ((request.headers.upgrade ?? "").toLowerCase() !== "websocket") {
    return errorResponse(426, "this endpoint speaks WebSocket: connect with an Upgrade: websocket request (ws://…/api/chat/stream?token=…)", { upgrade: "websocket" })
  }
  const socket = yield* request.upgrade.pipe(Effect.orDie)
  yield* Effect.scoped(connection(socket, Option.getOrElse(request.remoteAddress, () => "unknown")))
  return HttpServerResponse.empty()
})
