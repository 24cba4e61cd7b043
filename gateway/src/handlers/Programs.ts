/**
 * Programs (seed section 9): install from a git or tarball URL, list, read, enable, disable,
 * uninstall, host requirements — all through the ProgramHost, so tools follow at once — and
 * the route `annal programs install <dir>` uses while this server holds the data directory.
 */
import { HttpApiBuilder } from "@effect/platform"
import { ProgramHost, type ProgramError } from "@annal/programs"
import { AnnalApi, type ApiError, BadRequest, pageRequest, Unauthorized } from "@annal/spec"
import { Context, Effect } from "effect"
import { timingSafeEqual } from "node:crypto"
import { API_ACTOR, apiError, requestMeta, asOf } from "./common.js"

/** The secret `POST /api/programs/local-install` requires; undefined when this server published none. */
export class LocalInstallSecret extends Context.Tag("@annal/gateway/LocalInstallSecret")<LocalInstallSecret, string | undefined>() {}

/** The actor of installs made with `annal programs install`. */
export const CLI_ACTOR = "user:cli"

const programError = (what: string) => (e: ProgramError): ApiError =>
  e._tag === "InstallRefused" || e._tag === "ManifestInvalid" ? new BadRequest({ error: e.message }) : apiError(what)(e)

export const ProgramsLive = HttpApiBuilder.group(AnnalApi, "programs", (handlers) =>
  Effect.gen(function*() {
    const host = yield* ProgramHost
    const context = Effect.map(requestMeta, (meta) => ({ actor: API_ACTOR, meta }))
    return handlers
      .handle("list", ({ urlParams }) => asOf(urlParams)(Effect.mapError(host.list(pageRequest(urlParams)), apiError("could not list programs"))))
      .handle("get", ({ path, urlParams }) => asOf(urlParams)(Effect.mapError(host.get(path.name), apiError("could not read the program"))))
      .handle("install", ({ payload }) =>
        Effect.gen(function*() {
          const installed = yield* host.install({ _tag: "Remote", path: payload.path }, yield* context)
          return { status: "installed" as const, ...installed }
        }).pipe(Effect.mapError(programError("could not install the program"))))
      .handle("uninstall", ({ path }) =>
        Effect.gen(function*() {
          yield* host.uninstall(path.name, yield* context)
          return { status: "uninstalled" as const, name: path.name }
        }).pipe(Effect.mapError(programError("could not uninstall the program"))))
      .handle("enable", ({ path }) =>
        Effect.gen(function*() {
          yield* host.setEnabled(path.name, true, yield* context)
          return { status: "enabled" as const, name: path.name }
        }).pipe(Effect.mapError(programError("could not enable the program"))))
      .handle("disable", ({ path }) =>
        Effect.gen(function*() {
          yield* host.setEnabled(path.name, false, yield* context)
          return { status: "disabled" as const, name: path.name }
        }).pipe(Effect.mapError(programError("could not disable the program"))))
      .handle("hostRequirements", ({ path }) => Effect.mapError(host.hostRequirements(path.name), apiError("could not check the host requirements")))
  }))

const sameSecret = (given: string, expected: string) => {
  const a = Buffer.from(given, "utf8")
  const b = Buffer.from(expected, "utf8")
  return a.length === b.length && timingSafeEqual(a, b)
}

export const ProgramsLocalLive = HttpApiBuilder.group(AnnalApi, "programsLocal", (handlers) =>
  Effect.gen(function*() {
    const host = yield* ProgramHost
    const secret = yield* LocalInstallSecret
    return handlers.handle("localInstall", ({ headers, payload }) =>
      Effect.gen(function*() {
        const given = headers["x-annal-install-secret"] ?? ""
        if (secret === undefined || given === "" || !sameSecret(given, secret)) {
          return yield* new Unauthorized({ error: "local installs are only for `annal programs install` on this server's data directory" })
        }
        const archive = Buffer.from(payload.archive_base64, "base64")
        const installed = yield* host.install({ _tag: "Archive", archive, location: payload.source }, { actor: CLI_ACTOR, meta: yield* requestMeta }).pipe(
          Effect.mapError(programError("could not install the program"))
        )
        return { status: "installed" as const, ...installed }
      }))
  }))
