// The baseline of bench:http: plain node:http answering /health with the same JSON as Annal.
import { createServer } from "node:http"

const body = JSON.stringify({ status: "ok", version: process.argv[2] ?? "0.1.0" })
const server = createServer((req, res) => {
  if (req.url === "/health") {
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) })
    res.end(body)
  } else {
    res.writeHead(404, { "content-type": "application/json" })
    res.end('{"error":"not found"}')
  }
})
server.keepAliveTimeout = 65_000
server.listen(0, "127.0.0.1", () => process.stdout.write(`listening on http://127.0.0.1:${server.address().port}\n`))
