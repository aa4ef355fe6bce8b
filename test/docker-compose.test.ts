import { existsSync, readFileSync } from 'node:fs'
import { cp, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { loadConfig } from '../server/config.js'
import { getJson } from './helpers/http.js'
import { findNginx, NGINX_CONF, startNginx } from './helpers/nginx.js'
import { startTestSidecar } from './helpers/sidecar.js'

// No Docker engine runs the tests, so docker-compose.yml is checked by what it relies on: the
// Dockerfile's volume and health check, nginx.conf's listen port, upstream, root and run-time
// paths, and the sample app, which is then served through nginx.conf in front of a sidecar as
// the two containers would. nginx.conf ships in the package; everything that names the machine
// sits in its one marked block.
const ROOT = fileURLToPath(new URL('..', import.meta.url))

type Yaml = string | Yaml[] | { [key: string]: Yaml }

/** The YAML docker-compose.yml uses: nested maps, `- ` lists, quoted and flow (JSON) scalars. */
function parseYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
    .map((line) => ({ indent: /^ */.exec(line)![0].length, text: line.trim() }))
  let at = 0
  const scalar = (raw: string): Yaml => {
    if (raw.startsWith('[')) return JSON.parse(raw) as Yaml
    return raw.replace(/^"(.*)"$/, '$1')
  }
  const block = (indent: number): Yaml => {
    if (lines[at]!.text.startsWith('- ')) {
      const list: Yaml[] = []
      while (at < lines.length && lines[at]!.indent === indent && lines[at]!.text.startsWith('- '))
        list.push(scalar(lines[at++]!.text.slice(2)))
      return list
    }
    const map: Record<string, Yaml> = {}
    while (at < lines.length && lines[at]!.indent === indent) {
      const [, key = '', value = ''] = /^([\w.-]+):\s*(.*)$/.exec(lines[at]!.text) ?? []
      if (!key) throw new Error(`unexpected line: ${lines[at]!.text}`)
      at++
      map[key] =
        value !== '' ? scalar(value) : at < lines.length && lines[at]!.indent > indent ? block(lines[at]!.indent) : ''
    }
    return map
  }
  return block(0)
}

/** The parts of docker-compose.yml the tests read. */
interface Service {
  build?: string
  image?: string
  environment?: Record<string, string>
  volumes: string[]
  ports?: string[]
  network_mode?: string
  depends_on?: Record<string, { condition: string }>
  command?: string[]
}
const compose = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as unknown as {
  services: { sidecar: Service; nginx: Service }
  volumes: Record<string, string>
}
const { sidecar, nginx } = compose.services
const conf = readFileSync(NGINX_CONF, 'utf8')
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const directive = (name: string): string[] =>
  [...conf.matchAll(new RegExp(`^\\s*${name}\\s+([^;{\\n]+);`, 'gm'))].map((match) => match[1]!.trim())
/** `./host:container[:ro]` volumes of a service, as [host, container]. */
const mounts = (service: Service): [string, string][] =>
  service.volumes.map((volume) => volume.split(':').slice(0, 2) as [string, string])

describe('nginx.conf', () => {
  it('ships in the package', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { files: string[] }
    expect(pkg.files).toContain('nginx.conf')
  })

  it('names the machine (paths, listen, root, upstream) only inside its one marked block at the top', () => {
    const lines = conf.split('\n')
    const start = lines.findIndex((line) => line.startsWith('# ==== This host'))
    const end = lines.findIndex((line) => line.startsWith('# ==== End of this host'))
    expect(start).toBeGreaterThan(-1)
    expect(end).toBeGreaterThan(start)
    const settings = lines.slice(0, start).filter((line) => line.trim() !== '' && !line.trim().startsWith('#'))
    expect(settings, 'nothing but comments above the block').toEqual([])
    const specific = /^\s*(pid|error_log|access_log|include|root|listen|server|\w+_temp_path)\s/
    lines.forEach((line, i) => {
      if (
        specific.test(line) ||
        /^[^#]*\s\/(?!deploy-notify\/|\.deploy-notify\/|assets\/|index\.html|version)\w/.test(line)
      )
        expect(i > start && i < end, `line ${i + 1} names this machine outside the block: ${line}`).toBe(true)
    })
  })
})

describe('docker-compose.yml', () => {
  it('runs the image the Dockerfile builds, with its state in the volume the image declares', () => {
    expect(sidecar.build).toBe('.')
    expect(dockerfile).toMatch(/^ENV DATA_DIR=\/data$/m)
    expect(dockerfile).toMatch(/^VOLUME \/data$/m)
    const [volume, target] = sidecar.volumes[0]!.split(':')
    expect(target).toBe('/data')
    expect(Object.keys(compose.volumes)).toContain(volume)
    // A token from the environment, never a default one written into the file.
    expect(sidecar.environment?.NOTIFY_TOKEN).toMatch(/^\$\{NOTIFY_TOKEN:\?.+\}$/)
  })

  it("publishes nginx's listen port and the sidecar's, and nginx reaches the upstream nginx.conf names unchanged", () => {
    const listen = directive('listen')
    expect(listen).toEqual(['80'])
    const port = loadConfig({}).port
    expect(sidecar.ports).toEqual(
      expect.arrayContaining([expect.stringMatching(/^\d+:80$/), `127.0.0.1:${port}:${port}`]),
    )
    expect(directive('server')).toEqual([`127.0.0.1:${port}`])
    // One network namespace: nginx's 127.0.0.1 is the sidecar's.
    expect(nginx.network_mode).toBe('service:sidecar')
    expect(nginx.depends_on?.sidecar?.condition).toBe('service_healthy')
    expect(dockerfile).toMatch(/^HEALTHCHECK .*\/healthz/ms)
  })

  it('mounts nginx.conf where its command reads it, the sample app at its root, and makes its temporary folders', () => {
    const volumes = mounts(nginx)
    const confTarget = volumes.find(([host]) => host === './nginx.conf')?.[1]
    const command = (nginx.command ?? []).join(' ')
    expect(command).toContain(`nginx -c ${confTarget} -g 'daemon off;'`)
    const [root] = directive('root')
    const app = volumes.find(([, container]) => container === root)?.[0]
    expect(app).toBe('./examples/compose-app')
    expect(existsSync(join(ROOT, app!, 'index.html'))).toBe(true)
    for (const path of directive('\\w+_temp_path')) expect(command).toContain(`mkdir -p ${posix.dirname(path)} `)
  })

  const nginxBinary = findNginx()
  it.skipIf(!nginxBinary && !process.env.CI)(
    'serves the sample app and the client through nginx.conf, as the containers do',
    async () => {
      if (!nginxBinary)
        throw new Error('nginx is required in CI: install it (apt-get install nginx-light) or set NGINX')
      // A copy in a folder of its own: nginx's workers (nobody) may not reach into the checkout.
      const app = await mkdtemp(join(tmpdir(), 'deploy-notify-compose-'))
      await cp(join(ROOT, 'examples', 'compose-app'), app, { recursive: true })
      const running = await startTestSidecar()
      const proxy = await startNginx(nginxBinary, { root: app, upstream: `127.0.0.1:${running.port}` })
      try {
        const page = await fetch(`${proxy.url}/`)
        expect(page.status).toBe(200)
        const html = await page.text()
        const version = (await getJson(`${proxy.url}/version.json`)).json as { version: string; app: string }
        expect(html).toContain(
          `<script src="/deploy-notify/client.js" data-version="${version.version}" data-app="${version.app}" defer></script>`,
        )
        const client = await fetch(`${proxy.url}/deploy-notify/client.js`)
        expect(client.status).toBe(200)
        expect(client.headers.get('content-type')).toMatch(/javascript/)
      } finally {
        await proxy.stop()
        await running.close()
        await rm(app, { recursive: true, force: true })
      }
    },
  )
})
