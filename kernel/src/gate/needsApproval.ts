/**
 * Whether a tool call must wait for a person: the tool's policy, and a blacklist of commands that
 * always ask whatever the policy (`rm -rf /`, `sudo`, `mkfs`, a fork bomb, `dd of=/dev/…`, a
 * force push, `chmod -R 777 /`). Pure: the gate and the tests call it directly.
 *
 * The blacklist reads argv the way a person reviewing it would: through wrappers (`env`,
 * `nohup`, `timeout 5`, `xargs`, `/usr/bin/…`), and into any argument a shell could run
 * (`bash -c "…"`, `$(…)`, `;`, `&&`, pipes). It is a tripwire for the obvious, not a sandbox:
 * the allowlist decides what can run at all.
 */
import type { ToolPolicy } from "@annal/spec"

export type ApprovalNeed =
  | { readonly ask: false }
  | { readonly ask: true; readonly reason: string; readonly blacklisted: boolean }

/** Commands that only run other commands; what they run is what counts. */
const WRAPPERS = new Set(["env", "nohup", "nice", "ionice", "timeout", "time", "command", "exec", "xargs", "busybox", "stdbuf", "setsid", "chroot", "unbuffer", "builtin"])
const AS_OTHER_USER = new Set(["sudo", "doas", "su", "pkexec", "run0"])
const FORMATTERS = /^(mkfs(\..+)?|mke2fs|mkswap|wipefs|mkdosfs|mkntfs)$/
/** Devices dd may harmlessly write to. */
const HARMLESS_DEVICES = new Set(["/dev/null", "/dev/zero", "/dev/stdout", "/dev/stderr"])

const base = (token: string) => token.slice(token.lastIndexOf("/") + 1)

/** A shell string split into simple commands (on `;`, `&`, `|`, newlines, `$(`, backticks, parens, braces), each as words. */
const shellCommands = (text: string): Array<Array<string>> =>
  text
    .split(/[;&|\n`(){}]|\$\(/)
    .map((segment) => segment.trim().split(/\s+/).map((w) => w.replace(/^['"]+|['"]+$/g, "")).filter((w) => w !== ""))
    .filter((words) => words.length > 0)

/** Drops leading wrappers and their options (`env A=1`, `timeout 5`, `nice -n 10`) to reach the command run. */
const unwrap = (words: ReadonlyArray<string>): ReadonlyArray<string> => {
  let i = 0
  while (i < words.length) {
    const name = base(words[i]!)
    if (!WRAPPERS.has(name)) break
    i++
    // the wrapper's options, assignments and numeric arguments (a timeout's duration)
    while (i < words.length && (/^-/.test(words[i]!) || /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i]!) || /^\d+(\.\d+)?[smhd]?$/.test(words[i]!))) {
      // `nice -n 10`, `timeout -s KILL 5`: an option's value
      if (/^-[ns]$/.test(words[i]!) && i + 1 < words.length) i++
      i++
    }
  }
  return words.slice(i)
}

/** Every simple command argv runs: itself, and the commands inside arguments a shell could interpret. */
const commandsOf = (argv: ReadonlyArray<string>): Array<ReadonlyArray<string>> => {
  const out: Array<ReadonlyArray<string>> = [argv]
  for (const arg of argv) if (/[\s;&|`$(){}]/.test(arg)) out.push(...shellCommands(arg))
  return out.flatMap((c) => {
    const inner = unwrap(c)
    return inner.length === 0 ? [] : [inner]
  })
}

const shortFlags = (token: string) => (/^-[A-Za-z]+$/.test(token) ? token.slice(1) : "")
const isRecursive = (args: ReadonlyArray<string>) => args.some((a) => a === "--recursive" || /[rR]/.test(shortFlags(a)))
/** Operands: what is not an option (everything after `--`). */
const operands = (args: ReadonlyArray<string>) => {
  const end = args.indexOf("--")
  return [...args.slice(0, end === -1 ? undefined : end).filter((a) => !a.startsWith("-")), ...(end === -1 ? [] : args.slice(end + 1))]
}
/** A target whose removal or change reaches beyond a subfolder of the workspace. */
const isSweeping = (target: string) =>
  target.startsWith("/") ||
  target.startsWith("~") ||
  /^\$(HOME|\{HOME\})/.test(target) ||
  target.split("/").includes("..") ||
  /^(\.\/?|\*|\.\/\*)$/.test(target)

/** Why one simple command is blacklisted, or undefined. */
const commandRisk = (words: ReadonlyArray<string>): string | undefined => {
  const name = base(words[0]!)
  const args = words.slice(1)
  if (AS_OTHER_USER.has(name)) return `${name} runs a command as another user`
  if (FORMATTERS.test(name)) return `${name} formats a filesystem`
  if (name === "rm" && isRecursive(args)) {
    if (args.includes("--no-preserve-root")) return "rm --no-preserve-root"
    const target = operands(args).find(isSweeping)
    if (target !== undefined) return `rm -r of ${JSON.stringify(target)} reaches outside a workspace folder`
  }
  if (name === "dd") {
    const out = args.find((a) => a.startsWith("of=/dev/") && !HARMLESS_DEVICES.has(a.slice(3)))
    if (out !== undefined) return `dd writes to the device ${out.slice(3)}`
  }
  if (name === "git") {
    const push = args.indexOf("push")
    if (push !== -1) {
      const rest = args.slice(push + 1)
      // --force-with-lease asks too: it still rewrites the remote's history, the lease only guards a race
      const forced = rest.find((a) =>
        a === "--force" || a === "--mirror" || a.startsWith("--force-with-lease") || a === "--force-if-includes" ||
        shortFlags(a).includes("f") || (a.startsWith("+") && a.length > 1)
      )
      if (forced !== undefined) return `git push ${forced} rewrites the remote's history`
    }
  }
  if (name === "chmod" || name === "chown" || name === "chgrp") {
    // the first operand is the mode or the owner
    const targets = operands(args).slice(1)
    if (targets.includes("/") || targets.some((t) => /^\/+\*?$/.test(t))) return `${name} of the root directory`
    if (isRecursive(args)) {
      const target = targets.find(isSweeping)
      if (target !== undefined) return `${name} -R of ${JSON.stringify(target)} reaches outside a workspace folder`
    }
  }
  if (name === "shutdown" || name === "reboot" || name === "halt" || name === "poweroff") return `${name} stops the machine`
  return undefined
}

/** Why an exec argv is blacklisted, or undefined when it is not. */
export const blacklisted = (argv: ReadonlyArray<string>): string | undefined => {
  const text = argv.join(" ")
  // a function that pipes itself into itself in the background: `:(){ :|:& };:` and its renamings
  if (/([A-Za-z_:.][\w:.]*)\(\)\{[^}]*\1\|\1/.test(text.replace(/\s+/g, ""))) return "a fork bomb"
  const device = /(^|[^<>0-9])>\s*\/dev\/(sd|hd|vd|xvd|nvme|mmcblk|disk|mapper)/.exec(text)
  if (device !== null) return "a redirection that writes to a disk device"
  for (const command of commandsOf(argv)) {
    const risk = commandRisk(command)
    if (risk !== undefined) return risk
  }
  return undefined
}

/** The argv of an exec call's arguments, if that is what they are. */
const argvOf = (args: unknown): ReadonlyArray<string> | undefined => {
  if (typeof args !== "object" || args === null) return undefined
  const argv = (args as { readonly argv?: unknown }).argv
  return Array.isArray(argv) && argv.every((a) => typeof a === "string") ? (argv as ReadonlyArray<string>) : undefined
}

/**
 * Whether a call asks a person first: always for a blacklisted command; otherwise `always`
 * asks, `on_demand` asks when the tool calls this call consequential (it changes files or runs
 * a process), `auto` never asks.
 */
export const needsApproval = (
  call: { readonly tool: string; readonly args: unknown; readonly consequential: boolean },
  policy: ToolPolicy
): ApprovalNeed => {
  const argv = call.tool === "exec" ? argvOf(call.args) : undefined
  const risk = argv === undefined ? undefined : blacklisted(argv)
  if (risk !== undefined) return { ask: true, reason: `blacklisted: ${risk}`, blacklisted: true }
  if (policy === "always") return { ask: true, reason: `tool "${call.tool}" always asks (policy always)`, blacklisted: false }
  if (policy === "on_demand" && call.consequential) return { ask: true, reason: `tool "${call.tool}" asks before changing anything (policy on_demand)`, blacklisted: false }
  return { ask: false }
}
