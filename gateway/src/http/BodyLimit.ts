/**
 * A request body larger than the limit must still get its 413 answer. @effect/platform-node
 * destroys the request when its body exceeds `MaxBodySize`, and destroying an IncomingMessage
 * destroys the socket before any response is written. Requests are built from this subclass,
 * which keeps the socket open when the body is abandoned, so the 413 (sent with
 * `connection: close`) reaches the client.
 */
import { IncomingMessage } from "node:http"

export class LimitedIncomingMessage extends IncomingMessage {
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const socket = this.socket
    if (!this.complete && socket !== null && !socket.destroyed) {
      // Stop handing the rest of the body to anyone; the response closes the connection.
      this.aborted = true
      callback(error)
      return
    }
    super._destroy(error, callback)
  }
}
