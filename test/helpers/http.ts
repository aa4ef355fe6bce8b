import { request } from 'undici'
import { TOKEN } from './sidecar.js'

export interface Answer {
  status: number
  headers: Record<string, string | string[] | undefined>
  json: Record<string, unknown>
}

/** POSTs to `/notify` the way CI does; every part of the request can be spoiled by a test. */
export async function notify(
  baseUrl: string,
  body: unknown,
  { token = TOKEN, contentType = 'application/json' }: { token?: string | null; contentType?: string | null } = {},
): Promise<Answer> {
  const headers: Record<string, string> = {}
  if (token !== null) headers.authorization = `Bearer ${token}`
  if (contentType !== null) headers['content-type'] = contentType
  const response = await request(`${baseUrl}/notify`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.body.text()
  return {
    status: response.statusCode,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

/** GETs a path and parses a JSON answer (an empty body gives `{}`). */
export async function getJson(url: string, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await request(url, { headers })
  const text = await response.body.text()
  return {
    status: response.statusCode,
    headers: response.headers,
    json: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

/**
 * The value of a metric series, e.g. `deploy_notify_deploys_total{app="web"}`, summed over the
 * labels not named: `deploy_notify_connections{app="web"}` is the sum of that app's versions,
 * as Prometheus's `sum by (app)` would give. 0 when absent.
 */
export async function metric(baseUrl: string, series: string): Promise<number> {
  const text = await (await request(`${baseUrl}/metrics`)).body.text()
  const wanted = parseSeries(series)
  let sum = 0
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line === '') continue
    const space = line.lastIndexOf(' ')
    const { name, labels } = parseSeries(line.slice(0, space))
    if (name === wanted.name && [...wanted.labels].every(([label, value]) => labels.get(label) === value)) {
      sum += Number(line.slice(space + 1))
    }
  }
  return sum
}

/** `name{a="x",b="y"}` -> its name and labels (values as escaped in the exposition format). */
function parseSeries(series: string): { name: string; labels: Map<string, string> } {
  const brace = series.indexOf('{')
  if (brace === -1) return { name: series, labels: new Map() }
  const labels = new Map([...series.slice(brace).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]))
  return { name: series.slice(0, brace), labels }
}

/** Polls `check` until it returns true, failing after `timeoutMs`. For state with no event to wait on. */
export async function until(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
