/**
 * Every temporary folder a test run makes goes under one folder of its own, removed when the run
 * ends: TMPDIR points there for the test workers and every process they start, so
 * `os.tmpdir()` (and everything built on it) lands inside it whoever calls it.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const MARK = "ANNAL_TEST_TMPDIR"

export default function setup() {
  // each project runs its global setup; the first makes the folder, the others share it
  if (process.env[MARK] !== undefined) return
  const root = mkdtempSync(join(tmpdir(), "annal-tests-"))
  process.env[MARK] = root
  process.env.TMPDIR = root
  return () => {
    rmSync(root, { recursive: true, force: true })
  }
}
