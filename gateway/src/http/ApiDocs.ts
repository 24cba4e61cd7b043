/**
 * `/openapi.json` and `/docs`, made on their first request rather than at start: the OpenAPI
 * document is derived from every endpoint's Schemas, and the Swagger UI page carries a 1.9 MB
 * script (`@effect/platform/HttpApiSwagger`, imported only then); serving the API needs neither.
 * Both answer exactly what `HttpApiBuilder.middlewareOpenApi` and `HttpApiSwagger.layer` answer.
 */
import { HttpApi, HttpApiBuilder, HttpLayerRouter, HttpServerResponse, OpenApi } from "@effect/platform"
import { Effect, Scope } from "effect"

/** `GET path`: the API's OpenAPI document, derived once on the first request. */
export const openApiLayer = (path: `/${string}`) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const { api } = yield* HttpApi.Api
      const document = yield* Effect.cached(Effect.orDie(Effect.suspend(() => HttpServerResponse.json(OpenApi.fromApi(api)))))
      yield* router.get(path, document)
    })
  )

/** `GET path`: the Swagger UI over the API's OpenAPI document, built on the first request. */
export const swaggerLayer = (path: `/${string}`) =>
  HttpApiBuilder.Router.use((router) =>
    Effect.gen(function*() {
      const { api } = yield* HttpApi.Api
      const scope = yield* Effect.scope
      // the page's router lives as long as this one
      const page = yield* Effect.cached(
        Effect.promise(() => import("@effect/platform/HttpApiSwagger")).pipe(
          Effect.flatMap((swagger) => HttpLayerRouter.toHttpEffect(swagger.layerHttpLayerRouter({ api, path }))),
          Scope.extend(scope)
        )
      )
      yield* router.get(path, Effect.flatten(page))
    })
  )
