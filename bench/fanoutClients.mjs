// The subscribers of bench:fanout, in their own process: COUNT connections to an SSE URL, each
// counting event frames (`\nid: `) in the raw bytes as they arrive. Prints `ready` once every
// connection has its first bytes, then `done {"lastAt":…}` once each has EXPECTED frames
// (lastAt: epoch ms, performance.timeOrigin-based, when the last connection got its last one).
import { request } from "node:http"

const [url, token, count, expected] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])]
const NEEDLE = Buffer.from("\nid: ")
let opened = 0
let finished = 0
const now = () => performance.timeOrigin + performance.now()

for (let i = 0; i < count; i++) {
  let seen = 0
  let carry = Buffer.alloc(0)
  let started = false
  const req = request(url, { headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" }, agent: false }, (res) => {
    if (res.statusCode !== 200) {
      console.error(`connection ${i}: HTTP ${res.statusCode}`)
      process.exit(1)
    }
    res.on("data", (chunk) => {
      if (!started) {
        started = true
        if (++opened === count) console.log("ready")
      }
      const bytes = carry.length === 0 ? chunk : Buffer.concat([carry, chunk])
      for (let at = bytes.indexOf(NEEDLE); at !== -1; at = bytes.indexOf(NEEDLE, at + 1)) seen++
      carry = bytes.subarray(Math.max(0, bytes.length - (NEEDLE.length - 1)))
      if (seen === expected) {
        if (++finished === count) {
          console.log(`done ${JSON.stringify({ lastAt: now() })}`)
          process.exit(0)
        }
      }
    })
  })
  req.on("error", (e) => {
    console.error(`connection ${i}: ${e.message}`)
    process.exit(1)
  })
  req.end()
}
