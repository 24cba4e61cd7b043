/**
 * The largest WebSocket message a client may send. @effect/platform-node makes its
 * `WebSocketServer` with ws's default `maxPayload` (100 MiB) and no way to pass options, so a
 * client could make the server buffer 100 MiB per message. ws reads the limit from the server's
 * `options` when it completes an upgrade; lowering it there, before each upgrade, makes ws
 * refuse a bigger message while it arrives, closing the socket with 1009 (message too big).
 */
import { WebSocketServer } from "ws"

const limited = Symbol.for("annal/ws-max-payload")

/** Caps every WebSocketServer's messages at `maxBytes` (idempotent; the lowest cap wins). */
export const limitWebSocketMessages = (maxBytes: number): void => {
  const proto = WebSocketServer.prototype as unknown as Record<PropertyKey, unknown> & {
    handleUpgrade: (this: WebSocketServer, ...args: Array<unknown>) => unknown
  }
  const current = proto[limited] as number | undefined
  if (current !== undefined) {
    proto[limited] = Math.min(current, maxBytes)
    return
  }
  proto[limited] = maxBytes
  const original = proto.handleUpgrade
  proto.handleUpgrade = function(this: WebSocketServer, ...args: Array<unknown>) {
    const options = this.options as { maxPayload?: number }
    options.maxPayload = Math.min(options.maxPayload ?? Infinity, proto[limited] as number)
    return original.apply(this, args)
  }
}
