import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { timingSafeEqual, createHash } from 'node:crypto'
import { ConfigError } from './config.js'
import { ApiError } from '../protocols/errors.js'
import type { AddressInfo } from 'node:net'
import type { Logger } from '../log.js'

export interface RouteRequest {
  url: URL
  /** Path parameters, e.g. `id` for `/v1/keys/:id`. */
  params: Record<string, string>
  /** The parsed JSON body of a POST (an object), or undefined for GET. */
  body: Record<string, unknown> | undefined
  /** The request's headers (lower-case names), e.g. the client's identity for admission. */
  headers: IncomingHttpHeaders
}

/** A route answers JSON (an object or array), or `{ text }` for text/plain (metrics). */
export type Route = (req: RouteRequest) => Promise<unknown>

export interface RouteTable {
  /** `METHOD /path/:param` → handler */
  [route: string]: Route
}

/**
 * A route that answers itself and checks its own credentials (not the bearer token): the status
 * page, its login and its event stream. Keyed `METHOD /exact/path`.
 */
export type PageRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<void>

export interface ApiOptions {
  host: string
  port: number
  /** Bearer token every request must carry; undefined for a read-only server without one (a node's). */
  token: string | undefined
  routes: RouteTable
  pages?: Record<string, PageRoute>
  log: Logger
}

export const MAX_BODY_BYTES = 64 * 1024

/** Answered as text/plain rather than JSON (Prometheus metrics). */
export class TextBody {
  constructor (readonly text: string, readonly contentType = 'text/plain; version=0.0.4; charset=utf-8') {}
}

interface CompiledRoute { method: string, parts: string[], route: Route }

function compile (routes: RouteTable): CompiledRoute[] {
  return Object.entries(routes).map(([key, route]) => {
    const [method = 'GET', path = '/'] = key.split(' ')
    return { method, parts: path.split('/'), route }
  })
}

function match (routes: CompiledRoute[], method: string, pathname: string): { route?: Route, params: Record<string, string>, allowed: string[] } {
  const parts = pathname.split('/')
  const allowed: string[] = []
  for (const r of routes) {
    if (r.parts.length !== parts.length) continue
    const params: Record<string, string> = {}
    const ok = r.parts.every((p, i) => {
      if (p.startsWith(':')) {
        try {
          params[p.slice(1)] = decodeURIComponent(parts[i] ?? '')
        } catch {
          throw new ApiError(400, 'bad_request', `malformed percent-encoding in ${pathname.slice(0, 200)}`)
        }
        return (parts[i] ?? '') !== ''
      }
      return p === parts[i]
    })
    if (!ok) continue
    if (r.method === method) return { route: r.route, params, allowed }
    allowed.push(r.method)
  }
  return { params: {}, allowed }
}

async function readBody (req: IncomingMessage): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? ''
  if (!type.startsWith('application/json')) throw new ApiError(415, 'unsupported_media_type', 'send the body as application/json')
  const declared = Number(req.headers['content-length'] ?? 0)
  if (declared > MAX_BODY_BYTES) throw new ApiError(413, 'body_too_large', `body over ${MAX_BODY_BYTES} bytes`)
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY_BYTES) throw new ApiError(413, 'body_too_large', `body over ${MAX_BODY_BYTES} bytes`)
    chunks.push(chunk as Buffer)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new ApiError(400, 'bad_json', 'the body is not valid JSON')
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new ApiError(400, 'bad_json', 'the body must be a JSON object')
  return parsed as Record<string, unknown>
}

const MAX_URL_LENGTH = 2048

function sameSecret (a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest()
  const hb = createHash('sha256').update(b).digest()
  return timingSafeEqual(ha, hb)
}

function send (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const json = JSON.stringify(body)
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(json), 'cache-control': 'no-store' })
  res.end(json)
}

/**
 * HTTP JSON routes: the coordinator's user API (loopback, bearer token) and a node's read-only
 * metrics and events. Every failure is a JSON `{ error: { code, message } }` with a 4xx status.
 */
export class UserApi {
  private constructor (private readonly server: Server, readonly url: string) {}

  static async start (opts: ApiOptions): Promise<UserApi> {
    const routes = compile(opts.routes)
    const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
      if ((req.url ?? '').length > MAX_URL_LENGTH) throw new ApiError(414, 'uri_too_long', 'request URI too long')
      const url = new URL(req.url ?? '/', 'http://api.invalid')
      const page = opts.pages?.[`${req.method ?? 'GET'} ${url.pathname}`]
      if (page !== undefined) return await page(req, res, url)
      const auth = req.headers.authorization ?? ''
      if (opts.token !== undefined && (!auth.startsWith('Bearer ') || !sameSecret(auth.slice('Bearer '.length), opts.token))) {
        res.setHeader('www-authenticate', 'Bearer')
        throw new ApiError(401, 'unauthorized', 'missing or wrong bearer token')
      }
      const found = match(routes, req.method ?? 'GET', url.pathname)
      if (found.route === undefined) {
        if (found.allowed.length > 0) throw new ApiError(405, 'method_not_allowed', `${url.pathname} accepts ${found.allowed.join(', ')}`)
        throw new ApiError(404, 'not_found', `no route ${url.pathname}`)
      }
      const body = req.method === 'POST' ? await readBody(req) : undefined
      const result = await found.route({ url, params: found.params, body, headers: req.headers })
      if (result instanceof TextBody) {
        res.writeHead(200, { 'content-type': result.contentType })
        res.end(result.text)
      } else {
        send(res, 200, result)
      }
    }
    const server = createServer((req, res) => {
      handle(req, res).catch((err: unknown) => {
        if (res.headersSent) {
          // A page that had begun to answer (an event stream) ends here.
          opts.log.debug({ err }, 'page failed after its answer began')
          res.destroy()
        } else if (err instanceof ApiError) {
          send(res, err.status, { error: { code: err.code, message: err.message, ...(err.details ?? {}) } }, err.headers)
        } else {
          opts.log.error({ err }, 'api request failed')
          send(res, 503, { error: { code: 'unavailable', message: 'the coordinator could not answer; see its log' } })
        }
        req.resume()
      })
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

/** Parses `HOST:PORT` for a listener on any address (a node's metrics and events). */
export function parseHostPort (value: string, flag: string): { host: string, port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value)
  const port = Number(match?.[2])
  if (match === null || port > 65535) throw new ConfigError(`${flag}: "${value}" must be HOST:PORT, such as 127.0.0.1:9464`)
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port }
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
