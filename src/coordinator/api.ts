import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { timingSafeEqual, createHash } from 'node:crypto'
import { ConfigError } from '../peer/config.js'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../log.js'

/** A client error the API answers with its status and a message; never a 500 for bad input. */
export class ApiError extends Error {
  override name = 'ApiError'
  constructor (readonly status: number, readonly code: string, message: string) {
    super(message)
  }
}

export type Route = (url: URL) => Promise<unknown>

export interface ApiOptions {
  host: string
  port: number
  /** Bearer token every request must carry. */
  token: string
  /** GET routes by exact path. */
  routes: Record<string, Route>
  log: Logger
}

const MAX_URL_LENGTH = 2048

function sameSecret (a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

function send (res: ServerResponse, status: number, body: unknown): void {
  const json = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' })
  res.end(json)
}

/**
 * The coordinator's user API: HTTP JSON on a loopback address, bearer-token authenticated.
 * Every failure is a JSON `{ error: { code, message } }` with a 4xx status.
 */
export class UserApi {
  private constructor (private readonly server: Server, readonly url: string) {}

  static async start (opts: ApiOptions): Promise<UserApi> {
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if ((req.url ?? '').length > MAX_URL_LENGTH) throw new ApiError(414, 'uri_too_long', 'request URI too long')
      const url = new URL(req.url ?? '/', 'http://api.invalid')
      const auth = req.headers.authorization ?? ''
      if (!auth.startsWith('Bearer ') || !sameSecret(auth.slice('Bearer '.length), opts.token)) {
        res.setHeader('www-authenticate', 'Bearer')
        throw new ApiError(401, 'unauthorized', 'missing or wrong bearer token')
      }
      const route = opts.routes[url.pathname]
      if (route === undefined) throw new ApiError(404, 'not_found', `no route ${url.pathname}`)
      if (req.method !== 'GET') throw new ApiError(405, 'method_not_allowed', `${url.pathname} accepts GET`)
      send(res, 200, await route(url))
    }
    const server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (err instanceof ApiError) {
          send(res, err.status, { error: { code: err.code, message: err.message } })
        } else {
          opts.log.error({ err }, 'api request failed')
          send(res, 503, { error: { code: 'unavailable', message: 'the coordinator could not answer; see its log' } })
        }
      })
      req.resume()
    })
    server.requestTimeout = 10_000
    server.headersTimeout = 5_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(opts.port, opts.host, () => { server.off('error', reject); resolve() })
    })
    const addr = server.address() as AddressInfo
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
    return new UserApi(server, `http://${host}:${addr.port}`)
  }

  async stop (): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>(resolve => { this.server.close(() => { resolve() }) })
  }
}

/** Parses `HOST:PORT` for the API listener; only loopback hosts are accepted. */
export function parseApiListen (value: string): { host: string, port: number } {
  const match = /^(127(?:\.\d{1,3}){3}|localhost|\[::1\]):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (match === null || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(`--api: "${value}" must be a loopback HOST:PORT such as 127.0.0.1:7401`)
  }
  return { host: match[1] === '[::1]' ? '::1' : match[1]!, port }
}
