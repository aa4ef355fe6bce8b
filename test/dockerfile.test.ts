import { spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../server/config.js'

// No Docker engine runs the tests, so everything the image depends on is checked without one:
// what it copies exists, what it runs starts, answers its health check and stops cleanly.

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const BUILT_CLI = join(ROOT, 'dist/cli/cli.js')

interface Instruction {
  keyword: string
  args: string
}

interface Stage {
  image: string
  name: string | undefined
  instructions: Instruction[]
}

/** Dockerfile instructions by stage: comments dropped, continuation lines joined. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = []
  let pending = ''
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue
    if (/\\\s*$/.test(line)) {
      pending += line.replace(/\\\s*$/, ' ')
      continue
    }
    logical.push(pending + line)
    pending = ''
  }
  const stages: Stage[] = []
  for (const line of logical.map((l) => l.trim()).filter(Boolean)) {
    const [, keyword = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? []
    const instruction = { keyword: keyword.toUpperCase(), args: args.trim() }
    if (instruction.keyword === 'FROM') {
      const [image = '', as, name] = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'))
      stages.push({ image, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] })
    } else {
      const stage = stages.at(-1)
      if (!stage) throw new Error(`${instruction.keyword} before any FROM`)
      stage.instructions.push(instruction)
    }
  }
  return stages
}

/** Splits leading `--flag=value` options from the rest of an instruction's arguments. */
function options(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {}
  let rest = args
  for (let match; (match = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)); rest = rest.slice(match[0].length)) {
    flags[match[1] ?? ''] = match[2] ?? ''
  }
  return { flags, rest }
}

/** The exec form (`["node", "x"]`) as its argument list; the shell form is refused for commands. */
function execForm(args: string, what: string): string[] {
  if (!args.startsWith('[')) throw new Error(`${what} must use the exec form ["node", ...] so signals reach node`)
  return JSON.parse(args) as string[]
}

const all = (stage: Stage, keyword: string): Instruction[] => stage.instructions.filter((i) => i.keyword === keyword)
const last = (stage: Stage, keyword: string): Instruction | undefined => all(stage, keyword).at(-1)

/** `ENV A=1 B=2` (and the legacy `ENV A 1`) of one stage, in order. */
function envOf(stage: Stage): Record<string, string> {
  const env: Record<string, string> = {}
  for (const { args } of all(stage, 'ENV')) {
    if (!/^\S+=/.test(args)) {
      const [key = '', ...value] = args.split(/\s+/)
      env[key] = value.join(' ')
      continue
    }
    for (const pair of args.match(/\S+="[^"]*"|\S+/g) ?? []) {
      const at = pair.indexOf('=')
      env[pair.slice(0, at)] = pair.slice(at + 1).replace(/^"(.*)"$/, '$1')
    }
  }
  return env
}

/** A .dockerignore matcher: `*` and `?` within a segment, `**` across them, `!` re-includes. */
function dockerignore(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const negate = line.startsWith('!')
      const pattern = posix.normalize(line.replace(/^!/, '').replace(/^\/+/, ''))
      const source = pattern
        .split('/')
        .map((part) =>
          part === '**'
            ? '.*'
            : part
                .replace(/[.+^${}()|[\]\\]/g, '\\$&')
                .replace(/\*/g, '[^/]*')
                .replace(/\?/g, '[^/]'),
        )
        .join('/')
        .replace(/\.\*\//g, '(?:.*/)?')
      return { negate, regex: new RegExp(`^${source}$`) }
    })
  return (path) => {
    // A pattern that matches a folder excludes everything in it.
    const parts = posix.normalize(path).split('/')
    const prefixes = parts.map((_, i) => parts.slice(0, i + 1).join('/'))
    let ignored = false
    for (const rule of rules) if (prefixes.some((p) => rule.regex.test(p))) ignored = !rule.negate
    return ignored
  }
}

const dockerfileText = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
const stages = parseDockerfile(dockerfileText)
const runtime = stages.at(-1) as Stage
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'))
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>
  engines: { node: string }
}

/** Repository paths a COPY source names, with `*` and `?` as Docker's (filepath.Match) rules. */
function sourcesMatching(source: string): string[] {
  let found = ['']
  for (const part of posix
    .normalize(source)
    .replace(/^\.\/|\/$/g, '')
    .split('/')) {
    if (part === '.' || part === '') continue
    const regex = new RegExp(
      `^${part
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*/g, '[^/]*')
        .replace(/\?/g, '[^/]')}$`,
    )
    found = found.flatMap((dir) => {
      const entries = statSync(join(ROOT, dir || '.'), { throwIfNoEntry: false })?.isDirectory()
        ? readdirSync(join(ROOT, dir || '.'))
        : []
      return entries.filter((name) => regex.test(name)).map((name) => posix.join(dir, name))
    })
  }
  return found.map((path) => path || '.')
}

function requireBuild(): void {
  if (!existsSync(BUILT_CLI)) throw new Error(`${BUILT_CLI} is missing: run "npm run build" first (npm test does)`)
}

describe('Dockerfile', () => {
  it('builds in one stage and runs on a current Node LTS that the package supports', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2)
    const minimum = Number(/>=\s*(\d+)/.exec(pkg.engines.node)?.[1])
    for (const { image } of stages) {
      const major = Number(/^node:(\d+)/.exec(image)?.[1])
      expect(major, image).toBeGreaterThanOrEqual(Math.max(minimum, 22))
      expect(major % 2, `${image}: odd Node majors never become LTS`).toBe(0)
    }
    const runs = (stage: Stage) =>
      all(stage, 'RUN')
        .map((i) => i.args)
        .join('\n')
    const build = stages.find((s) => runs(s).includes('npm run build'))
    expect(build, 'a stage runs npm run build').toBeDefined()
    expect(runs(build as Stage)).toMatch(/\bnpm ci\b/)
    expect(runtime).not.toBe(build)
    expect(runs(runtime)).toMatch(/\bnpm ci --omit=dev\b/)
    expect(runs(runtime)).not.toMatch(/npm (run )?build|npm install/)
  })

  it('copies only paths that exist, and nothing .dockerignore keeps out of the context', () => {
    requireBuild()
    const workdirs = new Map(stages.map((s) => [s.name, last(s, 'WORKDIR')?.args ?? '/']))
    for (const stage of stages) {
      for (const { args } of all(stage, 'COPY')) {
        const { flags, rest } = options(args)
        const words = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/)
        const sources = words.slice(0, -1)
        expect(sources.length, `COPY ${args}`).toBeGreaterThan(0)
        for (const source of sources) {
          if (flags.from !== undefined) {
            // From an earlier stage: its WORKDIR is this repository's root after `npm run build`.
            const workdir = workdirs.get(flags.from)
            expect(workdir, `COPY --from=${flags.from}: no such stage`).toBeDefined()
            const inRepo = posix.relative(workdir as string, posix.resolve(workdir as string, source))
            expect(inRepo.startsWith('..'), `COPY ${args}: ${source} is outside ${workdir}`).toBe(false)
            expect(existsSync(join(ROOT, inRepo)), `COPY ${args}: ${inRepo} missing after npm run build`).toBe(true)
          } else {
            const matches = sourcesMatching(source)
            expect(matches, `COPY ${args}: ${source} matches nothing in the repository`).not.toEqual([])
            for (const match of matches)
              expect(ignored(match), `COPY ${args}: ${match} is in .dockerignore`).toBe(false)
          }
        }
      }
    }
  })

  it('sends the build its inputs, and never host node_modules, dist, data or .git', () => {
    const buildConfig = JSON.parse(readFileSync(join(ROOT, 'tsconfig.build.json'), 'utf8')) as {
      extends?: string
      include: string[]
    }
    const inputs = [
      'package.json',
      'package-lock.json',
      'tsconfig.build.json',
      buildConfig.extends ?? '',
      ...buildConfig.include,
    ]
    for (const input of inputs.filter(Boolean).map((p) => posix.normalize(p))) {
      expect(existsSync(join(ROOT, input)), input).toBe(true)
      expect(ignored(input), `${input} is needed by npm run build but in .dockerignore`).toBe(false)
    }
    for (const path of [
      'node_modules/fastify/package.json',
      'dist/cli/cli.js',
      'data/state.json',
      '.git/HEAD',
      'npm-debug.log',
    ]) {
      expect(ignored(path), path).toBe(true)
    }
  })

  it('runs exactly what npm start runs, as a non-root user, with its data on a volume', () => {
    expect(execForm(last(runtime, 'CMD')?.args ?? '', 'CMD').join(' ')).toBe(pkg.scripts.start)

    const user = last(runtime, 'USER')?.args ?? 'root'
    expect(user).not.toMatch(/^(root|0)(:|$)/)
    expect(user).toBe('node')

    const env = envOf(runtime)
    expect(env.DATA_DIR).toBe('/data')
    const volumeAt = runtime.instructions.findIndex(
      (i) => i.keyword === 'VOLUME' && /(^|[\s["])\/data(["\s,\]]|$)/.test(i.args),
    )
    expect(volumeAt, 'VOLUME /data').toBeGreaterThanOrEqual(0)
    // Docker discards changes to a volume's path made after VOLUME, so the chown must come first.
    const chownAt = runtime.instructions.findIndex(
      (i) => i.keyword === 'RUN' && /chown\s+(-\S+\s+)*node(:node)?\s+\/data\b/.test(i.args),
    )
    expect(chownAt, 'RUN ... chown node:node /data').toBeGreaterThanOrEqual(0)
    expect(chownAt).toBeLessThan(volumeAt)

    expect(all(runtime, 'EXPOSE').map((i) => i.args)).toEqual([String(loadConfig({}).port)])
  })

  describe('its CMD, started as the container would', () => {
    const healthcheck = options(last(runtime, 'HEALTHCHECK')?.args ?? '')
    const checkCommand = execForm(healthcheck.rest.replace(/^CMD\s+/, ''), 'HEALTHCHECK CMD')
    const checkTimeoutMs = 1000 * Number(/^(\d+)s$/.exec(healthcheck.flags.timeout ?? '30s')?.[1] ?? 30)
    let dataDir: string

    /** Runs `node` commands with this node; everything else as written. */
    const program = ([command = '', ...args]: string[]): [string, string[]] => [
      command === 'node' ? process.execPath : command,
      args,
    ]

    /** The health check as Docker runs it: in the container's environment, bounded by --timeout. */
    function runHealthcheck(env: Record<string, string>): Promise<number | null> {
      const [command, args] = program(checkCommand)
      const child = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, ...envOf(runtime), ...env },
        stdio: 'ignore',
      })
      const timer = setTimeout(() => child.kill('SIGKILL'), checkTimeoutMs)
      return new Promise((resolve) => child.once('close', (code) => (clearTimeout(timer), resolve(code))))
    }

    beforeAll(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'deploy-notify-docker-'))
    })
    afterAll(async () => {
      await rm(dataDir, { recursive: true, force: true })
    })

    it('listens, passes the HEALTHCHECK, and exits 0 on SIGTERM', async () => {
      requireBuild()
      expect(checkCommand[0], 'slim images have no curl: the check runs node').toBe('node')

      const [command, args] = program(execForm(last(runtime, 'CMD')?.args ?? '', 'CMD'))
      const env = { ...envOf(runtime), PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir }
      // Its own process group, so that whatever it starts can be stopped with it (by this PID).
      const child = spawn(command, args, {
        cwd: ROOT,
        env: { ...process.env, ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      })
      let output = ''
      const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
        child.once('close', (code, signal) => resolve({ code, signal })),
      )
      try {
        const port = await new Promise<number>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error(`no "port" log line within 10 s:\n${output}`)), 10_000)
          let lines = ''
          child.stdout.on('data', (chunk: Buffer) => {
            output += chunk.toString()
            lines += chunk.toString()
            const complete = lines.split('\n')
            lines = complete.pop() ?? ''
            for (const line of complete) {
              let record: unknown
              try {
                record = JSON.parse(line)
              } catch {
                continue
              }
              const port = (record as { port?: unknown }).port
              if (typeof port === 'number') {
                clearTimeout(timer)
                resolve(port)
              }
            }
          })
          child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()))
          void exited.then(
            ({ code }) => (clearTimeout(timer), reject(new Error(`exited with ${code} before listening:\n${output}`))),
          )
        })
        expect(port).toBeGreaterThan(0)

        expect(await runHealthcheck({ PORT: String(port) }), 'HEALTHCHECK against the running sidecar').toBe(0)

        // As `docker stop` does: SIGTERM to the CMD's process only.
        child.kill('SIGTERM')
        const exit = await Promise.race([
          exited,
          new Promise<never>((_, reject) =>
            setTimeout(() => reject(new Error(`no exit within 5 s of SIGTERM:\n${output}`)), 5000),
          ),
        ])
        expect(exit, output).toEqual({ code: 0, signal: null })

        // The check is worth something only if it fails when nothing answers.
        expect(await runHealthcheck({ PORT: String(port) }), 'HEALTHCHECK with the sidecar stopped').not.toBe(0)
      } finally {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
        } catch {
          // The group is gone already: everything exited.
        }
      }
    })
  })
})
